//! [`CredentialSource`]: where a client gets the proof it presents, and
//! [`CachedCredentials`], which reuses it until shortly before it expires.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::{AuthError, Proof};

/// The answer of a [`CredentialSource`].
pub type CredentialFuture =
    Pin<Box<dyn Future<Output = Result<Proof, AuthError>> + Send + 'static>>;

/// Gives a client the proof to present when it connects, for the audience
/// it names ([`ChannelBuilder::audience`]). Given to
/// [`ChannelBuilder::credentials`]; asked once per connection, and again
/// before each in-band re-authentication (so wrap a source that mints
/// tokens in [`CachedCredentials`]).
///
/// A [`Proof`] is a source of itself.
///
/// [`ChannelBuilder::audience`]: crate::client::ChannelBuilder::audience
/// [`ChannelBuilder::credentials`]: crate::client::ChannelBuilder::credentials
pub trait CredentialSource: Send + Sync + 'static {
    /// A proof for `audience` (`None` when the channel names none).
    fn credential(&self, audience: Option<&str>) -> CredentialFuture;

    /// A proof for `audience` that no cache may answer: the server asked
    /// for a fresh one (its authorization moved on, and a cached proof may
    /// name the old one). The default asks [`credential`](Self::credential).
    fn refresh(&self, audience: Option<&str>) -> CredentialFuture {
        self.credential(audience)
    }
}

impl CredentialSource for Proof {
    fn credential(&self, _audience: Option<&str>) -> CredentialFuture {
        Box::pin(core::future::ready(Ok(self.clone())))
    }
}

/// How long before its expiry a cached proof is replaced, as a share of its
/// lifetime: a proof is refreshed once less than a fifth of it is left.
const REFRESH_AT_REMAINING: f64 = 0.2;

/// How long a proof of unknown expiry is reused unless set otherwise.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);

/// A [`CredentialSource`] that asks another one once per audience and
/// reuses the proof until shortly before it expires: once less than a
/// fifth of its lifetime is left it is fetched again (a proof of unknown
/// expiry is refreshed after [`DEFAULT_MAX_AGE`]). Fetches are
/// single-flight: many channels connecting at once for one audience wait
/// for one fetch. If a refresh fails while the old proof is still valid
/// (before its expiry; always, for a proof of unknown expiry), the old one
/// is used and the next request tries again.
///
/// # Examples
///
/// ```
/// use prism::auth::{CachedCredentials, CredentialSource, Proof};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let source = CachedCredentials::new(Proof::bearer("token"));
/// let proof = source.credential(Some("inference")).await?;
/// assert_eq!(proof.as_str(), Some("token"));
/// # Ok::<(), prism::auth::AuthError>(())
/// # }).unwrap();
/// ```
pub struct CachedCredentials<S> {
    inner: Arc<Cache<S>>,
    /// How long a proof of unknown expiry is reused.
    max_age: Duration,
}

struct Cache<S> {
    source: S,
    entries: Mutex<HashMap<Option<String>, Slot>>,
}

/// One audience's cached proof, locked while it is fetched.
type Slot = Arc<tokio::sync::Mutex<Option<Cached>>>;

#[derive(Clone)]
struct Cached {
    proof: Proof,
    fetched: SystemTime,
}

impl<S> Clone for CachedCredentials<S> {
    fn clone(&self) -> Self {
        CachedCredentials {
            inner: Arc::clone(&self.inner),
            max_age: self.max_age,
        }
    }
}

impl<S> fmt::Debug for CachedCredentials<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CachedCredentials")
            .field("max_age", &self.max_age)
            .finish_non_exhaustive()
    }
}

impl<S: CredentialSource> CachedCredentials<S> {
    /// Caches what `source` gives.
    pub fn new(source: S) -> CachedCredentials<S> {
        CachedCredentials {
            inner: Arc::new(Cache {
                source,
                entries: Mutex::new(HashMap::new()),
            }),
            max_age: DEFAULT_MAX_AGE,
        }
    }

    /// How long a proof of unknown expiry is reused (default
    /// [`DEFAULT_MAX_AGE`]) by this handle.
    #[must_use]
    pub fn with_max_age(mut self, max_age: Duration) -> Self {
        self.max_age = max_age;
        self
    }
}

impl Cached {
    /// Whether it is still good to hand out at `now` without a refresh.
    fn fresh(&self, now: SystemTime, max_age: Duration) -> bool {
        let refresh_at = match self.proof.expires_at() {
            Some(expires) => {
                let lifetime = expires
                    .duration_since(self.fetched)
                    .unwrap_or(Duration::ZERO);
                expires
                    .checked_sub(lifetime.mul_f64(REFRESH_AT_REMAINING))
                    .unwrap_or(expires)
            }
            None => self.fetched.checked_add(max_age).unwrap_or(self.fetched),
        };
        now < refresh_at
    }

    /// Whether it may still be handed out at `now` when a refresh failed.
    fn usable(&self, now: SystemTime) -> bool {
        self.proof.expires_at().is_none_or(|at| now < at)
    }
}

impl<S: CredentialSource> CredentialSource for CachedCredentials<S> {
    fn credential(&self, audience: Option<&str>) -> CredentialFuture {
        self.fetch(audience, false)
    }

