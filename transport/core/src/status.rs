//! `Status`: why a call failed, in the manner of gRPC.

use core::any::{Any, type_name};
use core::fmt;
use std::sync::Arc;

use crate::Code;

/// Why a call ended without a value: a [`Code`] and a message, and, when a
/// stream ended with its op's own error, that error as a typed value.
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
#[derive(Clone)]
pub struct Status {
    code: Code,
    message: String,
    application: Option<Application>,
    /// The call was never processed by the peer (see
    /// [`Status::is_unprocessed`]); known to this side only, never sent.
    unprocessed: bool,
}

/// An op's application error riding in a [`Status`].
#[derive(Clone)]
struct Application {
    type_name: &'static str,
    error: Arc<dyn Any + Send + Sync>,
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
            application: None,
            unprocessed: false,
        }
    }

    /// This status, saying that the peer never processed the call: it
    /// never left this side, or the peer refused it before any handler
    /// saw it (above the last call a GOAWAY says it took). Set by the
    /// connection, never sent over the wire.
    #[must_use]
    pub fn unprocessed(mut self) -> Status {
        self.unprocessed = true;
        self
    }

    /// Whether the peer never processed the call, so sending it again
    /// (elsewhere, or on a new connection) cannot run it twice, whatever
    /// the op does. A reconnecting channel does so once by itself.
    pub fn is_unprocessed(&self) -> bool {
        self.unprocessed
    }

    /// A stream's end with its op's application error (`UNKNOWN`, as gRPC
    /// reports errors it has no code for): a handler of
    /// `-> Result<Streaming<T>, E>` ends its stream with
    /// `Status::application(e)` after some items, and the caller reads `e`
    /// back with [`Status::application_error`]. An error of another type
    /// than the op's `E` travels as its code and message only.
    ///
    /// # Examples
    ///
    /// ```
    /// use prism_core::{Code, Status};
    ///
    /// #[derive(Debug, PartialEq)]
    /// enum WatchError {
    ///     Gone,
    /// }
    ///
    /// let status = Status::application(WatchError::Gone);
    /// assert_eq!(status.code(), Code::Unknown);
    /// assert_eq!(status.application_error(), Some(&WatchError::Gone));
    /// assert_eq!(status.application_error::<String>(), None);
    /// ```
    pub fn application<E: Any + Send + Sync>(error: E) -> Status {
        Status::unknown("application error").with_application_error(error)
    }

    /// This status carrying `error`, the op's application error.
    pub fn with_application_error<E: Any + Send + Sync>(mut self, error: E) -> Status {
        self.application = Some(Application {
            type_name: type_name::<E>(),
            error: Arc::new(error),
        });
        self
    }

    /// The application error this status carries, if it is an `E`.
    pub fn application_error<E: Any>(&self) -> Option<&E> {
        self.application.as_ref()?.error.downcast_ref()
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

/// Equal when the codes, the messages and the types of the application
/// errors (if any) are; the errors' values and whether the call was
/// processed are not compared.
impl PartialEq for Status {
    fn eq(&self, other: &Status) -> bool {
        let kind = |s: &Status| s.application.as_ref().map(|a| (*a.error).type_id());
        self.code == other.code && self.message == other.message && kind(self) == kind(other)
    }
}

impl Eq for Status {}

/// Shows the application error's type, never its value (it may hold
/// payload data).
impl fmt::Debug for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut debug = f.debug_struct("Status");
        debug
            .field("code", &self.code)
            .field("message", &self.message);
        if let Some(application) = &self.application {
            debug.field("application_error", &application.type_name);
        }
        if self.unprocessed {
            debug.field("unprocessed", &true);
        }
        debug.finish()
    }
}

impl std::error::Error for Status {}
