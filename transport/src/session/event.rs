//! What a session reports to its driver, and what a caller hands it.

use core::fmt;
use std::time::{Duration, Instant};

use super::SessionError;
use crate::Code;
use crate::frame::Body;

/// A channel: one call between two peers.
///
/// Client-opened ids are odd (1, 3, 5, …), server-opened ids even (2, 4, …);
/// each side's ids strictly increase and are never reused in a session.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct ChannelId(pub(crate) u32);

impl ChannelId {
    /// The id on the wire.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for ChannelId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{}", self.0)
    }
}

/// A call to open with [`Session::open_call`](super::Session::open_call).
#[derive(Clone, Debug)]
pub struct OutgoingCall {
    /// The op to invoke.
    pub op: u64,
    /// The codec that encoded `body`.
    pub codec: u16,
    /// How long the call may take, from now; `None` for no deadline.
    pub deadline: Option<Duration>,
    /// The encoded request.
    pub body: Body,
}

/// Something the driver must act on, from [`Session::poll_event`](super::Session::poll_event).
///
/// `Debug` shows payload lengths only, never payload bytes.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// The peer's HELLO was accepted; read it with
    /// [`Session::peer_hello`](super::Session::peer_hello).
    Established,
    /// Server: the peer opened a call; run its handler.
    IncomingCall {
        /// The call's channel, to answer with `respond` or `fail`.
        channel: ChannelId,
        /// The op to run.
        op: u64,
        /// The codec that encoded `body`.
        codec: u16,
        /// When the caller stops waiting, if it set a deadline.
        deadline: Option<Instant>,
        /// The encoded request: one segment from a byte-stream link, as
        /// many as the sender wrote from an in-process one.
        body: Body,
    },
    /// Client: a call returned.
    Response {
        /// The call's channel.
        channel: ChannelId,
        /// The codec that encoded `body`.
        codec: u16,
        /// The encoded response (or application error).
        body: Body,
        /// `body` is the op's application error (`Err(E)`).
        app_error: bool,
    },
    /// Client: a call ended without a response: the peer's ERROR, our
    /// deadline (`DEADLINE_EXCEEDED`), the peer's GOAWAY or a closed
    /// session (`UNAVAILABLE`).
    Failed {
        /// The call's channel.
        channel: ChannelId,
        /// Why.
        code: Code,
        /// Details for humans.
        message: String,
    },
    /// Server: stop the call's handler. The caller cancelled (`CANCELLED`,
    /// or `DEADLINE_EXCEEDED` when its deadline passed), our deadline timer
    /// fired (`DEADLINE_EXCEEDED`, and the caller got an ERROR), or the
    /// session closed (`UNAVAILABLE`).
    Cancelled {
        /// The call's channel.
        channel: ChannelId,
        /// Why.
        code: Code,
    },
    /// The peer sent GOAWAY: no new calls; calls it already took continue.
    GoAway {
        /// The code in the GOAWAY.
        code: Code,
        /// The reason in the GOAWAY.
        reason: String,
    },
    /// A [`Session::ping`](super::Session::ping) was answered.
    Pong {
        /// Time from the ping to its pong.
        rtt: Duration,
    },
    /// The last event: nothing more happens in this session. The driver
    /// flushes what `poll_transmit` still yields, then closes the link.
    Closed {
        /// `None` when this side closed it on purpose.
        error: Option<SessionError>,
    },
}

impl fmt::Debug for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Event::Established => f.write_str("Established"),
            Event::IncomingCall {
                channel,
                op,
                codec,
                deadline,
                body,
            } => f
                .debug_struct("IncomingCall")
                .field("channel", channel)
                .field("op", op)
                .field("codec", codec)
                .field("deadline", deadline)
                .field("len", &body.len())
                .finish(),
            Event::Response {
                channel,
                codec,
                body,
                app_error,
            } => f
                .debug_struct("Response")
                .field("channel", channel)
                .field("codec", codec)
                .field("len", &body.len())
                .field("app_error", app_error)
                .finish(),
            Event::Failed {
                channel,
                code,
                message,
            } => f
                .debug_struct("Failed")
                .field("channel", channel)
                .field("code", code)
                .field("message", message)
                .finish(),
            Event::Cancelled { channel, code } => f
                .debug_struct("Cancelled")
                .field("channel", channel)
                .field("code", code)
                .finish(),
            Event::GoAway { code, reason } => f
                .debug_struct("GoAway")
                .field("code", code)
                .field("reason", reason)
                .finish(),
            Event::Pong { rtt } => f.debug_struct("Pong").field("rtt", rtt).finish(),
            Event::Closed { error } => f.debug_struct("Closed").field("error", error).finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_hides_payload_bytes() {
        let event = Event::Response {
            channel: ChannelId(1),
            codec: 0,
            body: bytes::Bytes::from_static(b"secret-token").into(),
            app_error: false,
        };
        let shown = format!("{event:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("len: 12"), "{shown}");
    }
}
