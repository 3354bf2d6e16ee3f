//! FlatBuffers, driven by reflection: the facet shape of a Rust type decides
//! the table layout, and no `.fbs` file is the source of truth.
//!
//! The layout is compiled once per type from its wire schema
//! ([`prism_reflect::Schema`]) and cached. [`fbs_schema`] renders it as a
//! `.fbs` file for other languages (`flatc` 2.0.8 reads it); buffers made
//! here are ordinary FlatBuffers that `flatc --json --raw-binary` and the
//! FlatBuffers libraries of other languages read with that schema.
//!
//! # Mapping
//!
//! | Rust shape | FlatBuffers |
//! |---|---|
//! | struct, tuple struct, tuple | `table`; fields in declaration order, one slot each (`4 + 2*i` vtable offsets); tuple fields are `f0`, `f1`, … |
//! | unit struct, `()` | empty `table` |
//! | `#[facet(skip)]` field | left out (decodes to its default) |
//! | `bool`, `u8`…`u64`, `i8`…`i64`, `f32`, `f64` | `bool`, `ubyte`…`ulong`, `byte`…`long`, `float`, `double` slot; absent means zero |
//! | `usize`, `isize` | `ulong`, `long` |
//! | `char` | `uint` (the code point) |
//! | `u128`, `i128` | `struct U128 { lo: ulong; hi: ulong; }` / `struct I128 { lo: ulong; hi: long; }`, inline |
//! | `String`, `Cow<str>`, `&str` (encode only) | `string (required)` |
//! | `Vec<u8>`, `Bytes`, `BytesMut` | `[ubyte] (required)` |
//! | `Vec<T>`, `[T; N]` | `[T] (required)`; an array's length is checked on decode |
//! | `HashSet<T>`, `BTreeSet<T>` | `[T] (required)`, sorted |
//! | `HashMap<K, V>`, `BTreeMap<K, V>` | `[MapEntry] (required)`, `table MapEntry { key: K (key); value: V; }`, sorted by key |
//! | `Option<T>` | presence: an absent slot is `None` (`= null` for scalars and enums) |
//! | enum with only unit variants | `enum E : ubyte` (`ushort` past 256 variants) holding the variant index |
//! | enum with data | `union E { A: E_A, B: E_B }` of one table per variant (unit variants are empty tables); a field takes two slots, `name_type` (variant index + 1, 0 = NONE) and `name` |
//! | `Result<T, E>` | `union Result_T_E { Ok: Result_T_E_Ok, Err: Result_T_E_Err }`, each a table with field `f0` |
//! | `Box<T>`, `Arc<T>`, `Rc<T>`, transparent newtypes | what they hold |
//! | recursive types | tables that refer to themselves |
//!
//! FlatBuffers cannot hold some of these directly, so the layout adds a
//! table with one field, `value`, around them (named after what it holds,
//! such as `Vec_U32Value`):
//!
//! - the **root**, when it is not a table (`u64`, `String`, `Vec<T>`, an
//!   enum, …): `table Root { value: …; }`;
//! - a **vector element** that is not a scalar, string or table: vectors of
//!   vectors, of byte buffers, of options, of maps or sets, of enums with data;
//! - the inner option of an **`Option<Option<T>>`**, so `Some(None)` and
//!   `None` stay apart.
//!
//! Map and set keys are sorted numerically for numbers, bytewise for
//! strings, and by their postcard bytes for any other key type (which is
//! deterministic, so encoding always is). Decoding accepts any order; a
//! repeated map key keeps its last value.
//!
//! Names: tables, unions and enums are named after the Rust type (generic
//! arguments joined with `_`, duplicates suffixed `_2`, …); field and variant
//! names must be valid FlatBuffers identifiers that are not keywords, or the
//! type is refused with a [`PlanError`]. The namespace is the root type's
//! module path (`a::b` becomes `a.b`).
//!
//! # Encoding and decoding
//!
//! A value is read through its shape by the crate's postcard plan, and its
//! postcard bytes are rebuilt as FlatBuffers through the layout; decoding
//! runs the other way and lets the postcard plan build the value in place.
//! So this codec carries the types that both postcard and the wire schema
//! carry (not unsized borrows such as `&[u8]` or `Box<str>`), writes no
//! `unsafe` code of its own and reuses postcard's handling of partially
//! built values. Encoding is deterministic; scalars equal to zero are left
//! out, as FlatBuffers does, except in options, whose presence is meaning.
//!
//! Untrusted buffers are checked by the `flatbuffers` crate's
//! [`Verifier`](::flatbuffers::Verifier) before anything is read, with
//! verifiers built from the layout. Its limits follow [`Limits`]: tables may
//! nest `2 * max_depth + 2` deep (wrapper tables add levels), a buffer of
//! `len` bytes may hold `len / 4 + 1` tables (more means sub-objects shared
//! many times over), and the bytes verified, counting shared objects once
//! per reference, may not pass `max_alloc`. The decoder then checks what the
//! verifier cannot know (bools are 0 or 1, chars are Unicode scalar values,
//! enum and union indices exist, required fields are present, array lengths
//! match), counts depth as postcard does against `max_depth`, and reads
//! nothing without a bounds check. No input panics.
//!
//! **Trailing bytes.** A FlatBuffers buffer does not record its own length.
//! The decoder measures how far the objects it reaches extend (tables, their
//! vtables, strings with their NUL, vectors) and rejects any byte after
//! them ([`DecodeError::TrailingBytes`]) but the zeros a builder writes
//! after the last object it places (the first it built) to align that
//! object to 4 or to 8: those are exactly the zeros that bring the end of
//! the objects to the next multiple of 4 or of 8. When a table holds fields the layout does not know (a
//! buffer from a newer schema), their objects are not walked and the check
//! is skipped. Bytes between objects cannot be checked.
//!
//! # Examples
//!
//! ```
//! use facet::Facet;
//! use prism_codecs::flatbuffers;
//!
//! #[derive(Facet, Debug, PartialEq)]
//! #[repr(u8)]
//! enum Shape {
//!     Circle { r: f64 },
//!     Square(f64),
//!     Empty,
//! }
//!
//! #[derive(Facet, Debug, PartialEq)]
//! struct Drawing {
//!     name: String,
//!     shapes: Vec<Shape>,
//!     hidden: Option<bool>,
//! }
//!
//! let drawing = Drawing {
//!     name: "plan".into(),
//!     shapes: vec![Shape::Circle { r: 1.5 }, Shape::Empty],
//!     hidden: None,
//! };
//! let bytes = flatbuffers::to_vec(&drawing)?;
//! let back: Drawing = flatbuffers::from_slice(&bytes)?;
//! assert_eq!(back, drawing);
//!
//! let fbs = flatbuffers::fbs_schema_of::<Drawing>()?;
//! assert!(fbs.contains("union Shape {\n  Circle: Shape_Circle,"));
//! assert!(fbs.contains("table Drawing {\n  name: string (required);\n  shapes: [ShapeValue] (required);\n  hidden: bool = null;\n}"));
//! assert!(fbs.ends_with("root_type Drawing;\n"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod decode;
mod encode;
mod fbs;
mod layout;
mod names;
mod pc;
mod read;
mod verify;
mod view;

