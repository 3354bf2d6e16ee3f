//! A connection's authority over time: the identity its proof
//! established, replaced by in-band re-authentication, and the guard that
//! watches its lifetime and revocations.
//!
//! The rules, which the README's Security section states for users:
//!
//! - An authentication holds until the identity's expiry, and one that a
//!   proof established, on a connection where both sides re-authenticate
//!   in band, for at most the server's maximum session lifetime;
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
use prism_transport::rt::{self, Instant};
use tokio::sync::{Notify, watch};

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
    /// The identity, and how many fresh proofs replaced it so far.
    held: RwLock<Held>,
    /// The identity the handshake established: whom a fresh proof must
    /// name again.
    first: Arc<ChannelIdentity>,
    /// A proof established it, so a fresh one may replace it (an identity
    /// the link alone proved cannot be renewed in band).
    renewable: bool,
    /// Wakes the guard when the identity changed.
    changed: Notify,
}

/// The identity a connection holds now.
#[derive(Clone)]
struct Held {
    identity: Arc<ChannelIdentity>,
    /// Counts fresh proofs: the guard acts on a revocation once per proof.
    renewals: u64,
}

impl Authority {
    pub(crate) fn new(identity: ChannelIdentity, renewable: bool) -> Arc<Authority> {
        let identity = Arc::new(identity);
        Arc::new(Authority {
            held: RwLock::new(Held {
                identity: Arc::clone(&identity),
                renewals: 0,
            }),
            first: identity,
            renewable,
            changed: Notify::new(),
        })
    }

    /// The identity as of now.
    pub(crate) fn identity(&self) -> Arc<ChannelIdentity> {
        Arc::clone(&self.held().identity)
    }

    fn held(&self) -> Held {
        self.held
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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
        self.update(|held| {
            held.identity = Arc::new(identity);
            held.renewals += 1;
        });
        Ok(())
    }

    /// Makes the identity expire by `at`, if it would expire later.
    fn expire_by(&self, at: SystemTime) {
        self.update(|held| {
            if held.identity.expires_at().is_none_or(|expiry| expiry > at) {
                held.identity = Arc::new((*held.identity).clone().with_expiry(at));
            }
        });
    }

    fn update(&self, change: impl FnOnce(&mut Held)) {
        change(&mut self.held.write().unwrap_or_else(PoisonError::into_inner));
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
    let Some(limit) = crate::auth::now().checked_add(max).filter(|_| by_proof) else {
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
        .duration_since(crate::auth::now())
        .unwrap_or(Duration::ZERO);
    Some(Lifetime::new(left))
}

/// The instant `at` falls on, on tokio's clock; `None` when it is beyond
/// what the clock holds.
fn instant_of(at: SystemTime) -> Option<Instant> {
    let left = at
        .duration_since(crate::auth::now())
        .unwrap_or(Duration::ZERO);
    rt::now().checked_add(left)
}

/// What the guard of one connection watches.
struct Watch {
    authority: Arc<Authority>,
    lifetimes: Lifetimes,
    /// The server's authorization version, if it keeps one.
    version: Option<watch::Receiver<u64>>,
    /// The expiry whose recheck was issued: each expiry is acted on once.
    rechecked: Option<SystemTime>,
    /// The renewal whose revocation was acted on: each proof is asked to
    /// be replaced once.
    revoked: Option<u64>,
}

/// The guard of a connection: a recheck of its open calls once the grace
/// after its identity's expiry passed, and a request for a fresh proof
/// while the identity's authorization version is behind the server's.
pub(crate) fn guard(
    authority: Arc<Authority>,
    lifetimes: Lifetimes,
    version: Option<watch::Receiver<u64>>,
) -> Guard {
    let watch = Watch {
        authority,
        lifetimes,
        version,
        rechecked: None,
        revoked: None,
    };
    Box::pin(stream::unfold(watch, |mut watch| async move {
        let directive = watch.next().await;
        Some((directive, watch))
    }))
}

impl Watch {
    /// Each turn judges the identity and the version as they are now, so
    /// a proof accepted while the version moved, or a revocation racing a
    /// fresh proof, is judged on what holds, not on what was seen before.
    async fn next(&mut self) -> Directive {
        loop {
            let held = self.authority.held();
            let current = self.version.as_mut().map(|v| *v.borrow_and_update());
            let stale = (held.identity.authz_version())
                .zip(current)
                .is_some_and(|(held, current)| held < current);
            if stale && self.revoked != Some(held.renewals) {
                // Revoked: a fresh proof within the grace, or the
                // connection counts as expired.
                self.revoked = Some(held.renewals);
                let window = self.lifetimes.revocation;
                if let Some(by) = crate::auth::now().checked_add(window) {
                    self.authority.expire_by(by);
                }
                return Directive::RequestReauth(Some(Lifetime::new(window)));
            }
            let expiry = (held.identity.expires_at()).filter(|at| self.rechecked != Some(*at));
            let due = expiry.and_then(|at| at.checked_add(self.lifetimes.grace));
            tokio::select! {
                () = sleep_until(due.and_then(instant_of)) => {
                    // The wall clock decides, as it does for calls: a timer
                    // early by its measure waits again.
                    if due.is_some_and(|due| crate::auth::now() >= due) {
                        self.rechecked = expiry;
                        return Directive::Recheck;
                    }
                }
                () = self.authority.changed.notified() => {}
                alive = changed(&mut self.version) => {
                    if !alive {
                        self.version = None;
                    }
                }
            }
        }
    }
}

/// Sleeps until `at`; forever without it.
pub(crate) async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => rt::sleep_until(at).await,
        None => core::future::pending().await,
    }
}

