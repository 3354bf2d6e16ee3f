//! `Status`: why a call failed, in the manner of gRPC.

use core::fmt;

#[doc(inline)]
pub use prism_transport::Code;

/// Why a call ended without a value: a [`Code`] and a message.
///
/// Messages describe what went wrong and name the op where it helps; they
/// never contain payload bytes or credentials.
///
/// # Examples
///
/// ```
/// use prism::{Code, Status};
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
        /// The request was malformed or could not be decoded.
        invalid_argument => InvalidArgument,
        /// The deadline passed.
        deadline_exceeded => DeadlineExceeded,
        /// No such op or resource.
        not_found => NotFound,
        /// The caller may not do this.
        permission_denied => PermissionDenied,
        /// A limit was hit.
        resource_exhausted => ResourceExhausted,
        /// The system is not in the state the op needs.
        failed_precondition => FailedPrecondition,
        /// Not implemented.
        unimplemented => Unimplemented,
        /// Something broke inside the server or the protocol.
        internal => Internal,
        /// The peer is unreachable or going away; retrying may help.
        unavailable => Unavailable,
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

impl From<prism_transport::driver::Failure> for Status {
    fn from(failure: prism_transport::driver::Failure) -> Status {
        Status::new(failure.code, failure.message)
    }
}
