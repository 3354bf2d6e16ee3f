//! The fixed 32-byte little-endian frame header.
//!
//! ```text
//! offset  size  field
//!      0     1  kind
//!      1     1  flags
//!      2     2  codec id      (opaque to the transport)
//!      4     4  channel id    (odd: opened by the client, even: by the server)
//!      8     8  op id         (on call frames; 0 elsewhere)
//!     16     4  payload length, in bytes, before padding
//!     20     4  reserved, must be 0
//!     24     8  aux           (kind-specific: relative deadline in µs on a
//!                              call, status code on an error or cancel, the
//!                              total length on a message's first DATA chunk,
//!                              bytes granted on a credit, ping id, last
//!                              accepted channel on a goaway)
//! ```
//!
//! On byte-stream links the payload is followed by zero padding up to a
//! multiple of 16 bytes, so every frame is a multiple of 16 bytes long and a
//! receive buffer that starts aligned yields aligned payloads without copies.

use super::{Flags, FrameError, FrameKind};

/// Length of the encoded header.
pub const HEADER_LEN: usize = 32;

/// Payloads start at, and frames are padded to, multiples of this: the
/// alignment zero-copy codecs read payloads at.
pub const FRAME_ALIGN: usize = prism_core::aligned::ALIGN;

/// Everything in a frame but its payload.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// What the frame is for.
    pub kind: FrameKind,
    /// Flag bits.
    pub flags: Flags,
    /// The codec that encoded the payload, opaque to the transport.
    pub codec: u16,
    /// The channel the frame belongs to; 0 for connection-level frames.
    pub channel: u32,
    /// The op a call frame invokes; 0 elsewhere.
    pub op: u64,
    /// Kind-specific value; see the module docs.
    pub aux: u64,
}

impl FrameHeader {
    /// A header of `kind` with every other field zero.
    pub const fn new(kind: FrameKind) -> Self {
        FrameHeader {
            kind,
            flags: Flags::NONE,
            codec: 0,
            channel: 0,
            op: 0,
            aux: 0,
        }
    }

    /// Writes the header for a payload of `len` bytes.
    pub fn encode(&self, len: u32) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0] = self.kind as u8;
        out[1] = self.flags.bits();
        out[2..4].copy_from_slice(&self.codec.to_le_bytes());
        out[4..8].copy_from_slice(&self.channel.to_le_bytes());
        out[8..16].copy_from_slice(&self.op.to_le_bytes());
        out[16..20].copy_from_slice(&len.to_le_bytes());
        out[24..32].copy_from_slice(&self.aux.to_le_bytes());
        out
    }

    /// Parses a header, returning it with its payload length.
    ///
    /// # Errors
    ///
    /// Fails on an unknown kind, set reserved bytes, or a payload longer than
    /// `max_payload`.
    pub fn decode(
        bytes: &[u8; HEADER_LEN],
        max_payload: u32,
    ) -> Result<(FrameHeader, u32), FrameError> {
        let word = |range: core::ops::Range<usize>| {
            let mut b = [0u8; 8];
            b[..range.len()].copy_from_slice(&bytes[range]);
            u64::from_le_bytes(b)
        };
        let kind =
            FrameKind::from_u8(bytes[0]).ok_or(FrameError::UnknownKind { kind: bytes[0] })?;
        let len = word(16..20) as u32;
        if word(20..24) != 0 {
            return Err(FrameError::ReservedNotZero { kind });
        }
        if len > max_payload {
            return Err(FrameError::TooLarge {
                kind,
                len,
                max: max_payload,
            });
        }
        let header = FrameHeader {
            kind,
            flags: Flags::from_bits(bytes[1]),
            codec: word(2..4) as u16,
            channel: word(4..8) as u32,
            op: word(8..16),
            aux: word(24..32),
        };
        Ok((header, len))
    }
}

/// Bytes of zero padding after a payload of `len` bytes.
pub use prism_core::aligned::padding;

/// Bytes a frame with a payload of `len` bytes takes on a byte stream.
pub const fn wire_len(len: usize) -> usize {
    HEADER_LEN + len + padding(len)
}
