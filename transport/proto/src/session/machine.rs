//! The [`Session`] state: construction, the output queues and accessors.
//!
//! Inputs live beside it: `recv.rs` (frames), `handshake.rs` (HELLO,
//! ACCEPT and the verdicts), `calls.rs` (the caller's and handler's
//! actions), `lifecycle.rs` (timers, pings, shutdown); `state.rs` holds the
//! lifecycle and its transitions.

use std::collections::VecDeque;
use web_time::Instant;

use prism_core::{Code, Status};

use super::channels::{Channels, Send};
use super::datagram::Datagrams;
use super::flow::{RecvWindow, SendCredit};
use super::reauth::Reauth;
use super::state::State;
use super::{
    Accept, Event, Features, Hello, Role, SessionConfig, SessionError, VersionRange, wire,
};
use crate::frame::Frame;

/// What the peer said in the handshake, and what both sides settled on.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pub(crate) hello: Hello,
    /// The highest version both speak.
    pub(crate) version: u16,
    /// Offered by both.
    pub(crate) features: Features,
    /// The largest DATA chunk we send: the smaller of both sides' chunk
    /// sizes, within the peer's `max_frame`.
    pub(crate) chunk: usize,
    /// The peer's ACCEPT, once it arrived.
    pub(crate) accept: Option<Accept>,
}

/// Liveness tracking for keepalive.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Liveness {
    /// When the last frame arrived (or the session started).
    pub(crate) last_recv: Instant,
    /// When the unanswered keepalive ping was sent.
    pub(crate) probe_sent: Option<Instant>,
    /// Since when the link has held part of a frame (as the driver
    /// reported it), until a frame arrives.
    pub(crate) partial_since: Option<Instant>,
    /// Since when the link has held bytes to write and the peer took none
    /// of them (as the driver reported it), until it takes some.
    pub(crate) stalled_since: Option<Instant>,
    /// When this side last opened a channel (or the session started).
    pub(crate) last_open: Instant,
    /// Since when no channel has been open, and the channels opened so
    /// far at that moment (see `Session::opened`): stale once another
    /// opened.
    pub(crate) idle_since: Option<(Instant, u64)>,
}

