//! [`JwtAuthenticator`]: verifies a JWT proof into a [`ChannelIdentity`].

use std::collections::{BTreeSet, HashMap};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{decode, decode_header};
use prism_transport::LinkInfo;

use super::claims::{Audience, Claims, DEFAULT_TOKEN_TYPE};
use super::keys::JwtKey;
use crate::auth::{AuthError, AuthFuture, Authenticator, AuthzVersion, ChannelIdentity, Proof};

/// The clock skew tolerated on `exp` and `nbf` unless set otherwise.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(30);

/// The most clock skew a [`JwtAuthenticatorBuilder::leeway`] may allow.
pub const MAX_LEEWAY: Duration = Duration::from_secs(300);

/// Verifies JWT proofs, failing closed on everything the JWT trap list
/// warns about:
///
/// - the header's `kid` selects one key of the key set; a token without a
///   `kid`, or with one not in the set, is refused;
/// - the token is verified only with that key's own algorithm: `alg:
///   none`, or HMAC keyed with a public key, cannot pass;
/// - `iss`, `sub`, `aud` and `exp` are required, not just checked when
///   present; `iss` must be the configured issuer and `aud` exactly this
///   server's audience (a token for several audiences is refused: it could
///   be replayed from one service to another);
/// - the `token_type` claim must equal the expected type (default
///   [`DEFAULT_TOKEN_TYPE`]); the `typ` header may only say `JWT` or
///   `JOSE` (SPIFFE JWT-SVIDs allow no other), so the type cannot come
///   from it;
/// - `exp` and `nbf` hold within a bounded leeway (default 30 s, at most
///   five minutes);
/// - with [`tenant`](JwtAuthenticatorBuilder::tenant) set, the `tenant`
///   claim must equal it; with an [`AuthzVersion`], `authz_version` must be
///   the current version;
/// - a header naming critical extensions (`crit`) is refused: none is
///   understood.
///
/// The identity carries the token's subject, issuer, audience, type,
/// tenant, authz version, expiry (`exp` plus the leeway), key id and `permissions` (an array of
/// strings), and the link's own peer identity (a TLS client certificate's
/// one URI SAN). With [`bind_to_peer`](JwtAuthenticatorBuilder::bind_to_peer),
/// the subject must equal that peer identity (token and mTLS together).
///
/// Refusals name the claim that failed, never the token's bytes.
///
/// # Examples
///
/// ```
/// use prism::auth::jwt::{Algorithm, JwtAuthenticator, JwtKey};
///
/// let key = JwtKey::hmac("k1", Algorithm::HS256, b"a shared secret of 32 bytes or more")?;
/// let jwt = JwtAuthenticator::builder("https://issuer.acme", "inference")
///     .key(key)
///     .tenant("acme")
///     .build()?;
/// let server = prism::Server::builder().authenticator(jwt).build();
/// # drop(server);
/// # Ok::<(), prism::auth::AuthError>(())
/// ```
#[derive(Debug)]
pub struct JwtAuthenticator {
    issuer: String,
    audience: String,
    keys: HashMap<String, JwtKey>,
    token_type: String,
    tenant: Option<String>,
    authz_version: Option<AuthzVersion>,
    leeway: Duration,
    bind_to_peer: bool,
}

impl JwtAuthenticator {
    /// Starts an authenticator for tokens that `issuer` issued for
    /// `audience` (this server's service name).
    pub fn builder(
        issuer: impl Into<String>,
        audience: impl Into<String>,
    ) -> JwtAuthenticatorBuilder {
        JwtAuthenticatorBuilder {
            inner: JwtAuthenticator {
                issuer: issuer.into(),
                audience: audience.into(),
                keys: HashMap::new(),
                token_type: DEFAULT_TOKEN_TYPE.to_owned(),
                tenant: None,
                authz_version: None,
                leeway: DEFAULT_LEEWAY,
                bind_to_peer: false,
            },
            duplicate: None,
        }
    }

