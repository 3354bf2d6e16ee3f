//! The default codec: postcard, compiled from facet shapes.
//!
//! The first time a type is encoded or decoded, its facet shape is compiled
//! into a [`Plan`]: field offsets, scalar kinds and container vtables in a
//! flat table. The plan is cached for the life of the process, and every
//! later call walks it directly, reading and writing values in place. The
//! bytes are exactly what `facet-postcard` (and serde's `postcard`) produce;
//! `facet-postcard` stays as the reference the tests compare against.
//!
//! Decoding is strict and bounded: nesting is limited ([`Limits::max_depth`],
//! 128 by default), trailing bytes are an error, every length prefix is
//! checked against the input left, and allocation is budgeted
//! ([`Limits::max_alloc`]). No input makes it panic.
//!
//! Types are carried as postcard carries them: integers as (zigzag) varints,
//! `u8`/`i8` as one byte, floats little-endian, strings and byte buffers with
//! a length prefix, structs and tuples as their fields in order, enums as a
//! variant index then the variant's fields, `Option` and `Result` as a tag
//! then the value, lists, maps and sets with a length prefix, arrays without.
//! `Box`, `Arc` and `Rc` are carried as what they point to. Fields marked
//! `#[facet(skip)]` are left off the wire and decode to their default.
//!
//! # Examples
//!
//! ```
//! use facet::Facet;
//! use prism_codecs::{Limits, postcard};
//!
//! #[derive(Facet, Debug, PartialEq)]
//! #[repr(u8)]
//! enum Command {
//!     Stop,
//!     Move { dx: i32, dy: i32 },
//! }
//!
//! let bytes = postcard::to_vec(&Command::Move { dx: 3, dy: -2 })?;
//! assert_eq!(bytes, [1, 6, 3]);
//! let back: Command = postcard::from_slice(&bytes)?;
//! assert_eq!(back, Command::Move { dx: 3, dy: -2 });
//!
//! // Trailing bytes and truncated input are errors, not panics.
//! assert!(postcard::from_slice::<Command>(&[1, 6, 3, 0]).is_err());
//! assert!(postcard::from_slice::<Command>(&[1, 6]).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cache;
mod decode;
mod encode;
mod plan;
mod scratch;
mod wire;

use core::mem::MaybeUninit;
use core::sync::atomic::Ordering;

use bytes::{Bytes, BytesMut};
use facet::Facet;
use prism_core::CodecId;

use crate::{
    Capabilities, Codec, Decode, DecodeError, Encode, EncodeBuf, EncodeError, Limits, Payload,
};

pub use decode::SHARE_BYTES_AT;
pub use plan::Plan;

/// The postcard codec marker, Prism's default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Postcard;

impl Codec for Postcard {
    const ID: CodecId = CodecId::POSTCARD;
    const NAME: &'static str = crate::codec::builtin_name(Self::ID);
    const CAPABILITIES: Capabilities = Capabilities::NONE;
}

/// `Bytes` fields of at least [`SHARE_BYTES_AT`] bytes are not copied:
/// they join the payload as segments of their own, by reference count, and
/// the link writes them with vectored I/O (a tensor or a file chunk in a
/// `Bytes` field costs no copy to send).
impl<'f, T: Facet<'f>> Encode<Postcard> for T {
    fn encode(&self, out: &mut EncodeBuf, limits: &Limits) -> Result<(), EncodeError> {
        let mut shared = Vec::new();
        let plan = Plan::for_shape(T::SHAPE)?;
        encode_sized(plan, self, out.tail(), Some(&mut shared), limits)?;
        splice(out, shared);
        Ok(())
    }
}

/// Puts each shared `Bytes` field in place: the tail is cut where each
/// belongs and the field goes between as a segment of its own. `shared`
/// holds tail offsets, in order.
fn splice(out: &mut EncodeBuf, shared: Vec<(usize, bytes::Bytes)>) {
    if shared.is_empty() {
        return;
    }
    let mut rest = out.tail().split();
    // The room left after the written part, kept for later messages.
    let spare = core::mem::take(out.tail());
    let mut at = 0;
    for (offset, bytes) in shared {
        // Taking the written part back into the (now empty) tail moves it,
        // it does not copy it.
        out.tail().unsplit(rest.split_to(offset - at));
        out.push_segment(bytes);
        at = offset;
    }
    // Adjacent in one allocation: joined without a copy.
    rest.unsplit(spare);
    out.tail().unsplit(rest);
}

