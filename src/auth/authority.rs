//! A connection's authority over time: the identity its proof
//! established, replaced by in-band re-authentication, and the guard that
//! watches its lifetime and revocations.
//!
//! The rules, which the README's Security section states for users:
//!
//! - An authentication holds until the identity's expiry, and one that a
//!   proof established for at most the server's maximum session lifetime;
//!   the client learns that lifetime in the ACCEPT and after each fresh
//!   proof, and presents the next one between 85% and 95% of it.
//! - A fresh proof must name the same subject, issuer, audience, tenant and
//!   token type as the first one; otherwise the connection closes
//!   (`UNAUTHENTICATED`). Accepted, it replaces the identity, and every
//!   open call and stream is authorized again: one whose permission the
//!   new identity lacks ends with `PERMISSION_DENIED`.
//! - Past the expiry, new calls of ops that need a permission fail
//!   `UNAUTHENTICATED`; the grace later, open ones end with it.
//! - An [`AuthzVersion`](super::AuthzVersion) bump makes connections of an
//!   older version stale: the client is asked for a fresh proof and given
//!   the revocation grace to present it; after that the connection is
//!   treated as expired.

use std::sync::{Arc, PoisonError, RwLock};
use std::time::{Duration, SystemTime};

use futures_util::stream;
use prism_core::Status;
use prism_proto::session::Lifetime;
use prism_transport::driver::{ConnectionInfo, Directive, Guard};
use tokio::sync::{Notify, watch};
use tokio::time::Instant;

use super::ChannelIdentity;

/// The default longest an authentication by proof holds: one hour.
pub const DEFAULT_MAX_SESSION_LIFETIME: Duration = Duration::from_secs(3600);
/// The default time a revoked connection has to re-authenticate.
pub const DEFAULT_REVOCATION_GRACE: Duration = Duration::from_secs(10);

/// How long authentications hold on a server, and what their end allows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Lifetimes {
    /// The longest an authentication by proof holds.
    pub(crate) max: Duration,
    /// How long open calls outlive an expired authentication.
    pub(crate) grace: Duration,
    /// How long a revoked connection has to re-authenticate.
    pub(crate) revocation: Duration,
}

impl Default for Lifetimes {
    fn default() -> Self {
        Lifetimes {
            max: DEFAULT_MAX_SESSION_LIFETIME,
            grace: Duration::ZERO,
            revocation: DEFAULT_REVOCATION_GRACE,
        }
    }
}

/// What one connection may do now: the identity it holds, which a fresh
/// proof replaces. Kept in the connection's extensions; every call reads
/// the identity once, when it is routed.
pub(crate) struct Authority {
    identity: RwLock<Arc<ChannelIdentity>>,
    /// The identity the handshake established: whom a fresh proof must
    /// name again.
    first: Arc<ChannelIdentity>,
    /// A proof established it, so a fresh one may replace it (an identity
    /// the link alone proved cannot be renewed in band).
    renewable: bool,
    /// Wakes the guard when the identity changed.
    changed: Notify,
}

impl Authority {
    pub(crate) fn new(identity: ChannelIdentity, renewable: bool) -> Arc<Authority> {
        let identity = Arc::new(identity);
        Arc::new(Authority {
            identity: RwLock::new(Arc::clone(&identity)),
            first: identity,
            renewable,
            changed: Notify::new(),
        })
    }

