//! [`Payload`]: the bytes of one message, in segments, never copied on the way.

use core::fmt;
use core::ops::Deref;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::aligned::{self, ALIGN};

/// The bytes of one message: one or more segments, in order.
///
/// This one type carries a message everywhere: an encoder finishes into it,
/// the session puts it in a frame, a link writes its segments with vectored
/// I/O (or, in process, hands them over by reference count), and a decoder
/// reads it. No layer copies it on the way.
///
/// Zero-copy codecs (rkyv, FlatBuffers) need one contiguous slice starting
/// at a 16-byte boundary. Byte-stream links read payloads into aligned
/// buffers, so a received payload usually is one aligned segment already.
/// [`Payload::as_bytes`] (and `Deref`) return the payload as such a slice,
/// joining several segments or moving an unaligned one into an aligned
/// buffer only when needed, once, on first access. A connection aligns every
/// payload it receives ([`Payload::align`]) and counts the copies in its
/// statistics, so tests and benchmarks can prove the fast path was taken.
///
/// `Debug` shows lengths only: payload bytes never reach logs.
///
/// # Examples
///
/// ```
/// use bytes::Bytes;
/// use prism_core::Payload;
///
/// let payload = Payload::from_segments(Bytes::from_static(b"hel"), vec![Bytes::from_static(b"lo")]);
/// assert_eq!(payload.segment_count(), 2);
/// assert_eq!(&payload[..], b"hello"); // joined once, into an aligned buffer
/// assert_eq!(payload.as_ptr() as usize % Payload::ALIGN, 0);
/// assert_eq!(format!("{payload:?}"), "Payload { len: 5, segments: 2 }");
/// ```
#[derive(Clone, Default)]
pub struct Payload {
    first: Bytes,
    /// Present only for a payload of several segments, or of one that does
    /// not start aligned: most payloads are one aligned segment and carry
    /// nothing more, which keeps a `Payload` (and every frame, event and
    /// reply holding one) small.
    extra: Option<Box<Extra>>,
}

/// What a payload needs beyond its first segment.
#[derive(Clone, Default)]
struct Extra {
    /// Further segments, in order; never holds an empty segment.
    rest: Vec<Bytes>,
    /// The whole payload as one aligned buffer, made on first access.
    joined: OnceLock<Bytes>,
}

impl Payload {
    /// The alignment of [`Payload::as_bytes`].
    pub const ALIGN: usize = ALIGN;

    /// An empty payload.
    pub const fn empty() -> Payload {
        Payload {
            first: Bytes::new(),
            extra: None,
        }
    }

    /// A payload of one segment; never copies.
    #[inline]
    pub fn new(bytes: Bytes) -> Payload {
        let extra = (!starts_aligned(&bytes)).then(Box::default);
        Payload {
            first: bytes,
            extra,
        }
    }

    /// A payload of several segments, in order; never copies. Empty
    /// segments after the first are dropped.
    pub fn from_segments(first: Bytes, mut rest: Vec<Bytes>) -> Payload {
        rest.retain(|segment| !segment.is_empty());
        if rest.is_empty() {
            return Payload::new(first);
        }
        Payload {
            first,
            extra: Some(Box::new(Extra {
                rest,
                joined: OnceLock::new(),
            })),
        }
    }

    /// A copy of `data` in a fresh aligned buffer.
    pub fn copy_from_slice(data: &[u8]) -> Payload {
        Payload::new(aligned::aligned_copy(data).freeze())
    }

    #[inline]
    fn rest(&self) -> &[Bytes] {
        self.extra.as_ref().map_or(&[], |extra| &extra.rest)
    }

    /// Takes the payload apart: the first segment, then the rest in order.
    pub fn into_parts(self) -> (Bytes, Vec<Bytes>) {
        let rest = self.extra.map(|extra| extra.rest).unwrap_or_default();
        (self.first, rest)
    }

    /// The segments in order, as they were made or arrived; never joins them.
    pub fn segments(&self) -> impl Iterator<Item = &Bytes> {
        core::iter::once(&self.first).chain(self.rest().iter())
    }

