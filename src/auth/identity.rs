//! [`ChannelIdentity`]: who a channel authenticated as.

use std::collections::BTreeSet;
use std::time::SystemTime;

/// Who a channel authenticated as, bound to its connection at the
/// handshake by the server's [`Authenticator`](super::Authenticator).
/// Handlers read it with [`Context::identity`](crate::Context::identity).
///
/// It holds no credential, so its `Debug` output is safe to log.
///
/// # Examples
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use prism::auth::ChannelIdentity;
///
/// let identity = ChannelIdentity::new("spiffe://acme/worker")
///     .with_issuer("https://issuer.acme")
///     .with_audience("inference")
///     .with_tenant("acme")
///     .with_expiry(SystemTime::now() + Duration::from_secs(600))
///     .with_permissions(["model.infer", "model.read"]);
/// assert!(identity.has_permission("model.infer"));
/// assert!(!identity.has_permission("model.write"));
/// assert!(!identity.is_expired(SystemTime::now()));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChannelIdentity {
    subject: String,
    issuer: Option<String>,
    audience: Option<String>,
    token_type: Option<String>,
    tenant: Option<String>,
    authz_version: Option<u64>,
    expires_at: Option<SystemTime>,
    key_id: Option<String>,
    permissions: BTreeSet<String>,
    peer: Option<String>,
}

impl ChannelIdentity {
    /// An identity of `subject` with nothing else known and no permission.
    pub fn new(subject: impl Into<String>) -> ChannelIdentity {
        ChannelIdentity {
            subject: subject.into(),
            issuer: None,
            audience: None,
            token_type: None,
            tenant: None,
            authz_version: None,
            expires_at: None,
            key_id: None,
            permissions: BTreeSet::new(),
            peer: None,
        }
    }

    /// Sets who issued the credential.
    #[must_use]
    pub fn with_issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Sets the audience the credential was issued for.
    #[must_use]
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Sets the credential's type (such as a token profile).
    #[must_use]
    pub fn with_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.token_type = Some(token_type.into());
        self
    }

    /// Sets the tenant.
    #[must_use]
    pub fn with_tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// Sets the authorization version the credential was issued under.
    #[must_use]
    pub fn with_authz_version(mut self, version: u64) -> Self {
        self.authz_version = Some(version);
        self
    }

    /// Sets when the identity stops being valid.
    #[must_use]
    pub fn with_expiry(mut self, expires_at: SystemTime) -> Self {
        self.expires_at = Some(expires_at);
        self
    }

    /// Sets the id of the key that verified the credential.
    #[must_use]
    pub fn with_key_id(mut self, key_id: impl Into<String>) -> Self {
        self.key_id = Some(key_id.into());
        self
    }

    /// Adds permissions.
    #[must_use]
    pub fn with_permissions<I, P>(mut self, permissions: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.permissions
            .extend(permissions.into_iter().map(Into::into));
        self
    }

    /// Sets the identity the link itself proved (such as a certificate's
    /// URI SAN under mTLS).
    #[must_use]
    pub fn with_peer(mut self, peer: impl Into<String>) -> Self {
        self.peer = Some(peer.into());
        self
    }

    /// The subject.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Who issued the credential.
    pub fn issuer(&self) -> Option<&str> {
        self.issuer.as_deref()
    }

    /// The audience the credential was issued for.
    pub fn audience(&self) -> Option<&str> {
        self.audience.as_deref()
    }

    /// The credential's type.
    pub fn token_type(&self) -> Option<&str> {
        self.token_type.as_deref()
    }

    /// The tenant.
    pub fn tenant(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// The authorization version the credential was issued under.
    pub fn authz_version(&self) -> Option<u64> {
        self.authz_version
    }

    /// When the identity stops being valid; `None`: it does not expire.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at
    }

    /// The id of the key that verified the credential.
    pub fn key_id(&self) -> Option<&str> {
        self.key_id.as_deref()
    }

    /// The permissions held.
    pub fn permissions(&self) -> impl Iterator<Item = &str> {
        self.permissions.iter().map(String::as_str)
    }

    /// Whether `permission` is held.
    pub fn has_permission(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
    }

    /// The identity the link proved, if it proved one.
    pub fn peer(&self) -> Option<&str> {
        self.peer.as_deref()
    }

    /// Whether the identity has expired at `now`.
    pub fn is_expired(&self, now: SystemTime) -> bool {
        self.expires_at.is_some_and(|at| at <= now)
    }
}