    /// The identity `token` establishes at `now` on `link`, or why none.
    ///
    /// # Errors
    ///
    /// Why the token was refused, naming the check that failed.
    pub fn verify(
        &self,
        token: &str,
        link: &LinkInfo,
        now: SystemTime,
    ) -> Result<ChannelIdentity, AuthError> {
        let header = decode_header(token).map_err(|e| match e.kind() {
            ErrorKind::InvalidAlgorithmName | ErrorKind::Json(_) => AuthError::new(
                "the token's header is malformed or names an algorithm Prism does not accept",
            ),
            _ => AuthError::new("the proof is not a JWT"),
        })?;
        if header.crit.is_some() {
            return Err(AuthError::new(
                "the token's header names critical extensions, which this server does not understand",
            ));
        }
        if let Some(typ) = &header.typ
            && !typ.eq_ignore_ascii_case("JWT")
            && !typ.eq_ignore_ascii_case("JOSE")
        {
            return Err(AuthError::new(
                "the token's `typ` header is neither JWT nor JOSE",
            ));
        }
        let Some(kid) = &header.kid else {
            return Err(AuthError::new("the token names no key (`kid`)"));
        };
        let Some(key) = self.keys.get(kid) else {
            return Err(AuthError::new(
                "the token's key id (`kid`) is not in this server's key set",
            ));
        };
        if header.alg != key.algorithm() {
            return Err(AuthError::new(format!(
                "the token says it is signed with {:?}, and its key `{}` verifies only {:?}",
                header.alg,
                key.id(),
                key.algorithm()
            )));
        }
        let claims = decode::<Claims>(token, key.decoding(), key.validation())
            .map_err(|e| match e.kind() {
                ErrorKind::InvalidSignature => AuthError::new("the token's signature is invalid"),
                ErrorKind::InvalidAlgorithm => AuthError::new(format!(
                    "the token is not signed with {:?}",
                    key.algorithm()
                )),
                _ => AuthError::new("the token's claims are malformed"),
            })?
            .claims;
        // The claims struct skips claims it does not name without reading
        // their values, so a number JSON parsers cannot represent could hide
        // there and another verifier of the same token would disagree.
        // Refuse any claims set that is not valid JSON as a whole.
        if jsonwebtoken::dangerous::insecure_decode::<serde_json::Value>(token).is_err() {
            return Err(AuthError::new(
                "the token's claims are not valid JSON (a value no JSON parser can represent)",
            ));
        }
        self.check(claims, key, link, now)
    }

    fn check(
        &self,
        claims: Claims,
        key: &JwtKey,
        link: &LinkInfo,
        now: SystemTime,
    ) -> Result<ChannelIdentity, AuthError> {
        let issuer = required(claims.iss, "iss")?;
        if issuer != self.issuer {
            return Err(AuthError::new(format!(
                "the token was issued by another issuer than `{}`",
                self.issuer
            )));
        }
        let subject = required(claims.sub, "sub")?;
        if subject.is_empty() {
            return Err(AuthError::new("the token's subject (`sub`) is empty"));
        }
        match required(claims.aud, "aud")? {
            Audience::One(audience) if audience == self.audience => {}
            Audience::Many(audiences) if audiences.len() == 1 && audiences[0] == self.audience => {}
            Audience::Many(audiences) if audiences.len() > 1 => {
                return Err(AuthError::new(format!(
                    "the token is for {} audiences; this server accepts only tokens for `{}` alone",
                    audiences.len(),
                    self.audience
                )));
            }
            _ => {
                return Err(AuthError::new(format!(
                    "the token is not for this server's audience `{}`",
                    self.audience
                )));
            }
        }
        // Claims are numbers a signer chose: add with checks, never panic.
        let expires = instant(required(claims.exp, "exp")?, "exp")?;
        // The leeway holds for as long as the channel uses the identity,
        // not only at this check.
        let expires = match expires.checked_add(self.leeway) {
            Some(end) if end > now => end,
            Some(_) => return Err(AuthError::new("the token has expired")),
            None => return Err(AuthError::new("the token's `exp` is out of range")),
        };
        if let Some(nbf) = claims.nbf {
            let not_before = instant(nbf, "nbf")?;
            if now
                .checked_add(self.leeway)
                .is_none_or(|late| late < not_before)
            {
                return Err(AuthError::new("the token is not valid yet (`nbf`)"));
            }
        }
        let token_type = required(claims.token_type, "token_type")?;
        if token_type != self.token_type {
            return Err(AuthError::new(format!(
                "the token is not of type `{}`",
                self.token_type
            )));
        }
        if let Some(tenant) = &self.tenant
            && claims.tenant.as_deref() != Some(tenant)
        {
            return Err(AuthError::new(format!(
                "the token is not for the tenant `{tenant}`"
            )));
        }
        if let Some(version) = &self.authz_version {
            let current = version.current();
            if claims.authz_version != Some(current) {
                return Err(AuthError::new(format!(
                    "the token was not issued under the current authorization version ({current})"
                )));
            }
        }
        let link_peer = link.peer_identity.as_deref();
        if self.bind_to_peer {
            match link_peer {
                Some(peer) if peer == subject => {}
                Some(_) => {
                    return Err(AuthError::new(
                        "the token's subject is not the identity the link's certificate proved",
                    ));
                }
                None => {
                    return Err(AuthError::new(
                        "the token must be bound to a link identity (mTLS), and the link proved none",
                    ));
                }
            }
        }
        let permissions: BTreeSet<String> =
            claims.permissions.unwrap_or_default().into_iter().collect();
        let mut identity = ChannelIdentity::new(subject)
            .with_issuer(issuer)
            .with_audience(self.audience.clone())
            .with_token_type(token_type)
            .with_expiry(bound_expiry(expires, link, self.bind_to_peer))
            .with_key_id(key.id())
            .with_permissions(permissions);
        if let Some(tenant) = claims.tenant {
            identity = identity.with_tenant(tenant);
        }
        if let Some(version) = claims.authz_version {
            identity = identity.with_authz_version(version);
        }
        if let Some(peer) = link_peer {
            identity = identity.with_peer(peer);
        }
        Ok(identity)
    }
}

