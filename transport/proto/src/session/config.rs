//! Which side a session plays and the limits it enforces.

use std::time::Duration;

use super::Features;
use crate::frame::DEFAULT_MAX_FRAME;

/// The default largest message: 64 MiB.
pub const DEFAULT_MAX_MESSAGE: u64 = 64 << 20;
/// The default largest DATA chunk: 64 KiB.
pub const DEFAULT_MAX_CHUNK: u32 = 64 << 10;
/// The default receive window of one channel: 256 KiB.
///
/// A stream moves at most a window per round trip, so this bounds one
/// stream's rate to 256 KiB / RTT (2.6 GB/s at 100 µs, 256 MB/s at 1 ms):
/// raise it for long links. It also bounds what a bulk stream queues in
/// front of a small call on the same connection, which is the latency such
/// a call pays.
pub const DEFAULT_STREAM_WINDOW: u32 = 256 << 10;
/// The default receive window of a connection: 8 MiB.
pub const DEFAULT_CONNECTION_WINDOW: u32 = 8 << 20;
/// The default keepalive interval: 30 s of silence, then a ping, then 30 s
/// for an answer.
pub const DEFAULT_KEEPALIVE: Duration = Duration::from_secs(30);
/// The default time the rest of a partly received frame may take: 30 s.
pub const DEFAULT_FRAME_TIMEOUT: Duration = Duration::from_secs(30);
/// The default time a connection may stay without an open call or stream
/// before it is closed: 5 minutes.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Which side of a connection a session is.
///
/// The role fixes channel id parity: the client opens odd ids (1, 3, 5, …),
/// the server even ids (2, 4, …). Clients open calls and streams.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The side that dialled and opens calls.
    Client,
    /// The side that accepted and answers calls.
    Server,
}

impl Role {
    /// The first channel id this role opens.
    pub(crate) const fn first_channel(self) -> u32 {
        match self {
            Role::Client => 1,
            Role::Server => 2,
        }
    }

    /// Whether `id` has the parity of channels this role opens.
    pub(crate) const fn opens(self, id: u32) -> bool {
        id != 0 && (id % 2 == 1) == matches!(self, Role::Client)
    }

    /// The other side.
    pub(crate) const fn peer(self) -> Role {
        match self {
            Role::Client => Role::Server,
            Role::Server => Role::Client,
        }
    }
}

