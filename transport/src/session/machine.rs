//! The [`Session`] state: construction, the output queues and accessors.
//!
//! Inputs live beside it: `recv.rs` (frames), `calls.rs` (the caller's
//! and handler's actions), `lifecycle.rs` (timers, pings, shutdown).

use std::collections::VecDeque;
use std::time::Instant;

use super::channels::Channels;
use super::{Event, Hello, Role, SessionConfig, SessionError, wire};
use crate::Code;
use crate::frame::Frame;

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Our HELLO is queued; the peer's has not arrived.
    Handshaking,
    /// Both HELLOs exchanged; calls flow.
    Established,
    /// `Event::Closed` was queued; inputs are ignored.
    Closed,
}

/// What the peer's GOAWAY said.
#[derive(Clone, Debug)]
pub(crate) struct PeerGoAway {
    /// The highest of our channel ids the peer took.
    pub(crate) last: u32,
    pub(crate) code: Code,
    pub(crate) reason: String,
}

/// Liveness tracking for keepalive.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Liveness {
    /// When the last frame arrived (or the session started).
    pub(crate) last_recv: Instant,
    /// When the unanswered keepalive ping was sent.
    pub(crate) probe_sent: Option<Instant>,
}

/// The sans-IO session protocol of one connection.
///
/// A pure state machine in the manner of quinn-proto: feed it what arrives
/// ([`handle_frame`](Session::handle_frame), [`handle_timeout`](Session::handle_timeout),
/// [`handle_link_closed`](Session::handle_link_closed)) and what the
/// application does ([`open_call`](Session::open_call), [`respond`](Session::respond),
/// …), then drain [`poll_transmit`](Session::poll_transmit) into the link,
/// [`poll_event`](Session::poll_event) into the application, and sleep until
/// [`poll_timeout`](Session::poll_timeout). It never reads a clock or does I/O.
///
/// # Examples
///
/// A client and a server joined by hand, one unary call:
///
/// ```
/// use std::time::Instant;
/// use prism_transport::frame::Body;
/// use prism_transport::session::{Event, Hello, OutgoingCall, Role, Session, SessionConfig};
///
/// fn pump(from: &mut Session, to: &mut Session, now: Instant) {
///     while let Some(frame) = from.poll_transmit() {
///         to.handle_frame(now, frame);
///     }
/// }
///
/// let now = Instant::now();
/// let mut client = Session::new(Role::Client, SessionConfig::default(), Hello::new(vec![]), now);
/// let mut server = Session::new(Role::Server, SessionConfig::default(), Hello::new(vec![]), now);
/// pump(&mut client, &mut server, now);
/// pump(&mut server, &mut client, now);
/// assert_eq!(client.poll_event(), Some(Event::Established));
/// assert_eq!(server.poll_event(), Some(Event::Established));
///
/// let call = OutgoingCall { op: 7, codec: 1, deadline: None, body: Body::from(&b"2+3"[..]) };
/// let channel = client.open_call(now, call)?;
/// pump(&mut client, &mut server, now);
/// let Some(Event::IncomingCall { channel: incoming, op: 7, .. }) = server.poll_event() else {
///     unreachable!()
/// };
/// server.respond(incoming, 1, Body::from(&b"5"[..]), false);
/// pump(&mut server, &mut client, now);
/// let Some(Event::Response { channel: answered, body, .. }) = client.poll_event() else {
///     unreachable!()
/// };
/// assert_eq!((answered, &body.into_contiguous()[..]), (channel, &b"5"[..]));
/// # Ok::<(), prism_transport::session::OpenError>(())
/// ```
#[derive(Debug)]
pub struct Session {
    pub(crate) role: Role,
    pub(crate) config: SessionConfig,
    pub(crate) phase: Phase,
    /// When the peer's HELLO is due; `None` if that is beyond representable time.
    pub(crate) handshake_deadline: Option<Instant>,
    pub(crate) peer: Option<Hello>,
    pub(crate) channels: Channels,
    pub(crate) transmit: VecDeque<Frame>,
    pub(crate) events: VecDeque<Event>,
    /// We sent GOAWAY: no new channels; close once drained.
    pub(crate) going_away: bool,
    pub(crate) peer_goaway: Option<PeerGoAway>,
    pub(crate) liveness: Liveness,
    /// Unanswered [`Session::ping`]s, oldest first.
    pub(crate) pings: VecDeque<(u64, Instant)>,
    pub(crate) next_ping_id: u64,
}

