//! Packed DATA: several small messages of one channel in one frame.
//!
//! A stream of small items costs a frame per item otherwise: a 32-byte
//! header, a trip through both sessions and the drivers, a wake-up of the
//! reader. Once both sides offered [`Features::PACKED`], a sender may put
//! the items that are ready at once into one DATA frame flagged
//! [`Flags::PACKED`], `aux` stating how many. The payload is a run of
//! entries, each starting 16-byte aligned:
//!
//! ```text
//!  offset  size        field
//!   0      4           message length L, u32 little-endian
//!   4      12          zero
//!   16     L           the message, in the frame's codec
//!   16+L   pad to 16   zero
//! ```
//!
//! so every message lands 16-byte aligned where the frame does, and
//! zero-copy codecs read it in place. The session checks the layout before
//! raising the frame (a bad one is a protocol error); a [`Reassembler`]
//! hands the messages out one by one, each holding its share of the frame's
//! credit. A packed frame is never chunked: it fits the chunk size.
//!
//! [`Features::PACKED`]: super::Features::PACKED
//! [`Flags::PACKED`]: crate::frame::Flags::PACKED
//! [`Reassembler`]: super::Reassembler

use bytes::{Bytes, BytesMut};
use prism_core::Payload;
use prism_core::aligned::{self, padding};

/// The bytes in front of each packed message.
pub(crate) const ENTRY_HEADER: usize = 16;

/// A packer allocates at least this much, so a run of small items shares
/// one buffer.
const BLOCK: usize = 16 << 10;

/// Packs small messages for one DATA frame flagged
/// [`PACKED`](crate::frame::Flags::PACKED); send the result with
/// [`Session::send_packed`](super::Session::send_packed).
///
/// The buffer is reused: [`Packer::take`] hands out what was packed and
/// keeps the rest of the allocation for the next frame.
///
/// # Examples
///
/// ```
/// use prism_core::Payload;
/// use prism_proto::session::Packer;
///
/// let mut packer = Packer::default();
/// packer.push(&Payload::from(&b"one"[..]));
/// packer.push(&Payload::from(&b"three"[..]));
/// assert_eq!(packer.len(), 2 * 32);
/// assert_eq!(Packer::entry_len(3), 32);
/// let (payload, count) = packer.take();
/// assert_eq!((payload.len(), count), (64, 2));
/// assert!(packer.is_empty());
/// ```
#[derive(Debug, Default)]
pub struct Packer {
    buf: BytesMut,
    count: u64,
}

impl Packer {
    /// The bytes a message of `len` bytes takes in a packed frame: its
    /// 16-byte entry header, the message and its padding.
    pub const fn entry_len(len: usize) -> usize {
        ENTRY_HEADER + len + padding(len)
    }

    /// Appends `message` as one entry.
    pub fn push(&mut self, message: &Payload) {
        let len = message.len();
        let entry = Packer::entry_len(len);
        if self.buf.capacity() - self.buf.len() < entry {
            self.grow(entry);
        }
        // The whole entry zeroed at once, then the length and the message
        // written into it: one write per piece instead of a buffer call
        // each for the header, its zeros, the message and the padding.
        let start = self.buf.len();
        self.buf.resize(start + entry, 0);
        let out = &mut self.buf[start..];
        // A message never reaches a packer above the chunk size, which a
        // u32 holds; saturate rather than wrap all the same.
        out[..4].copy_from_slice(&u32::try_from(len).unwrap_or(u32::MAX).to_le_bytes());
        let mut at = ENTRY_HEADER;
        for segment in message.segments() {
            out[at..at + segment.len()].copy_from_slice(segment);
            at += segment.len();
        }
        self.count += 1;
    }

    /// Packed bytes so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    /// Whether nothing is packed.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Messages packed so far.
    pub fn count(&self) -> u64 {
        self.count
    }

    /// The packed payload and how many messages it holds; the packer is
    /// empty again.
    pub fn take(&mut self) -> (Payload, u64) {
        let count = core::mem::take(&mut self.count);
        (Payload::new(self.buf.split().freeze()), count)
    }

