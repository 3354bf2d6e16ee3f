//! What a session reports to its driver, and what a caller hands it.

use core::fmt;
use std::time::Duration;

use web_time::Instant;

use prism_core::{Code, CodecId, Metadata, Payload, Reply};

use super::{Lifetime, SessionError};

/// A channel: one call or stream between two peers.
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
    /// How urgently its chunks leave, when it is large enough to travel in
    /// chunks (see [`Priority`](super::Priority)).
    pub priority: super::Priority,
    /// The call's metadata, sent in its CALL frame; empty for none.
    pub metadata: Metadata,
}

/// A datagram op's message to send with
/// [`Session::send_datagram`](super::Session::send_datagram).
#[derive(Clone, Debug)]
pub struct OutgoingDatagram {
    /// The op to invoke.
    pub op: u64,
    /// The codec that encoded `payload`.
    pub codec: CodecId,
    /// The encoded request.
    pub payload: Payload,
}

/// A stream to open with [`Session::open_stream`](super::Session::open_stream):
/// a call whose request direction stays open for
/// [`Session::send`](super::Session::send).
#[derive(Clone, Debug)]
pub struct OutgoingStream {
    /// The op to invoke.
    pub op: u64,
    /// The codec the request messages are encoded with.
    pub codec: CodecId,
    /// How long the whole stream may take, from now; `None` for no deadline.
    pub deadline: Option<Duration>,
    /// How urgently its chunks leave (see [`Priority`](super::Priority)).
    pub priority: super::Priority,
    /// The stream's metadata, sent in its CALL frame; empty for none.
    pub metadata: Metadata,
}

/// One DATA chunk of a message, as [`Event::Data`] delivers it.
///
/// A message of at most one chunk arrives whole (`total` is `None`, `more`
/// is false); a larger one arrives as a first chunk stating its total, then
/// further chunks, the last with `more` false. [`Reassembler`] puts them
/// together. Each chunk holds [`Chunk::cost`] bytes of the receive windows
/// until the application passes them to
/// [`Session::release`](super::Session::release).
///
/// [`Reassembler`]: super::Reassembler
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Chunk {
    /// The codec of the message.
    pub codec: CodecId,
    /// The chunk's bytes.
    pub payload: Payload,
    /// On the first chunk of a message sent in several: its total length,
    /// already checked against the receiver's `max_message`.
    pub total: Option<u64>,
    /// More chunks of this message follow.
    pub more: bool,
    /// The message is the op's application error (set on its first chunk).
    pub app_error: bool,
    /// The chunk is several whole messages, packed (see
    /// [`Packer`](super::Packer)); the session checked the layout.
    pub packed: bool,
}

impl Chunk {
    /// What the chunk costs in the receive windows: its length plus the
    /// frame's 32-byte header.
    pub fn cost(&self) -> u64 {
        super::flow::cost(self.payload.len())
    }

    /// Whether the chunk arrived in one frame, not cut into chunks: one
    /// whole message, or, when [`packed`](Chunk::packed), several.
    pub fn is_whole(&self) -> bool {
        self.total.is_none() && !self.more
    }
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
    /// Server: the peer opened a call or stream; route it, check it, run
    /// its handler. This is the one point where a channel is admitted:
    /// nothing of its request has been decoded.
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
        /// many as the sender wrote from an in-process one. Empty when
        /// `open`.
        payload: Payload,
        /// The request direction is open: its messages follow as
        /// [`Event::Data`], then [`Event::End`] (a stream, or a request
        /// too large for one chunk).
        open: bool,
        /// The caller's metadata, checked (no credentials); empty for
        /// none.
        metadata: Metadata,
    },
    /// Server: a datagram op's message arrived: route it, check it, run its
    /// handler; nothing is answered. Like [`Event::Call`], the one point
    /// where it is admitted, before anything of it is decoded.
    Datagram {
        /// The op to run.
        op: u64,
        /// The codec that encoded `payload`.
        codec: CodecId,
        /// The encoded request.
        payload: Payload,
    },
    /// Client: the callee opened its response stream (its handler
    /// accepted the call); messages may follow.
    Opened {
        /// The channel.
        channel: ChannelId,
    },
    /// Client: the callee dropped `count` items of its stream here,
    /// because this side read too slowly (a push subscription's lag).
    Skipped {
        /// The channel.
        channel: ChannelId,
        /// Items dropped, at least 1.
        count: u64,
        /// Bytes the marker holds in the receive windows, like a
        /// message's: release them ([`Session::release`](super::Session::release))
        /// once it is consumed, so a reader that falls behind holds back
        /// the markers too.
        held: u64,
    },
    /// A chunk of a message arrived on an open direction of a channel.
    Data {
        /// The channel.
        channel: ChannelId,
        /// The chunk.
        chunk: Chunk,
    },
    /// The peer ended its direction of a channel. On a server: the caller
    /// half-closed its request stream (the channel stays open for the
    /// response). On a client: the callee's stream ended normally, which
    /// ends the channel.
    End {
        /// The channel.
        channel: ChannelId,
    },
    /// Client: the callee no longer reads the request direction of a
    /// stream (its CANCEL); stop sending on it. The response direction
    /// goes on.
    StopSending {
        /// The channel.
        channel: ChannelId,
        /// The code the callee gave.
        code: Code,
    },
    /// A channel on which [`Session::send`](super::Session::send) said
    /// it was full has sent its pending message and takes another.
    Writable {
        /// The channel.
        channel: ChannelId,
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
    /// Server: the client presented a fresh proof in band. Check it, then
    /// [`Session::confirm_reauth`](super::Session::confirm_reauth) with the
    /// new lifetime, or [`Session::close`](super::Session::close) to
    /// refuse it. Open calls go on meanwhile. `Debug` shows the proof's
    /// length only.
    Reauthenticate {
        /// The proof, opaque to the session.
        proof: Payload,
    },
    /// Client: the server accepted the proof of
    /// [`Session::reauthenticate`](super::Session::reauthenticate).
    Reauthenticated {
        /// How long the new authentication holds; `None`: it does not
        /// expire.
        lifetime: Option<Lifetime>,
    },
    /// Client: the server asks for a fresh proof (its authorization
    /// changed).
    ReauthRequested {
        /// How long the server waits for it; `None`: it did not say.
        within: Option<Lifetime>,
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
                payload: secret.clone(),
                open: false,
                metadata: {
                    let mut metadata = prism_core::Metadata::new();
                    metadata.insert("note", "secret-token").unwrap();
                    metadata
                },
            },
            Event::Datagram {
                op: 7,
                codec: CodecId::POSTCARD,
                payload: secret.clone(),
            },
            Event::Data {
                channel: ChannelId(1),
                chunk: Chunk {
                    codec: CodecId::POSTCARD,
                    payload: secret,
                    total: None,
                    more: false,
                    app_error: false,
                    packed: false,
                },
            },
        ];
        for event in events {
            let shown = format!("{event:?}");
            assert!(!shown.contains("secret"), "{shown}");
            assert!(shown.contains("len: 12"), "{shown}");
        }
    }
}
