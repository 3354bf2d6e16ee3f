//! Compile-time checks the service macro emits for each op: its codecs can
//! carry its types. A failure is an error at the op's signature whose
//! message names the op, the codec and the missing trait.

use prism_codecs::{Codec, CodecSet, DecodeAs, EncodeAs, View};

/// A type that every codec of `S` can carry, for op `Op`.
#[diagnostic::on_unimplemented(
    message = "op `{Op}` cannot carry `{Self}` with its codecs `{S}`",
    label = "a codec of this op cannot encode or decode this type",
    note = "postcard and FlatBuffers need `#[derive(Facet)]` (`#[prism::message]` adds it); rkyv also needs rkyv's derives (`#[prism::message(rkyv)]`); a user codec needs `Encode<ThatCodec>` and `Decode<ThatCodec>`, and carries its own types: mark a one-argument op `#[prism(bare)]` so its argument travels without a generated request struct"
)]
pub trait CarriedBy<S: CodecSet, Op> {}

impl<S: CodecSet, Op, T: EncodeAs<S> + DecodeAs<S>> CarriedBy<S, Op> for T {}

/// A type that codec `C` can read in place, for op `Op`.
#[diagnostic::on_unimplemented(
    message = "op `{Op}` reads `{Self}` in place, but the `{C}` codec has no view of it",
    label = "`Archived<T>` arguments need a codec with zero-copy views",
    note = "use `#[prism(codec = rkyv)]` and derive `rkyv::Archive, rkyv::Serialize, rkyv::Deserialize` on the type"
)]
pub trait ViewedBy<C: Codec, Op> {}

impl<C: Codec, Op, T: View<C>> ViewedBy<C, Op> for T {}

/// Proves `T: CarriedBy<S, Op>`; the service macro calls it once per type of each op.
pub const fn carried_by<S: CodecSet, Op, T: CarriedBy<S, Op>>() {}

/// Proves `T: ViewedBy<C, Op>`; the service macro calls it for view arguments.
pub const fn viewed_by<C: Codec, Op, T: ViewedBy<C, Op>>() {}
