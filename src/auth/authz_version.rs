//! [`AuthzVersion`]: the server's current authorization version, which
//! revokes what was issued before it.

use std::sync::Arc;

use tokio::sync::watch;

/// The authorization version a server accepts credentials for. Tokens name
/// the version they were issued under (`authz_version`); an authenticator
/// built with this handle accepts only the current one. Bumping it revokes
/// every credential issued before: new connections must present a token of
/// the new version, and open connections authenticated with an older one
/// are asked to re-authenticate within the server's
/// [revocation grace](crate::server::ServerBuilder::revocation_grace);
/// then their calls and streams whose permission the new token lacks end
/// with `PERMISSION_DENIED`, and a connection that did not re-authenticate
/// is treated as expired.
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
    version: Arc<watch::Sender<u64>>,
}

impl AuthzVersion {
    /// A version starting at `version`.
    pub fn new(version: u64) -> AuthzVersion {
        AuthzVersion {
            version: Arc::new(watch::Sender::new(version)),
        }
    }

    /// The current version.
    pub fn current(&self) -> u64 {
        *self.version.borrow()
    }

    /// Moves to the next version and returns it.
    pub fn bump(&self) -> u64 {
        let mut bumped = 0;
        self.version.send_modify(|version| {
            *version = version.saturating_add(1);
            bumped = *version;
        });
        bumped
    }

    /// Moves to `version` if it is newer than the current one (a version
    /// learned from a policy store); returns whether it moved.
    pub fn advance_to(&self, version: u64) -> bool {
        self.version.send_if_modified(|current| {
            let newer = version > *current;
            if newer {
                *current = version;
            }
            newer
        })
    }

    /// Watches for new versions.
    pub(crate) fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}
