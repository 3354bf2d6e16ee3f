//! [`Authenticator`]: the server's check of a client's proof.

use core::future::Future;
use core::pin::Pin;

use prism_transport::LinkInfo;

use super::{AuthzVersion, ChannelIdentity, Proof};

/// Why a proof was not accepted. The reason goes to the client in the
/// handshake's refusal (`UNAUTHENTICATED`) and may be logged: never put
/// the proof's bytes in it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{reason}")]
pub struct AuthError {
    reason: String,
}

impl AuthError {
    /// A refusal for `reason`.
    pub fn new(reason: impl Into<String>) -> AuthError {
        AuthError {
            reason: reason.into(),
        }
    }

    /// Why.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// The answer of an [`Authenticator`].
pub type AuthFuture =
    Pin<Box<dyn Future<Output = Result<ChannelIdentity, AuthError>> + Send + 'static>>;

/// Checks the proof a client presented in its handshake and says who it
/// is. Given to [`ServerBuilder::authenticator`]; run once per connection
/// that presents a proof, before the connection is accepted.
///
/// A function of the proof and the link is an authenticator too (a
/// synchronous check, such as a table of test tokens).
///
/// # Examples
///
/// ```
/// use prism::auth::{AuthError, ChannelIdentity, Proof};
/// use prism::transport::LinkInfo;
///
/// let tokens = |proof: Proof, _link: &LinkInfo| match proof.as_str() {
///     Some("worker-token") => Ok(ChannelIdentity::new("worker").with_permissions(["jobs.run"])),
///     _ => Err(AuthError::new("unknown token")),
/// };
/// let server = prism::Server::builder().authenticator(tokens).build()?;
/// # drop(server);
/// # Ok::<(), prism::BuildError>(())
/// ```
///
/// [`ServerBuilder::authenticator`]: crate::server::ServerBuilder::authenticator
pub trait Authenticator: Send + Sync + 'static {
    /// The identity `proof` establishes on a connection over `link`, or
    /// why it establishes none.
    fn authenticate(&self, proof: Proof, link: &LinkInfo) -> AuthFuture;

    /// The identity of a client that presented no proof, from what the
    /// link itself proved (a client certificate under mutual TLS).
    /// `None`, the default: such a client has no identity and calls public
    /// ops only.
    fn authenticate_link(&self, link: &LinkInfo) -> Option<AuthFuture> {
        let _ = link;
        None
    }

    /// The authorization version the identities it establishes are checked
    /// against, if it keeps one: a server watches it, and asks connections
    /// authenticated under an older version to re-authenticate. `None`,
    /// the default: nothing is revoked that way.
    fn authz_version(&self) -> Option<AuthzVersion> {
        None
    }
}

impl<F> Authenticator for F
where
    F: Fn(Proof, &LinkInfo) -> Result<ChannelIdentity, AuthError> + Send + Sync + 'static,
{
    fn authenticate(&self, proof: Proof, link: &LinkInfo) -> AuthFuture {
        Box::pin(core::future::ready(self(proof, link)))
    }
}