    /// The identity as of now.
    pub(crate) fn identity(&self) -> Arc<ChannelIdentity> {
        Arc::clone(&self.identity.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Whether a fresh proof may replace the identity.
    pub(crate) fn is_renewable(&self) -> bool {
        self.renewable
    }

    /// Replaces the identity with the one a fresh proof established, which
    /// must name the same principal.
    ///
    /// # Errors
    ///
    /// `UNAUTHENTICATED`, naming what changed.
    pub(crate) fn renew(&self, identity: ChannelIdentity) -> Result<(), Status> {
        let first = &self.first;
        let fields = [
            ("subject", Some(first.subject()), Some(identity.subject())),
            ("issuer", first.issuer(), identity.issuer()),
            ("audience", first.audience(), identity.audience()),
            ("tenant", first.tenant(), identity.tenant()),
            ("token type", first.token_type(), identity.token_type()),
        ];
        if let Some((field, _, _)) = fields.iter().find(|(_, was, now)| was != now) {
            return Err(Status::unauthenticated(format!(
                "re-authentication failed: the fresh credentials name another {field}"
            )));
        }
        self.set(identity);
        Ok(())
    }

    /// Makes the identity expire by `at`, if it would expire later.
    fn expire_by(&self, at: SystemTime) {
        let identity = self.identity();
        if identity.expires_at().is_none_or(|expiry| expiry > at) {
            self.set((*identity).clone().with_expiry(at));
        }
    }

    fn set(&self, identity: ChannelIdentity) {
        *self
            .identity
            .write()
            .unwrap_or_else(PoisonError::into_inner) = Arc::new(identity);
        self.changed.notify_one();
    }
}

/// The identity of the connection behind `connection`, as of now.
pub(crate) fn identity_of(connection: &ConnectionInfo) -> Option<Arc<ChannelIdentity>> {
    (connection.extensions)
        .get::<Arc<Authority>>()
        .map(|authority| authority.identity())
}

/// `identity`, expiring no later than `max` after `now` when a proof
/// established it.
pub(crate) fn bounded(identity: ChannelIdentity, by_proof: bool, max: Duration) -> ChannelIdentity {
    let Some(limit) = SystemTime::now().checked_add(max).filter(|_| by_proof) else {
        return identity;
    };
    match identity.expires_at() {
        Some(expiry) if expiry <= limit => identity,
        _ => identity.with_expiry(limit),
    }
}

/// How long `identity` holds from now, for the client; `None`: it does
/// not expire.
pub(crate) fn lifetime(identity: &ChannelIdentity) -> Option<Lifetime> {
    let expiry = identity.expires_at()?;
    let left = expiry
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    Some(Lifetime::new(left))
}

/// The instant `at` falls on, on tokio's clock; `None` when it is beyond
/// what the clock holds.
fn instant_of(at: SystemTime) -> Option<Instant> {
    let left = at
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    Instant::now().checked_add(left)
}

/// What the guard of one connection watches.
struct Watch {
    authority: Arc<Authority>,
    lifetimes: Lifetimes,
    /// The server's authorization version, if it keeps one.
    version: Option<watch::Receiver<u64>>,
    /// The current identity's expiry was already acted on.
    expired: bool,
}

/// The guard of a connection: a recheck of its open calls once the grace
/// after its identity's expiry passed, and a request for a fresh proof
/// when the authorization version moves past the identity's.
pub(crate) fn guard(
    authority: Arc<Authority>,
    lifetimes: Lifetimes,
    version: Option<watch::Receiver<u64>>,
) -> Guard {
    let watch = Watch {
        authority,
        lifetimes,
        version,
        expired: false,
    };
    Box::pin(stream::unfold(watch, |mut watch| async move {
        let directive = watch.next().await;
        Some((directive, watch))
    }))
}

impl Watch {
    async fn next(&mut self) -> Directive {
        loop {
            let identity = self.authority.identity();
            let recheck_at = identity
                .expires_at()
                .filter(|_| !self.expired)
                .and_then(|expiry| expiry.checked_add(self.lifetimes.grace))
                .and_then(instant_of);
            tokio::select! {
                () = sleep_until(recheck_at) => {
                    self.expired = true;
                    return Directive::Recheck;
                }
                () = self.authority.changed.notified() => self.expired = false,
                current = changed(&mut self.version) => match current {
                    Some(current) if identity.authz_version().is_some_and(|v| v < current) => {
                        // Revoked: a fresh proof within the grace, or the
                        // connection counts as expired.
                        let window = self.lifetimes.revocation;
                        if let Some(by) = SystemTime::now().checked_add(window) {
                            self.authority.expire_by(by);
                        }
                        return Directive::RequestReauth(Some(Lifetime::new(window)));
                    }
                    Some(_) => {}
                    None => self.version = None,
                },
            }
        }
    }
}

/// Sleeps until `at`; forever without it.
pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => core::future::pending().await,
    }
}

/// The next authorization version; `None` once nobody can change it;
/// forever without one.
async fn changed(version: &mut Option<watch::Receiver<u64>>) -> Option<u64> {
    match version {
        Some(version) => {
            version.changed().await.ok()?;
            Some(*version.borrow_and_update())
        }
        None => core::future::pending().await,
    }
}