use bytes::{Bytes, BytesMut};
use facet::{Facet, Shape};
use prism_core::CodecId;

use self::layout::Layout;
use crate::{
    Capabilities, Codec, Decode, DecodeError, Encode, EncodeBuf, EncodeError, Limits, Payload,
    PlanError, View,
};

pub use self::view::{FlatScalar, FlatTableRef, FlatView};

/// The FlatBuffers codec marker: cross-language, with verified in-place views.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct FlatBuffers;

impl Codec for FlatBuffers {
    const ID: CodecId = CodecId::FLATBUFFERS;
    const NAME: &'static str = crate::codec::builtin_name(Self::ID);
    const CAPABILITIES: Capabilities = Capabilities::NONE
        .with_cross_language(true)
        .with_zero_copy(true);
}

impl<'f, T: Facet<'f>> Encode<FlatBuffers> for T {
    fn encode(&self, out: &mut EncodeBuf, limits: &Limits) -> Result<(), EncodeError> {
        encode_into(self, out, limits)
    }
}

impl<T: Facet<'static>> Decode<FlatBuffers> for T {
    fn decode(payload: &Payload, limits: &Limits) -> Result<Self, DecodeError> {
        from_slice_with(payload, limits)
    }
}

impl<T: Facet<'static>> View<FlatBuffers> for T {
    type View = FlatView<T>;

    fn view(payload: Payload, limits: &Limits) -> Result<FlatView<T>, DecodeError> {
        FlatView::new(payload, limits)
    }
}