impl Session {
    /// A session that has queued its HELLO, advertising `config`'s limits
    /// (they overwrite `hello.max_frame` and `hello.max_channels`).
    ///
    /// If `hello` breaks the protocol's limits ([`Hello::validate`]), nothing
    /// is sent and the session is closed at once with
    /// [`SessionError::OwnHello`].
    pub fn new(role: Role, config: SessionConfig, mut hello: Hello, now: Instant) -> Session {
        hello.max_frame = config.max_frame;
        hello.max_channels = config.max_channels;
        let mut session = Session {
            role,
            handshake_deadline: now.checked_add(config.handshake_timeout),
            config,
            phase: Phase::Handshaking,
            peer: None,
            channels: Channels::new(role),
            transmit: VecDeque::with_capacity(16),
            events: VecDeque::with_capacity(16),
            going_away: false,
            peer_goaway: None,
            liveness: Liveness {
                last_recv: now,
                probe_sent: None,
            },
            pings: VecDeque::new(),
            next_ping_id: 1,
        };
        match hello.validate() {
            Ok(()) => session.transmit.push_back(wire::hello(&hello)),
            Err(error) => session.finish(Some(SessionError::OwnHello(error))),
        }
        session
    }

    /// The next frame to send, in order.
    pub fn poll_transmit(&mut self) -> Option<Frame> {
        self.transmit.pop_front()
    }

    /// The next event for the application. [`Event::Closed`] comes last.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }

    /// When [`Session::handle_timeout`] must next be called: the earliest of
    /// the handshake timeout, the call deadlines and the keepalive timer.
    /// `None` when nothing is pending or the session is closed.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let timer = match self.phase {
            Phase::Closed => return None,
            Phase::Handshaking => self.handshake_deadline,
            Phase::Established => self.keepalive_due(),
        };
        match (timer, self.channels.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Which side this session is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The peer's HELLO was accepted and the session is not closed.
    pub fn is_established(&self) -> bool {
        self.phase == Phase::Established
    }

    /// [`Event::Closed`] has been queued: nothing more will happen.
    pub fn is_closed(&self) -> bool {
        self.phase == Phase::Closed
    }

    /// The peer's HELLO, once it arrived (kept after close).
    pub fn peer_hello(&self) -> Option<&Hello> {
        self.peer.as_ref()
    }

    /// Open channels in both directions.
    pub fn open_channels(&self) -> usize {
        self.channels.len()
    }

    /// Queues the last event; inputs are ignored from here on.
    pub(crate) fn finish(&mut self, error: Option<SessionError>) {
        self.phase = Phase::Closed;
        self.events.push_back(Event::Closed { error });
    }

    /// Ends every open channel locally: our calls fail, the peer's calls
    /// are cancelled, both with `UNAVAILABLE`.
    pub(crate) fn abort_channels(&mut self, message: &str) {
        for id in self.channels.drain() {
            let channel = super::ChannelId(id);
            let event = if self.role.opens(id) {
                Event::Failed {
                    channel,
                    code: Code::Unavailable,
                    message: message.to_owned(),
                }
            } else {
                Event::Cancelled {
                    channel,
                    code: Code::Unavailable,
                }
            };
            self.events.push_back(event);
        }
    }

    /// Closes because of `error`: aborts channels, tells the peer why in a
    /// GOAWAY, and queues `Closed`.
    pub(crate) fn fail_with(&mut self, error: SessionError) {
        self.abort_channels(&format!("session closed: {error}"));
        self.send_goaway(error.goaway_code(), &error.goaway_reason());
        self.finish(Some(error));
    }

    /// The largest payload the peer accepts, once known.
    fn peer_max_payload(&self) -> usize {
        self.peer
            .as_ref()
            .map_or(usize::MAX, |peer| peer.max_frame as usize)
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

    /// After a GOAWAY either way, closes once no channel is open.
    pub(crate) fn close_if_drained(&mut self) {
        if self.phase == Phase::Closed || !self.channels.is_empty() {
            return;
        }
        if self.going_away {
            self.finish(None);
        } else if let Some(goaway) = &self.peer_goaway {
            let error = SessionError::PeerGoneAway {
                code: goaway.code,
                reason: goaway.reason.clone(),
            };
            self.finish(Some(error));
        }
    }
}
