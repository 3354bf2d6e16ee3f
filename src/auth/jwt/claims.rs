//! The claims Prism reads from (and writes into) a token.

use serde::{Deserialize, Serialize};

/// The token type Prism's issuer writes and its authenticator expects by
/// default, in the `token_type` claim. A token meant for something else (an
/// ID token, another system's access token) carries another type, or none,
/// and is refused even when it is signed by a trusted key.
pub const DEFAULT_TOKEN_TYPE: &str = "prism-access";

/// The claims of a Prism access token: the registered ones (RFC 7519) and
/// Prism's own (`token_type`, `tenant`, `authz_version`, `permissions`).
///
/// All are optional here, so that a token lacking one is refused by name
/// ("the token has no `aud` claim") instead of failing to parse.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Claims {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) iss: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) sub: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) aud: Option<Audience>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) exp: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) nbf: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) jti: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) token_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) tenant: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) authz_version: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) permissions: Option<Vec<String>>,
}

/// `aud`: one audience, or several (which Prism refuses: a token good for
/// several services can be replayed from one to another).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub(crate) enum Audience {
    One(String),
    Many(Vec<String>),
}