/// Encodes a value into a new vector with the default limits.
///
/// # Errors
///
/// Fails when the type has no FlatBuffers mapping (see the module docs), the
/// value nests deeper than the default limit, or the message would pass the
/// 2 GiB FlatBuffers can address.
///
/// # Examples
///
/// ```
/// use prism_codecs::flatbuffers;
///
/// // A `u64` root is wrapped in `table Root { value: ulong; }`.
/// let bytes = flatbuffers::to_vec(&7u64)?;
/// assert_eq!(flatbuffers::from_slice::<u64>(&bytes)?, 7);
///
/// // Trailing bytes, truncation and garbage are errors, not panics.
/// let mut long = bytes.clone();
/// long.push(1);
/// assert!(flatbuffers::from_slice::<u64>(&long).is_err());
/// assert!(flatbuffers::from_slice::<u64>(&bytes[..bytes.len() - 8]).is_err());
/// assert!(flatbuffers::from_slice::<u64>(&[0xff; 16]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn to_vec<'f, T: Facet<'f>>(value: &T) -> Result<Vec<u8>, EncodeError> {
    let (mut buf, head) = encode_buffer(value, &Limits::default())?;
    buf.drain(..head);
    Ok(buf)
}

/// Appends the encoding of a value to `out`, as a segment of its own (the
/// builder's buffer, handed over without a copy).
///
/// # Errors
///
/// As [`to_vec`], under `limits`.
pub fn encode_into<'f, T: Facet<'f>>(
    value: &T,
    out: &mut EncodeBuf,
    limits: &Limits,
) -> Result<(), EncodeError> {
    let (buf, head) = encode_buffer(value, limits)?;
    out.push_segment(Bytes::from(buf).slice(head..));
    Ok(())
}

/// The finished buffer and where its message starts.
fn encode_buffer<'f, T: Facet<'f>>(
    value: &T,
    limits: &Limits,
) -> Result<(Vec<u8>, usize), EncodeError> {
    let layout = Layout::for_shape(T::SHAPE)?;
    let mut postcard = BytesMut::new();
    crate::postcard::encode_into(value, &mut postcard, limits).map_err(from_postcard_encode)?;
    encode::transcode(layout, &postcard, limits)
}

/// Decodes a value from a whole buffer with the default limits.
///
/// # Errors
///
/// Fails on buffers that do not verify, values the type cannot hold,
/// trailing bytes (see the module docs) and broken limits. Never panics.
pub fn from_slice<T: Facet<'static>>(input: &[u8]) -> Result<T, DecodeError> {
    from_slice_with(input, &Limits::default())
}

/// Decodes a value from a whole buffer under `limits`.
///
/// The buffer need not be aligned in memory.
///
/// # Errors
///
/// As [`from_slice`].
pub fn from_slice_with<T: Facet<'static>>(input: &[u8], limits: &Limits) -> Result<T, DecodeError> {
    let layout = Layout::for_shape(T::SHAPE)?;
    verify::verify(layout, input, limits)?;
    decode_verified(layout, input, limits)
}

