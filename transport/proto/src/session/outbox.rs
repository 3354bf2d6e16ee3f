//! What one channel still has to send: at most one message, cut into
//! chunks as credit allows, then perhaps the end of the direction.
//!
//! The session takes one message per channel at a time
//! ([`Session::send`](super::Session::send) refuses another while one is
//! pending), so a producer is pulled only as fast as the peer grants credit
//! and no queue needs sizing.

use prism_core::Payload;

use crate::frame::{Flags, Frame, FrameHeader, FrameKind};

use super::flow;

/// A channel's pending output.
#[derive(Debug, Default)]
pub(crate) struct Outbox {
    message: Option<Pending>,
    then: Option<Terminal>,
}

/// A message partly sent, or a marker.
#[derive(Debug)]
struct Pending {
    codec: u16,
    payload: Payload,
    /// Bytes already sent in chunks.
    sent: usize,
    /// The first frame's flags (`APP_ERROR`, `PACKED`) and `aux` (a packed
    /// frame's count; a chunked message states its total instead).
    first: (Flags, u64),
    /// A marker instead of a message.
    marker: Option<Marker>,
}

impl Pending {
    /// A message, none of it sent yet.
    fn message(codec: u16, payload: Payload, first: (Flags, u64)) -> Pending {
        Pending {
            codec,
            payload,
            sent: 0,
            first,
            marker: None,
        }
    }
}

/// An empty DATA frame that takes a message's place in the outbox.
#[derive(Clone, Copy, Debug)]
enum Marker {
    /// `SKIPPED`, of this many items.
    Skipped(u64),
    /// `OPEN`: the response stream is open.
    Open,
}

/// What ends our direction of a channel once the pending message is out.
#[derive(Debug)]
pub(crate) enum Terminal {
    /// DATA with `END`: a stream (or a chunked message) ended normally.
    End,
    /// A callee's RESPONSE or ERROR: ends the channel.
    Frame(Frame),
    /// A callee's response too large for one frame: a last message, in
    /// chunks, then `END`.
    Message {
        codec: u16,
        payload: Payload,
        first: (Flags, u64),
    },
}

/// The next frame an outbox gives up.
#[derive(Debug)]
pub(crate) struct Piece {
    pub(crate) frame: Frame,
    /// Credit it costs: DATA frames cost bytes, a RESPONSE or ERROR none.
    pub(crate) cost: Option<u64>,
    /// It finished the pending message.
    pub(crate) message_done: bool,
    /// It ends our direction (and, from a callee, the channel).
    pub(crate) terminal: bool,
}

impl Outbox {
    /// Nothing waits to be sent.
    pub(crate) fn is_empty(&self) -> bool {
        self.message.is_none() && self.then.is_none()
    }

    /// A message waits (the channel takes no other).
    pub(crate) fn has_message(&self) -> bool {
        self.message.is_some()
    }

    /// Whether what comes next is a DATA frame, which needs credit.
    pub(crate) fn next_needs_credit(&self) -> bool {
        self.message.is_some()
            || matches!(self.then, Some(Terminal::End | Terminal::Message { .. }))
    }

    /// Queues a message; the caller checked [`Outbox::has_message`].
    pub(crate) fn push_message(&mut self, codec: u16, payload: Payload, first: (Flags, u64)) {
        debug_assert!(self.message.is_none() && self.then.is_none());
        self.message = Some(Pending::message(codec, payload, first));
    }

    /// Queues a marker of `count` skipped items; the caller checked
    /// [`Outbox::has_message`].
    pub(crate) fn push_skipped(&mut self, count: u64) {
        self.push_marker(Marker::Skipped(count));
    }

    /// Queues the response stream's `OPEN`; the caller checked that the
    /// outbox is empty.
    pub(crate) fn push_open(&mut self) {
        self.push_marker(Marker::Open);
    }

    fn push_marker(&mut self, marker: Marker) {
        debug_assert!(self.message.is_none() && self.then.is_none());
        self.message = Some(Pending {
            codec: 0,
            payload: Payload::empty(),
            sent: 0,
            first: (Flags::NONE, 0),
            marker: Some(marker),
        });
    }

    /// Queues the end of the direction after any pending message.
    pub(crate) fn push_terminal(&mut self, terminal: Terminal) {
        debug_assert!(self.then.is_none());
        self.then = Some(terminal);
    }