/// The sans-IO session protocol of one connection.
///
/// A pure state machine in the manner of quinn-proto: feed it what arrives
/// ([`handle_frame`](Session::handle_frame), [`handle_timeout`](Session::handle_timeout),
/// [`handle_link_closed`](Session::handle_link_closed)) and what the
/// application decides ([`accept`](Session::accept), [`open_call`](Session::open_call),
/// [`respond`](Session::respond), …), then drain
/// [`poll_transmit`](Session::poll_transmit) into the link,
/// [`poll_event`](Session::poll_event) into the application, and sleep until
/// [`poll_timeout`](Session::poll_timeout). It never reads a clock or does I/O.
///
/// # Examples
///
/// A client and a server joined by hand, one unary call:
///
/// ```
/// use web_time::Instant;
/// use prism_core::{CodecId, Metadata, Payload, Response};
/// use prism_proto::session::{
///     Accept, Event, Hello, OutgoingCall, Priority, Role, Session, SessionConfig,
/// };
///
/// fn pump(from: &mut Session, to: &mut Session, now: Instant) {
///     while let Some(frame) = from.poll_transmit() {
///         to.handle_frame(now, frame);
///     }
/// }
///
/// let now = Instant::now();
/// let mut client = Session::new(Role::Client, SessionConfig::default(), Hello::default(), now);
/// let mut server = Session::new(Role::Server, SessionConfig::default(), Hello::default(), now);
/// pump(&mut client, &mut server, now);
/// pump(&mut server, &mut client, now);
/// // Each side checks the other's HELLO, then accepts it.
/// assert_eq!(server.poll_event(), Some(Event::Hello));
/// assert_eq!(client.poll_event(), Some(Event::Hello));
/// server.accept(now, Accept::default());
/// client.accept(now, Accept::default());
/// pump(&mut client, &mut server, now);
/// pump(&mut server, &mut client, now);
/// assert_eq!(client.poll_event(), Some(Event::Established));
/// assert_eq!(server.poll_event(), Some(Event::Established));
///
/// let request = Payload::from(&b"2+3"[..]);
/// let call = OutgoingCall {
///     op: 7,
///     codec: CodecId::POSTCARD,
///     deadline: None,
///     payload: request,
///     priority: Priority::DEFAULT,
///     metadata: Metadata::new(),
/// };
/// let channel = client.open_call(now, call)?;
/// pump(&mut client, &mut server, now);
/// let Some(Event::Call { channel: incoming, op: 7, .. }) = server.poll_event() else {
///     unreachable!()
/// };
/// server.respond(incoming, Ok(Response::new(CodecId::POSTCARD, Payload::from(&b"5"[..]))));
/// pump(&mut server, &mut client, now);
/// let Some(Event::Reply { channel: answered, reply: Ok(response) }) = client.poll_event() else {
///     unreachable!()
/// };
/// assert_eq!((answered, &response.payload[..]), (channel, &b"5"[..]));
/// # Ok::<(), prism_proto::session::OpenError>(())
/// ```
#[derive(Debug)]
pub struct Session {
    pub(crate) role: Role,
    pub(crate) config: SessionConfig,
    pub(crate) state: State,
    /// When the handshake must have finished; `None` if that is beyond
    /// representable time.
    pub(crate) handshake_deadline: Option<Instant>,
    /// The peer's handshake, once its HELLO arrived (kept after close).
    pub(crate) peer: Option<Peer>,
    /// The versions and features this side offered.
    pub(crate) versions: VersionRange,
    pub(crate) channels: Channels,
    /// What the peer may still send us over all channels.
    pub(crate) conn_window: RecvWindow,
    /// What we may still send over all channels (set from the peer's HELLO).
    pub(crate) conn_credit: SendCredit,
    /// Channels with pending output, one round robin per
    /// [`Priority`](super::Priority) level, served highest first once
    /// `transmit` is empty.
    pub(crate) ready: [VecDeque<u32>; super::Priority::LEVELS],
    pub(crate) transmit: VecDeque<Frame>,
    /// The last peer channel id our GOAWAY said we took, once we sent one.
    pub(crate) goaway_last: Option<u32>,
    pub(crate) events: VecDeque<Event>,
    pub(crate) liveness: Liveness,
    /// Unanswered [`Session::ping`]s, oldest first.
    pub(crate) pings: VecDeque<(u64, Instant)>,
    pub(crate) next_ping_id: u64,
    /// In-band re-authentication.
    pub(crate) reauth: Reauth,
    /// Datagrams sent, taken and dropped.
    pub(crate) datagrams: Datagrams,
}

impl Session {
    /// A session that has queued its HELLO, advertising `config`'s limits
    /// and features (they overwrite those fields of `hello`).
    ///
    /// If `hello` breaks the protocol's limits ([`Hello::validate`]), nothing
    /// is sent and the session is closed at once with
    /// [`SessionError::OwnHello`].
    pub fn new(role: Role, config: SessionConfig, mut hello: Hello, now: Instant) -> Session {
        hello.max_frame = config.max_frame;
        hello.max_channels = config.max_channels;
        hello.max_message = config.max_message;
        hello.max_chunk = config.advertised_chunk();
        hello.stream_window = config.stream_window.max(1);
        hello.connection_window = config.connection_window.max(1);
        let conn_window = RecvWindow::new(config.connection_window);
        let mut channels = Channels::with_windows(
            role,
            config.stream_window,
            config.advertised_chunk(),
            config.max_channels,
            config.connection_window,
        );
        if !config.ordered_opens {
            channels.set_unordered_opens();
        }
        hello.features = config.offered_features();
        hello.required = config.required_features;
        let mut session = Session {
            role,
            handshake_deadline: now.checked_add(config.handshake_timeout),
            config,
            state: State::Handshaking,
            peer: None,
            versions: hello.versions,
            channels,
            conn_window,
            conn_credit: SendCredit::new(1),
            ready: Default::default(),
            transmit: VecDeque::with_capacity(16),
            goaway_last: None,
            events: VecDeque::with_capacity(16),
            liveness: Liveness {
                last_recv: now,
                probe_sent: None,
                partial_since: None,
                stalled_since: None,
                last_open: now,
                idle_since: None,
            },
            pings: VecDeque::new(),
            next_ping_id: 1,
            reauth: Reauth::default(),
            datagrams: Datagrams::default(),
        };
        match hello.validate() {
            Ok(()) => session.transmit.push_back(wire::hello(&hello)),
            Err(error) => session.terminate(Some(SessionError::OwnHello(error))),
        }
        session
    }

