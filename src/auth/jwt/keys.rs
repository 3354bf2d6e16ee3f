//! Keys: [`JwtKey`] verifies, [`SigningKey`] signs; each is bound to one
//! key id and one algorithm.

use core::fmt;

use jsonwebtoken::errors::Result as JwtResult;
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey, EncodingKey, Validation};

use crate::auth::AuthError;

/// A key that verifies tokens: a key id, the one algorithm it accepts,
/// and the key. A token is checked against the key its header's `kid`
/// names, and only with that key's algorithm, so a token cannot choose
/// how it is verified (no `alg: none`, no HMAC keyed with a public key).
///
/// `Debug` shows the id and the algorithm, never key bytes.
///
/// # Examples
///
/// ```
/// use prism::auth::jwt::{Algorithm, JwtKey};
///
/// let key = JwtKey::hmac("k1", Algorithm::HS256, b"a shared secret of 32 bytes or more")?;
/// assert_eq!(key.id(), "k1");
/// # Ok::<(), prism::auth::AuthError>(())
/// ```
#[derive(Clone)]
pub struct JwtKey {
    id: String,
    algorithm: Algorithm,
    key: DecodingKey,
    /// The signature check with this key's one algorithm and nothing
    /// else, built once: every claim is checked by the authenticator.
    validation: Validation,
}

impl JwtKey {
    /// A public key in PEM for `algorithm` (RSA `RS*`/`PS*`, ECDSA `ES*`,
    /// or `EdDSA`).
    ///
    /// # Errors
    ///
    /// The PEM does not hold a key of `algorithm`'s family, or `algorithm`
    /// is an HMAC one (use [`JwtKey::hmac`]).
    pub fn from_pem(
        id: impl Into<String>,
        algorithm: Algorithm,
        pem: &[u8],
    ) -> Result<JwtKey, AuthError> {
        Ok(JwtKey::new(id.into(), algorithm, read_pem(algorithm, pem)?))
    }

    /// A shared secret for an HMAC `algorithm` (`HS256`, `HS384`,
    /// `HS512`), at least 32 bytes long.
    ///
    /// # Errors
    ///
    /// `algorithm` is not an HMAC one, or the secret is shorter than 32
    /// bytes.
    pub fn hmac(
        id: impl Into<String>,
        algorithm: Algorithm,
        secret: &[u8],
    ) -> Result<JwtKey, AuthError> {
        check_hmac(algorithm, secret)?;
        Ok(JwtKey::new(
            id.into(),
            algorithm,
            DecodingKey::from_secret(secret),
        ))
    }

    fn new(id: String, algorithm: Algorithm, key: DecodingKey) -> JwtKey {
        let mut validation = Validation::new(algorithm);
        validation.required_spec_claims.clear();
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.leeway = 0;
        JwtKey {
            id,
            algorithm,
            key,
            validation,
        }
    }

    /// The key id tokens name in their `kid` header.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The one algorithm this key verifies.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub(crate) fn decoding(&self) -> &DecodingKey {
        &self.key
    }

    pub(crate) fn validation(&self) -> &Validation {
        &self.validation
    }
}

impl fmt::Debug for JwtKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_key(f, "JwtKey", &self.id, self.algorithm)
    }
}

/// A key that signs tokens, for a [`TokenIssuer`](super::TokenIssuer):
/// a key id (written into each token's `kid`), an algorithm, the key.
///
/// `Debug` shows the id and the algorithm, never key bytes.
#[derive(Clone)]
pub struct SigningKey {
    id: String,
    algorithm: Algorithm,
    key: EncodingKey,
}

impl SigningKey {
    /// A private key in PEM (PKCS#8, or PKCS#1 for RSA) for `algorithm`.
    ///
    /// # Errors
    ///
    /// The PEM does not hold a private key of `algorithm`'s family, or
    /// `algorithm` is an HMAC one (use [`SigningKey::hmac`]).
    pub fn from_pem(
        id: impl Into<String>,
        algorithm: Algorithm,
        pem: &[u8],
    ) -> Result<SigningKey, AuthError> {
        Ok(SigningKey {
            id: id.into(),
            algorithm,
            key: read_pem(algorithm, pem)?,
        })
    }