    /// Moves what is packed to a new aligned buffer with room for `entry`
    /// more bytes (and a block of later ones).
    #[cold]
    fn grow(&mut self, entry: usize) {
        let mut buf = aligned::aligned_buffer((self.buf.len() + entry).max(BLOCK));
        buf.extend_from_slice(&self.buf);
        self.buf = buf;
    }
}

/// The length of the entry at `offset` of a packed payload, and the length
/// of its message; `None` where no whole entry starts there.
fn entry_at(bytes: &[u8], offset: usize) -> Option<(usize, usize)> {
    let header = bytes.get(offset..offset.checked_add(ENTRY_HEADER)?)?;
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]) as usize;
    // Checked: a hostile length must not wrap on a 32-bit target.
    let entry = ENTRY_HEADER.checked_add(len)?.checked_add(padding(len))?;
    (bytes.len() - offset >= entry).then_some((entry, len))
}

/// Whether `bytes` is exactly `count` (at least one) whole entries.
pub(crate) fn check(bytes: &[u8], count: u64) -> bool {
    let mut offset = 0;
    let mut seen = 0u64;
    while offset < bytes.len() {
        let Some((entry, _)) = entry_at(bytes, offset) else {
            return false;
        };
        offset += entry;
        seen += 1;
    }
    count > 0 && seen == count
}

/// The largest message of a packed payload.
pub(crate) fn largest(bytes: &[u8]) -> usize {
    let (mut offset, mut largest) = (0, 0);
    while let Some((entry, len)) = entry_at(bytes, offset) {
        largest = largest.max(len);
        offset += entry;
    }
    largest
}

/// The messages of one packed frame not yet handed out.
#[derive(Debug)]
pub(crate) struct Unpacking {
    bytes: Bytes,
    offset: usize,
    /// The entry at `offset` and its message's length, read once.
    entry: Option<(usize, usize)>,
    /// The frame's credit not yet held by a message handed out.
    unheld: u64,
}

impl Unpacking {
    /// The messages of `bytes`, a packed frame costing `cost` credit.
    pub(crate) fn new(bytes: Bytes, cost: u64) -> Unpacking {
        Unpacking {
            entry: entry_at(&bytes, 0),
            bytes,
            offset: 0,
            unheld: cost,
        }
    }

    /// The next message and the credit it holds: its entry, plus the
    /// frame's header on the first, plus whatever is left on the last (so
    /// the messages together hold the frame's whole cost). `None` once all
    /// are out.
    pub(crate) fn next(&mut self) -> Option<(Bytes, u64)> {
        let first = self.offset == 0;
        let (entry, len) = self.entry?;
        let start = self.offset + ENTRY_HEADER;
        let message = self.bytes.slice(start..start + len);
        self.offset += entry;
        self.entry = entry_at(&self.bytes, self.offset);
        let mut held = entry as u64 + if first { super::flow::FRAME_COST } else { 0 };
        if self.entry.is_none() {
            held = self.unheld; // the last: whatever is left
        }
        held = held.min(self.unheld);
        self.unheld -= held;
        Some((message, held))
    }

