//! The adapter traits: a [`Link`] moves whole frames and never parses
//! payloads; a [`Listener`] accepts links and a [`Connector`] opens them.
//!
//! A new transport implements these three and runs the public conformance
//! suite ([`crate::testing`]); nothing else in Prism changes for it.

use core::fmt;
use core::future::Future;
use core::task::{Context, Poll};
use core::time::Duration;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::SystemTime;

use prism_proto::frame::{Frame, FrameError};
use prism_proto::session::{Priority, SessionConfig};

/// What a link guarantees about the bytes it carries.
///
/// A [`SecurityPolicy`](crate::SecurityPolicy) checks them before any
/// byte moves: by default a link must keep bytes confidential and intact.
/// `SecurityProperties::default()` is [`NONE`](SecurityProperties::NONE):
/// an adapter that declares nothing is treated as protecting nothing.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SecurityProperties {
    /// Nobody between the peers can read the bytes.
    pub confidential: bool,
    /// Nobody between the peers can change the bytes undetected.
    pub integrity: bool,
    /// The link itself proved who the peer is (mTLS, peer credentials).
    pub peer_authenticated: bool,
    /// Recorded traffic cannot be replayed to the peer.
    pub replay_protected: bool,
}

impl SecurityProperties {
    /// No protection at all: plaintext over a network.
    pub const NONE: SecurityProperties = SecurityProperties {
        confidential: false,
        integrity: false,
        peer_authenticated: false,
        replay_protected: false,
    };

    /// TLS 1.3 (or QUIC, or a browser's `wss://`) whose peer proved who it
    /// is with a certificate: confidential, intact, authenticated, not
    /// replayable.
    pub const TLS_AUTHENTICATED: SecurityProperties = SecurityProperties {
        confidential: true,
        integrity: true,
        peer_authenticated: true,
        replay_protected: true,
    };

    /// Bytes that never leave this machine's kernel or process: nobody
    /// in between can read, change or replay them.
    pub const LOCAL: SecurityProperties = SecurityProperties {
        confidential: true,
        integrity: true,
        peer_authenticated: false,
        replay_protected: true,
    };
}

/// What kind of link this is: the transport's name, whether its bytes
/// cross a network, and what it protects. Every link of one adapter has
/// the same kind, known before a link exists ([`Listener::kind`],
/// [`Connector::kind`]), so plaintext is refused before any byte moves.
///
/// # Examples
///
/// ```
/// use prism_transport::{LinkKind, SecurityProperties, tcp, unix};
///
/// assert!(tcp::KIND.is_plaintext_network());
/// assert!(!unix::KIND.is_plaintext_network());
/// let custom = LinkKind::new("carrier-pigeon", true, SecurityProperties::NONE);
/// assert_eq!(custom.to_string(), "carrier-pigeon");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LinkKind {
    /// The transport's short lowercase name: `mem`, `tcp`, `unix`, …
    pub transport: &'static str,
    /// Whether bytes cross a network (and so need explicit consent when
    /// they travel in plaintext).
    pub network: bool,
    /// What the link protects.
    pub security: SecurityProperties,
    /// Whether frames reach the peer by reference, in the same process:
    /// then a large message goes whole, its segments untouched, instead
    /// of in chunks (cutting it would only add frames).
    pub by_reference: bool,
    /// Whether each channel travels on a stream of its own (QUIC), so
    /// frames of different channels may arrive in another order than they
    /// were sent. Each channel's frames keep their order, and frames on
    /// channel 0 sent before a channel's first frame arrive before it (the
    /// handshake comes first); the session then accepts calls whose ids
    /// arrive out of order.
    pub independent_channels: bool,
    /// Whether the link carries unreliable datagrams (QUIC): a datagram op
    /// that refuses to travel in band needs one (see
    /// [`Link::max_datagram_size`]).
    pub datagrams: bool,
}

impl LinkKind {
    /// A kind of link that carries bytes.
    pub const fn new(
        transport: &'static str,
        network: bool,
        security: SecurityProperties,
    ) -> LinkKind {
        LinkKind {
            transport,
            network,
            security,
            by_reference: false,
            independent_channels: false,
            datagrams: false,
        }
    }

