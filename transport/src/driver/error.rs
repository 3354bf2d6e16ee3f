//! [`ConnectionError`]: why a connection ended.

use std::sync::Arc;

use prism_core::Code;
use prism_proto::session::SessionError;

use crate::LinkError;

/// Why a connection ended, kept for everyone who asks later: every handle
/// on a client connection reads it ([`Client::closed`](super::Client::closed)),
/// and calls made after the end report it.
///
/// Cheap to clone (the link error is shared).
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectionError {
    /// This side closed it: the last handle was dropped, the application
    /// asked, or the server shut down and every call finished.
    #[error("the connection was closed by this side")]
    LocallyClosed,
    /// The session ended it: the peer's goodbye after every call finished
    /// ([`SessionError::PeerGoneAway`]), the peer closing at once with its
    /// code and reason ([`SessionError::PeerClosed`]), a handshake that failed or was
    /// refused, a protocol violation, a timeout, or a link that closed
    /// under it.
    #[error(transparent)]
    Session(#[from] SessionError),
    /// The link failed: an i/o error, or bytes that are not frames.
    #[error(transparent)]
    Link(Arc<LinkError>),
    /// The connection's task panicked (a bug in Prism, or in a link
    /// adapter); every call on it failed.
    #[error("the connection task panicked: {message}")]
    Panicked {
        /// The panic's message, when it had one.
        message: String,
    },
    /// The connection's task was dropped before the connection ended: its
    /// runtime shut down.
    #[error("the connection task stopped before the connection ended (its runtime shut down)")]
    Stopped,
}

impl ConnectionError {
    /// Whether the connection ended as intended: closed by this side, by
    /// the peer's goodbye once every call finished, or for being idle.
    pub fn is_graceful(&self) -> bool {
        matches!(
            self,
            ConnectionError::LocallyClosed
                | ConnectionError::Session(
                    SessionError::PeerGoneAway { .. } | SessionError::IdleTimeout { .. }
                )
        )
    }

    /// Whether the connection ended because it was not needed: this
    /// side's idle timeout ([`SessionConfig::idle_timeout`]), or a peer's
    /// GOAWAY carrying `OK` once no call was open (the peer's idle timeout;
    /// a client that is done also says `OK`). Nothing failed.
    ///
    /// [`SessionConfig::idle_timeout`]: prism_proto::session::SessionConfig::idle_timeout
    pub fn is_idle(&self) -> bool {
        match self {
            ConnectionError::Session(SessionError::IdleTimeout { .. }) => true,
            ConnectionError::Session(SessionError::PeerGoneAway { code, .. }) => *code == Code::Ok,
            _ => false,
        }
    }

    /// The status a call gets when the connection ended before it could be
    /// made or answered: `UNAVAILABLE` (retrying elsewhere may help),
    /// naming the reason.
    pub fn status(&self) -> prism_core::Status {
        prism_core::Status::new(Code::Unavailable, format!("the connection closed: {self}"))
    }

    /// A panic's payload as a message.
    pub(crate) fn panicked(panic: &(dyn core::any::Any + Send)) -> ConnectionError {
        let message = if let Some(text) = panic.downcast_ref::<&str>() {
            (*text).to_owned()
        } else if let Some(text) = panic.downcast_ref::<String>() {
            text.clone()
        } else {
            String::from("(no message)")
        };
        ConnectionError::Panicked { message }
    }
}

impl From<LinkError> for ConnectionError {
    fn from(error: LinkError) -> ConnectionError {
        ConnectionError::Link(Arc::new(error))
    }
}