/// Encodes after reserving the size of the last message of this type (up
/// to 64 KiB, so one large message does not make every later small one
/// reserve a lot), so steady traffic encodes with one allocation instead of
/// a growth series.
fn encode_sized<'f, T: Facet<'f>>(
    plan: &Plan,
    value: &T,
    out: &mut BytesMut,
    shared: Option<&mut Vec<(usize, bytes::Bytes)>>,
    limits: &Limits,
) -> Result<(), EncodeError> {
    let hint = plan.size_hint.load(Ordering::Relaxed);
    out.reserve(hint.min(64 << 10));
    let start = out.len();
    encode_with_plan(plan, value, out, shared, limits)?;
    let len = out.len() - start;
    if len != hint {
        // Written only when the size changes, so steady traffic does not
        // bounce this cache line between cores.
        plan.size_hint.store(len, Ordering::Relaxed);
    }
    Ok(())
}

impl<T: Facet<'static>> Decode<Postcard> for T {
    fn decode(payload: &Payload, limits: &Limits) -> Result<Self, DecodeError> {
        from_bytes(payload.as_bytes(), limits)
    }
}

/// Encodes a value into a new vector.
///
/// # Errors
///
/// Fails when the type has no postcard mapping or the value nests deeper
/// than the default limit.
pub fn to_vec<'f, T: Facet<'f>>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let mut out = BytesMut::new();
    encode_sized(
        Plan::for_shape(T::SHAPE)?,
        value,
        &mut out,
        None,
        &Limits::default(),
    )?;
    Ok(Vec::from(out))
}

/// Appends the encoding of a value to `out`.
///
/// # Errors
///
/// Fails when the type has no postcard mapping or the value nests deeper
/// than `limits` allow. On error `out` may hold a partial encoding.
pub fn encode_into<'f, T: Facet<'f>>(
    value: &T,
    out: &mut BytesMut,
    limits: &Limits,
) -> Result<(), EncodeError> {
    encode_with_plan(Plan::for_shape(T::SHAPE)?, value, out, None, limits)
}

fn encode_with_plan<'f, T: Facet<'f>>(
    plan: &Plan,
    value: &T,
    out: &mut BytesMut,
    shared: Option<&mut Vec<(usize, bytes::Bytes)>>,
    limits: &Limits,
) -> Result<(), EncodeError> {
    let mut encoder = encode::Encoder::new(plan, out, shared, limits.max_depth());
    // SAFETY: `plan` was compiled from `T::SHAPE` and `value` is a live `T`.
    unsafe { encoder.root((value as *const T).cast()) }
}

/// Decodes a value from a whole slice with the default limits.
///
/// # Errors
///
/// Fails on malformed, truncated or trailing input and when limits are hit.
pub fn from_slice<T: Facet<'static>>(input: &[u8]) -> Result<T, DecodeError> {
    decode_value(input, None, &Limits::default())
}

/// Decodes a value from a whole slice under `limits`.
///
/// # Errors
///
/// Fails on malformed, truncated or trailing input and when limits are hit.
pub fn from_slice_with<T: Facet<'static>>(input: &[u8], limits: &Limits) -> Result<T, DecodeError> {
    decode_value(input, None, limits)
}

/// Decodes a value from shared bytes; `bytes::Bytes` fields in the value
/// of at least [`SHARE_BYTES_AT`] bytes and at least half of `input`
/// become slices of `input` rather than copies. Smaller ones are copied: a
/// slice keeps the whole buffer it points into alive (a received frame's
/// shares its link's 64 KiB receive buffer with its neighbours), so a small
/// field kept would hold far more memory than its own bytes. Retained
/// memory stays within twice the retained data.
///
/// # Errors
///
/// Fails on malformed, truncated or trailing input and when limits are hit.
pub fn from_bytes<T: Facet<'static>>(input: &Bytes, limits: &Limits) -> Result<T, DecodeError> {
    decode_value(input, Some(input), limits)
}

fn decode_value<T: Facet<'static>>(
    input: &[u8],
    src: Option<&Bytes>,
    limits: &Limits,
) -> Result<T, DecodeError> {
    let plan = Plan::for_shape(T::SHAPE)?;
    let mut value = MaybeUninit::<T>::uninit();
    let mut decoder = decode::Decoder::new(plan, input, src, limits);
    // SAFETY: `plan` was compiled from `T::SHAPE`, and `value` is storage for a `T`.
    unsafe { decoder.root(value.as_mut_ptr().cast())? };
    // SAFETY: `root` returned `Ok`, so `value` is initialized.
    let value = unsafe { value.assume_init() };
    match decoder.remaining() {
        0 => Ok(value),
        remaining => Err(DecodeError::TrailingBytes {
            remaining,
            len: input.len(),
        }),
    }
}