    /// The same kind, moving frames by reference (see
    /// [`LinkKind::by_reference`]).
    #[must_use]
    pub const fn moving_by_reference(mut self) -> LinkKind {
        self.by_reference = true;
        self
    }

    /// The same kind, carrying each channel on a stream of its own (see
    /// [`LinkKind::independent_channels`]).
    #[must_use]
    pub const fn with_independent_channels(mut self) -> LinkKind {
        self.independent_channels = true;
        self
    }

    /// The same kind, with unreliable datagrams (see
    /// [`LinkKind::datagrams`]).
    #[must_use]
    pub const fn with_datagrams(mut self) -> LinkKind {
        self.datagrams = true;
        self
    }

    /// Whether bytes cross a network unencrypted.
    pub const fn is_plaintext_network(&self) -> bool {
        self.network && !self.security.confidential
    }
}

impl fmt::Display for LinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.transport)
    }
}

/// Who is at the other end of a link, as the link knows it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PeerAddr {
    /// The same process (an in-memory link).
    Mem,
    /// A socket address (TCP; later QUIC, WebSocket).
    Socket(SocketAddr),
    /// A Unix domain socket peer.
    Unix {
        /// The socket path, when the peer's end has one (the connecting
        /// side sees the listener's path).
        path: Option<PathBuf>,
        /// The peer process's credentials, as the kernel reports them.
        credentials: Option<UnixCredentials>,
    },
    /// Any other transport's notion of an address.
    Other(String),
}

/// The credentials of the process at the other end of a Unix socket, as
/// the kernel reports them (`SO_PEERCRED`): they cannot be forged by the peer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct UnixCredentials {
    /// The peer's user id.
    pub uid: u32,
    /// The peer's group id.
    pub gid: u32,
    /// The peer's process id, where the platform reports it.
    pub pid: Option<i32>,
}

impl fmt::Display for PeerAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PeerAddr::Mem => f.write_str("mem"),
            PeerAddr::Socket(addr) => write!(f, "{addr}"),
            PeerAddr::Unix {
                path: Some(path), ..
            } => write!(f, "{}", path.display()),
            PeerAddr::Unix {
                path: None,
                credentials: Some(cred),
            } => match cred.pid {
                Some(pid) => write!(f, "unix:pid={pid},uid={}", cred.uid),
                None => write!(f, "unix:uid={}", cred.uid),
            },
            PeerAddr::Unix {
                path: None,
                credentials: None,
            } => f.write_str("unix"),
            PeerAddr::Other(name) => f.write_str(name),
        }
    }
}

/// Facts about a link, fixed when it is made.
///
/// # Examples
///
/// ```
/// use prism_transport::{LinkInfo, PeerAddr, unix};
///
/// let info = LinkInfo::new(unix::KIND, PeerAddr::Other("duplex".into()));
/// assert_eq!(info.peer_identity, None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkInfo {
    /// The kind of link: transport, network or not, security.
    pub kind: LinkKind,
    /// The peer's address, for logs and `Context::peer`.
    pub peer: PeerAddr,
    /// Who the link itself proved the peer to be, when it proved anyone:
    /// a TLS client or server certificate's one URI SAN (a SPIFFE id).
    pub peer_identity: Option<String>,
    /// When the credentials that proved `peer_identity` stop being valid:
    /// the earliest `notAfter` of the certificate chain the peer presented.
    /// An identity established from them expires then.
    pub peer_identity_expiry: Option<SystemTime>,
    /// A value both ends of this link compute and nobody else can (TLS
    /// exported keying material, RFC 9266): binds what travels on the link
    /// to this one connection.
    pub channel_binding: Option<ChannelBinding>,
}

impl LinkInfo {
    /// A link of `kind` to `peer` that proved no identity.
    pub fn new(kind: LinkKind, peer: PeerAddr) -> LinkInfo {
        LinkInfo {
            kind,
            peer,
            peer_identity: None,
            peer_identity_expiry: None,
            channel_binding: None,
        }
    }

