//! Errors of the reflection layer: unsupported shapes and op registration.

use crate::OpId;

/// An error from building schemas, fingerprints or op tables.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReflectError {
    /// A type has no wire description Prism can give it.
    #[error("type `{type_path}` (at `{at}`) cannot be described on the wire: {reason}")]
    Unsupported {
        /// The Rust path of the offending type, for display.
        type_path: String,
        /// Where it was met, from the root type down through field names.
        at: String,
        /// Why it is not supported.
        reason: Unsupported,
    },
    /// Two different ops hash to the same id.
    #[error("op id {id} is claimed by both `{first}` and `{second}`; rename one of them")]
    OpIdCollision {
        /// The op registered first.
        first: String,
        /// The op whose registration failed.
        second: String,
        /// The contested id.
        id: OpId,
    },
    /// The same fully qualified op name was registered twice.
    #[error("op `{full_name}` is registered twice")]
    DuplicateOp {
        /// The `package.Service/method` name.
        full_name: String,
    },
}

/// Why a shape has no wire description.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Unsupported {
    /// An opaque type: facet exposes no structure for it.
    #[error("it is opaque to reflection")]
    Opaque,
    /// A scalar facet knows but that has no fixed wire form (e.g. `PathBuf`).
    #[error("it is a scalar without a known wire form")]
    UnknownScalar,
    /// A `union`.
    #[error("unions are not supported")]
    Union,
    /// A dynamic value such as `facet_value::Value`.
    #[error("dynamic values are not supported")]
    DynamicValue,
    /// An enum marked `#[facet(untagged)]`.
    #[error("untagged enums are not supported")]
    UntaggedEnum,
    /// An enum marked `#[facet(is_numeric)]`.
    #[error("numeric enums are not supported")]
    NumericEnum,
    /// The type itself declares a `#[facet(proxy = …)]`.
    #[error("container proxies are not supported")]
    ContainerProxy,
    /// A field declares a `#[facet(proxy = …)]`.
    #[error("field `{field}` has a proxy, which is not supported")]
    FieldProxy {
        /// The field's name.
        field: String,
    },
    /// A field is marked `#[facet(flatten)]`.
    #[error("field `{field}` is flattened, which is not supported")]
    FlattenedField {
        /// The field's name.
        field: String,
    },
    /// A pointer kind that is not a plain owner or shared reference.
    #[error("pointer kind `{kind}` is not supported")]
    Pointer {
        /// facet's name for the pointer kind (`Weak`, `Mutex`, …).
        kind: String,
    },
    /// A transparent wrapper that contains itself.
    #[error("transparent wrappers that contain themselves are not supported")]
    RecursiveTransparent,
    /// Any other shape facet can describe but Prism cannot carry.
    #[error("{0}")]
    Other(&'static str),
}
