//! Received message bytes that own their buffer and start 16-byte aligned.

use core::fmt;
use core::ops::Deref;
use core::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use bytes::{Bytes, BytesMut};

static ALIGNMENT_COPIES: AtomicU64 = AtomicU64::new(0);
static SEGMENT_JOINS: AtomicU64 = AtomicU64::new(0);

/// The bytes of one received message, owned and 16-byte aligned.
///
/// Zero-copy codecs (rkyv archives, FlatBuffers tables) need their input to
/// start at an aligned address. Transports read message bodies straight into
/// aligned buffers (see [`Payload::aligned_buffer`]), so wrapping them is free.
/// When a transport could not align, [`Payload::new`] copies the bytes once
/// into an aligned buffer and counts the copy in [`Payload::alignment_copies`],
/// so tests and benchmarks can prove the fast path was taken.
///
/// A payload from an in-process link may arrive as several segments (the
/// sender's header plus the raw buffers it handed over, never copied). Codecs
/// that understand segments read them with [`Payload::segments`]; reading the
/// payload as one slice (`Deref`) joins them once, into an aligned buffer,
/// and counts the join in [`Payload::segment_joins`].
///
/// `Debug` shows the length only: payload bytes never reach logs.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use prism_codecs::Payload;
///
/// let payload = Payload::new(Bytes::from_static(b"hello"));
/// assert_eq!(&payload[..], b"hello");
/// assert_eq!(payload.as_ptr() as usize % Payload::ALIGN, 0);
/// assert_eq!(format!("{payload:?}"), "Payload { len: 5, segments: 1 }");
/// ```
#[derive(Clone, Default)]
pub struct Payload {
    // Invariant: empty, or `bytes.as_ptr()` is a multiple of `ALIGN`.
    bytes: Bytes,
    /// Further segments, in order; empty for payloads read from a byte stream.
    rest: Vec<Bytes>,
    /// `bytes` and `rest` joined, made on first contiguous access.
    joined: OnceLock<Bytes>,
}

impl Payload {
    /// The alignment every payload's first byte has.
    pub const ALIGN: usize = 16;

    /// Wraps received bytes, copying them into an aligned buffer only if
    /// they do not already start at an aligned address.
    pub fn new(bytes: Bytes) -> Payload {
        match Payload::try_aligned(bytes) {
            Ok(payload) => payload,
            Err(unaligned) => {
                ALIGNMENT_COPIES.fetch_add(1, Ordering::Relaxed);
                Payload::copy_from_slice(&unaligned)
            }
        }
    }

    /// Wraps bytes that are already aligned, or gives them back unchanged.
    ///
    /// # Errors
    ///
    /// Returns the bytes when they do not start at a 16-byte boundary.
    pub fn try_aligned(bytes: Bytes) -> Result<Payload, Bytes> {
        if bytes.is_empty() || bytes.as_ptr().align_offset(Self::ALIGN) == 0 {
            Ok(Payload {
                bytes,
                rest: Vec::new(),
                joined: OnceLock::new(),
            })
        } else {
            Err(bytes)
        }
    }

    /// Wraps a payload that arrived as several segments, without copying
    /// them. Only the first segment is aligned (copied if it must be).
    pub fn from_segments(first: Bytes, rest: Vec<Bytes>) -> Payload {
        let mut payload = Payload::new(first);
        payload.rest = rest;
        payload.rest.retain(|segment| !segment.is_empty());
        payload
    }

    /// The segments in order, as they arrived; never joins them.
    pub fn segments(&self) -> impl Iterator<Item = &Bytes> {
        core::iter::once(&self.bytes).chain(self.rest.iter())
    }

    /// How many segments the payload arrived in.
    pub fn segment_count(&self) -> usize {
        1 + self.rest.len()
    }

    /// Copies a slice into a fresh aligned buffer.
    pub fn copy_from_slice(data: &[u8]) -> Payload {
        let mut buf = Payload::aligned_buffer(data.len());
        buf.extend_from_slice(data);
        Payload {
            bytes: buf.freeze(),
            rest: Vec::new(),
            joined: OnceLock::new(),
        }
    }

