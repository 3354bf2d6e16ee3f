//! Who is calling, and what they may do.
//!
//! A channel authenticates once, at the handshake: the client presents a
//! [`Proof`] (from the [`CredentialSource`] it was built with), the server's
//! [`Authenticator`] checks it and binds the connection to a
//! [`ChannelIdentity`]. Every call and stream open is then authorized
//! against its op's declared access before anything is decoded: public ops
//! run for anyone; an op that needs a permission needs an identity (else
//! `UNAUTHENTICATED`) that the server's [`Authorizer`] accepts (else
//! `PERMISSION_DENIED`; by default, the identity must hold the permission).
//!
//! Everything fails closed: a server must be given an authenticator or be
//! built with [`ServerBuilder::allow_unauthenticated`]; a proof that does
//! not verify, or one sent to a server that cannot check it, ends the
//! handshake with `UNAUTHENTICATED`; an identity past its expiry calls
//! nothing but public ops. A proof travels in the client's HELLO and, to
//! renew an authentication before it expires, in band (re-authentication,
//! whose rules the `authority` module states), never with calls; no
//! `Debug` output shows its bytes.
//!
//! [`ServerBuilder::allow_unauthenticated`]: crate::server::ServerBuilder::allow_unauthenticated

mod authenticator;
pub(crate) mod authority;
mod authorizer;
mod authz_version;
mod clock;
mod credential;
mod identity;
#[cfg(feature = "jwt")]
pub mod jwt;
mod mtls;
mod proof;
mod topology;

pub use authenticator::{AuthError, AuthFuture, Authenticator};
pub use authority::{DEFAULT_MAX_SESSION_LIFETIME, DEFAULT_REVOCATION_GRACE};
pub use authorizer::{Authorizer, HeldPermissions};
pub use authz_version::AuthzVersion;
pub use clock::now;
pub use credential::{CachedCredentials, CredentialFuture, CredentialSource, DEFAULT_MAX_AGE};
pub use identity::ChannelIdentity;
pub use mtls::MtlsAuthenticator;
pub use proof::{MAX_PROOF_LEN, PROOF_EXTENSION, Proof};
pub use topology::{Topology, TopologyReport, UnknownGrant};

pub(crate) use authorizer::authorize;
