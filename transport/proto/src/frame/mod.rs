//! Frames: a fixed header plus a payload, and a decoder for byte streams.
//!
//! The protocol never looks inside a call's payload: the codec id and op id
//! in the header are opaque integers it carries for the layers above.

mod decoder;
mod header;
mod kind;

pub use decoder::{FrameDecoder, encode_frame};
pub use header::{FRAME_ALIGN, FrameHeader, HEADER_LEN, padding, wire_len};
pub use kind::{Flags, FrameKind};

/// The default largest payload a frame may carry: 16 MiB.
pub const DEFAULT_MAX_FRAME: u32 = 16 << 20;

use prism_core::Payload;

/// One frame: a header and its payload.
///
/// `Debug` shows the payload's length only, never its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    /// Kind, channel, op, codec, flags and aux.
    pub header: FrameHeader,
    /// The payload, opaque to the protocol: one or more segments, never
    /// copied by the layers that move it.
    pub payload: Payload,
}

impl Frame {
    /// A frame with an empty payload.
    pub fn empty(header: FrameHeader) -> Frame {
        Frame {
            header,
            payload: Payload::empty(),
        }
    }

    /// A frame with a payload.
    pub fn new(header: FrameHeader, payload: Payload) -> Frame {
        Frame { header, payload }
    }

    /// The frame's size without padding: header plus payload. What links
    /// count against their queues and connections in their statistics.
    #[inline]
    pub fn size(&self) -> usize {
        HEADER_LEN + self.payload.len()
    }
}

/// A frame could not be read from a byte stream.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// The kind byte names no frame kind this version knows.
    #[error("unknown frame kind {kind}")]
    UnknownKind {
        /// The kind byte read.
        kind: u8,
    },
    /// Reserved header bytes were not zero.
    #[error("{kind} frame has reserved header bytes set")]
    ReservedNotZero {
        /// The frame's kind.
        kind: FrameKind,
    },
    /// The padding after the payload was not zero.
    #[error("{kind} frame has padding bytes that are not zero")]
    PaddingNotZero {
        /// The frame's kind.
        kind: FrameKind,
    },
    /// The payload is longer than the configured maximum.
    #[error("{kind} frame of {len} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// The frame's kind.
        kind: FrameKind,
        /// The payload length in the header.
        len: u32,
        /// The limit in force.
        max: u32,
    },
}
