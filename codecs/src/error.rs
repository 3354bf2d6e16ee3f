//! Errors raised while building codec plans, encoding and decoding.

use prism_core::CodecId;

/// A type whose shape a codec cannot carry.
///
/// Raised when a plan is compiled from a shape, so it names the type path and
/// the reason rather than a byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("type `{type_path}` is not supported by the {codec} codec: {reason}")]
pub struct PlanError {
    /// The codec that refused the type.
    pub codec: &'static str,
    /// The Rust path of the offending (possibly nested) type.
    pub type_path: String,
    /// Why the type cannot be carried.
    pub reason: &'static str,
}

/// Encoding a value failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The value's type cannot be carried by the codec.
    #[error(transparent)]
    Unsupported(#[from] PlanError),
    /// The value nests deeper than the configured limit.
    #[error("value nests deeper than the limit of {limit} while encoding `{type_path}`")]
    DepthLimitExceeded {
        /// The limit in force.
        limit: usize,
        /// The type at which the limit was hit.
        type_path: &'static str,
    },
    /// A codec-specific failure, named by the codec.
    #[error("{codec} codec: {message}")]
    Codec {
        /// The codec that failed.
        codec: &'static str,
        /// What went wrong, without payload bytes.
        message: String,
    },
}

/// Decoding bytes into a value failed.
///
/// Offsets are byte positions in the decoded payload. No variant ever holds
/// payload bytes, so errors are safe to log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// The type cannot be carried by the codec.
    #[error(transparent)]
    Unsupported(#[from] PlanError),
    /// The input ended before the value did.
    #[error("input ended at byte {at} while decoding `{type_path}`")]
    UnexpectedEof {
        /// Where the input ended.
        at: usize,
        /// What was being decoded.
        type_path: &'static str,
    },
    /// Bytes were left over after a complete value.
    #[error("{remaining} bytes left over after a complete value ({len} bytes in all)")]
    TrailingBytes {
        /// Bytes left over.
        remaining: usize,
        /// Total input length.
        len: usize,
    },
    /// A varint was longer than its integer type allows.
    #[error("malformed varint at byte {at} for `{type_path}`")]
    MalformedVarint {
        /// Where the varint starts.
        at: usize,
        /// What was being decoded.
        type_path: &'static str,
    },
    /// A value was out of range for its type (a bool that is not 0 or 1, a
    /// char that is not a Unicode scalar value, an option tag that is not 0 or 1).
    #[error("invalid value at byte {at} for `{type_path}`: {what}")]
    InvalidValue {
        /// Where the value starts.
        at: usize,
        /// What was being decoded.
        type_path: &'static str,
        /// What was wrong with it.
        what: &'static str,
    },
    /// A string was not valid UTF-8.
    #[error("invalid utf-8 in string at byte {at}")]
    InvalidUtf8 {
        /// Where the string starts.
        at: usize,
    },
    /// An enum variant index that the type does not have.
    #[error("unknown variant index {index} at byte {at} for `{type_path}`")]
    UnknownVariant {
        /// The index read from the wire.
        index: u64,
        /// Where it was read.
        at: usize,
        /// The enum being decoded.
        type_path: &'static str,
    },
    /// A length prefix larger than the remaining input can hold.
    #[error("length {len} at byte {at} exceeds the {remaining} bytes left for `{type_path}`")]
    LengthOutOfBounds {
        /// The length read from the wire.
        len: u64,
        /// Bytes left after the prefix.
        remaining: usize,
        /// Where the prefix starts.
        at: usize,
        /// What was being decoded.
        type_path: &'static str,
    },
    /// The value nests deeper than the configured limit.
    #[error("input nests deeper than the limit of {limit} at byte {at}")]
    DepthLimitExceeded {
        /// The limit in force.
        limit: usize,
        /// Where the limit was hit.
        at: usize,
    },
    /// Decoding would allocate more than the configured budget.
    #[error("decoding would allocate more than the limit of {limit} bytes at byte {at}")]
    AllocLimitExceeded {
        /// The limit in force.
        limit: usize,
        /// Where the limit was hit.
        at: usize,
    },
    /// A codec-specific failure, named by the codec.
    #[error("{codec} codec: {message}")]
    Codec {
        /// The codec that failed.
        codec: &'static str,
        /// What went wrong, without payload bytes.
        message: String,
    },
}

/// Registering a codec in a [`CodecRegistry`](crate::CodecRegistry) failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Two codecs claim the same id.
    #[error("codec id {id} is claimed by both `{first}` and `{second}`")]
    DuplicateId {
        /// The contested id.
        id: CodecId,
        /// The codec registered first.
        first: &'static str,
        /// The codec that tried to register second.
        second: &'static str,
    },
}
