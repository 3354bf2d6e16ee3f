//! [`AuthzVersion`]: the server's current authorization version, which
//! revokes what was issued before it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

/// The authorization version a server accepts credentials for. Tokens name
/// the version they were issued under (`authz_version`); an authenticator
/// built with this handle accepts only the current one. Bumping it refuses
/// every credential issued before to new connections, which must present a
/// token of the new version. Connections already open keep the identity
/// they authenticated with until it expires (revoking open connections
/// comes with in-band re-authentication).
///
/// Clones share one version.
///
/// # Examples
///
/// ```
/// use prism::auth::AuthzVersion;
///
/// let version = AuthzVersion::new(7);
/// let shared = version.clone();
/// assert_eq!(shared.bump(), 8);
/// assert_eq!(version.current(), 8);
/// assert!(!version.advance_to(5)); // never backwards
/// assert!(version.advance_to(12));
/// assert_eq!(shared.current(), 12);
/// ```
#[derive(Clone, Debug)]
pub struct AuthzVersion {
    version: Arc<AtomicU64>,
}

impl AuthzVersion {
    /// A version starting at `version`.
    pub fn new(version: u64) -> AuthzVersion {
        AuthzVersion {
            version: Arc::new(AtomicU64::new(version)),
        }
    }

    /// The current version.
    pub fn current(&self) -> u64 {
        self.version.load(Ordering::Acquire)
    }

    /// Moves to the next version (new connections then need a token of it)
    /// and returns it.
    pub fn bump(&self) -> u64 {
        self.version.fetch_add(1, Ordering::AcqRel) + 1
    }

    /// Moves to `version` if it is newer than the current one (a version
    /// learned from a policy store); returns whether it moved.
    pub fn advance_to(&self, version: u64) -> bool {
        self.version.fetch_max(version, Ordering::AcqRel) < version
    }
}
