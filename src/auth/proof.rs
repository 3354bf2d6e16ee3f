//! [`Proof`]: what a client presents once, in its HELLO.

use core::fmt;
use std::time::SystemTime;

use bytes::Bytes;

/// The HELLO extension kind that carries a client's proof.
pub const PROOF_EXTENSION: u16 = 1;

/// The largest proof a server reads (16 KiB); a larger one ends the
/// handshake before any authenticator sees it.
pub const MAX_PROOF_LEN: usize = 16 << 10;

/// What a client presents to authenticate its channel: a bearer token,
/// such as a JWT. Opaque to Prism; the server's
/// [`Authenticator`](super::Authenticator) reads it.
///
/// `Debug` shows its length, never its bytes.
///
/// # Examples
///
/// ```
/// use prism::auth::Proof;
///
/// let proof = Proof::bearer("secret-token");
/// assert_eq!(proof.as_bytes(), b"secret-token");
/// assert_eq!(format!("{proof:?}"), "Proof { len: 12, .. }");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Proof {
    bytes: Bytes,
    expires_at: Option<SystemTime>,
}

impl Proof {
    /// A bearer token.
    pub fn bearer(token: impl Into<String>) -> Proof {
        Proof::from_bytes(Bytes::from(token.into()))
    }

    /// A proof of raw bytes.
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Proof {
        Proof {
            bytes: bytes.into(),
            expires_at: None,
        }
    }

    /// The same proof, known to expire at `at` (a token's `exp`): a
    /// [`CachedCredentials`](super::CachedCredentials) refreshes it before
    /// then. Only the client reads this; it is not sent.
    #[must_use]
    pub fn with_expiry(mut self, at: SystemTime) -> Proof {
        self.expires_at = Some(at);
        self
    }

    /// When the proof expires, if known.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The proof's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// The proof as UTF-8 text, as a bearer token is; `None` otherwise.
    pub fn as_str(&self) -> Option<&str> {
        core::str::from_utf8(&self.bytes).ok()
    }

    /// Its length in bytes.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    pub(crate) fn into_bytes(self) -> Bytes {
        self.bytes
    }
}

impl fmt::Debug for Proof {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Proof")
            .field("len", &self.bytes.len())
            .finish_non_exhaustive()
    }
}