    /// How many segments there are.
    pub fn segment_count(&self) -> usize {
        1 + self.rest().len()
    }

    /// Total length over all segments.
    #[inline]
    pub fn len(&self) -> usize {
        match &self.extra {
            None => self.first.len(),
            Some(extra) => self.first.len() + extra.rest.iter().map(Bytes::len).sum::<usize>(),
        }
    }

    /// Whether the payload is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.first.is_empty() && self.rest().is_empty()
    }

    /// Whether [`Payload::as_bytes`] is free: one segment (or none) that
    /// starts 16-byte aligned.
    #[inline]
    pub fn is_contiguous_aligned(&self) -> bool {
        self.rest().is_empty() && starts_aligned(&self.first)
    }

    /// Moves an unaligned first segment into an aligned buffer, so a
    /// zero-copy codec reads it in place. Returns whether it copied.
    /// Connections call this on every payload they receive and count the
    /// copies; later segments (an in-process sender's raw buffers) are left
    /// where they are.
    #[inline]
    pub fn align(&mut self) -> bool {
        if starts_aligned(&self.first) {
            return false;
        }
        self.copy_first_aligned();
        true
    }

    #[cold]
    fn copy_first_aligned(&mut self) {
        self.first = aligned::aligned_copy(&self.first).freeze();
        match &mut self.extra {
            Some(extra) if !extra.rest.is_empty() => extra.joined = OnceLock::new(),
            _ => self.extra = None,
        }
    }

    /// The whole payload as one 16-byte aligned buffer. Free for one
    /// aligned segment; otherwise the segments are copied once into an
    /// aligned buffer, kept for later calls.
    #[inline]
    pub fn as_bytes(&self) -> &Bytes {
        let Some(extra) = &self.extra else {
            return &self.first;
        };
        extra.joined.get_or_init(|| {
            let mut buf = aligned::aligned_buffer(self.len());
            for segment in self.segments() {
                buf.extend_from_slice(segment);
            }
            buf.freeze()
        })
    }

    /// The payload as one buffer. Copies only when there are several
    /// segments; a single segment comes back as it is, aligned or not.
    pub fn into_bytes(self) -> Bytes {
        let Some(extra) = &self.extra else {
            return self.first;
        };
        if extra.rest.is_empty() {
            return self.first;
        }
        match extra.joined.get() {
            Some(joined) => joined.clone(),
            None => Bytes::from(self.to_vec()),
        }
    }

    /// The bytes `start..start + len` as a payload of their own: slices of
    /// the segments they span, never a copy. Out-of-range bounds are
    /// clamped to the payload's length.
    ///
    /// Chunking a large message into frames uses this, so an in-process
    /// sender's buffers reach the peer by reference count.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::Bytes;
    /// use prism_core::Payload;
    ///
    /// let payload = Payload::from_segments(Bytes::from_static(b"hel"), vec![Bytes::from_static(b"lo!")]);
    /// let middle = payload.slice(2, 3);
    /// assert_eq!(middle.segment_count(), 2);
    /// assert_eq!(&middle[..], b"llo");
    /// assert_eq!(&payload.slice(4, 100)[..], b"o!");
    /// ```
    pub fn slice(&self, start: usize, len: usize) -> Payload {
        let mut skip = start;
        let mut want = len;
        let mut parts: Vec<Bytes> = Vec::new();
        for segment in self.segments() {
            if want == 0 {
                break;
            }
            if skip >= segment.len() {
                skip -= segment.len();
                continue;
            }
            let take = want.min(segment.len() - skip);
            parts.push(segment.slice(skip..skip + take));
            want -= take;
            skip = 0;
        }
        let mut parts = parts.into_iter();
        match parts.next() {
            None => Payload::empty(),
            Some(first) => Payload::from_segments(first, parts.collect()),
        }
    }

    /// Copies the payload into a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        for segment in self.segments() {
            out.extend_from_slice(segment);
        }
        out
    }
}