    /// The same, with the identity the link proved.
    #[must_use]
    pub fn with_peer_identity(mut self, identity: impl Into<String>) -> LinkInfo {
        self.peer_identity = Some(identity.into());
        self
    }

    /// The same, with the time the credentials that proved the peer's
    /// identity expire.
    #[must_use]
    pub fn with_peer_identity_expiry(mut self, at: SystemTime) -> LinkInfo {
        self.peer_identity_expiry = Some(at);
        self
    }

    /// The same, with a channel binding.
    #[must_use]
    pub fn with_channel_binding(mut self, binding: ChannelBinding) -> LinkInfo {
        self.channel_binding = Some(binding);
        self
    }
}

/// A link's channel binding: 32 bytes both ends derive from the link's
/// keys. `Debug` shows no bytes.
#[derive(Clone, PartialEq, Eq)]
pub struct ChannelBinding(pub [u8; 32]);

impl fmt::Debug for ChannelBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChannelBinding(..)")
    }
}

/// What the runtime asks of a link it accepts or opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct LinkConfig {
    /// The largest frame payload the link must accept (a session's
    /// [`link_max_frame`](prism_proto::session::SessionConfig::link_max_frame)).
    pub max_frame: u32,
    /// The largest DATA chunk, CALL or RESPONSE the session accepts (its
    /// [`advertised_chunk`](prism_proto::session::SessionConfig::advertised_chunk)):
    /// each open channel may have one such whole frame in flight beside
    /// its credit.
    pub max_chunk: u32,
    /// The most channels the peer may hold open at once: a link with
    /// streams of its own (QUIC) lets the peer open a quarter more streams
    /// (a channel's stream closes a little after the channel).
    pub max_channels: u32,
    /// Bytes of DATA the peer may send on one channel before the session
    /// grants more: a link with its own flow control sizes a stream's
    /// window from it.
    pub stream_window: u32,
    /// Bytes of DATA the peer may send over all channels before the
    /// session grants more: a link with its own flow control bounds the
    /// connection's window by it.
    pub connection_window: u32,
    /// A link that reads and writes in tasks of its own, one per stream,
    /// which the driver cannot time (QUIC: [`Link::tracks_writes`] false,
    /// [`Link::has_partial_frame`] never true), times its streams itself:
    /// a write that moves nothing for this long fails with
    /// [`LinkError::WriteTimeout`], so a peer that stops reading one stream
    /// cannot hold what waits for it forever; a stream on which part of a
    /// frame arrived and then nothing more for this long fails with
    /// [`LinkError::ReadTimeout`], so a peer that sends half a frame on one
    /// stream cannot hold that stream's reader (and the read budget its
    /// frame reserved) forever while its other streams keep the connection
    /// busy. (Unlike the session's own clock, which gives a frame this long
    /// to be whole, each stream is held only to keep moving: streams share
    /// the connection, so one frame's time says little.) The session's
    /// [`frame_timeout`](prism_proto::session::SessionConfig::frame_timeout);
    /// `None` or zero never fails.
    pub frame_timeout: Option<Duration>,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig::for_session(&SessionConfig::default())
    }
}

impl LinkConfig {
    /// A config accepting payloads up to `max_frame` bytes, with the
    /// default session's other limits.
    pub fn with_max_frame(max_frame: u32) -> LinkConfig {
        LinkConfig {
            max_frame,
            ..LinkConfig::default()
        }
    }

    /// What a session with `config` needs of its link.
    pub fn for_session(config: &SessionConfig) -> LinkConfig {
        LinkConfig {
            max_frame: config.link_max_frame(),
            max_chunk: config.advertised_chunk(),
            max_channels: config.max_channels,
            stream_window: config.stream_window,
            connection_window: config.connection_window,
            frame_timeout: config.frame_timeout.filter(|t| !t.is_zero()),
        }
    }
}