    /// The next frame to send: control frames, unary calls and replies
    /// and whole small messages first, in order; then chunks of pending
    /// messages, one channel after another, as credit allows.
    ///
    /// A driver whose link is busy may stop polling: pending messages wait
    /// in their channels (one per channel), and producers wait with them.
    #[inline]
    pub fn poll_transmit(&mut self) -> Option<Frame> {
        match self.transmit.pop_front() {
            Some(frame) => Some(frame),
            None => self.next_chunk(),
        }
    }

    /// The next event for the application. [`Event::Closed`] comes last.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] must next be called: the earliest of
    /// the handshake timeout, the drain timeout, the call deadlines, the
    /// keepalive timer, the frame timeout and the idle timeout. `None` when nothing is
    /// pending or the session is closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timer = match &self.state {
            State::Established => earliest(self.keepalive_due(), self.idle_due()),
            State::Handshaking | State::Authenticating(_) => self.handshake_deadline,
            State::Draining(drain) => earliest(drain.deadline, self.keepalive_due()),
            State::Closed => return None,
        };
        let timer = earliest(timer, self.frame_due());
        earliest(timer, self.channels.next_deadline())
    }

    /// Which side this session is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The handshake finished and the session is not closed (it may be
    /// draining).
    pub fn is_established(&self) -> bool {
        matches!(self.state, State::Established | State::Draining(_))
    }

    /// [`Event::Closed`] has been queued: nothing more will happen.
    pub fn is_closed(&self) -> bool {
        matches!(self.state, State::Closed)
    }

    /// This side's limits, windows and timers.
    pub fn config(&self) -> &SessionConfig {
        &self.config
    }

    /// The peer's HELLO, once it arrived (kept after close).
    pub fn peer_hello(&self) -> Option<&Hello> {
        self.peer.as_ref().map(|peer| &peer.hello)
    }

    /// The peer's ACCEPT, once it arrived (kept after close): a server's
    /// op table.
    pub fn peer_accept(&self) -> Option<&Accept> {
        self.peer.as_ref()?.accept.as_ref()
    }

    /// The protocol version both sides settled on, once the peer's HELLO
    /// arrived.
    pub fn version(&self) -> Option<u16> {
        self.peer.as_ref().map(|peer| peer.version)
    }

    /// The features both sides offered, once the peer's HELLO arrived.
    pub fn features(&self) -> Features {
        self.peer
            .as_ref()
            .map_or(Features::EMPTY, |peer| peer.features)
    }

    /// DATA bytes received and not yet released by the application, over
    /// all channels, now and at most ever: the receive windows bound both.
    pub fn buffered(&self) -> (u64, u64) {
        (self.conn_window.held(), self.conn_window.peak())
    }

    /// Open channels in both directions.
    pub fn open_channels(&self) -> usize {
        self.channels.len()
    }

    /// Whether `channel` is open: its call or stream has not ended.
    pub fn is_open(&self, channel: super::ChannelId) -> bool {
        self.channels.get(channel.get()).is_some()
    }

    /// Whether the peer's call on `channel` still waits for its answer:
    /// open, and nothing sent on it ends it yet (no reply, error or end
    /// queued, and the caller did not stop receiving).
    pub fn awaits_answer(&self, channel: super::ChannelId) -> bool {
        let id = channel.get();
        self.channels.is_peer(id)
            && (self.channels.get(id)).is_some_and(|ch| ch.send == super::channels::Send::Open)
    }

    /// The lifecycle state's name: `handshaking`, `authenticating`,
    /// `established`, `draining` or `closed`.
    pub fn state_name(&self) -> &'static str {
        self.state.name()
    }

    /// Ends every open channel locally with `UNAVAILABLE`: our calls fail,
    /// the peer's calls are cancelled (those the application already
    /// answered, their answer still queued, raise no event). With
    /// [`Notify::Peer`] the peer is told too, per channel: a CANCEL for our
    /// calls, an ERROR for its own.
    pub(crate) fn abort_channels(&mut self, message: &str, notify: Notify) {
        self.ready.iter_mut().for_each(VecDeque::clear);
        for (id, send) in self.channels.drain() {
            let channel = super::ChannelId(id);
            let ours = self.role.opens(id);
            match notify {
                Notify::Peer if ours => {
                    self.transmit.push_back(wire::cancel(id, Code::Unavailable))
                }
                Notify::Peer => self.send_error(id, Code::Unavailable, message),
                Notify::Nobody => {}
            }
            let event = if ours {
                Event::Reply {
                    channel,
                    reply: Err(Status::unavailable(message)),
                }
            } else if send == Send::Open {
                Event::Cancelled {
                    channel,
                    code: Code::Unavailable,
                }
            } else {
                continue;
            };
            self.events.push_back(event);
        }
    }

    /// Closes because of `error`: aborts channels, tells the peer why in a
    /// GOAWAY, and queues `Closed`.
    pub(crate) fn fail_with(&mut self, error: SessionError) {
        self.abort_channels(&format!("session closed: {error}"), Notify::Nobody);
        self.send_goaway(error.goaway_code(), &error.goaway_reason());
        self.terminate(Some(error));
    }

    /// The largest payload the peer accepts, once known.
    pub(crate) fn peer_max_payload(&self) -> usize {
        self.peer
            .as_ref()
            .map_or(usize::MAX, |peer| peer.hello.max_frame as usize)
    }

    /// Queues an ERROR on `id`, its message cut to fit the peer's limit.
    pub(crate) fn send_error(&mut self, id: u32, code: Code, message: &str) {
        let frame = wire::error(id, code, message, self.peer_max_payload());
        self.transmit.push_back(frame);
    }

    /// Queues a GOAWAY naming the highest channel the peer opened, its
    /// reason cut to fit the peer's limit.
    pub(crate) fn send_goaway(&mut self, code: Code, reason: &str) {
        let last = self.channels.last_peer();
        self.goaway_last = Some(last);
        let frame = wire::goaway(last, code, reason, self.peer_max_payload());
        self.transmit.push_back(frame);
    }

    /// Closes for a protocol violation in a `kind` frame.
    pub(crate) fn protocol_error(&mut self, kind: crate::frame::FrameKind, reason: &'static str) {
        self.fail_with(SessionError::Protocol {
            kind: kind.name(),
            reason,
        });
    }

    /// While draining, closes once no channel is open.
    pub(crate) fn close_if_drained(&mut self) {
        let State::Draining(drain) = &self.state else {
            return;
        };
        // Calls still on their way (a link with a stream per channel) are
        // waited for too, within the drain deadline.
        if !self.channels.is_empty() || self.channels.awaits_calls() {
            return;
        }
        let error = match (&drain.peer, drain.local) {
            (Some(goaway), false) => Some(SessionError::PeerGoneAway {
                code: goaway.code,
                reason: goaway.reason.clone(),
            }),
            _ => None,
        };
        self.terminate(error);
    }
}

/// The earlier of two optional instants.
#[inline]
fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Whether [`Session::abort_channels`] tells the peer about each channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Notify {
    /// Per channel: a CANCEL for ours, an ERROR for the peer's.
    Peer,
    /// Nobody: the peer hears of it otherwise (a GOAWAY), or cannot.
    Nobody,
}
