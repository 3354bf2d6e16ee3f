//! Buffers whose first byte sits on a 16-byte boundary.
//!
//! Zero-copy codecs (rkyv, FlatBuffers) need a payload's first byte aligned.
//! Frames on byte streams are padded to multiples of [`ALIGN`], so a
//! receive buffer that *starts* aligned keeps every payload cut from it
//! aligned. These helpers make such buffers without `unsafe`: over-allocate
//! by `ALIGN - 1` bytes, fill the bytes before the first aligned address and
//! split them off. The tail keeps the allocation, so its start stays aligned
//! as long as nobody asks it to grow: a [`BytesMut`] that outgrows its
//! capacity reallocates wherever the allocator likes, so code using these
//! buffers makes a new one instead.

use bytes::BytesMut;

/// The alignment every buffer from [`aligned_buffer`] starts at, and every
/// [`Payload`](crate::Payload) read as one slice has.
pub const ALIGN: usize = 16;

/// Bytes of zero padding that bring `len` up to a multiple of [`ALIGN`]:
/// what frames on byte streams and the segments codec's layout add after
/// each piece so the next one starts aligned.
///
/// # Examples
///
/// ```
/// use prism_core::aligned::padding;
///
/// assert_eq!(padding(0), 0);
/// assert_eq!(padding(5), 11);
/// assert_eq!(padding(32), 0);
/// ```
#[inline]
pub const fn padding(len: usize) -> usize {
    (ALIGN - len % ALIGN) % ALIGN
}

/// An empty buffer whose first byte is [`ALIGN`]-aligned and that can take
/// `capacity` bytes without moving.
///
/// # Examples
///
/// ```
/// use prism_core::aligned::{ALIGN, aligned_buffer, is_aligned};
///
/// let mut buf = aligned_buffer(100);
/// assert!(buf.capacity() >= 100);
/// buf.extend_from_slice(&[7; 100]);
/// assert!(is_aligned(&buf));
/// assert_eq!(buf.as_ptr() as usize % ALIGN, 0);
/// ```
pub fn aligned_buffer(capacity: usize) -> BytesMut {
    let mut buf = BytesMut::with_capacity(capacity + ALIGN - 1);
    let pad = buf.as_ptr().align_offset(ALIGN);
    buf.resize(pad, 0);
    // `split_off` hands the tail the rest of the same allocation, so its
    // first byte is the aligned address we just padded up to.
    buf.split_off(pad)
}

/// An [`ALIGN`]-aligned copy of `bytes`, for data that arrived unaligned.
///
/// # Examples
///
/// ```
/// use prism_core::aligned::{aligned_copy, is_aligned};
///
/// let copy = aligned_copy(b"hello");
/// assert_eq!(&copy[..], b"hello");
/// assert!(is_aligned(&copy));
/// ```
pub fn aligned_copy(bytes: &[u8]) -> BytesMut {
    let mut buf = aligned_buffer(bytes.len());
    buf.extend_from_slice(bytes);
    buf
}

/// Whether `bytes` starts on an [`ALIGN`] boundary.
///
/// # Examples
///
/// ```
/// use prism_core::aligned::{aligned_buffer, is_aligned};
///
/// let mut buf = aligned_buffer(32);
/// buf.extend_from_slice(&[0; 32]);
/// assert!(is_aligned(&buf[16..]));
/// assert!(!is_aligned(&buf[1..]));
/// ```
pub fn is_aligned(bytes: &[u8]) -> bool {
    (bytes.as_ptr() as usize).is_multiple_of(ALIGN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_size_starts_aligned_and_holds_its_capacity() {
        for capacity in [0, 1, 15, 16, 17, 4095, 65_536, 1 << 20] {
            let mut buf = aligned_buffer(capacity);
            assert!(buf.capacity() >= capacity, "capacity {capacity}");
            let before = buf.as_ptr();
            buf.resize(capacity, 1);
            assert_eq!(buf.as_ptr(), before, "filling to capacity must not move");
            assert!(is_aligned(&buf), "capacity {capacity}");
        }
    }

    #[test]
    fn copies_land_aligned() {
        let source = vec![3u8; 1000];
        for start in 0..16 {
            let copy = aligned_copy(&source[start..]);
            assert!(is_aligned(&copy));
            assert_eq!(&copy[..], &source[start..]);
        }
    }
}
