//! JSON Web Tokens: [`JwtAuthenticator`] verifies them on a server,
//! [`TokenIssuer`] signs them.
//!
//! Built on [`jsonwebtoken`] 10 with its RustCrypto backend (pure Rust: no
//! C toolchain, and the same code on every target), which Prism uses for
//! the signature alone: every claim is required and checked here, because
//! `jsonwebtoken` checks `aud`, `iss` and `sub` only when present and never
//! checks a token type.
//!
//! A token's claims: `iss`, `sub`, `aud` (one audience), `exp`, optional
//! `nbf` and `iat`, and Prism's own `token_type`, `tenant`,
//! `authz_version` and `permissions` (an array of strings).

mod authenticator;
mod claims;
mod issuer;
mod keys;

pub use authenticator::{DEFAULT_LEEWAY, JwtAuthenticator, JwtAuthenticatorBuilder, MAX_LEEWAY};
pub use claims::DEFAULT_TOKEN_TYPE;
pub use issuer::{DEFAULT_TOKEN_LIFETIME, TokenIssuer, TokenRequest};
pub use jsonwebtoken::Algorithm;
pub use keys::{JwtKey, SigningKey};
