//! Encoding: serialize into a 16-byte aligned vector and hand that very
//! allocation to the transport.

use core::any::type_name;
use core::cell::Cell;

use bytes::Bytes;
use rkyv::Serialize;
use rkyv::util::AlignedVec;

use super::{Rkyv, Serializer, TRAILER_MAGIC};
use crate::{Encode, EncodeBuf, EncodeError, Limits};

/// Bounds for the first allocation of an archive buffer.
const MIN_CAPACITY: usize = 256;
const MAX_CAPACITY_HINT: usize = 64 << 10;

thread_local! {
    /// The size of the last message this thread encoded: steady traffic then
    /// allocates each buffer once, at the right size, instead of regrowing.
    static LAST_LEN: Cell<usize> = const { Cell::new(0) };
}

/// The capacity to start a buffer with: the last message's size rounded up
/// to a power of two, clamped so a large message does not make every later
/// small one reserve a large buffer. Larger archives grow by doubling; rkyv
/// writes children first, so a large field lands in a nearly empty buffer
/// and regrowing copies little.
fn initial_capacity() -> usize {
    LAST_LEN
        .get()
        .checked_next_power_of_two()
        .unwrap_or(MAX_CAPACITY_HINT)
        .clamp(MIN_CAPACITY, MAX_CAPACITY_HINT)
}

impl<T> Encode<Rkyv> for T
where
    T: for<'a> Serialize<Serializer<'a>>,
{
    /// Serializes `self` into a fresh aligned buffer and appends it to `out`
    /// as an owned segment: the bytes are never copied after serialization.
    ///
    /// `limits` are not enforced here (rkyv's serializer has no hook for
    /// them); the receiver enforces its own.
    fn encode(&self, out: &mut EncodeBuf, _limits: &Limits) -> Result<(), EncodeError> {
        out.push_segment(to_bytes(self)?);
        Ok(())
    }
}

/// Encodes a value as one rkyv message: the archive, then the trailer.
///
/// The returned [`Bytes`] owns the aligned buffer the archive was written
/// into (no copy is made), so it starts 16-byte aligned and
/// [`Payload::new`](crate::Payload::new) accepts it as is.
///
/// # Errors
///
/// Fails when rkyv cannot serialize the value: an archive larger than its
/// 32-bit offsets can address (about 2 GiB), or a failing custom
/// `Serialize` impl.
///
/// # Examples
///
/// ```
/// use prism_codecs::{Payload, rkyv::to_bytes};
///
/// let bytes = to_bytes(&vec![1u32, 2, 3])?;
/// assert_eq!(bytes.as_ptr() as usize % Payload::ALIGN, 0);
/// # Ok::<(), prism_codecs::EncodeError>(())
/// ```
pub fn to_bytes<T>(value: &T) -> Result<Bytes, EncodeError>
where
    T: for<'a> Serialize<Serializer<'a>>,
{
    Ok(Bytes::from_owner(serialize(value)?))
}

/// Serializes a value into an aligned vector, trailer included.
pub(super) fn serialize<T>(value: &T) -> Result<AlignedVec<16>, EncodeError>
where
    T: for<'a> Serialize<Serializer<'a>>,
{
    // `to_bytes_in` borrows this thread's reusable arena for scratch space.
    let mut archive = rkyv::api::high::to_bytes_in::<_, rkyv::rancor::Error>(
        value,
        AlignedVec::<16>::with_capacity(initial_capacity()),
    )
    .map_err(|err| codec_error::<T>(format_args!("serialization failed: {err}")))?;
    let Ok(len) = u32::try_from(archive.len()) else {
        return Err(codec_error::<T>(format_args!(
            "the archive is {} bytes, more than a message can carry",
            archive.len()
        )));
    };
    archive.extend_from_slice(&len.to_le_bytes());
    archive.extend_from_slice(&TRAILER_MAGIC);
    LAST_LEN.set(archive.len());
    Ok(archive)
}

#[cold]
fn codec_error<T>(what: core::fmt::Arguments<'_>) -> EncodeError {
    EncodeError::Codec {
        codec: "rkyv",
        message: format!("cannot encode `{}`: {what}", type_name::<T>()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rkyv::TRAILER_LEN;

    #[test]
    fn the_archive_buffer_itself_reaches_the_encode_buf() {
        let value = vec![7u8; 1 << 20];
        let archive = serialize(&value).expect("serializes");
        let start = archive.as_ptr();
        let len = archive.len();

        // What `Encode::encode` does, step by step.
        let mut out = EncodeBuf::new();
        out.push_segment(Bytes::from_owner(archive));
        let encoded = out.finish();

        let segments: Vec<&Bytes> = encoded.segments().collect();
        assert_eq!(segments.len(), 1);
        assert_eq!(segments[0].as_ptr(), start, "the segment was copied");
        assert_eq!(segments[0].len(), len);
    }

    #[test]
    fn the_first_allocation_follows_the_last_message() {
        serialize(&vec![0u8; 1000]).expect("serializes");
        assert_eq!(initial_capacity(), 1024);
        serialize(&vec![0u8; 1 << 20]).expect("serializes");
        assert_eq!(initial_capacity(), MAX_CAPACITY_HINT);
        serialize(&0u8).expect("serializes");
        assert_eq!(initial_capacity(), MIN_CAPACITY);
    }

    #[test]
    fn the_trailer_holds_the_archive_length_and_magic() {
        let bytes = to_bytes(&0x0102_0304u32).expect("serializes");
        let (archive, trailer) = bytes.split_at(bytes.len() - TRAILER_LEN);
        assert_eq!(archive, [4, 3, 2, 1], "little-endian, no padding");
        assert_eq!(trailer[..4], 4u32.to_le_bytes());
        assert_eq!(trailer[4..], TRAILER_MAGIC);
    }
}