/// Limits and timers of one session.
///
/// The limits and windows, `features` and `required_features` are
/// advertised in our HELLO (they overwrite the fields of the [`Hello`]
/// given to [`Session::new`]); the limits are what we accept from the
/// peer. What we may send is bounded by the peer's HELLO instead.
///
/// # Flow control
///
/// DATA frames (stream items and the chunks of large messages) are paid
/// for in bytes, their 32-byte header included, at two levels: each
/// channel may receive `stream_window`
/// bytes, and the whole connection `connection_window` bytes, before this
/// side grants more. Grants follow the application's consumption
/// ([`Session::release`]), batched a quarter window at a time. A sender
/// may start a frame while it holds any credit at both levels, so what a
/// receiver buffers stays within a window plus one frame; a DATA frame
/// started with no credit left is a connection error.
///
/// [`Session::release`]: super::Session::release
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use prism_proto::session::SessionConfig;
///
/// let config = SessionConfig::default()
///     .with_max_channels(256)
///     .with_keepalive(Some(Duration::from_secs(15)));
/// assert_eq!(config.max_channels, 256);
/// assert_eq!(config.handshake_timeout, Duration::from_secs(10));
/// ```
///
/// [`Hello`]: super::Hello
/// [`Session::new`]: super::Session::new
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionConfig {
    /// Largest payload we accept in one frame. Default
    /// [`DEFAULT_MAX_FRAME`](crate::frame::DEFAULT_MAX_FRAME).
    pub max_frame: u32,
    /// Most channels the peer may have open to us at once; calls and
    /// streams above it get `RESOURCE_EXHAUSTED`. Default 1024.
    pub max_channels: u32,
    /// Largest message, over all its chunks, we accept. A larger one is
    /// refused on its first chunk, before anything is allocated for it,
    /// with `RESOURCE_EXHAUSTED`. Default [`DEFAULT_MAX_MESSAGE`] (64 MiB).
    pub max_message: u64,
    /// Largest DATA chunk we accept (never more than `max_frame`). Messages
    /// larger than the smaller of both sides' chunk sizes travel in chunks
    /// that interleave with other channels. Default [`DEFAULT_MAX_CHUNK`]
    /// (64 KiB).
    pub max_chunk: u32,
    /// Bytes of DATA the peer may send on one channel before we grant more.
    /// Default [`DEFAULT_STREAM_WINDOW`] (256 KiB).
    pub stream_window: u32,
    /// Bytes of DATA the peer may send over all channels before we grant
    /// more. Default [`DEFAULT_CONNECTION_WINDOW`] (8 MiB).
    pub connection_window: u32,
    /// How long the whole handshake may take: the peer's HELLO, both
    /// verdicts (a credential check included) and the peer's ACCEPT.
    /// Default 10 s.
    pub handshake_timeout: Duration,
    /// How long open calls may take to finish after a GOAWAY (sent or
    /// received) before they are cancelled and the session closes, so a
    /// graceful shutdown always ends. Default 30 s.
    ///
    /// Drivers also give the last frames of a closed session this long to
    /// leave: a peer that stops reading cannot hold a connection open.
    pub drain_timeout: Duration,
    /// When `Some(interval)`: after `interval` without receiving anything,
    /// ping the peer, and close with [`SessionError::KeepaliveTimeout`] if
    /// nothing (the pong included) arrives within another `interval`, so a
    /// peer that vanished (its host died, a link stalls) is let go within
    /// twice the interval. Default [`DEFAULT_KEEPALIVE`] (30 s); `None` or
    /// a zero interval turns it off.
    ///
    /// [`SessionError::KeepaliveTimeout`]: super::SessionError::KeepaliveTimeout
    pub keepalive: Option<Duration>,
    /// When `Some(timeout)`: once part of a frame has arrived, the rest
    /// must arrive within `timeout`, else the session closes with
    /// [`SessionError::FrameTimeout`], so a peer that sends half a frame
    /// and stops holds nothing for long; and once bytes wait to be
    /// written, the peer must take some within `timeout`, else the session
    /// closes with [`SessionError::SendTimeout`], so a peer that stops
    /// reading holds nothing for long either. The driver reports a partial
    /// frame with [`Session::handle_partial_frame`] and a write that moved
    /// nothing with [`Session::handle_send_stalled`]; a link that times its
    /// streams itself (QUIC) reports with [`Session::handle_frame_timeout`]
    /// and [`Session::handle_send_timeout`]. Default
    /// [`DEFAULT_FRAME_TIMEOUT`] (30 s: a largest frame of 16 MiB then
    /// needs about 560 KB/s); `None` or zero turns it off.
    ///
    /// [`SessionError::FrameTimeout`]: super::SessionError::FrameTimeout
    /// [`SessionError::SendTimeout`]: super::SessionError::SendTimeout
    /// [`Session::handle_partial_frame`]: super::Session::handle_partial_frame
    /// [`Session::handle_send_stalled`]: super::Session::handle_send_stalled
    /// [`Session::handle_frame_timeout`]: super::Session::handle_frame_timeout
    /// [`Session::handle_send_timeout`]: super::Session::handle_send_timeout
    pub frame_timeout: Option<Duration>,
    /// When `Some(timeout)`: once no call or stream has been open (either
    /// way) for `timeout`, this side closes the connection with a GOAWAY
    /// carrying `OK` and [`SessionError::IdleTimeout`], so connections
    /// nobody uses do not hold a server's connection slots. Pings do not
    /// count as use. A client closes at 90% of its timeout, so that with
    /// equal settings it closes first and no call of its crosses the
    /// server's GOAWAY: give servers an idle timeout no shorter than their
    /// clients'. Default [`DEFAULT_IDLE_TIMEOUT`] (5 minutes); `None` or
    /// zero turns it off.
    ///
    /// [`SessionError::IdleTimeout`]: super::SessionError::IdleTimeout
    pub idle_timeout: Option<Duration>,
    /// Optional features this side offers. Default:
    /// [`Features::PACKED`] (small stream messages share DATA frames),
    /// [`Features::REAUTH`] (in-band re-authentication),
    /// [`Features::DATAGRAM`] (fire-and-forget datagram ops) and
    /// [`Features::METADATA`] (call metadata).
    pub features: Features,
    /// Features this side cannot work without; a peer that does not offer
    /// them is refused at the handshake. Default: none.
    pub required_features: Features,
    /// Whether the peer's calls arrive in the order it opened them, as on
    /// one byte stream (default `true`): then each CALL's channel id must
    /// exceed every earlier one. A link that carries each channel on its
    /// own stream (QUIC) delivers a call that travelled slower after a
    /// later one; the driver turns this off for such links. A CALL is then
    /// taken if it has the peer's parity and its id either exceeds every
    /// earlier one by at most four times `max_channels` ids or is one of
    /// those skipped ids, once; a GOAWAY's last id covers the slower calls
    /// below it, a draining side waits for them (within its drain
    /// timeout), and calls arriving after the client's GOAWAY are served
    /// (the client opens none after it). Either way, every frame of one
    /// channel keeps its order.
    pub ordered_opens: bool,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            max_frame: DEFAULT_MAX_FRAME,
            max_channels: 1024,
            max_message: DEFAULT_MAX_MESSAGE,
            max_chunk: DEFAULT_MAX_CHUNK,
            stream_window: DEFAULT_STREAM_WINDOW,
            connection_window: DEFAULT_CONNECTION_WINDOW,
            handshake_timeout: Duration::from_secs(10),
            drain_timeout: Duration::from_secs(30),
            keepalive: Some(DEFAULT_KEEPALIVE),
            frame_timeout: Some(DEFAULT_FRAME_TIMEOUT),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            features: Features::PACKED
                .union(Features::REAUTH)
                .union(Features::DATAGRAM)
                .union(Features::METADATA),
            required_features: Features::EMPTY,
            ordered_opens: true,
        }
    }
}