    /// An empty buffer whose first byte is 16-byte aligned and that can take
    /// `capacity` bytes without moving. Fill it (for example by reading a
    /// message body from a socket), freeze it, and [`Payload::try_aligned`]
    /// accepts it without a copy.
    pub fn aligned_buffer(capacity: usize) -> BytesMut {
        let mut buf = BytesMut::with_capacity(capacity + Self::ALIGN - 1);
        let pad = buf.as_ptr().align_offset(Self::ALIGN);
        buf.resize(pad, 0);
        // `split_off` keeps the tail in the same allocation, so its start stays aligned.
        buf.split_off(pad)
    }

    /// How many payloads had to be copied to become aligned, process-wide.
    pub fn alignment_copies() -> u64 {
        ALIGNMENT_COPIES.load(Ordering::Relaxed)
    }

    /// How many segmented payloads had to be joined into one buffer, process-wide.
    pub fn segment_joins() -> u64 {
        SEGMENT_JOINS.load(Ordering::Relaxed)
    }

    /// The whole payload as one aligned buffer (joining segments once if
    /// there are several).
    pub fn as_bytes(&self) -> &Bytes {
        if self.rest.is_empty() {
            return &self.bytes;
        }
        self.joined.get_or_init(|| {
            SEGMENT_JOINS.fetch_add(1, Ordering::Relaxed);
            let mut buf = Payload::aligned_buffer(self.len());
            for segment in self.segments() {
                buf.extend_from_slice(segment);
            }
            buf.freeze()
        })
    }

    /// Total length over all segments.
    pub fn len(&self) -> usize {
        self.bytes.len() + self.rest.iter().map(Bytes::len).sum::<usize>()
    }

    /// Whether the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Gives up the alignment guarantee and returns the bytes as one buffer.
    pub fn into_bytes(self) -> Bytes {
        if self.rest.is_empty() {
            return self.bytes;
        }
        self.as_bytes().clone()
    }
}

impl Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        self.len() == other.len() && self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Payload {}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payload")
            .field("len", &self.len())
            .field("segments", &self.segment_count())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unaligned_bytes_are_copied_once_and_counted() {
        let backing = Payload::copy_from_slice(&[0u8; 64]).into_bytes();
        let unaligned = backing.slice(1..33);
        assert_ne!(unaligned.as_ptr().align_offset(Payload::ALIGN), 0);
        let before = Payload::alignment_copies();
        let payload = Payload::new(unaligned.clone());
        assert!(Payload::alignment_copies() > before);
        assert_eq!(&payload[..], &unaligned[..]);
        assert_eq!(payload.as_ptr().align_offset(Payload::ALIGN), 0);
    }

    #[test]
    fn aligned_bytes_are_not_copied() {
        let mut buf = Payload::aligned_buffer(1024);
        buf.extend_from_slice(&[7u8; 1024]);
        let bytes = buf.freeze();
        let ptr = bytes.as_ptr();
        let payload = Payload::try_aligned(bytes).expect("aligned");
        assert_eq!(payload.as_ptr(), ptr);
    }

    #[test]
    fn segments_are_kept_until_a_slice_is_needed() {
        let head = Payload::copy_from_slice(b"head").into_bytes();
        let body = Bytes::from(vec![5u8; 100]);
        let body_ptr = body.as_ptr();
        let payload = Payload::from_segments(head, vec![body, Bytes::new()]);
        assert_eq!(payload.segment_count(), 2);
        assert_eq!(
            payload.segments().nth(1).map(|s| s.as_ptr()),
            Some(body_ptr)
        );
        assert_eq!(payload.len(), 104);
        let before = Payload::segment_joins();
        assert_eq!(&payload[..4], b"head");
        assert_eq!(payload[4..].iter().filter(|&&b| b == 5).count(), 100);
        assert_eq!(payload.as_ptr().align_offset(Payload::ALIGN), 0);
        assert!(Payload::segment_joins() > before);
    }

    #[test]
    fn aligned_buffer_does_not_move_when_filled() {
        for capacity in [0, 1, 15, 16, 17, 4096] {
            let mut buf = Payload::aligned_buffer(capacity);
            let start = buf.as_ptr();
            buf.resize(capacity, 1);
            assert_eq!(buf.as_ptr(), start);
            if capacity > 0 {
                assert_eq!(buf.as_ptr().align_offset(Payload::ALIGN), 0);
            }
        }
    }
}
