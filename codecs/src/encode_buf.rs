//! The output side of encoding: a contiguous tail plus owned segments.

use core::fmt;

use bytes::{Buf, Bytes, BytesMut};
use prism_core::Payload;

/// Where an [`Encode`](crate::Encode) implementation writes a message.
///
/// Most codecs append to the contiguous tail ([`EncodeBuf::tail`]). Codecs
/// that already hold their output in an owned buffer (an rkyv archive, the
/// raw body segments of the segments codec) hand it over with
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

    /// Seals the buffer into the payload to send: its segments, in order.
    /// The common case, one contiguous segment that starts 16-byte
    /// aligned, allocates nothing beyond the bytes themselves.
    pub fn finish(mut self) -> Payload {
        self.take()
    }

    /// Takes what was written so far as a payload, as [`EncodeBuf::finish`]
    /// does, and keeps the rest of the contiguous allocation for the next
    /// message: a producer of many small messages encodes them into one
    /// block instead of one allocation each. The next message starts on a
    /// [`Payload::ALIGN`] boundary where the block has room, so each
    /// payload cut from it is aligned as it is.
    ///
    /// # Examples
    ///
    /// ```
    /// use bytes::BufMut;
    /// use prism_codecs::EncodeBuf;
    ///
    /// let mut buf = EncodeBuf::with_capacity(64);
    /// buf.tail().put_slice(b"one");
    /// let one = buf.split();
    /// buf.tail().put_slice(b"two");
    /// // The rest of the block, less at most 15 bytes to the next boundary.
    /// assert!(buf.spare_capacity() >= 64 - 3 - 3 - 15);
    /// assert_eq!((&one.to_vec()[..], &buf.split().to_vec()[..]), (&b"one"[..], &b"two"[..]));
    /// ```
    pub fn split(&mut self) -> Payload {
        let payload = self.take();
        self.align_tail();
        payload
    }

    /// What was written so far, as one payload.
    fn take(&mut self) -> Payload {
        if self.segments.is_empty() {
            return Payload::new(self.tail.split().freeze());
        }
        if !self.tail.is_empty() {
            self.segments.push(self.tail.split().freeze());
        }
        let mut segments = core::mem::take(&mut self.segments).into_iter();
        let first = segments.next().unwrap_or_default();
        Payload::from_segments(first, segments.collect())
    }

    /// Moves the (empty) tail's start up to the next [`Payload::ALIGN`]
    /// boundary while its room allows, so the next message starts aligned
    /// and its payload needs no record of its own for an aligned view.
    fn align_tail(&mut self) {
        let pad = self.tail.as_ptr().align_offset(Payload::ALIGN);
        if pad > 0 && pad <= self.tail.capacity() {
            self.tail.resize(pad, 0);
            self.tail.advance(pad);
        }
    }

    /// Bytes the contiguous tail takes before it must grow.
    pub fn spare_capacity(&self) -> usize {
        self.tail.capacity() - self.tail.len()
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
        assert_eq!(&encoded.into_bytes()[..], b"abc");
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
    fn messages_split_from_one_block_each_start_aligned() {
        let mut buf = EncodeBuf::with_capacity(256);
        let mut payloads = Vec::new();
        for len in [3, 17, 1, 16, 30] {
            buf.tail().put_bytes(7, len);
            payloads.push(buf.split());
        }
        // The first starts where the allocation does; every later one
        // starts on a boundary (so it carries no record for an aligned
        // view), whatever the lengths before it.
        for payload in &payloads[1..] {
            assert!(payload.is_contiguous_aligned());
        }
        let lens: Vec<usize> = payloads.iter().map(Payload::len).collect();
        assert_eq!(lens, [3, 17, 1, 16, 30]);
        assert!(payloads.iter().all(|p| p.to_vec().iter().all(|&b| b == 7)));
    }

    #[test]
    fn a_tail_without_room_to_align_is_left_as_it_is() {
        let mut empty = EncodeBuf::new();
        assert!(empty.split().is_empty());
        assert_eq!(empty.spare_capacity(), 0);
        let mut buf = EncodeBuf::with_capacity(5);
        buf.tail().put_slice(b"abcd");
        assert_eq!(buf.split().to_vec(), b"abcd");
        // One byte of room is left, or none past the boundary: either way
        // the next message still encodes.
        buf.tail().put_slice(b"efgh");
        assert_eq!(buf.split().to_vec(), b"efgh");
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
