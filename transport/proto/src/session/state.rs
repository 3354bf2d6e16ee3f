//! The session's lifecycle: one state enum, and every transition in
//! [`Session::enter`].
//!
//! ```text
//!  Handshaking ──peer HELLO──► Authenticating ──both accepted──► Established
//!       │                          │                                 │
//!       │                          │                  GOAWAY sent or received
//!       │                          │                                 ▼
//!       │                          │                              Draining
//!       │                          │                                 │
//!       └────────────┬─────────────┘                  no channels left, or
//!                    │ errors, a GOAWAY, close        the drain timeout
//!                    ▼                                               │
//!                  Closed ◄──────────────────────────────────────────┘
//! ```
//!
//! Every state can go to `Closed` (errors and `close` from any state; a
//! GOAWAY before the handshake ends closes at once, there being no calls
//! to drain); nothing leaves it. Data about the peer
//! (its HELLO, its ACCEPT, the negotiated version) lives beside the state,
//! never in place of it.

use web_time::Instant;

use prism_core::Code;

use super::{Event, Session, SessionError};

/// Where a session is in its life.
#[derive(Clone, Debug)]
pub(crate) enum State {
    /// Our HELLO is queued; the peer's has not arrived.
    Handshaking,
    /// The peer's HELLO is known; waiting for this side's verdict on it,
    /// the peer's ACCEPT of ours, or both.
    Authenticating(Admission),
    /// Both sides accepted each other; calls flow.
    Established,
    /// A GOAWAY was sent or received: open calls finish, no new ones start.
    Draining(Drain),
    /// `Event::Closed` was queued; inputs are ignored.
    Closed,
}

/// The two halves of the handshake's verdict.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Admission {
    /// This side accepted the peer's HELLO (and sent its ACCEPT).
    pub(crate) accepted_peer: bool,
    /// The peer's ACCEPT of our HELLO arrived.
    pub(crate) accepted_by_peer: bool,
}

/// Who said goodbye, and when draining must end.
#[derive(Clone, Debug)]
pub(crate) struct Drain {
    /// We sent GOAWAY.
    pub(crate) local: bool,
    /// What the peer's GOAWAY said, if it sent one.
    pub(crate) peer: Option<PeerGoAway>,
    /// When open calls are cancelled; `None` if beyond representable time.
    pub(crate) deadline: Option<Instant>,
}

/// What the peer's GOAWAY said.
#[derive(Clone, Debug)]
pub(crate) struct PeerGoAway {
    /// The highest of our channel ids the peer took.
    pub(crate) last: u32,
    pub(crate) code: Code,
    pub(crate) reason: String,
}

impl State {
    /// A short lowercase name, for `Debug` and assertions.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            State::Handshaking => "handshaking",
            State::Authenticating(_) => "authenticating",
            State::Established => "established",
            State::Draining(_) => "draining",
            State::Closed => "closed",
        }
    }
}

impl Session {
    /// Moves to `next`, queuing the event that announces it: the one place
    /// the lifecycle changes. Entering `Closed` takes the reason;
    /// [`Session::finish`] passes it.
    pub(crate) fn enter(&mut self, next: State, closed: Option<SessionError>) {
        debug_assert!(
            matches!(
                (&self.state, &next),
                (State::Handshaking, State::Authenticating(_))
                    | (State::Authenticating(_), State::Authenticating(_))
                    | (State::Authenticating(_), State::Established)
                    | (State::Established, State::Draining(_))
                    | (State::Draining(_), State::Draining(_))
                    | (_, State::Closed)
            ) && !matches!(self.state, State::Closed),
            "no transition from {} to {}",
            self.state.name(),
            next.name()
        );
        let event = match (&self.state, &next) {
            (State::Handshaking, State::Authenticating(_)) => Some(Event::Hello),
            (_, State::Established) => Some(Event::Established),
            (_, State::Closed) => Some(Event::Closed { error: closed }),
            _ => None,
        };
        self.state = next;
        if let Some(event) = event {
            self.events.push_back(event);
        }
    }

    /// Queues the last event; inputs are ignored from here on.
    pub(crate) fn terminate(&mut self, error: Option<SessionError>) {
        self.enter(State::Closed, error);
    }

    /// Starts draining (or adds the other side's goodbye to a drain under
    /// way), starting the drain timer on the first goodbye.
    pub(crate) fn drain(&mut self, now: Instant, local: bool, peer: Option<PeerGoAway>) {
        let drain = match &self.state {
            State::Draining(drain) => Drain {
                local: drain.local || local,
                peer: drain.peer.clone().or(peer),
                deadline: drain.deadline,
            },
            _ => Drain {
                local,
                peer,
                deadline: now.checked_add(self.config.drain_timeout),
            },
        };
        self.enter(State::Draining(drain), None);
    }
}