    /// Fetches a new proof (unless one was fetched since this was asked),
    /// and caches it.
    fn refresh(&self, audience: Option<&str>) -> CredentialFuture {
        self.fetch(audience, true)
    }
}

impl<S: CredentialSource> CachedCredentials<S> {
    fn fetch(&self, audience: Option<&str>, force: bool) -> CredentialFuture {
        let (inner, max_age) = (Arc::clone(&self.inner), self.max_age);
        let key = audience.map(str::to_owned);
        let asked = crate::auth::now();
        Box::pin(async move {
            let slot = {
                let mut entries = inner.entries.lock().unwrap_or_else(PoisonError::into_inner);
                Arc::clone(entries.entry(key.clone()).or_default())
            };
            // One fetch per audience at a time: the others wait here and
            // find it done.
            let mut cached = slot.lock().await;
            let now = crate::auth::now();
            if let Some(entry) = cached.as_ref() {
                let usable = match force {
                    true => entry.fetched >= asked,
                    false => entry.fresh(now, max_age),
                };
                if usable {
                    return Ok(entry.proof.clone());
                }
            }
            let fetched = match force {
                true => inner.source.refresh(key.as_deref()).await,
                false => inner.source.credential(key.as_deref()).await,
            };
            match fetched {
                Ok(proof) => {
                    *cached = Some(Cached {
                        proof: proof.clone(),
                        fetched: now,
                    });
                    Ok(proof)
                }
                Err(e) => match cached.as_ref() {
                    Some(entry) if !force && entry.usable(now) => {
                        tracing::warn!(error = %e, "refreshing a credential failed; the cached one is still valid");
                        Ok(entry.proof.clone())
                    }
                    _ => Err(e),
                },
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    /// Counts fetches; fails from fetch `fail_from` on; each proof expires
    /// after `lifetime` (none: unknown expiry).
    struct Counting {
        fetches: Arc<AtomicUsize>,
        lifetime: Option<Duration>,
        fail_from: usize,
    }

    impl CredentialSource for Counting {
        fn credential(&self, audience: Option<&str>) -> CredentialFuture {
            let n = self.fetches.fetch_add(1, Ordering::SeqCst);
            let (lifetime, fail) = (self.lifetime, n >= self.fail_from);
            let token = format!("{}-{n}", audience.unwrap_or("none"));
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if fail {
                    return Err(AuthError::new("the issuer is down"));
                }
                let proof = Proof::bearer(token);
                Ok(match lifetime {
                    Some(lifetime) => proof.with_expiry(crate::auth::now() + lifetime),
                    None => proof,
                })
            })
        }
    }

    fn counting(lifetime: Option<Duration>, fail_from: usize) -> (Arc<AtomicUsize>, Counting) {
        let fetches = Arc::new(AtomicUsize::new(0));
        let source = Counting {
            fetches: Arc::clone(&fetches),
            lifetime,
            fail_from,
        };
        (fetches, source)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn many_connects_share_one_fetch_per_audience() {
        let (fetches, source) = counting(Some(Duration::from_secs(3600)), usize::MAX);
        let cache = CachedCredentials::new(source);
        let asks = (0..32).map(|i| {
            let cache = cache.clone();
            let audience = if i % 2 == 0 { "a" } else { "b" };
            tokio::spawn(async move { cache.credential(Some(audience)).await })
        });
        for ask in futures_util::future::join_all(asks).await {
            let proof = ask.expect("task").expect("proof");
            assert!(matches!(
                proof.as_str(),
                Some("a-0" | "a-1" | "b-0" | "b-1")
            ));
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 2, "one fetch per audience");
        let again = cache.credential(Some("a")).await.expect("proof");
        assert!(again.as_str().is_some_and(|t| t.starts_with("a-")));
        assert_eq!(fetches.load(Ordering::SeqCst), 2, "still cached");
    }

    #[tokio::test]
    async fn a_proof_near_its_expiry_is_fetched_again() {
        // Expiring at once: never fresh, so every ask fetches.
        let (fetches, source) = counting(Some(Duration::ZERO), usize::MAX);
        let cache = CachedCredentials::new(source);
        for _ in 0..3 {
            cache.credential(None).await.expect("proof");
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_failed_refresh_keeps_a_valid_proof_and_an_expired_one_is_not_used() {
        // Unknown expiry, max age zero: refreshed on every ask, still valid.
        let (fetches, source) = counting(None, 1);
        let cache = CachedCredentials::new(source).with_max_age(Duration::ZERO);
        let first = cache.credential(None).await.expect("proof");
        let second = cache.credential(None).await.expect("the cached proof");
        assert_eq!(first, second);
        assert_eq!(fetches.load(Ordering::SeqCst), 2, "the refresh was tried");

        // Expired at once, and the refresh fails: no proof.
        let (_, source) = counting(Some(Duration::ZERO), 1);
        let cache = CachedCredentials::new(source);
        cache.credential(None).await.expect("proof");
        let refused = cache.credential(None).await;
        assert!(refused.is_err(), "an expired proof is never handed out");
    }
}