impl Authenticator for JwtAuthenticator {
    fn authenticate(&self, proof: Proof, link: &LinkInfo) -> AuthFuture {
        let verdict = match proof.as_str() {
            Some(token) => self.verify(token, link, crate::auth::now()),
            None => Err(AuthError::new("the proof is not a JWT (not UTF-8)")),
        };
        Box::pin(core::future::ready(verdict))
    }

    fn authz_version(&self) -> Option<AuthzVersion> {
        self.authz_version.clone()
    }
}

/// A token bound to the link's certificate holds no longer than the
/// certificate does.
fn bound_expiry(expires: SystemTime, link: &LinkInfo, bound: bool) -> SystemTime {
    match link.peer_identity_expiry {
        Some(certificate) if bound => expires.min(certificate),
        _ => expires,
    }
}

/// The time `seconds` after the epoch names, if the clock can hold it.
fn instant(seconds: u64, name: &str) -> Result<SystemTime, AuthError> {
    UNIX_EPOCH
        .checked_add(Duration::from_secs(seconds))
        .ok_or_else(|| AuthError::new(format!("the token's `{name}` is out of range")))
}

fn required<T>(claim: Option<T>, name: &str) -> Result<T, AuthError> {
    claim.ok_or_else(|| AuthError::new(format!("the token has no `{name}` claim")))
}

/// Configures a [`JwtAuthenticator`].
#[derive(Debug)]
pub struct JwtAuthenticatorBuilder {
    inner: JwtAuthenticator,
    duplicate: Option<String>,
}

impl JwtAuthenticatorBuilder {
    /// Adds a key to the key set. Tokens name it by id (`kid`).
    pub fn key(mut self, key: JwtKey) -> Self {
        if self.inner.keys.contains_key(key.id()) {
            self.duplicate.get_or_insert_with(|| key.id().to_owned());
        }
        self.inner.keys.insert(key.id().to_owned(), key);
        self
    }

    /// The token type required in the `token_type` claim (default
    /// [`DEFAULT_TOKEN_TYPE`]).
    pub fn token_type(mut self, token_type: impl Into<String>) -> Self {
        self.inner.token_type = token_type.into();
        self
    }

    /// Requires the `tenant` claim to be `tenant`.
    pub fn tenant(mut self, tenant: impl Into<String>) -> Self {
        self.inner.tenant = Some(tenant.into());
        self
    }

    /// Requires the `authz_version` claim to be `version`'s current one:
    /// bumping it revokes older tokens.
    pub fn authz_version(mut self, version: AuthzVersion) -> Self {
        self.inner.authz_version = Some(version);
        self
    }

    /// The clock skew tolerated on `exp` and `nbf` (default
    /// [`DEFAULT_LEEWAY`], at most [`MAX_LEEWAY`]).
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.inner.leeway = leeway;
        self
    }

    /// Requires the token's subject to equal the identity the link proved
    /// (a TLS client certificate's URI SAN): a token stolen from one
    /// workload is useless over another's connection. The identity then
    /// expires no later than the certificate chain does.
    pub fn bind_to_peer(mut self) -> Self {
        self.inner.bind_to_peer = true;
        self
    }

    /// The authenticator.
    ///
    /// # Errors
    ///
    /// No key was given, two keys share an id, or the leeway is above
    /// [`MAX_LEEWAY`].
    pub fn build(self) -> Result<JwtAuthenticator, AuthError> {
        if let Some(id) = self.duplicate {
            return Err(AuthError::new(format!("two keys have the id `{id}`")));
        }
        if self.inner.keys.is_empty() {
            return Err(AuthError::new("a JWT authenticator needs at least one key"));
        }
        if self.inner.leeway > MAX_LEEWAY {
            return Err(AuthError::new(format!(
                "a leeway of {:?} is more than the {MAX_LEEWAY:?} allowed",
                self.inner.leeway
            )));
        }
        Ok(self.inner)
    }
}
