//! The rkyv codec: aligned archives that are read in place.
//!
//! # When to use it
//!
//! Pick [`Rkyv`] for large or hot messages between Rust services: a received
//! message is validated once (~40 ns for a 1 KiB message, linear in the
//! archive's size) and then read in place through an [`Archived<T>`] view,
//! with no decoding and no allocation; owned decoding is also available.
//! rkyv is not self-describing and not cross-language, and both peers must
//! agree on the Rust type, so prefer [`Postcard`](crate::Postcard) (compact,
//! schema-checked by fingerprint) for small messages and FlatBuffers for
//! other languages. Types opt in with
//! `#[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize)]`.
//!
//! # The wire format
//!
//! A message is an rkyv 0.8 archive in rkyv's default format (little-endian,
//! aligned primitives, 32-bit relative offsets) followed by an 8-byte
//! trailer: the archive's length as a little-endian `u32`, then the magic
//! [`TRAILER_MAGIC`]. rkyv keeps the root object at the *end* of the
//! archive, so without the trailer a truncated message, or one with bytes
//! appended, would put the root somewhere else and could still validate,
//! silently giving a different value (a zero-filled `Vec<u8>` truncated by
//! 8 bytes reads as an empty vector). The trailer turns both into errors.
//!
//! No rkyv format feature (`unaligned`, `big_endian`, `pointer_width_*`) is
//! enabled: they change the format for the whole build, and this module
//! refuses to compile if any crate in the graph turns one on.
//!
//! # The alignment rule
//!
//! rkyv reads archived values in place, so the archive must start at an
//! address aligned for its root type (8 for most structs; 16 covers every
//! type made of std types). A [`Payload`](crate::Payload) read as one slice
//! is always 16-byte aligned: transports that read a body into an aligned
//! buffer pay nothing, and bytes that arrive misaligned are copied once
//! (a connection does it as they arrive, [`Payload::align`](crate::Payload::align),
//! and counts the copy in its statistics).
//! [`access`] on a misaligned slice is an error, never undefined behaviour.
//!
//! # What a view costs
//!
//! [`View::view`](crate::View::view) checks the trailer and validates the
//! whole archive with bytecheck once (~40 ns for a 1 KiB message on the
//! reference machine), then keeps the payload: every later access through
//! [`Archived<T>`]'s `Deref` is a pointer computation. A failed validation is
//! run a second time with [`TracedError`] to build a message naming the
//! failing field; only the error path pays for that.
//!
//! # Limits
//!
//! - [`Limits::max_alloc`](crate::Limits::max_alloc): a payload longer than
//!   the budget is refused before any byte is read. Validation forbids
//!   overlapping subtrees, so an owned decode allocates at most a small
//!   multiple of the payload's size; the exception is a collection of a
//!   zero-sized type, whose length is not backed by bytes (it allocates
//!   nothing, but deserialising it takes time linear in that length).
//! - [`Limits::max_depth`](crate::Limits::max_depth) bounds how many
//!   out-of-line hops (`Box`, `Vec`, `String`, maps, …) nest below the root,
//!   checked during validation, so recursive types cannot exhaust the stack
//!   while validating or deserialising. Fields stored inline do not count.
//! - Encoding does not enforce either limit: rkyv's serializer has no hook
//!   for it. A value nesting deeper than the receiver's `max_depth` is
//!   refused by the receiver.
//!
//! # Examples
//!
//! ```
//! use prism_codecs::{Decode, Limits, Payload, Rkyv, View};
//!
//! #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, PartialEq)]
//! struct Reading {
//!     sensor: String,
//!     samples: Vec<u32>,
//! }
//!
//! let value = Reading { sensor: "t1".into(), samples: vec![1, 2, 3] };
//! let payload = Payload::new(prism_codecs::rkyv::to_bytes(&value)?);
//!
//! // Read in place: no decoding, no allocation.
//! let view = <Reading as View<Rkyv>>::view(payload.clone(), &Limits::default())?;
//! assert_eq!(view.sensor, "t1");
//! assert_eq!(view.samples.iter().map(|s| s.to_native()).sum::<u32>(), 6);
//!
//! // Or decode an owned value.
//! let owned = <Reading as Decode<Rkyv>>::decode(&payload, &Limits::default())?;
//! assert_eq!(owned, value);
//! assert_eq!(view.deserialize()?, value);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod decode;
mod encode;
mod explain;
#[allow(unsafe_code)] // The only unsafe block of the rkyv glue: `Archived::deref`.
mod view;

use prism_core::CodecId;

use crate::{Capabilities, Codec};

pub use decode::access;
pub use encode::to_bytes;
pub use explain::TracedError;
pub use view::Archived;

/// The rkyv codec marker: zero-copy views over validated archives.
///
/// Types are carried when they derive `rkyv::Archive` and `rkyv::Serialize`
/// (to encode) and `rkyv::Deserialize` (to decode to an owned value); viewing
/// in place needs only `Archive` with the (default) bytecheck validation.
///
/// # Examples
///
/// ```
/// use prism_codecs::{Codec, CodecId, Rkyv};
///
/// assert_eq!(Rkyv::ID, CodecId::RKYV);
/// assert_eq!(Rkyv::NAME, "rkyv");
/// assert!(Rkyv::CAPABILITIES.zero_copy());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Rkyv;

impl Codec for Rkyv {
    const ID: CodecId = CodecId::RKYV;
    const NAME: &'static str = crate::codec::builtin_name(Self::ID);
    const CAPABILITIES: Capabilities = Capabilities::NONE.with_zero_copy(true);
}

/// The serializer [`Encode<Rkyv>`](crate::Encode) runs: rkyv's high-level
/// serializer writing into a 16-byte aligned vector, with the thread's
/// reusable arena for scratch space.
///
/// A type encodes with rkyv when it implements
/// `for<'a> rkyv::Serialize<Serializer<'a>>`, which
/// `#[derive(rkyv::Archive, rkyv::Serialize)]` provides.
pub type Serializer<'a> = ::rkyv::api::high::HighSerializer<
    ::rkyv::util::AlignedVec<16>,
    ::rkyv::ser::allocator::ArenaHandle<'a>,
    ::rkyv::rancor::Error,
>;

/// The validator archives are checked with: `E` is
/// [`rkyv::rancor::Error`] on the fast path and
/// [`TracedError`] when explaining a failure.
pub type Validator<'a, E = ::rkyv::rancor::Error> = ::rkyv::api::high::HighValidator<'a, E>;

/// The deserializer owned decodes run.
pub type Deserializer = ::rkyv::api::high::HighDeserializer<::rkyv::rancor::Error>;

/// The last four bytes of every rkyv message, after the archive's length.
///
/// The final byte is the format version: `0` is rkyv 0.8's default format
/// (little-endian, aligned, 32-bit offsets).
pub const TRAILER_MAGIC: [u8; 4] = *b"PRK0";

/// Length of the trailer that follows the archive.
pub const TRAILER_LEN: usize = 8;

// Build-time guard for the wire format. rkyv format features are global to a
// build: if any crate in the dependency graph enables `big_endian`,
// `unaligned` or a `pointer_width_*` other than 32, these aliases stop naming
// little-endian aligned 32-bit integers and this line fails to compile with a
// type mismatch. Prism peers built that way could not read each other.
const _: fn(::rkyv::Archived<u32>) -> ::rkyv::rend::u32_le = |x| x;
const _: fn(::rkyv::Archived<usize>) -> ::rkyv::rend::u32_le = |x| x;
