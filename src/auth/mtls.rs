//! [`MtlsAuthenticator`]: the identity a client certificate proved.

use std::collections::{BTreeSet, HashMap};

use prism_transport::LinkInfo;

use super::{AuthError, AuthFuture, Authenticator, ChannelIdentity, Proof};

/// Authenticates a channel by the client certificate of its mutual-TLS
/// link: the identity is the certificate's URI SAN (a SPIFFE id such as
/// `spiffe://acme.internal/worker`), which must be inside the trust domain,
/// and its permissions are the ones granted to that identity here. The
/// identity expires with the certificate chain (its earliest `notAfter`):
/// after that, as for any expired identity, new calls fail
/// `UNAUTHENTICATED` and open ones end after the expiry grace. A
/// certificate cannot be renewed in band: a client with a fresh one
/// connects again.
///
/// A client that presents a proof (a token) instead is refused: pair a
/// [`JwtAuthenticator`](super::jwt::JwtAuthenticator) with
/// [`bind_to_peer`](super::jwt::JwtAuthenticatorBuilder::bind_to_peer) to
/// take both a token and a certificate, the token's subject bound to the
/// certificate's identity. A link that proved no identity (not mutual TLS)
/// is refused too. Serve it on a
/// [`TlsListener`](crate::tls::TlsListener) made from
/// [`ServerTls::mutual_from_pem`](crate::tls::ServerTls::mutual_from_pem).
///
/// # Examples
///
/// ```
/// use prism::auth::MtlsAuthenticator;
///
/// let mtls = MtlsAuthenticator::new("acme.internal")
///     .grant("spiffe://acme.internal/worker", ["jobs.run"])
///     .grant("spiffe://acme.internal/admin", ["jobs.run", "jobs.cancel"]);
/// let server = prism::Server::builder().authenticator(mtls).build()?;
/// # drop(server);
/// # Ok::<(), prism::BuildError>(())
/// ```
#[derive(Clone, Debug)]
pub struct MtlsAuthenticator {
    prefix: String,
    grants: HashMap<String, BTreeSet<String>>,
}

impl MtlsAuthenticator {
    /// Accepts certificates whose URI SAN is a SPIFFE id in
    /// `trust_domain` (`spiffe://<trust_domain>/…`).
    pub fn new(trust_domain: impl AsRef<str>) -> MtlsAuthenticator {
        MtlsAuthenticator {
            prefix: format!("spiffe://{}/", trust_domain.as_ref()),
            grants: HashMap::new(),
        }
    }

    /// Grants `permissions` to the certificate identity `identity`.
    #[must_use]
    pub fn grant<I, P>(mut self, identity: impl Into<String>, permissions: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.grants
            .entry(identity.into())
            .or_default()
            .extend(permissions.into_iter().map(Into::into));
        self
    }

    /// The identity the link proved, with its grants.
    ///
    /// # Errors
    ///
    /// The link proved no identity, or one outside the trust domain.
    pub fn identify(&self, link: &LinkInfo) -> Result<ChannelIdentity, AuthError> {
        let Some(peer) = link.peer_identity.as_deref() else {
            return Err(AuthError::new(
                "the link proved no identity: this server authenticates clients by mutual TLS",
            ));
        };
        if !peer.starts_with(&self.prefix) || peer.len() == self.prefix.len() {
            return Err(AuthError::new(format!(
                "the client certificate's identity is not in the trust domain `{}`",
                self.prefix.trim_end_matches('/')
            )));
        }
        let permissions = self.grants.get(peer).into_iter().flatten().cloned();
        let identity = ChannelIdentity::new(peer)
            .with_token_type("x509")
            .with_peer(peer)
            .with_permissions(permissions);
        Ok(match link.peer_identity_expiry {
            Some(expiry) => identity.with_expiry(expiry),
            None => identity,
        })
    }
}

impl Authenticator for MtlsAuthenticator {
    fn authenticate(&self, _proof: Proof, _link: &LinkInfo) -> AuthFuture {
        Box::pin(core::future::ready(Err(AuthError::new(
            "this server authenticates clients by certificate and reads no proof",
        ))))
    }

    fn authenticate_link(&self, link: &LinkInfo) -> Option<AuthFuture> {
        Some(Box::pin(core::future::ready(self.identify(link))))
    }
}