impl SessionConfig {
    /// The largest frame payload a link under this session must accept:
    /// `max_frame`, but never less than a whole HELLO.
    pub fn link_max_frame(&self) -> u32 {
        let hello = u32::try_from(super::hello::MAX_HELLO_LEN).unwrap_or(u32::MAX);
        self.max_frame.max(hello)
    }

    /// Sets the largest payload accepted from the peer.
    #[must_use]
    pub fn with_max_frame(mut self, max_frame: u32) -> Self {
        self.max_frame = max_frame;
        self
    }

    /// The chunk size we advertise: `max_chunk`, at least 1 and at most
    /// `max_frame`.
    pub fn advertised_chunk(&self) -> u32 {
        self.max_chunk.clamp(1, self.max_frame.max(1))
    }

    /// Sets the largest message accepted from the peer.
    #[must_use]
    pub fn with_max_message(mut self, max_message: u64) -> Self {
        self.max_message = max_message;
        self
    }

    /// Sets the largest DATA chunk accepted from the peer.
    #[must_use]
    pub fn with_max_chunk(mut self, max_chunk: u32) -> Self {
        self.max_chunk = max_chunk;
        self
    }

    /// Sets the receive windows: per channel and for the whole connection
    /// (each at least 1 byte).
    #[must_use]
    pub fn with_windows(mut self, stream: u32, connection: u32) -> Self {
        self.stream_window = stream.max(1);
        self.connection_window = connection.max(1);
        self
    }

    /// Sets how many channels the peer may have open to us at once.
    #[must_use]
    pub fn with_max_channels(mut self, max_channels: u32) -> Self {
        self.max_channels = max_channels;
        self
    }

    /// Sets how long the whole handshake may take.
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    /// Sets how long open calls may take to finish after a GOAWAY.
    #[must_use]
    pub fn with_drain_timeout(mut self, timeout: Duration) -> Self {
        self.drain_timeout = timeout;
        self
    }

    /// Sets the features offered and those required of the peer
    /// (`required` is offered too).
    #[must_use]
    pub fn with_features(mut self, offered: Features, required: Features) -> Self {
        self.features = offered.union(required);
        self.required_features = required;
        self
    }

    /// What this side offers in its HELLO: `features`, plus the required
    /// ones (a side offers what it requires, even when the fields were set
    /// directly).
    pub fn offered_features(&self) -> Features {
        self.features.union(self.required_features)
    }

    /// Turns keepalive pings on (`Some(interval)`) or off (`None`).
    #[must_use]
    pub fn with_keepalive(mut self, interval: Option<Duration>) -> Self {
        self.keepalive = interval;
        self
    }

    /// Sets how long the rest of a partly received frame may take
    /// (`None`: as long as it takes).
    #[must_use]
    pub fn with_frame_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.frame_timeout = timeout;
        self
    }

    /// Sets how long a connection may go without an open call or stream
    /// before this side closes it (`None`: forever).
    #[must_use]
    pub fn with_idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parity_follows_role() {
        assert!(Role::Client.opens(1) && Role::Client.opens(u32::MAX));
        assert!(!Role::Client.opens(0) && !Role::Client.opens(2));
        assert!(Role::Server.opens(2) && !Role::Server.opens(0) && !Role::Server.opens(3));
        assert_eq!(Role::Client.peer(), Role::Server);
        assert_eq!(Role::Server.first_channel(), 2);
    }
}