    /// Takes the next frame for `channel`, its chunks at most `chunk` bytes.
    pub(crate) fn next(&mut self, channel: u32, chunk: usize) -> Option<Piece> {
        if let Some(marker) = self.message.as_ref().and_then(|p| p.marker) {
            self.message = None;
            let frame = match marker {
                Marker::Skipped(count) => skipped_frame(channel, count),
                Marker::Open => open_frame(channel),
            };
            return Some(Piece {
                frame,
                cost: Some(flow::cost(0)),
                message_done: true,
                terminal: false,
            });
        }
        if let Some(pending) = &mut self.message {
            let total = pending.payload.len();
            let start = pending.sent;
            let len = chunk.max(1).min(total - start);
            let more = start + len < total;
            let mut header = FrameHeader::new(FrameKind::Data);
            header.channel = channel;
            header.codec = pending.codec;
            if more {
                header.flags = header.flags.with(Flags::MORE);
            }
            if start == 0 {
                let (flags, aux) = pending.first;
                header.flags = header.flags.with(flags);
                header.aux = if more { total as u64 } else { aux };
            }
            let payload = if start == 0 && !more {
                core::mem::take(&mut pending.payload)
            } else {
                pending.payload.slice(start, len)
            };
            pending.sent += len;
            if !more {
                self.message = None;
            }
            return Some(Piece {
                cost: Some(flow::cost(len)),
                frame: Frame::new(header, payload),
                message_done: !more,
                terminal: false,
            });
        }
        let piece = match self.then.take()? {
            Terminal::Message {
                codec,
                payload,
                first,
            } => {
                // The last message is pending now; its END follows it.
                self.message = Some(Pending::message(codec, payload, first));
                self.then = Some(Terminal::End);
                return self.next(channel, chunk);
            }
            Terminal::End => Piece {
                frame: end_frame(channel),
                cost: Some(flow::cost(0)),
                message_done: false,
                terminal: true,
            },
            Terminal::Frame(frame) => Piece {
                frame,
                cost: None,
                message_done: false,
                terminal: true,
            },
        };
        Some(piece)
    }
}

/// The first-frame flags of a message (or of an application error).
pub(crate) fn whole(app_error: bool) -> (Flags, u64) {
    match app_error {
        true => (Flags::APP_ERROR, 0),
        false => (Flags::NONE, 0),
    }
}

/// DATA with `END` on `channel`.
pub(crate) fn end_frame(channel: u32) -> Frame {
    let mut header = FrameHeader::new(FrameKind::Data);
    header.channel = channel;
    header.flags = Flags::END;
    Frame::empty(header)
}

/// DATA with `SKIPPED` on `channel`: `count` items were dropped.
pub(crate) fn skipped_frame(channel: u32, count: u64) -> Frame {
    let mut header = FrameHeader::new(FrameKind::Data);
    header.channel = channel;
    header.flags = Flags::SKIPPED;
    header.aux = count;
    Frame::empty(header)
}

/// DATA with `OPEN` on `channel`: a callee's response stream is open.
pub(crate) fn open_frame(channel: u32) -> Frame {
    let mut header = FrameHeader::new(FrameKind::Data);
    header.channel = channel;
    header.flags = Flags::OPEN;
    Frame::empty(header)
}

/// One whole message in one DATA frame.
pub(crate) fn data_frame(channel: u32, codec: u16, payload: Payload, first: (Flags, u64)) -> Frame {
    let mut header = FrameHeader::new(FrameKind::Data);
    header.channel = channel;
    header.codec = codec;
    (header.flags, header.aux) = first;
    Frame::new(header, payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_cut_into_chunks_stating_the_total_first() {
        let mut outbox = Outbox::default();
        outbox.push_message(3, Payload::from(vec![7u8; 10]), (Flags::APP_ERROR, 0));
        outbox.push_terminal(Terminal::End);
        let mut frames = Vec::new();
        while let Some(piece) = outbox.next(5, 4) {
            frames.push(piece);
        }
        let shape: Vec<_> = frames
            .iter()
            .map(|p| {
                let h = p.frame.header;
                (p.frame.payload.len(), h.flags.bits(), h.aux, p.cost)
            })
            .collect();
        let (more, end, app) = (
            Flags::MORE.bits(),
            Flags::END.bits(),
            Flags::APP_ERROR.bits(),
        );
        assert_eq!(
            shape,
            [
                (4, more | app, 10, Some(36)),
                (4, more, 0, Some(36)),
                (2, 0, 0, Some(34)),
                (0, end, 0, Some(32)),
            ]
        );
        assert!(frames[2].message_done && frames[3].terminal);
        assert!(outbox.is_empty());
    }

    #[test]
    fn a_message_within_one_chunk_travels_whole() {
        let mut outbox = Outbox::default();
        outbox.push_message(1, Payload::from(&b"abc"[..]), (Flags::NONE, 0));
        let piece = outbox.next(1, 100).expect("a frame");
        assert_eq!(
            (piece.frame.header.flags, piece.frame.header.aux),
            (Flags::NONE, 0)
        );
        assert_eq!(&piece.frame.payload[..], b"abc");
        assert!(outbox.next(1, 100).is_none());
    }
}