/// A link failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The socket failed.
    #[error("link i/o failed: {0}")]
    Io(#[from] io::Error),
    /// The peer sent bytes that are not a valid frame; the link cannot
    /// resynchronize.
    #[error("malformed frame: {0}")]
    Frame(#[from] FrameError),
    /// The peer broke the rules of the protocol the link runs on (a
    /// WebSocket text message, a message that is not one whole frame).
    #[error("the peer broke the {transport} protocol: {reason}")]
    Protocol {
        /// The link's transport, as in [`LinkKind::transport`].
        transport: &'static str,
        /// What it did.
        reason: String,
    },
    /// A write moved nothing for the link's
    /// [`frame_timeout`](LinkConfig::frame_timeout): the peer stopped
    /// reading.
    #[error("the peer took nothing written for {0:?}")]
    WriteTimeout(Duration),
    /// Part of a frame arrived and then nothing more of it for the link's
    /// [`frame_timeout`](LinkConfig::frame_timeout).
    #[error("the peer sent part of a frame and nothing more of it for {0:?}")]
    ReadTimeout(Duration),
    /// The link is closed.
    #[error("link is closed")]
    Closed,
}

/// Moves whole frames between two peers. Codec-blind and shape-blind.
///
/// The driver calls these from one task: it queues every frame a batch of
/// work produced with [`Link::queue`], then flushes once, so adapters can
/// write them with one vectored write.
pub trait Link: Send + 'static {
    /// Facts about this link.
    fn info(&self) -> &LinkInfo;

    /// Receives the next frame: `Ready(Ok(None))` when the peer closed cleanly.
    ///
    /// # Cancel safety
    ///
    /// Implementations keep partial reads in their own buffers, so dropping
    /// a pending poll loses nothing.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, LinkError>>;

    /// Queues a frame for the next flush. Does no I/O.
    ///
    /// # Errors
    ///
    /// Fails when the link is closed, or (as [`LinkError::Io`]) when the
    /// frame cannot be written at all.
    fn queue(&mut self, frame: Frame) -> Result<(), LinkError>;

    /// Bytes queued and not yet written; the driver stops producing when
    /// this grows, which is how backpressure reaches callers.
    fn queued_bytes(&self) -> usize;

    /// Writes every queued frame. `Ready(Ok(()))` once nothing is queued.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>>;

    /// Flushes, then closes the sending side.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>>;

    /// The link is about to be dropped with bytes the peer did not take
    /// (it stopped reading): end it at once instead of leaving them to be
    /// delivered. Called at most once, right before the drop; no I/O
    /// follows. TCP links (plain, TLS, WebSocket) set a zero linger, so
    /// dropping them sends a reset and the kernel frees the socket and its
    /// unsent bytes now, not after its own retries; a QUIC link closes its
    /// connection (code 1), letting go of every stream's unsent frames.
    /// Default: nothing (the drop closes the link as usual).
    fn abort(&mut self) {}

    /// Part of a frame has arrived and the rest has not: the driver then
    /// holds the peer to the session's
    /// [`frame_timeout`](prism_proto::session::SessionConfig::frame_timeout).
    /// Links that only ever hold whole frames (in-memory) keep the
    /// default, `false`, as do links that read each stream in a task of
    /// its own (QUIC): one clock cannot time a frame stuck on one stream
    /// while frames on others arrive whole, so such a link times each
    /// stream's frames itself ([`LinkConfig::frame_timeout`], failing with
    /// [`LinkError::ReadTimeout`]).
    fn has_partial_frame(&self) -> bool {
        false
    }

    /// Whether [`Link::queued_bytes`] falls as bytes are written, so a
    /// server can tell a peer that takes nothing from one that reads
    /// slowly and close the first after the session's
    /// [`frame_timeout`](prism_proto::session::SessionConfig::frame_timeout).
    /// Default `true`. A link that writes in tasks of its own and counts
    /// whole batches at once (QUIC) says `false` and times its writes
    /// itself ([`LinkConfig::frame_timeout`], failing with
    /// [`LinkError::WriteTimeout`]).
    fn tracks_writes(&self) -> bool {
        true
    }

    /// Received payloads the link copied so that they start 16-byte
    /// aligned (a WebSocket message's payload starts 32 bytes into a buffer
    /// the link did not choose). Links that read into aligned buffers keep
    /// the default, 0. The connection's statistics count these in
    /// `alignment_copies`.
    fn alignment_copies(&self) -> u64 {
        0
    }

    /// The largest DATAGRAM frame payload the link now sends as an
    /// unreliable datagram (QUIC: what the path and the peer allow, less
    /// the frame header), or `None` when it has none: DATAGRAM frames then
    /// travel in band like any other frame. Links without datagrams keep
    /// the default. A link with them sends a DATAGRAM frame in one where
    /// it fits (and its send buffer has room) and in band otherwise, and
    /// may deliver received ones ahead of frames sent before them.
    fn max_datagram_size(&self) -> Option<usize> {
        None
    }

    /// Received datagrams the link dropped before the driver saw them
    /// (no room to hold them). Counted in the connection's
    /// `datagrams_dropped`; links without datagrams keep the default, 0.
    fn dropped_datagrams(&self) -> u64 {
        0
    }

    /// Channel `channel`'s send priority (its op's `#[prism(priority)]`),
    /// told when a call opens it (before its CALL is queued) or a callee
    /// takes it (after its CALL arrived), and only when it is not
    /// [`Priority::DEFAULT`]. The session already sends chunks of higher
    /// levels first; a link with a scheduler of its own (QUIC streams)
    /// applies it there too. Others keep the default, which ignores it.
    fn set_priority(&mut self, channel: u32, priority: Priority) {
        let _ = (channel, priority);
    }
}

