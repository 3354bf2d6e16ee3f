//! The codec trait family: a codec marker type plus `Encode`, `Decode` and
//! `View` implemented per codec.

use crate::{DecodeError, EncodeBuf, EncodeError, Limits, Payload};
use prism_core::CodecId;

/// What a codec can do, for negotiation and introspection.
///
/// # Examples
///
/// ```
/// use prism_codecs::Capabilities;
///
/// const CAPS: Capabilities = Capabilities::NONE.with_zero_copy(true);
/// assert!(CAPS.zero_copy());
/// assert!(!CAPS.cross_language());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities {
    zero_copy: bool,
    cross_language: bool,
    self_describing: bool,
}

impl Capabilities {
    /// No capabilities.
    pub const NONE: Capabilities = Capabilities {
        zero_copy: false,
        cross_language: false,
        self_describing: false,
    };

    /// Sets whether received messages can be read in place, without decoding.
    pub const fn with_zero_copy(mut self, yes: bool) -> Self {
        self.zero_copy = yes;
        self
    }

    /// Sets whether programs in other languages can read the format.
    pub const fn with_cross_language(mut self, yes: bool) -> Self {
        self.cross_language = yes;
        self
    }

    /// Sets whether a message can be read without knowing its schema.
    pub const fn with_self_describing(mut self, yes: bool) -> Self {
        self.self_describing = yes;
        self
    }

    /// Received messages can be read in place, without decoding.
    pub const fn zero_copy(&self) -> bool {
        self.zero_copy
    }

    /// Programs in other languages can read the format.
    pub const fn cross_language(&self) -> bool {
        self.cross_language
    }

    /// A message can be read without knowing its schema.
    pub const fn self_describing(&self) -> bool {
        self.self_describing
    }
}

/// The runtime description of a codec: what a [`CodecRegistry`](crate::CodecRegistry) lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CodecInfo {
    /// The id carried in frame headers.
    pub id: CodecId,
    /// A short lowercase name, such as `postcard`.
    pub name: &'static str,
    /// What the codec can do.
    pub capabilities: Capabilities,
}

/// A codec: a marker type that names a wire format.
///
/// Types become encodable with a codec through [`Encode`] and [`Decode`]
/// impls for that marker; the transport below only ever sees [`Codec::ID`].
///
/// # Examples
///
/// A user codec takes an id from the user range:
///
/// ```
/// use prism_codecs::{Capabilities, Codec, CodecId};
///
/// #[derive(Debug)]
/// struct Tensor;
///
/// impl Codec for Tensor {
///     const ID: CodecId = CodecId::new(CodecId::USER_RANGE_START + 1);
///     const NAME: &'static str = "tensor";
///     const CAPABILITIES: Capabilities = Capabilities::NONE.with_zero_copy(true);
/// }
///
/// assert_eq!(Tensor::info().name, "tensor");
/// ```
pub trait Codec: Send + Sync + 'static {
    /// The id carried in frame headers.
    const ID: CodecId;
    /// A short lowercase name, such as `postcard`.
    const NAME: &'static str;
    /// What the codec can do.
    const CAPABILITIES: Capabilities;

    /// This codec's runtime description.
    fn info() -> CodecInfo {
        CodecInfo {
            id: Self::ID,
            name: Self::NAME,
            capabilities: Self::CAPABILITIES,
        }
    }
}

/// A built-in codec's name, read from the one table of them
/// ([`CodecId::builtin_name`]), so `Display` of an id and `Codec::NAME`
/// never disagree. Evaluated at compile time: a non-built-in id fails the
/// build.
pub(crate) const fn builtin_name(id: CodecId) -> &'static str {
    match id.builtin_name() {
        Some(name) => name,
        None => panic!("not a built-in codec id"),
    }
}

/// Encodes `Self` with codec `C`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be encoded with the `{C}` codec",
    label = "the `{C}` codec needs this type to implement `Encode<{C}>`",
    note = "postcard and FlatBuffers take any type that derives `Facet`; rkyv needs `rkyv::Archive` and `rkyv::Serialize`"
)]
pub trait Encode<C: Codec> {
    /// Appends the encoding of `self` to `out`.
    ///
    /// # Errors
    ///
    /// Fails when the type cannot be carried by the codec or the value breaks
    /// a limit (such as nesting deeper than [`Limits::max_depth`]).
    fn encode(&self, out: &mut EncodeBuf, limits: &Limits) -> Result<(), EncodeError>;
}

/// Decodes an owned `Self` from a payload encoded with codec `C`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be decoded with the `{C}` codec",
    label = "the `{C}` codec needs this type to implement `Decode<{C}>`",
    note = "postcard and FlatBuffers take any type that derives `Facet`; rkyv needs `rkyv::Archive` and `rkyv::Deserialize`"
)]
pub trait Decode<C: Codec>: Sized {
    /// Decodes a whole payload into a value.
    ///
    /// # Errors
    ///
    /// Fails on malformed, truncated or oversized input, on trailing bytes,
    /// and when the input breaks `limits`. Never panics on any input.
    fn decode(payload: &Payload, limits: &Limits) -> Result<Self, DecodeError>;
}

/// Reads `Self` in place from a payload encoded with codec `C`, without
/// decoding it into an owned value.
///
/// The view owns its [`Payload`], so a handler can keep it without lifetimes
/// leaking into service traits. Codecs whose format cannot be read in place
/// (postcard) do not implement it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be viewed in place with the `{C}` codec",
    label = "zero-copy views need a codec that supports them, such as rkyv"
)]
pub trait View<C: Codec> {
    /// The owning view handed to handlers.
    type View: Send + Sync + 'static;

    /// Validates the payload and wraps it in a view.
    ///
    /// # Errors
    ///
    /// Fails when the payload does not validate as an encoding of `Self`.
    fn view(payload: Payload, limits: &Limits) -> Result<Self::View, DecodeError>;
}
