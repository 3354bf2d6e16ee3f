//! The client's re-authentication task: one per authenticated channel
//! whose server re-authenticates in band. It presents a fresh proof at a
//! random point between 85% and 95% of the lifetime the server announced
//! (so many channels opened together do not all come back at once), and
//! at once when the server asks; it holds only a weak handle, so it never
//! keeps a channel open, and ends with the connection.

use std::hash::{BuildHasher, RandomState};
use std::sync::Arc;
use std::time::Duration;

use prism_core::Payload;
use prism_proto::session::{Features, LIFETIME_EXTENSION, Lifetime};
use prism_transport::driver::{Client, ReauthRequests, WeakClient};
use tokio::time::Instant;

use crate::auth::CredentialSource;
use crate::auth::authority::sleep_until;

/// The share of the lifetime after which the fresh proof goes out: drawn
/// between these for each proof.
const EARLIEST: f64 = 0.85;
const LATEST: f64 = 0.95;

/// The first wait after a credential source failed; it doubles up to
/// [`MAX_RETRY`], and never passes the lifetime's end.
const FIRST_RETRY: Duration = Duration::from_millis(100);
const MAX_RETRY: Duration = Duration::from_secs(30);

/// Starts the task for `client`, if both sides offered in-band
/// re-authentication (this side offered `ours`).
pub(crate) fn spawn(
    client: &Client,
    ours: Features,
    source: Arc<dyn CredentialSource>,
    audience: Option<String>,
) {
    let info = client.info();
    let both = ours.intersection(info.peer_hello.features);
    if !both.contains(Features::REAUTH) {
        return;
    }
    let lifetime = info
        .peer_accept
        .extensions
        .iter()
        .find(|ext| ext.kind == LIFETIME_EXTENSION)
        .and_then(|ext| Lifetime::decode(&ext.data).ok());
    let task = Task {
        client: client.downgrade(),
        requests: client.reauth_requests(),
        source,
        audience,
    };
    tokio::spawn(task.run(lifetime));
}

struct Task {
    client: WeakClient,
    requests: ReauthRequests,
    source: Arc<dyn CredentialSource>,
    audience: Option<String>,
}

impl Task {
    async fn run(mut self, mut lifetime: Option<Lifetime>) {
        let mut since = Instant::now();
        loop {
            let due = lifetime.and_then(|l| since.checked_add(l.remaining().mul_f64(share())));
            // Asked by the server: no cached proof will do.
            let asked = tokio::select! {
                () = sleep_until(due) => false,
                request = self.requests.next() => match request {
                    Some(_) => true,
                    None => return, // the connection ended
                },
            };
            let end = lifetime.and_then(|l| since.checked_add(l.remaining()));
            let Some(proof) = self.fetch(asked, end).await else {
                return;
            };
            let Some(client) = self.client.upgrade() else {
                return;
            };
            match client.reauthenticate(Payload::new(proof)).await {
                Ok(renewed) => {
                    lifetime = renewed;
                    since = Instant::now();
                }
                Err(status) => {
                    // Refused (the connection closes with the reason) or
                    // the connection ended.
                    tracing::warn!(%status, "re-authentication failed");
                    return;
                }
            }
        }
    }

    /// A fresh proof's bytes, retrying a failing source until `end`;
    /// `None` when there is none by then, or nobody holds the channel.
    async fn fetch(&self, asked: bool, end: Option<Instant>) -> Option<bytes::Bytes> {
        let mut wait = FIRST_RETRY;
        loop {
            self.client.upgrade()?;
            let audience = self.audience.as_deref();
            let fetched = match asked {
                true => self.source.refresh(audience).await,
                false => self.source.credential(audience).await,
            };
            match fetched {
                Ok(proof) => return Some(proof.into_bytes()),
                Err(error) => {
                    let retry = Instant::now() + wait;
                    if end.is_some_and(|end| retry >= end) {
                        tracing::warn!(%error, "no fresh credentials before the session's end");
                        return None;
                    }
                    tracing::warn!(%error, "fetching fresh credentials failed; retrying");
                    tokio::time::sleep_until(retry).await;
                    wait = (wait * 2).min(MAX_RETRY);
                }
            }
        }
    }
}

/// A share of the lifetime between [`EARLIEST`] and [`LATEST`], drawn anew
/// each time: jitter, not a secret, so the standard library's randomly
/// keyed hasher is source enough.
fn share() -> f64 {
    let bits = RandomState::new().hash_one(std::time::Instant::now());
    let unit = (bits >> 11) as f64 / (1u64 << 53) as f64;
    EARLIEST + (LATEST - EARLIEST) * unit
}