fn decode_verified<T: Facet<'static>>(
    layout: &'static Layout,
    input: &[u8],
    limits: &Limits,
) -> Result<T, DecodeError> {
    let postcard =
        decode::Walker::new(layout, input, Vec::with_capacity(input.len()), limits).run()?;
    crate::postcard::from_slice_with::<T>(&postcard, limits).map_err(from_postcard_decode)
}

/// The FlatBuffers schema (`.fbs`) of the type `shape` describes: its
/// namespace, enums, structs, unions and tables, and its `root_type`.
///
/// The text is deterministic and `flatc` 2.0.8 reads it; buffers from
/// [`to_vec`] are buffers of its root type.
///
/// # Errors
///
/// Fails when the type has no FlatBuffers mapping.
///
/// # Examples
///
/// ```
/// use facet::Facet;
/// use prism_codecs::flatbuffers::fbs_schema;
///
/// #[derive(Facet)]
/// struct Point {
///     x: i32,
///     y: i32,
/// }
///
/// let fbs = fbs_schema(<Point as Facet>::SHAPE)?;
/// assert!(fbs.contains("table Point {\n  x: int;\n  y: int;\n}"));
/// assert!(fbs.ends_with("root_type Point;\n"));
///
/// // A root that is not a table is wrapped in one.
/// let fbs = fbs_schema(<Vec<u64> as Facet>::SHAPE)?;
/// assert!(fbs.contains("table Root {\n  value: [ulong] (required);\n}"));
/// # Ok::<(), prism_codecs::PlanError>(())
/// ```
pub fn fbs_schema(shape: &'static Shape) -> Result<String, PlanError> {
    Ok(fbs::render(Layout::for_shape(shape)?))
}

/// The FlatBuffers schema of `T`; see [`fbs_schema`].
///
/// # Errors
///
/// Fails when the type has no FlatBuffers mapping.
pub fn fbs_schema_of<'f, T: Facet<'f>>() -> Result<String, PlanError> {
    fbs_schema(T::SHAPE)
}

/// The FlatBuffers name of `T`'s root table, as `root_type` names it.
///
/// # Errors
///
/// Fails when the type has no FlatBuffers mapping.
pub fn root_type_name<'f, T: Facet<'f>>() -> Result<&'static str, PlanError> {
    Ok(&Layout::for_shape(T::SHAPE)?.root_table().name)
}

fn rename(mut error: PlanError) -> PlanError {
    error.codec = FlatBuffers::NAME;
    error
}

fn from_postcard_encode(error: EncodeError) -> EncodeError {
    match error {
        EncodeError::Unsupported(plan) => EncodeError::Unsupported(rename(plan)),
        EncodeError::Codec { message, .. } => EncodeError::Codec {
            codec: FlatBuffers::NAME,
            message,
        },
        other => other,
    }
}

/// Errors from building the value out of the transcoded postcard bytes:
/// their byte positions would point into those bytes, so they become 0.
fn from_postcard_decode(error: DecodeError) -> DecodeError {
    match error {
        DecodeError::Unsupported(plan) => DecodeError::Unsupported(rename(plan)),
        DecodeError::DepthLimitExceeded { limit, .. } => {
            DecodeError::DepthLimitExceeded { limit, at: 0 }
        }
        DecodeError::AllocLimitExceeded { limit, .. } => {
            DecodeError::AllocLimitExceeded { limit, at: 0 }
        }
        DecodeError::InvalidValue {
            type_path, what, ..
        } => DecodeError::InvalidValue {
            at: 0,
            type_path,
            what,
        },
        DecodeError::UnknownVariant {
            index, type_path, ..
        } => DecodeError::UnknownVariant {
            index,
            at: 0,
            type_path,
        },
        other => DecodeError::Codec {
            codec: FlatBuffers::NAME,
            message: format!("the decoded value does not match its layout: {other}"),
        },
    }
}
