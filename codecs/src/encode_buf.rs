//! The output side of encoding: a contiguous tail plus owned segments.

use core::fmt;

use bytes::{Bytes, BytesMut};

/// Where an [`Encode`](crate::Encode) implementation writes a message.
///
/// Most codecs append to the contiguous tail ([`EncodeBuf::tail`]). Codecs
/// that already hold their output in an owned buffer (an rkyv archive, the
/// raw body segments of a frame codec) hand it over with
/// [`EncodeBuf::push_segment`], so it reaches the transport without a copy.
/// The transport writes the finished segments with vectored I/O.
///
/// A caller may start from a buffer that already holds a frame header
/// ([`EncodeBuf::from_bytes_mut`]); the encoded bytes then follow it in the
/// same allocation.
///
/// # Examples
///
/// ```
/// use bytes::{BufMut, Bytes};
/// use prism_codecs::EncodeBuf;
///
/// let mut buf = EncodeBuf::new();
/// buf.tail().put_slice(b"header");
/// buf.push_segment(Bytes::from_static(b"body"));
/// assert_eq!(buf.len(), 10);
/// let encoded = buf.finish();
/// assert_eq!(encoded.segments().count(), 2);
/// assert_eq!(encoded.to_vec(), b"headerbody");
/// ```
#[derive(Default)]
pub struct EncodeBuf {
    tail: BytesMut,
    segments: Vec<Bytes>,
}

impl EncodeBuf {
    /// An empty buffer.
    pub fn new() -> Self {
        Self::default()
    }

    /// An empty buffer with room for `capacity` contiguous bytes.
    pub fn with_capacity(capacity: usize) -> Self {
        Self::from_bytes_mut(BytesMut::with_capacity(capacity))
    }

    /// Continues after whatever `buf` already holds.
    pub fn from_bytes_mut(buf: BytesMut) -> Self {
        EncodeBuf {
            tail: buf,
            segments: Vec::new(),
        }
    }

    /// The contiguous tail that encoders append to.
    pub fn tail(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Appends an owned segment without copying it. Bytes written to the tail
    /// so far are sealed into a segment of their own first, so order is kept.
    pub fn push_segment(&mut self, segment: Bytes) {
        if segment.is_empty() {
            return;
        }
        if !self.tail.is_empty() {
            self.segments.push(self.tail.split().freeze());
        }
        self.segments.push(segment);
    }

    /// Total encoded length so far, over all segments.
    pub fn len(&self) -> usize {
        self.segments.iter().map(Bytes::len).sum::<usize>() + self.tail.len()
    }

    /// Whether nothing has been written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Seals the buffer into the segments to send, in order.
    pub fn finish(mut self) -> Encoded {
        if self.segments.is_empty() {
            return Encoded::single(self.tail.freeze());
        }
        if !self.tail.is_empty() {
            self.segments.push(self.tail.split().freeze());
        }
        let mut segments = self.segments.into_iter();
        let first = segments.next().unwrap_or_default();
        Encoded {
            first,
            rest: segments.collect(),
        }
    }
}

impl fmt::Debug for EncodeBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncodeBuf")
            .field("len", &self.len())
            .field("segments", &self.segments.len())
            .finish()
    }
}

/// A finished message: one or more byte segments, in order.
///
/// The common case, a single contiguous segment, allocates nothing beyond
/// the bytes themselves.
#[derive(Clone, Default)]
pub struct Encoded {
    first: Bytes,
    rest: Vec<Bytes>,
}

impl Encoded {
    /// A message made of one segment.
    pub fn single(bytes: Bytes) -> Self {
        Encoded {
            first: bytes,
            rest: Vec::new(),
        }
    }

    /// Takes the segments apart: the first, then the rest in order.
    pub fn into_parts(self) -> (Bytes, Vec<Bytes>) {
        (self.first, self.rest)
    }

    /// The segments in order; never yields an empty segment unless the
    /// whole message is empty.
    pub fn segments(&self) -> impl Iterator<Item = &Bytes> {
        core::iter::once(&self.first).chain(self.rest.iter())
    }

    /// Total length in bytes.
    pub fn len(&self) -> usize {
        self.first.len() + self.rest.iter().map(Bytes::len).sum::<usize>()
    }

    /// Whether the message has no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The message as one contiguous buffer; copies only when there is more
    /// than one segment.
    pub fn into_contiguous(self) -> Bytes {
        if self.rest.is_empty() {
            return self.first;
        }
        Bytes::from(self.to_vec())
    }

    /// Copies the message into a new vector.
    pub fn to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len());
        for segment in self.segments() {
            out.extend_from_slice(segment);
        }
        out
    }
}

impl fmt::Debug for Encoded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Encoded")
            .field("len", &self.len())
            .field("segments", &(1 + self.rest.len()))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use bytes::BufMut;

    use super::*;

    #[test]
    fn single_segment_is_the_tail() {
        let mut buf = EncodeBuf::with_capacity(8);
        buf.tail().put_slice(b"abc");
        let encoded = buf.finish();
        assert_eq!(encoded.segments().count(), 1);
        assert_eq!(encoded.len(), 3);
        assert_eq!(&encoded.into_contiguous()[..], b"abc");
    }

    #[test]
    fn segments_keep_their_order_and_are_not_copied() {
        let big = Bytes::from(vec![9u8; 4096]);
        let ptr = big.as_ptr();
        let mut buf = EncodeBuf::new();
        buf.tail().put_slice(b"h");
        buf.push_segment(big);
        buf.tail().put_slice(b"t");
        let encoded = buf.finish();
        let segments: Vec<_> = encoded.segments().collect();
        assert_eq!(segments.len(), 3);
        assert_eq!(segments[1].as_ptr(), ptr);
        assert_eq!(encoded.len(), 4098);
        let flat = encoded.to_vec();
        assert_eq!(flat[0], b'h');
        assert_eq!(flat[4097], b't');
    }

    #[test]
    fn header_prefix_is_kept() {
        let mut start = BytesMut::new();
        start.put_slice(b"HDR:");
        let mut buf = EncodeBuf::from_bytes_mut(start);
        buf.tail().put_slice(b"x");
        assert_eq!(buf.finish().to_vec(), b"HDR:x");
    }
}
