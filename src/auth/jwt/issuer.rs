//! [`TokenIssuer`]: signs Prism access tokens.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::{Header, encode};

use super::claims::{Audience, Claims, DEFAULT_TOKEN_TYPE};
use super::keys::SigningKey;
use crate::auth::{AuthError, Proof, Topology};

/// How long an issued token lives unless the request says otherwise.
pub const DEFAULT_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// Signs access tokens that a [`JwtAuthenticator`](super::JwtAuthenticator)
/// accepts: one issuer, one signing key (its id goes into each token's
/// `kid`), a token type (default [`DEFAULT_TOKEN_TYPE`]).
///
/// # Examples
///
/// ```
/// use prism::auth::jwt::{Algorithm, SigningKey, TokenIssuer};
///
/// let key = SigningKey::hmac("k1", Algorithm::HS256, b"a shared secret of 32 bytes or more")?;
/// let issuer = TokenIssuer::new("https://issuer.acme", key);
/// let proof = issuer
///     .request("spiffe://acme/worker", "inference")
///     .permissions(["model.infer"])
///     .issue()?;
/// assert!(!proof.is_empty());
/// # Ok::<(), prism::auth::AuthError>(())
/// ```
#[derive(Debug)]
pub struct TokenIssuer {
    issuer: String,
    key: SigningKey,
    token_type: String,
    lifetime: Duration,
    topology: Option<Topology>,
}

impl TokenIssuer {
    /// An issuer named `issuer` (the tokens' `iss`) signing with `key`.
    pub fn new(issuer: impl Into<String>, key: SigningKey) -> TokenIssuer {
        TokenIssuer {
            issuer: issuer.into(),
            key,
            token_type: DEFAULT_TOKEN_TYPE.to_owned(),
            lifetime: DEFAULT_TOKEN_LIFETIME,
            topology: None,
        }
    }

    /// Signs only what `topology` allows: a token for a caller and
    /// audience with an edge between them, with no permission beyond the
    /// edge's.
    #[must_use]
    pub fn with_topology(mut self, topology: Topology) -> Self {
        self.topology = Some(topology);
        self
    }

    /// The token type written into `token_type`.
    #[must_use]
    pub fn with_token_type(mut self, token_type: impl Into<String>) -> Self {
        self.token_type = token_type.into();
        self
    }

    /// How long tokens live (default [`DEFAULT_TOKEN_LIFETIME`]).
    #[must_use]
    pub fn with_lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// Starts a token for `subject` to call `audience`.
    pub fn request(
        &self,
        subject: impl Into<String>,
        audience: impl Into<String>,
    ) -> TokenRequest<'_> {
        TokenRequest {
            issuer: self,
            subject: subject.into(),
            audience: audience.into(),
            permissions: BTreeSet::new(),
            tenant: None,
            authz_version: None,
            lifetime: self.lifetime,
            not_before: None,
        }
    }

    fn sign(&self, request: TokenRequest<'_>, now: SystemTime) -> Result<Proof, AuthError> {
        if let Some(topology) = &self.topology {
            topology.allows(&request.subject, &request.audience, &request.permissions)?;
        }
        let seconds = |at: SystemTime| {
            at.duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs())
                .map_err(|_| AuthError::new("the clock is before 1970"))
        };
        let expires = now
            .checked_add(request.lifetime)
            .ok_or_else(|| AuthError::new("the token's lifetime is beyond any clock"))?;
        let claims = Claims {
            iss: Some(self.issuer.clone()),
            sub: Some(request.subject),
            aud: Some(Audience::One(request.audience)),
            exp: Some(seconds(expires)?),
            nbf: request.not_before.map(seconds).transpose()?,
            iat: Some(seconds(now)?),
            jti: None,
            token_type: Some(self.token_type.clone()),
            tenant: request.tenant,
            authz_version: request.authz_version,
            permissions: Some(request.permissions.into_iter().collect()),
        };
        let mut header = Header::new(self.key.algorithm());
        header.kid = Some(self.key.id().to_owned());
        let token = encode(&header, &claims, self.key.encoding())
            .map_err(|e| AuthError::new(format!("cannot sign the token: {e}")))?;
        Ok(Proof::bearer(token).with_expiry(expires))
    }
}

/// A token being requested from a [`TokenIssuer`].
#[derive(Debug)]
#[must_use = "a request does nothing until it is issued"]
pub struct TokenRequest<'a> {
    issuer: &'a TokenIssuer,
    subject: String,
    audience: String,
    permissions: BTreeSet<String>,
    tenant: Option<String>,
    authz_version: Option<u64>,
    lifetime: Duration,
    not_before: Option<SystemTime>,
}

impl TokenRequest<'_> {
    /// Grants permissions.
    pub fn permissions<I, P>(mut self, permissions: I) -> Self
    where
        I: IntoIterator<Item = P>,
        P: Into<String>,
    {
        self.permissions
            .extend(permissions.into_iter().map(Into::into));
        self
    }

    /// The tenant.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.tenant = Some(tenant.into());
        self
    }

    /// The authorization version the token is issued under.
    pub fn authz_version(mut self, version: u64) -> Self {
        self.authz_version = Some(version);
        self
    }

    /// How long this token lives (default: the issuer's lifetime).
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The token is not valid before `at`.
    pub fn not_before(mut self, at: SystemTime) -> Self {
        self.not_before = Some(at);
        self
    }

    /// Signs the token, valid from now.
    ///
    /// # Errors
    ///
    /// The issuer's topology does not allow it, or signing failed.
    pub fn issue(self) -> Result<Proof, AuthError> {
        self.issue_at(crate::auth::now())
    }

    /// Signs the token as if issued at `now` (for tests of expiry).
    ///
    /// # Errors
    ///
    /// The issuer's topology does not allow it, or signing failed.
    pub fn issue_at(self, now: SystemTime) -> Result<Proof, AuthError> {
        let issuer = self.issuer;
        issuer.sign(self, now)
    }
}
