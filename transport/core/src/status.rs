//! `Status`: why a call failed, in the manner of gRPC.

use core::fmt;

use crate::Code;

/// Why a call ended without a value: a [`Code`] and a message.
///
/// Messages describe what went wrong and name the op where it helps; they
/// never contain payload bytes or credentials.
///
/// # Examples
///
/// ```
/// use prism_core::{Code, Status};
///
/// let status = Status::not_found("no such key");
/// assert_eq!(status.code(), Code::NotFound);
/// assert_eq!(status.to_string(), "NOT_FOUND: no such key");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Status {
    code: Code,
    message: String,
}

macro_rules! constructors {
    ($($(#[$doc:meta])* $name:ident => $code:ident,)*) => {
        $(
            $(#[$doc])*
            pub fn $name(message: impl Into<String>) -> Status {
                Status::new(Code::$code, message)
            }
        )*
    };
}

impl Status {
    /// A status with any code.
    pub fn new(code: Code, message: impl Into<String>) -> Status {
        Status {
            code,
            message: message.into(),
        }
    }

    /// The code.
    pub fn code(&self) -> Code {
        self.code
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    constructors! {
        /// The caller cancelled the call.
        cancelled => Cancelled,
        /// An error with no better code.
        unknown => Unknown,
        /// The request was malformed or could not be decoded.
        invalid_argument => InvalidArgument,
        /// The deadline passed.
        deadline_exceeded => DeadlineExceeded,
        /// No such op or resource.
        not_found => NotFound,
        /// The resource already exists.
        already_exists => AlreadyExists,
        /// The caller may not do this.
        permission_denied => PermissionDenied,
        /// A limit was hit.
        resource_exhausted => ResourceExhausted,
        /// The system is not in the state the op needs.
        failed_precondition => FailedPrecondition,
        /// Aborted, typically by a concurrency conflict.
        aborted => Aborted,
        /// A value was outside its valid range.
        out_of_range => OutOfRange,
        /// Not implemented.
        unimplemented => Unimplemented,
        /// Something broke inside the server or the protocol.
        internal => Internal,
        /// The peer is unreachable or going away; retrying may help.
        unavailable => Unavailable,
        /// Data was lost or corrupted.
        data_loss => DataLoss,
        /// The caller is not authenticated.
        unauthenticated => Unauthenticated,
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Status")
            .field("code", &self.code)
            .field("message", &self.message)
            .finish()
    }
}

impl std::error::Error for Status {}