    /// A shared secret for an HMAC `algorithm`, at least 32 bytes long.
    ///
    /// # Errors
    ///
    /// `algorithm` is not an HMAC one, or the secret is shorter than 32
    /// bytes.
    pub fn hmac(
        id: impl Into<String>,
        algorithm: Algorithm,
        secret: &[u8],
    ) -> Result<SigningKey, AuthError> {
        check_hmac(algorithm, secret)?;
        Ok(SigningKey {
            id: id.into(),
            algorithm,
            key: EncodingKey::from_secret(secret),
        })
    }

    /// The key id written into each token.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The algorithm it signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    pub(crate) fn encoding(&self) -> &EncodingKey {
        &self.key
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        debug_key(f, "SigningKey", &self.id, self.algorithm)
    }
}

/// A key type read from PEM by algorithm family: the verifying and the
/// signing keys alike.
trait PemKey: Sized {
    fn rsa(pem: &[u8]) -> JwtResult<Self>;
    fn ec(pem: &[u8]) -> JwtResult<Self>;
    fn ed(pem: &[u8]) -> JwtResult<Self>;
}

impl PemKey for DecodingKey {
    fn rsa(pem: &[u8]) -> JwtResult<Self> {
        DecodingKey::from_rsa_pem(pem)
    }
    fn ec(pem: &[u8]) -> JwtResult<Self> {
        DecodingKey::from_ec_pem(pem)
    }
    fn ed(pem: &[u8]) -> JwtResult<Self> {
        DecodingKey::from_ed_pem(pem)
    }
}

impl PemKey for EncodingKey {
    fn rsa(pem: &[u8]) -> JwtResult<Self> {
        EncodingKey::from_rsa_pem(pem)
    }
    fn ec(pem: &[u8]) -> JwtResult<Self> {
        EncodingKey::from_ec_pem(pem)
    }
    fn ed(pem: &[u8]) -> JwtResult<Self> {
        EncodingKey::from_ed_pem(pem)
    }
}

/// The key of `algorithm`'s family in `pem`; HMAC keys are secrets, not
/// PEM.
fn read_pem<K: PemKey>(algorithm: Algorithm, pem: &[u8]) -> Result<K, AuthError> {
    match algorithm.family() {
        AlgorithmFamily::Rsa => K::rsa(pem),
        AlgorithmFamily::Ec => K::ec(pem),
        AlgorithmFamily::Ed => K::ed(pem),
        AlgorithmFamily::Hmac => {
            return Err(AuthError::new(
                "an HMAC key is a shared secret, not a PEM key: use hmac()",
            ));
        }
    }
    .map_err(|e| AuthError::new(format!("cannot read the {algorithm:?} key: {e}")))
}

fn debug_key(
    f: &mut fmt::Formatter<'_>,
    name: &str,
    id: &str,
    algorithm: Algorithm,
) -> fmt::Result {
    f.debug_struct(name)
        .field("id", &id)
        .field("algorithm", &algorithm)
        .finish_non_exhaustive()
}

/// The shortest HMAC secret accepted: 256 bits, as RFC 7518 §3.2 asks of
/// HS256.
const MIN_HMAC_SECRET: usize = 32;

fn check_hmac(algorithm: Algorithm, secret: &[u8]) -> Result<(), AuthError> {
    if algorithm.family() != AlgorithmFamily::Hmac {
        return Err(AuthError::new(format!(
            "{algorithm:?} is not an HMAC algorithm: give its key in PEM"
        )));
    }
    if secret.len() < MIN_HMAC_SECRET {
        return Err(AuthError::new(format!(
            "an HMAC secret must be at least {MIN_HMAC_SECRET} bytes; this one is {}",
            secret.len()
        )));
    }
    Ok(())
}