/// Waits for the authorization version to move; `false` once nobody can
/// move it; forever without one.
async fn changed(version: &mut Option<watch::Receiver<u64>>) -> bool {
    match version {
        Some(version) => version.changed().await.is_ok(),
        None => core::future::pending().await,
    }
}

#[cfg(test)]
mod tests {
    use futures_util::StreamExt;

    use super::*;
    use crate::auth::AuthzVersion;

    fn of_version(version: u64) -> ChannelIdentity {
        ChannelIdentity::new("alice").with_authz_version(version)
    }

    fn requested(directive: Option<Directive>) -> bool {
        matches!(directive, Some(Directive::RequestReauth(_)))
    }

    /// Whether the guard says something within a moment.
    async fn says(guard: &mut Guard) -> Option<Directive> {
        tokio::time::timeout(Duration::from_millis(50), guard.next())
            .await
            .ok()
            .flatten()
    }

    #[tokio::test]
    async fn a_version_moved_before_the_guard_started_still_counts() {
        let version = AuthzVersion::new(1);
        let authority = Authority::new(of_version(1), true);
        // The bump lands between the verdict and the subscription.
        version.bump();
        let mut guard = guard(Arc::clone(&authority), Lifetimes::default(), {
            Some(version.subscribe())
        });
        assert!(requested(says(&mut guard).await));
        assert!(
            authority.identity().expires_at().is_some(),
            "made to expire"
        );
    }

    #[tokio::test]
    async fn a_stale_proof_accepted_after_a_bump_is_asked_again_once() {
        let version = AuthzVersion::new(1);
        let authority = Authority::new(of_version(1), true);
        let mut guard = guard(Arc::clone(&authority), Lifetimes::default(), {
            Some(version.subscribe())
        });
        assert!(says(&mut guard).await.is_none(), "nothing to say yet");
        version.bump();
        assert!(requested(says(&mut guard).await));
        assert!(says(&mut guard).await.is_none(), "asked once per proof");
        // A proof verified before the bump is accepted after it.
        authority.renew(of_version(1)).expect("the same principal");
        assert!(requested(says(&mut guard).await));
        // One of the new version settles it.
        authority.renew(of_version(2)).expect("the same principal");
        assert!(says(&mut guard).await.is_none());
        assert!(authority.identity().expires_at().is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn an_expiry_is_rechecked_once_after_the_grace() {
        let lifetimes = Lifetimes {
            grace: Duration::from_secs(10),
            ..Lifetimes::default()
        };
        let started = rt::now();
        let soon = crate::auth::now() + Duration::from_secs(60);
        let authority = Authority::new(ChannelIdentity::new("alice").with_expiry(soon), true);
        let mut guard = guard(Arc::clone(&authority), lifetimes, None);
        let directive = guard.next().await;
        assert!(matches!(directive, Some(Directive::Recheck)));
        // Exact but for the moment between the wall clock's two reads.
        let off = (rt::now() - started).abs_diff(Duration::from_secs(70));
        assert!(
            off < Duration::from_millis(10),
            "rechecked {off:?} away from the expiry plus the grace"
        );
        assert!(says(&mut guard).await.is_none(), "each expiry once");
    }

    #[test]
    fn a_fresh_proof_must_name_the_same_principal() {
        let authority = Authority::new(ChannelIdentity::new("alice").with_tenant("a"), true);
        let other = ChannelIdentity::new("alice").with_tenant("b");
        let refused = authority.renew(other).expect_err("another tenant");
        assert!(refused.message().contains("another tenant"), "{refused}");
        let mallory = ChannelIdentity::new("mallory").with_tenant("a");
        let refused = authority.renew(mallory).expect_err("another subject");
        assert!(refused.message().contains("another subject"), "{refused}");
        assert_eq!(authority.identity().subject(), "alice");
    }
}
