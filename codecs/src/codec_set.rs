//! Codec sets: the codecs an op accepts, in preference order, as a type.
//!
//! An op declared `#[prism(codec = rkyv)]` uses the set `Rkyv`; one declared
//! `#[prism(codecs = [rkyv, flatbuffers])]` uses `(Rkyv, FlatBuffers)`. The
//! client picks the first codec of the set that the server accepts for the
//! op (from its handshake) and that the channel allows; the call frame
//! names the codec used, and the server answers with the same one.

use crate::{Codec, CodecId, Decode, DecodeError, Encode, EncodeBuf, EncodeError, Limits, Payload};

/// The codecs an op accepts, in preference order.
pub trait CodecSet: Send + Sync + 'static {
    /// Codec ids, most preferred first.
    const IDS: &'static [CodecId];
    /// Codec names, in the same order.
    const NAMES: &'static [&'static str];
}

/// Encodes `Self` with whichever codec of set `S` was chosen.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be encoded with every codec in `{S}`",
    label = "each codec the op lists must be able to carry this type",
    note = "postcard and FlatBuffers take any type that derives `Facet`; rkyv also needs `rkyv::Archive` and `rkyv::Serialize`; a user codec needs `Encode<ThatCodec>`"
)]
pub trait EncodeAs<S: CodecSet> {
    /// Encodes with `codec`, one of `S::IDS`.
    ///
    /// # Errors
    ///
    /// Fails when the codec refuses the value or breaks a limit.
    fn encode_as(
        &self,
        codec: CodecId,
        out: &mut EncodeBuf,
        limits: &Limits,
    ) -> Result<(), EncodeError>;
}

/// Decodes `Self` with whichever codec of set `S` the peer used.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be decoded with every codec in `{S}`",
    label = "each codec the op lists must be able to carry this type",
    note = "postcard and FlatBuffers take any type that derives `Facet`; rkyv also needs `rkyv::Archive` and `rkyv::Deserialize`; a user codec needs `Decode<ThatCodec>`"
)]
pub trait DecodeAs<S: CodecSet>: Sized {
    /// Decodes a payload encoded with `codec`, one of `S::IDS`.
    ///
    /// # Errors
    ///
    /// Fails on malformed input or a broken limit.
    fn decode_as(codec: CodecId, payload: &Payload, limits: &Limits) -> Result<Self, DecodeError>;
}

impl<C: Codec> CodecSet for C {
    const IDS: &'static [CodecId] = &[C::ID];
    const NAMES: &'static [&'static str] = &[C::NAME];
}

impl<C: Codec, T: Encode<C>> EncodeAs<C> for T {
    #[inline]
    fn encode_as(
        &self,
        _codec: CodecId,
        out: &mut EncodeBuf,
        limits: &Limits,
    ) -> Result<(), EncodeError> {
        Encode::<C>::encode(self, out, limits)
    }
}

impl<C: Codec, T: Decode<C>> DecodeAs<C> for T {
    #[inline]
    fn decode_as(_codec: CodecId, payload: &Payload, limits: &Limits) -> Result<Self, DecodeError> {
        <T as Decode<C>>::decode(payload, limits)
    }
}

macro_rules! tuple_sets {
    ($(($($c:ident),+)),+ $(,)?) => {$(
        impl<$($c: Codec),+> CodecSet for ($($c,)+) {
            const IDS: &'static [CodecId] = &[$($c::ID),+];
            const NAMES: &'static [&'static str] = &[$($c::NAME),+];
        }

        impl<$($c: Codec,)+ T: $(Encode<$c> +)+> EncodeAs<($($c,)+)> for T {
            fn encode_as(&self, codec: CodecId, out: &mut EncodeBuf, limits: &Limits) -> Result<(), EncodeError> {
                $(if codec == $c::ID {
                    return Encode::<$c>::encode(self, out, limits);
                })+
                Err(not_in_set(codec))
            }
        }

        impl<$($c: Codec,)+ T: $(Decode<$c> +)+> DecodeAs<($($c,)+)> for T {
            fn decode_as(codec: CodecId, payload: &Payload, limits: &Limits) -> Result<Self, DecodeError> {
                $(if codec == $c::ID {
                    return <T as Decode<$c>>::decode(payload, limits);
                })+
                Err(DecodeError::Codec {
                    codec: "set",
                    message: format!("codec {codec} is not one this op accepts"),
                })
            }
        }
    )+};
}

tuple_sets!((A, B), (A, B, C), (A, B, C, D));

fn not_in_set(codec: CodecId) -> EncodeError {
    EncodeError::Codec {
        codec: "set",
        message: format!("codec {codec} is not one this op accepts"),
    }
}

/// The names of a set's codecs, for messages: `rkyv, flatbuffers`.
pub fn names<S: CodecSet>() -> String {
    S::NAMES.join(", ")
}