    /// Drops the messages not yet handed out; the credit they held.
    pub(crate) fn clear(self) -> u64 {
        self.unheld
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(messages: &[&[u8]]) -> (Bytes, u64) {
        let mut packer = Packer::default();
        for m in messages {
            packer.push(&Payload::copy_from_slice(m));
        }
        let (payload, count) = packer.take();
        (payload.into_bytes(), count)
    }

    #[test]
    fn entries_are_aligned_and_hold_the_whole_frame_cost() {
        let (bytes, count) = packed(&[b"a", b"", &[7; 40]]);
        assert_eq!(count, 3);
        assert!(check(&bytes, 3));
        assert_eq!(largest(&bytes), 40);
        let cost = super::super::flow::cost(bytes.len());
        let mut unpacking = Unpacking::new(bytes, cost);
        let mut held = 0;
        let mut messages = Vec::new();
        while let Some((message, h)) = unpacking.next() {
            assert!(aligned::is_aligned(&message) || message.is_empty());
            messages.push(message.to_vec());
            held += h;
        }
        assert_eq!(messages, [b"a".to_vec(), Vec::new(), vec![7; 40]]);
        assert_eq!(held, cost);
        assert_eq!(unpacking.clear(), 0);
    }

    #[test]
    fn a_message_of_several_segments_is_packed_whole() {
        let mut packer = Packer::default();
        let split = Payload::from_segments(
            Bytes::from_static(b"head-"),
            vec![Bytes::from_static(b"middle-"), Bytes::from_static(b"tail")],
        );
        packer.push(&split);
        packer.push(&Payload::copy_from_slice(b"next"));
        let (payload, count) = packer.take();
        let bytes = payload.as_bytes().clone();
        assert!(check(&bytes, count));
        let mut unpacking = Unpacking::new(bytes, u64::MAX);
        let messages: Vec<Vec<u8>> =
            core::iter::from_fn(|| unpacking.next().map(|(m, _)| m.to_vec())).collect();
        assert_eq!(messages, [b"head-middle-tail".to_vec(), b"next".to_vec()]);
    }

    #[test]
    fn a_bad_layout_is_refused() {
        let (bytes, _) = packed(&[b"abc", b"de"]);
        assert!(!check(&bytes, 3), "count disagrees");
        assert!(!check(&bytes[..bytes.len() - 1], 2), "cut short");
        assert!(!check(&[], 0), "empty");
        let mut long = bytes.to_vec();
        long[0] = 200; // the first entry claims more than there is
        assert!(!check(&long, 2));
        let mut huge = bytes.to_vec();
        huge[..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert!(!check(&huge, 2));
    }

    #[test]
    fn clearing_returns_what_was_not_handed_out() {
        let (bytes, _) = packed(&[b"abc", b"de"]);
        let cost = super::super::flow::cost(bytes.len());
        let mut unpacking = Unpacking::new(bytes, cost);
        let (_, first) = unpacking.next().expect("a message");
        assert_eq!(first, 32 + 32);
        assert_eq!(unpacking.clear(), cost - first);
    }

    #[test]
    fn a_reassembler_holds_each_packed_message_to_its_limit() {
        use crate::session::{Chunk, Reassembler, TooLarge};
        use prism_core::CodecId;

        let (bytes, _) = packed(&[b"abc", &[1; 40]]);
        let chunk = Chunk {
            codec: CodecId::new(1),
            payload: Payload::new(bytes),
            total: None,
            more: false,
            app_error: false,
            packed: true,
        };
        let mut messages = Reassembler::default();
        let refused = messages.push(chunk.clone(), 39).map(|_| ());
        assert_eq!(refused, Err(TooLarge { total: 40, max: 39 }));
        assert!(messages.pop().is_none(), "nothing kept from a refused pack");
        let first = messages.push(chunk.clone(), 40).expect("within the limit");
        let first = first.message.expect("the first message");
        let second = messages.pop().expect("the second message");
        assert!(messages.pop().is_none());
        assert_eq!(&first.payload[..], b"abc");
        assert_eq!(first.held + second.held, chunk.cost());
        // Dropped half way: the rest's credit comes back from `clear`.
        let first = messages.push(chunk.clone(), 40).expect("again");
        let held = first.message.expect("first").held;
        assert_eq!(held + messages.clear(), chunk.cost());
    }

    #[test]
    fn the_buffer_is_reused_and_stays_aligned() {
        let mut packer = Packer::default();
        packer.push(&Payload::copy_from_slice(b"x"));
        let (first, _) = packer.take();
        packer.push(&Payload::copy_from_slice(b"y"));
        let (second, _) = packer.take();
        assert!(first.is_contiguous_aligned() && second.is_contiguous_aligned());
        assert_eq!(
            second.as_bytes().as_ptr() as usize - first.as_bytes().as_ptr() as usize,
            32,
            "the second frame follows the first in the same block"
        );
    }
}
