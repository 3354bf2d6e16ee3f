//! What a session reports to its driver, and what a caller hands it.

use core::fmt;
use std::time::{Duration, Instant};

use prism_core::{Code, CodecId, Payload, Reply};

use super::SessionError;

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
    /// The codec that encoded `payload`.
    pub codec: CodecId,
    /// How long the call may take, from now; `None` for no deadline.
    pub deadline: Option<Duration>,
    /// The encoded request.
    pub payload: Payload,
}

/// Something the driver must act on, from [`Session::poll_event`](super::Session::poll_event).
///
/// Not `#[non_exhaustive]`: a driver matches every event, so a new one
/// fails to compile where it is not handled. `Debug` shows payload lengths
/// only, never payload bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The peer's HELLO arrived, in a version this side speaks and with the
    /// features each side requires. Read it with
    /// [`Session::peer_hello`](super::Session::peer_hello), check it (a
    /// credential check may take its time), then answer with
    /// [`Session::accept`](super::Session::accept) or
    /// [`Session::reject`](super::Session::reject).
    Hello,
    /// Both sides accepted each other: calls may flow. The peer's ACCEPT
    /// (a server's op table) is [`Session::peer_accept`](super::Session::peer_accept).
    Established,
    /// Server: the peer opened a call; run its handler.
    Call {
        /// The call's channel, to answer with `respond`.
        channel: ChannelId,
        /// The op to run.
        op: u64,
        /// The codec that encoded `payload`.
        codec: CodecId,
        /// When the caller stops waiting, if it set a deadline.
        deadline: Option<Instant>,
        /// The encoded request: one segment from a byte-stream link, as
        /// many as the sender wrote from an in-process one.
        payload: Payload,
    },
    /// Client: a call ended: the peer's RESPONSE or ERROR, or a failure
    /// here (our deadline: `DEADLINE_EXCEEDED`; the peer's GOAWAY or a
    /// closed session: `UNAVAILABLE`).
    Reply {
        /// The call's channel.
        channel: ChannelId,
        /// How it ended.
        reply: Reply,
    },
    /// Server: stop the call's handler. The caller cancelled (`CANCELLED`,
    /// or `DEADLINE_EXCEEDED` when its deadline passed), our deadline timer
    /// fired (`DEADLINE_EXCEEDED`, and the caller got an ERROR), or the
    /// session closed or stopped draining (`UNAVAILABLE`).
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

#[cfg(test)]
mod tests {
    use prism_core::Response;

    use super::*;

    #[test]
    fn debug_hides_payload_bytes() {
        let secret = Payload::from(&b"secret-token"[..]);
        let events = [
            Event::Reply {
                channel: ChannelId(1),
                reply: Ok(Response::new(CodecId::POSTCARD, secret.clone())),
            },
            Event::Call {
                channel: ChannelId(1),
                op: 7,
                codec: CodecId::POSTCARD,
                deadline: None,
                payload: secret,
            },
        ];
        for event in events {
            let shown = format!("{event:?}");
            assert!(!shown.contains("secret"), "{shown}");
            assert!(shown.contains("len: 12"), "{shown}");
        }
    }
}