impl<L: Link + ?Sized> Link for Box<L> {
    fn info(&self) -> &LinkInfo {
        (**self).info()
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, LinkError>> {
        (**self).poll_recv(cx)
    }

    fn queue(&mut self, frame: Frame) -> Result<(), LinkError> {
        (**self).queue(frame)
    }

    fn queued_bytes(&self) -> usize {
        (**self).queued_bytes()
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        (**self).poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        (**self).poll_close(cx)
    }

    fn abort(&mut self) {
        (**self).abort();
    }

    fn has_partial_frame(&self) -> bool {
        (**self).has_partial_frame()
    }

    fn tracks_writes(&self) -> bool {
        (**self).tracks_writes()
    }

    fn alignment_copies(&self) -> u64 {
        (**self).alignment_copies()
    }

    fn max_datagram_size(&self) -> Option<usize> {
        (**self).max_datagram_size()
    }

    fn dropped_datagrams(&self) -> u64 {
        (**self).dropped_datagrams()
    }

    fn set_priority(&mut self, channel: u32, priority: Priority) {
        (**self).set_priority(channel, priority);
    }
}

/// Accepts links: what `Server::serve` takes. Implemented for tokio's
/// `TcpListener` and `UnixListener` and for [`mem::MemListener`](crate::mem::MemListener).
pub trait Listener: Send + 'static {
    /// The links it accepts.
    type Link: Link;

    /// The kind of every link it accepts, known before the first one.
    fn kind(&self) -> LinkKind;

    /// Waits for the next link.
    ///
    /// # Cancel safety
    ///
    /// Implementations are cancel safe: a dropped `accept` loses no peer
    /// (the server's accept loop selects on it beside its shutdown signal).
    ///
    /// # Errors
    ///
    /// Fails when accepting fails (out of descriptors, a peer that reset
    /// before it was accepted); the server logs it and goes on.
    fn accept(
        &mut self,
        config: &LinkConfig,
    ) -> impl Future<Output = io::Result<Self::Link>> + Send;
}

/// Opens links to one place: what `ChannelBuilder::connect` takes. It may
/// be asked more than once (to reconnect).
pub trait Connector: Send + Sync + 'static {
    /// The links it opens.
    type Link: Link;

    /// The kind of every link it opens, known before connecting.
    fn kind(&self) -> LinkKind;

    /// Where it connects, for errors and logs: an address, a path.
    fn target(&self) -> String;

    /// Opens a link.
    ///
    /// # Errors
    ///
    /// Fails when the peer cannot be reached.
    fn connect(&self, config: &LinkConfig) -> impl Future<Output = io::Result<Self::Link>> + Send;
}