/// Whether `bytes` is empty or starts on an [`ALIGN`] boundary.
#[inline]
fn starts_aligned(bytes: &Bytes) -> bool {
    bytes.is_empty() || aligned::is_aligned(bytes)
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

impl From<Bytes> for Payload {
    fn from(bytes: Bytes) -> Payload {
        Payload::new(bytes)
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Payload {
        Payload::new(Bytes::from(bytes))
    }
}

impl From<&'static [u8]> for Payload {
    fn from(bytes: &'static [u8]) -> Payload {
        Payload::new(Bytes::from_static(bytes))
    }
}

/// Payloads are equal when their bytes are, however they are segmented.
impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        if self.len() != other.len() {
            return false;
        }
        if self.rest().is_empty() && other.rest().is_empty() {
            return self.first == other.first;
        }
        self.to_vec() == other.to_vec()
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

    fn unaligned(len: usize) -> Bytes {
        let backing = aligned::aligned_copy(&vec![7u8; len + 1]).freeze();
        backing.slice(1..)
    }

    #[test]
    fn an_aligned_segment_is_read_in_place() {
        let bytes = aligned::aligned_copy(&[3u8; 1024]).freeze();
        let ptr = bytes.as_ptr();
        let mut payload = Payload::new(bytes);
        assert!(payload.is_contiguous_aligned());
        assert!(!payload.align(), "nothing to copy");
        assert_eq!(payload.as_ptr(), ptr);
    }

    #[test]
    fn an_unaligned_segment_is_copied_once() {
        let bytes = unaligned(64);
        assert!(!aligned::is_aligned(&bytes));
        let mut payload = Payload::new(bytes.clone());
        assert!(payload.align(), "the first call copies");
        assert!(!payload.align(), "the second has nothing to do");
        assert!(aligned::is_aligned(&payload));
        assert_eq!(&payload[..], &bytes[..]);
        // Read without `align`, the copy is made lazily, once.
        let lazy = Payload::new(bytes);
        let first = lazy.as_bytes().as_ptr();
        assert!(aligned::is_aligned(&lazy));
        assert_eq!(lazy.as_bytes().as_ptr(), first);
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
        assert!(!payload.is_contiguous_aligned());
        assert_eq!(&payload[..4], b"head");
        assert_eq!(payload[4..].iter().filter(|&&b| b == 5).count(), 100);
        assert!(aligned::is_aligned(&payload));
        assert_eq!(payload.to_vec().len(), 104);
        assert_eq!(payload.clone().into_bytes().len(), 104);
    }

    #[test]
    fn slices_span_segments_without_copying() {
        let a = Bytes::from(vec![1u8; 10]);
        let b = Bytes::from(vec![2u8; 10]);
        let (a_ptr, b_ptr) = (a.as_ptr(), b.as_ptr());
        let payload = Payload::from_segments(a, vec![b]);
        let whole = payload.slice(0, 20);
        assert_eq!(whole.segment_count(), 2);
        assert_eq!(whole.segments().next().map(|s| s.as_ptr()), Some(a_ptr));
        let tail = payload.slice(10, 10);
        assert_eq!(tail.segment_count(), 1);
        assert_eq!(tail.segments().next().map(|s| s.as_ptr()), Some(b_ptr));
        assert_eq!(payload.slice(5, 10).to_vec(), [[1u8; 5], [2u8; 5]].concat());
        assert!(payload.slice(20, 5).is_empty());
        assert!(payload.slice(3, 0).is_empty());
        assert_eq!(payload.slice(18, 100).len(), 2);
    }

    #[test]
    fn a_payload_is_small() {
        // Frames, events and replies move payloads around by value.
        assert!(core::mem::size_of::<Payload>() <= 40);
    }

    #[test]
    fn equality_ignores_segmentation() {
        let whole = Payload::from(&b"abcdef"[..]);
        let split =
            Payload::from_segments(Bytes::from_static(b"ab"), vec![Bytes::from_static(b"cdef")]);
        assert_eq!(whole, split);
        assert_ne!(whole, Payload::from(&b"abcdeg"[..]));
        assert!(Payload::empty().is_empty());
        assert_eq!(Payload::empty(), Payload::default());
    }
}
