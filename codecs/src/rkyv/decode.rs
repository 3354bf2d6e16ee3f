//! Checking untrusted bytes: the size limit, the trailer, then bytecheck
//! validation of the whole archive; and owned decoding on top of it.

use core::any::type_name;
use core::num::NonZeroUsize;

use rkyv::bytecheck::CheckBytes;
use rkyv::rancor::Source;
use rkyv::validation::archive::ArchiveValidator;
use rkyv::validation::shared::SharedValidator;
use rkyv::{Archive, Deserialize, Portable};

use super::explain::{TracedError, rewrite_addresses};
use super::{Deserializer, Rkyv, TRAILER_LEN, TRAILER_MAGIC, Validator};
use crate::{Decode, DecodeError, Limits, Payload};

impl<T> Decode<Rkyv> for T
where
    T: Archive,
    T::Archived: for<'a> CheckBytes<Validator<'a>>
        + for<'a> CheckBytes<Validator<'a, TracedError>>
        + Deserialize<T, Deserializer>,
{
    fn decode(payload: &Payload, limits: &Limits) -> Result<Self, DecodeError> {
        deserialize::<T>(access::<T>(payload, limits)?)
    }
}

/// Validates an rkyv message and borrows its root in place.
///
/// This is the borrowed form of [`View::view`](crate::View::view): no copy,
/// no allocation on success. `bytes` must start at an address aligned for
/// `T`'s archived form (any [`Payload`] does); a misaligned slice is an
/// error, not undefined behaviour. The checks, in order: the length against
/// [`Limits::max_alloc`] (before any byte is read), the trailer, then rkyv's
/// validation of every byte reachable from the root with at most
/// [`Limits::max_depth`] out-of-line hops.
///
/// # Errors
///
/// [`DecodeError::AllocLimitExceeded`] for an oversized payload,
/// [`DecodeError::UnexpectedEof`] for one too short to hold the trailer and
/// root, [`DecodeError::TrailingBytes`] when the trailer's length is shorter
/// than the archive before it, and [`DecodeError::Codec`] naming the type,
/// the failing field and an offset for everything else. Never panics.
///
/// # Examples
///
/// ```
/// use prism_codecs::{Limits, Payload, rkyv};
///
/// let payload = Payload::new(rkyv::to_bytes(&String::from("héllo"))?);
/// let archived = rkyv::access::<String>(&payload, &Limits::default())?;
/// assert_eq!(archived.as_str(), "héllo");
///
/// // Truncated input is an error, not a panic.
/// assert!(rkyv::access::<String>(&payload[..payload.len() - 1], &Limits::default()).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn access<'p, T>(bytes: &'p [u8], limits: &Limits) -> Result<&'p T::Archived, DecodeError>
where
    T: Archive,
    T::Archived: for<'a> CheckBytes<Validator<'a>> + for<'a> CheckBytes<Validator<'a, TracedError>>,
{
    let archive = archive_of::<T>(bytes, limits)?;
    match check::<T::Archived, rkyv::rancor::Error>(archive, limits) {
        Ok(root) => Ok(root),
        Err(_) => Err(explain::<T>(archive, limits)),
    }
}

/// Deserializes a validated archive into an owned value.
pub(super) fn deserialize<T>(archived: &T::Archived) -> Result<T, DecodeError>
where
    T: Archive,
    T::Archived: Deserialize<T, Deserializer>,
{
    rkyv::api::high::deserialize::<T, rkyv::rancor::Error>(archived).map_err(|err| {
        DecodeError::Codec {
            codec: "rkyv",
            message: format!("cannot deserialize `{}`: {err}", type_name::<T>()),
        }
    })
}

/// The archive inside a message: checks the size limit and the trailer, and
/// returns the bytes before it.
pub(super) fn archive_of<'p, T: Archive>(
    bytes: &'p [u8],
    limits: &Limits,
) -> Result<&'p [u8], DecodeError> {
    if bytes.len() > limits.max_alloc() {
        return Err(DecodeError::AllocLimitExceeded {
            limit: limits.max_alloc(),
            at: 0,
        });
    }
    let min = TRAILER_LEN + size_of::<T::Archived>();
    if bytes.len() < min {
        return Err(DecodeError::UnexpectedEof {
            at: bytes.len(),
            type_path: type_name::<T>(),
        });
    }
    let (archive, trailer) = bytes.split_at(bytes.len() - TRAILER_LEN);
    let (stated, magic) = trailer.split_at(4);
    if magic != TRAILER_MAGIC {
        return Err(DecodeError::Codec {
            codec: "rkyv",
            message: format!(
                "the {}-byte payload for `{}` does not end with the rkyv trailer: \
                 it was truncated, has bytes appended, or is not an rkyv message",
                bytes.len(),
                type_name::<T>()
            ),
        });
    }
    let mut word = [0u8; 4];
    word.copy_from_slice(stated);
    let stated = u32::from_le_bytes(word) as usize;
    if stated < archive.len() {
        return Err(DecodeError::TrailingBytes {
            remaining: archive.len() - stated,
            len: bytes.len(),
        });
    }
    if stated > archive.len() {
        return Err(DecodeError::UnexpectedEof {
            at: bytes.len(),
            type_path: type_name::<T>(),
        });
    }
    Ok(archive)
}

/// Validates `archive` as an `A` rooted at its end, with the depth limit.
fn check<'p, A, E>(archive: &'p [u8], limits: &Limits) -> Result<&'p A, E>
where
    A: Portable + for<'a> CheckBytes<Validator<'a, E>>,
    E: Source,
{
    // rkyv's budget must stay non-zero after every push, and the root is
    // pushed too: `max_depth + 2` allows exactly `max_depth` hops below it.
    let depth = NonZeroUsize::new(limits.max_depth().saturating_add(2));
    let mut context = rkyv::validation::Validator::new(
        ArchiveValidator::with_max_depth(archive, depth),
        SharedValidator::new(),
    );
    rkyv::api::access_with_context::<A, _, E>(archive, &mut context)
}

/// Validates again, slowly, to say why the fast check failed.
#[cold]
#[inline(never)]
fn explain<T>(archive: &[u8], limits: &Limits) -> DecodeError
where
    T: Archive,
    T::Archived: for<'a> CheckBytes<Validator<'a, TracedError>>,
{
    let mut cause = match check::<T::Archived, TracedError>(archive, limits) {
        Err(err) => rewrite_addresses(&err.to_string(), archive.as_ptr() as usize),
        // Both runs check the same bytes the same way; kept for robustness.
        Ok(_) => String::from("validation failed"),
    };
    if cause.contains("maximum subtree depth") {
        cause.push_str(&format!(" (Limits::max_depth is {})", limits.max_depth()));
    }
    DecodeError::Codec {
        codec: "rkyv",
        message: format!(
            "invalid archive for `{}` ({} bytes): {cause}",
            type_name::<T>(),
            archive.len()
        ),
    }
}
