//! Received message bytes that own their buffer and start 16-byte aligned.

use core::fmt;
use core::ops::Deref;
use core::sync::atomic::{AtomicU64, Ordering};

use bytes::{Bytes, BytesMut};

static ALIGNMENT_COPIES: AtomicU64 = AtomicU64::new(0);

/// The bytes of one received message, owned and 16-byte aligned.
///
/// Zero-copy codecs (rkyv archives, FlatBuffers tables) need their input to
/// start at an aligned address. Transports read message bodies straight into
/// aligned buffers (see [`Payload::aligned_buffer`]), so wrapping them is free.
/// When a transport could not align, [`Payload::new`] copies the bytes once
/// into an aligned buffer and counts the copy in [`Payload::alignment_copies`],
/// so tests and benchmarks can prove the fast path was taken.
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
/// assert_eq!(format!("{payload:?}"), "Payload { len: 5 }");
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Payload {
    // Invariant: empty, or `bytes.as_ptr()` is a multiple of `ALIGN`.
    bytes: Bytes,
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
            Ok(Payload { bytes })
        } else {
            Err(bytes)
        }
    }

    /// Copies a slice into a fresh aligned buffer.
    pub fn copy_from_slice(data: &[u8]) -> Payload {
        let mut buf = Payload::aligned_buffer(data.len());
        buf.extend_from_slice(data);
        Payload {
            bytes: buf.freeze(),
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

    /// The underlying bytes.
    pub fn as_bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Gives up the alignment guarantee and returns the bytes.
    pub fn into_bytes(self) -> Bytes {
        self.bytes
    }
}

impl Deref for Payload {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.bytes
    }
}

impl AsRef<[u8]> for Payload {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Payload")
            .field("len", &self.bytes.len())
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
