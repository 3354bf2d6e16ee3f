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
use prism_transport::rt::{self, Instant};

use crate::auth::authority::sleep_until;
use crate::auth::{CredentialSource, MAX_PROOF_LEN};

/// The share of the lifetime after which the fresh proof goes out: drawn
/// between these for each proof.
const EARLIEST: f64 = 0.85;
const LATEST: f64 = 0.95;

/// The first wait after a credential source failed (or a proof could not
/// be sent); it doubles up to [`MAX_RETRY`].
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
    rt::spawn(task.run(lifetime));
}

struct Task {
    client: WeakClient,
    requests: ReauthRequests,
    source: Arc<dyn CredentialSource>,
    audience: Option<String>,
}

/// Where the task stands between proofs.
struct Schedule {
    /// When the current authentication ends; `None`: it does not.
    end: Option<Instant>,
    /// When the next proof goes out unasked; `None`: only when asked.
    due: Option<Instant>,
    /// The last proof presented, and whether it moved the end later: a
    /// source that keeps giving the same proof that moves nothing is asked
    /// to refresh, and then no longer presented unasked.
    last: Option<(bytes::Bytes, bool)>,
}

impl Schedule {
    fn new(lifetime: Option<Lifetime>) -> Schedule {
        let mut schedule = Schedule {
            end: None,
            due: None,
            last: None,
        };
        schedule.renewed(lifetime);
        schedule
    }

    /// The server accepted a proof: the next is due at a random share of
    /// the new lifetime.
    fn renewed(&mut self, lifetime: Option<Lifetime>) -> bool {
        let now = rt::now();
        let end = lifetime.and_then(|l| now.checked_add(l.remaining()));
        let moved = match (self.end, end) {
            (Some(was), Some(end)) => end > was,
            (Some(_), None) => true,
            (None, _) => false,
        };
        self.end = end;
        self.due = lifetime.and_then(|l| now.checked_add(l.remaining().mul_f64(share())));
        moved
    }
}

impl Task {
    async fn run(mut self, lifetime: Option<Lifetime>) {
        let mut schedule = Schedule::new(lifetime);
        let mut wait = FIRST_RETRY;
        loop {
            // Asked by the server: no cached proof will do.
            let asked = tokio::select! {
                () = sleep_until(schedule.due) => false,
                request = self.requests.next() => match request {
                    Some(_) => true,
                    None => return, // the connection ended
                },
            };
            let stuck = schedule.last.as_ref().is_some_and(|(_, moved)| !moved);
            let Some(proof) = self.fetch(asked || stuck).await else {
                return;
            };
            if !asked
                && stuck
                && schedule
                    .last
                    .as_ref()
                    .is_some_and(|(last, _)| *last == proof)
            {
                // The same proof again, which moved nothing last time:
                // presenting it is pointless until the server asks.
                tracing::warn!(
                    "the credential source gives no fresher proof; re-authenticating only when the server asks"
                );
                schedule.due = None;
                continue;
            }
            let Some(client) = self.client.upgrade() else {
                return;
            };
            // Sent at once; the strong handle goes before the answer comes.
            let answer = client.reauthenticate(Payload::new(proof.clone()));
            drop(client);
            match answer.await {
                Ok(renewed) => {
                    let moved = schedule.renewed(renewed);
                    schedule.last = Some((proof, moved));
                    wait = FIRST_RETRY;
                }
                Err(status) => {
                    let Some(client) = self.client.upgrade().filter(|c| !c.is_closed()) else {
                        // Refused (the connection closed with the reason),
                        // or the connection ended.
                        tracing::warn!(%status, "re-authentication failed");
                        return;
                    };
                    drop(client);
                    // Not sent (one already waited for its answer): again
                    // shortly.
                    tracing::debug!(%status, "re-authentication not sent; retrying");
                    schedule.due = Some(rt::now() + wait);
                    wait = (wait * 2).min(MAX_RETRY);
                }
            }
        }
    }

    /// A fresh proof's bytes (`fresh`: one no cache may answer), retrying
    /// a failing source with backoff, past the authentication's end too (a
    /// proof that comes late still restores the channel); `None` once
    /// nobody holds the channel.
    async fn fetch(&self, fresh: bool) -> Option<bytes::Bytes> {
        let mut wait = FIRST_RETRY;
        loop {
            self.client.upgrade()?;
            let audience = self.audience.as_deref();
            let fetched = match fresh {
                true => self.source.refresh(audience).await,
                false => self.source.credential(audience).await,
            };
            let error = match fetched {
                Ok(proof) if proof.len() <= MAX_PROOF_LEN => return Some(proof.into_bytes()),
                Ok(proof) => format!(
                    "the proof is {} bytes, more than the {MAX_PROOF_LEN} a server reads",
                    proof.len()
                ),
                Err(error) => error.to_string(),
            };
            tracing::warn!(%error, "fetching fresh credentials failed; retrying");
            rt::sleep(wait).await;
            wait = (wait * 2).min(MAX_RETRY);
        }
    }
}

/// A share of the lifetime between [`EARLIEST`] and [`LATEST`], drawn anew
/// each time: jitter, not a secret, so the standard library's randomly
/// keyed hasher is source enough.
fn share() -> f64 {
    let bits = RandomState::new().hash_one(rt::now());
    let unit = (bits >> 11) as f64 / (1u64 << 53) as f64;
    EARLIEST + (LATEST - EARLIEST) * unit
}
