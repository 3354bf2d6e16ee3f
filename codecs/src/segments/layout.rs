//! Parsing the segments layout of a received payload, with every length
//! checked before it is used.

use core::ops::Range;
use std::borrow::Cow;

use bytes::Bytes;

use prism_core::aligned::aligned_copy;

use crate::postcard::SHARE_BYTES_AT;
use crate::{DecodeError, Limits, Payload};

/// The most segments one message may carry.
pub const MAX_SEGMENTS: usize = 1 << 16;

fn invalid(message: impl Into<String>) -> DecodeError {
    DecodeError::Codec {
        codec: "segments",
        message: message.into(),
    }
}

/// `len` rounded up to the next multiple of
/// [`ALIGN`](prism_core::aligned::ALIGN), if that fits.
fn padded(len: usize) -> Option<usize> {
    len.checked_add(prism_core::aligned::padding(len))
}

/// Where the header and each segment lie in the payload.
pub(super) struct Layout {
    pub(super) header: Range<usize>,
    pub(super) segments: Vec<Range<usize>>,
}

impl Layout {
    pub(super) fn parse(payload: &Payload, limits: &Limits) -> Result<Layout, DecodeError> {
        let total = payload.len();
        let mut fixed = [0u8; 8];
        read_at(payload, 0, &mut fixed)
            .ok_or_else(|| invalid("payload is shorter than the segments prefix"))?;
        let header_len = u32::from_le_bytes([fixed[0], fixed[1], fixed[2], fixed[3]]) as usize;
        let count = u32::from_le_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]) as usize;
        if count > MAX_SEGMENTS {
            return Err(invalid(format!(
                "{count} segments exceed the limit of {MAX_SEGMENTS}"
            )));
        }
        let lengths_end = 8 + 8 * count;
        if lengths_end > total {
            return Err(invalid(format!(
                "{count} segment lengths do not fit a payload of {total} bytes"
            )));
        }
        if count.saturating_mul(core::mem::size_of::<Range<usize>>()) > limits.max_alloc() {
            return Err(DecodeError::AllocLimitExceeded {
                limit: limits.max_alloc(),
                at: 4,
            });
        }
        let header_end = lengths_end
            .checked_add(header_len)
            .filter(|&end| end <= total)
            .ok_or_else(|| {
                invalid(format!(
                    "a header of {header_len} bytes does not fit the payload"
                ))
            })?;
        let mut at = padded(header_end).ok_or_else(|| invalid("header overflows"))?;
        zero_padding(payload, header_end..at.min(total), "the header")?;
        let mut segments = Vec::with_capacity(count);
        let mut word = [0u8; 8];
        for i in 0..count {
            read_at(payload, 8 + 8 * i, &mut word)
                .ok_or_else(|| invalid("truncated segment lengths"))?;
            let len = usize::try_from(u64::from_le_bytes(word))
                .map_err(|_| invalid("segment length overflows"))?;
            let end = at
                .checked_add(len)
                .filter(|&end| end <= total)
                .ok_or_else(|| {
                    invalid(format!("segment {i} of {len} bytes runs past the payload"))
                })?;
            segments.push(at..end);
            at = padded(end).ok_or_else(|| invalid("segment overflows"))?;
            zero_padding(payload, end..at.min(total), "a segment")?;
        }
        if at != total {
            return Err(invalid(format!(
                "the layout ends at byte {at} but the payload has {total} bytes"
            )));
        }
        Ok(Layout {
            header: lengths_end..header_end,
            segments,
        })
    }

    /// The bytes of `range`: a slice of one received piece when it lies in
    /// one and is the whole piece (an in-process sender's own buffer) or
    /// at least [`SHARE_BYTES_AT`] long; else an aligned copy, so a small
    /// segment kept alive does not keep the receive buffer it arrived in
    /// alive.
    pub(super) fn range(&self, payload: &Payload, range: Range<usize>) -> Bytes {
        match piece_of(payload, &range) {
            Some((piece, local)) if local.len() == piece.len() || local.len() >= SHARE_BYTES_AT => {
                piece.slice(local)
            }
            _ => aligned_copy(&borrow(payload, range)).freeze(),
        }
    }
}

/// The bytes of `range` to read in place: borrowed when they lie in one
/// received piece, else copied out of the pieces.
pub(super) fn borrow(payload: &Payload, range: Range<usize>) -> Cow<'_, [u8]> {
    if let Some((piece, local)) = piece_of(payload, &range) {
        return Cow::Borrowed(&piece[local]);
    }
    let mut out = vec![0u8; range.len()];
    let copied = read_at(payload, range.start, &mut out);
    debug_assert!(
        copied.is_some(),
        "ranges were checked against the payload length"
    );
    Cow::Owned(out)
}

/// The received piece `range` lies in, and `range` within it.
fn piece_of<'p>(payload: &'p Payload, range: &Range<usize>) -> Option<(&'p Bytes, Range<usize>)> {
    let mut start = 0;
    for piece in payload.segments() {
        let end = start + piece.len();
        if range.start >= start && range.end <= end {
            return Some((piece, range.start - start..range.end - start));
        }
        start = end;
    }
    None
}

/// Checks that the padding in `range` (at most 15 bytes) is zero: it
/// carries nothing, and a sender that puts data there is broken.
fn zero_padding(payload: &Payload, range: Range<usize>, after: &str) -> Result<(), DecodeError> {
    let mut pad = [0u8; 16];
    let pad = &mut pad[..range.len()];
    read_at(payload, range.start, pad)
        .ok_or_else(|| invalid(format!("the padding after {after} is cut off")))?;
    if pad.iter().any(|&b| b != 0) {
        return Err(invalid(format!(
            "the padding after {after} at byte {} is not zero",
            range.start
        )));
    }
    Ok(())
}

/// Copies `out.len()` bytes at `offset` out of the payload's pieces.
fn read_at(payload: &Payload, offset: usize, out: &mut [u8]) -> Option<()> {
    let mut filled = 0;
    let mut start = 0;
    for piece in payload.segments() {
        let end = start + piece.len();
        let want = offset + filled;
        if want < end && filled < out.len() {
            let from = want - start;
            let n = (piece.len() - from).min(out.len() - filled);
            out[filled..filled + n].copy_from_slice(&piece[from..from + n]);
            filled += n;
        }
        start = end;
    }
    (filled == out.len()).then_some(())
}
