//! Long-lived channels over Unix sockets and in memory: the client
//! re-authenticates in band before the lifetime the server announced runs
//! out (a thousand channels at spread points), without disturbing a live stream; a
//! fresh proof for someone else closes the connection; without one, new
//! calls fail at the expiry and open streams end after the grace; a
//! revoked authorization version takes the permission away mid-stream.
//!
//! Every test runs on tokio's paused clock: time moves only when nothing
//! else can run, straight to the next timer, and Prism's wall clock
//! (`prism::auth::now`) moves with it. So lifetimes are minutes long, a
//! run takes milliseconds, and every instant asserted here is exact (a
//! timer fires where it was set, not a scheduler's whim later).
//!
//! Tokens here are `key=value;…` strings the test authenticator reads
//! (`sub`, `perms`, `ttl` in seconds, `v` an authz version, `id`), so
//! every scenario states exactly what each proof grants.

#[macro_use]
mod common;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use common::{Counters, Fixture, Transport, assert_no_panics, install_panic_hook};
use prism::auth::{
    AuthError, AuthFuture, Authenticator, AuthzVersion, ChannelIdentity, CredentialFuture,
    CredentialSource, Proof,
};
use prism::transport::{LinkInfo, SessionConfig, SessionError};
use prism::{Channel, Code, ConnectionError, Server, Streaming};
use tokio::time::Instant;

/// A feed: reading needs `feed.read`, watching `feed.watch`; its health
/// is public.
#[prism::service(package = "tests", permission = "feed.read")]
pub trait Feed {
    /// The caller's subject.
    async fn read(&self, cx: &prism::Context) -> String;
    /// A tick every second, for as long as the caller reads.
    #[prism(permission = "feed.watch")]
    async fn watch(&self) -> Streaming<u64>;
    /// Whether the feed is up.
    #[prism(public)]
    async fn health(&self) -> bool;
}

struct Ticks;

/// How often `watch` ticks.
const TICK: Duration = Duration::from_secs(1);

/// How far from its exact instant an expiry may be acted on: the wall
/// clock is read from two clocks one after the other, so it is exact only
/// to the moment between the two reads.
const SLACK: Duration = Duration::from_millis(10);

impl Feed for Ticks {
    async fn read(&self, cx: &prism::Context) -> String {
        cx.identity()
            .map_or_else(String::new, |id| id.subject().to_owned())
    }

    async fn watch(&self) -> Streaming<u64> {
        let ticks = futures_util::stream::unfold(0u64, |n| async move {
            tokio::time::sleep(TICK).await;
            Some((n, n + 1))
        });
        Streaming::from_stream(ticks)
    }

    async fn health(&self) -> bool {
        true
    }
}

/// One proof the authenticator saw: the token's `id` and generation
/// (`gen`), and when.
#[derive(Clone, Debug)]
struct Seen {
    id: String,
    generation: u32,
    at: Instant,
}

/// Reads the test tokens; checks `v` against the authz version, if any.
#[derive(Default)]
struct Tokens {
    version: Option<AuthzVersion>,
    seen: Arc<Mutex<Vec<Seen>>>,
}

fn fields(token: &str) -> HashMap<&str, &str> {
    token
        .split(';')
        .filter_map(|kv| kv.split_once('='))
        .collect()
}

impl Tokens {
    /// Checks `v` against `version`.
    fn versioned(version: &AuthzVersion) -> Tokens {
        Tokens {
            version: Some(version.clone()),
            seen: Arc::default(),
        }
    }
}

impl Authenticator for Tokens {
    fn authenticate(&self, proof: Proof, _link: &LinkInfo) -> AuthFuture {
        let token = proof.as_str().unwrap_or_default().to_owned();
        let fields = fields(&token);
        let verdict = (|| {
            let subject = fields.get("sub").ok_or_else(|| AuthError::new("no sub"))?;
            let ttl: u64 = fields
                .get("ttl")
                .and_then(|t| t.parse().ok())
                .unwrap_or(3600);
            let mut identity = ChannelIdentity::new(*subject)
                .with_permissions(
                    fields
                        .get("perms")
                        .unwrap_or(&"")
                        .split(',')
                        .filter(|p| !p.is_empty()),
                )
                .with_expiry(prism::auth::now() + Duration::from_secs(ttl));
            if let Some(version) = &self.version {
                let claimed: u64 = fields.get("v").and_then(|v| v.parse().ok()).unwrap_or(0);
                if claimed != version.current() {
                    return Err(AuthError::new("the token's authz version is not current"));
                }
                identity = identity.with_authz_version(claimed);
            }
            self.seen
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Seen {
                    id: fields.get("id").unwrap_or(&"").to_string(),
                    generation: fields.get("gen").and_then(|g| g.parse().ok()).unwrap_or(0),
                    at: Instant::now(),
                });
            Ok(identity)
        })();
        Box::pin(core::future::ready(verdict))
    }

    fn authz_version(&self) -> Option<AuthzVersion> {
        self.version.clone()
    }
}

/// Gives its tokens in order (the last one again and again), `{gen}`
/// replaced by how many were given before; fails once `failing` is set.
/// `refresh` (a server's request) takes from the same list.
#[derive(Clone)]
struct Script {
    tokens: Arc<Mutex<VecDeque<String>>>,
    given: Arc<AtomicUsize>,
    failing: Arc<std::sync::atomic::AtomicBool>,
}

impl Script {
    fn new<const N: usize>(tokens: [&str; N]) -> Script {
        Script {
            tokens: Arc::new(Mutex::new(tokens.iter().map(|t| t.to_string()).collect())),
            given: Arc::default(),
            failing: Arc::default(),
        }
    }

    fn fail_from_now_on(&self) {
        self.failing.store(true, Ordering::SeqCst);
    }
}

impl CredentialSource for Script {
    fn credential(&self, _audience: Option<&str>) -> CredentialFuture {
        if self.failing.load(Ordering::SeqCst) {
            return Box::pin(core::future::ready(Err(AuthError::new(
                "the issuer is down",
            ))));
        }
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        let token = match tokens.len() {
            0 | 1 => tokens.front().cloned().unwrap_or_default(),
            _ => tokens.pop_front().unwrap_or_default(),
        };
        let generation = self.given.fetch_add(1, Ordering::SeqCst);
        let proof = Proof::bearer(token.replace("{gen}", &generation.to_string()));
        Box::pin(core::future::ready(Ok(proof)))
    }
}

/// A session that never closes for being idle.
fn never_idle() -> SessionConfig {
    SessionConfig::default().with_idle_timeout(None)
}

/// A feed server with `tokens` over `transport`; its connections never
/// close for being idle unless `configure` sets another session.
async fn start(
    transport: Transport,
    tokens: Tokens,
    configure: impl FnOnce(prism::ServerBuilder) -> prism::ServerBuilder,
) -> Fixture {
    let builder = Server::builder()
        .session_config(never_idle())
        .add_service(FeedServer::new(Ticks))
        .authenticator(tokens);
    let server = configure(builder).build().expect("server");
    Fixture::start_with(transport, server, Arc::new(Counters::default())).await
}

/// A channel presenting `source`'s proofs. Idle channels stay open: these
/// tests hold channels across lifetimes without calls.
async fn channel(fx: &Fixture, source: &Script) -> Channel {
    let builder = Channel::builder()
        .session_config(never_idle())
        .credentials(source.clone())
        .audience("feed");
    fx.connect_with(builder).await.expect("connect")
}

/// Reads ticks for `how_long`; panics if the stream ends or stalls.
async fn keeps_ticking(stream: &mut Streaming<u64>, how_long: Duration) -> u64 {
    let until = Instant::now() + how_long;
    let mut read = 0;
    while Instant::now() < until {
        let next = tokio::time::timeout(TICK * 2, stream.message()).await;
        match next {
            Ok(Ok(Some(_))) => read += 1,
            other => panic!("the stream stopped after {read} ticks: {other:?}"),
        }
    }
    read
}

/// How the stream ends, within `within`: the status of its error.
async fn ends_with(stream: &mut Streaming<u64>, within: Duration) -> prism::Status {
    let ended = tokio::time::timeout(within, async {
        loop {
            match stream.message().await {
                Ok(Some(_)) => {}
                Ok(None) => panic!("the stream ended normally"),
                Err(status) => return status,
            }
        }
    });
    ended.await.expect("the stream ends in time")
}

/// Asserts `elapsed` is in `from..to`, give or take [`SLACK`].
#[track_caller]
fn assert_between(elapsed: Duration, from: Duration, to: Duration) {
    assert!(
        from.saturating_sub(SLACK) <= elapsed && elapsed < to + SLACK,
        "{elapsed:?} is not within {from:?}..{to:?}"
    );
}

/// The fresh proofs go out between 85% and 95% of each lifetime.
fn reauth_window(ttl: Duration) -> (Duration, Duration) {
    (ttl.mul_f64(0.85), ttl.mul_f64(0.95))
}

async fn reauthentication_extends_a_live_stream_across_expiry(transport: Transport) {
    let seen = Arc::default();
    let tokens = Tokens {
        version: None,
        seen: Arc::clone(&seen),
    };
    let fx = start(transport, tokens, |b| b).await;
    let source = Script::new(["sub=alice;perms=feed.read,feed.watch;ttl=60;gen={gen}"]);
    let feed = FeedClient::new(channel(&fx, &source).await);
    let mut ticks = feed.watch().await.expect("the stream opens");
    // Two and a quarter lifetimes: two fresh proofs, the stream untouched.
    let read = keeps_ticking(&mut ticks, Duration::from_secs(135)).await;
    assert!(read >= 134, "{read} ticks");
    assert_eq!(feed.read().await.expect("still authenticated"), "alice");
    assert!(fx.channel.close_reason().is_none());
    // Each proof came inside the window of the lifetime before it.
    let seen = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let generations: Vec<u32> = seen.iter().map(|s| s.generation).collect();
    assert_eq!(generations, [0, 1, 2], "the handshake and two fresh proofs");
    let (early, late) = reauth_window(Duration::from_secs(60));
    for pair in seen.windows(2) {
        assert_between(pair[1].at - pair[0].at, early, late);
    }
}

async fn a_fresh_proof_for_someone_else_closes_the_connection(transport: Transport) {
    let fx = start(transport, Tokens::default(), |b| b).await;
    let source = Script::new([
        "sub=alice;perms=feed.read,feed.watch;ttl=60",
        "sub=mallory;perms=feed.read,feed.watch;ttl=60",
    ]);
    let started = Instant::now();
    let channel = channel(&fx, &source).await;
    let feed = FeedClient::new(channel.clone());
    let mut ticks = feed.watch().await.expect("the stream opens");
    let status = ends_with(&mut ticks, Duration::from_secs(120)).await;
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    // It ended when the fresh proof went out, before the expiry.
    let (early, late) = reauth_window(Duration::from_secs(60));
    assert_between(started.elapsed(), early, late);
    let reason = tokio::time::timeout(Duration::from_secs(2), channel.closed())
        .await
        .expect("the connection closes");
    // The server's reason, with its code, outlives the link it closed…
    match &reason {
        ConnectionError::Session(SessionError::PeerClosed { code, reason }) => {
            assert_eq!(*code, Code::Unauthenticated, "{reason}");
            assert!(reason.contains("another subject"), "{reason}");
        }
        other => panic!("closed for another reason: {other}"),
    }
    // …and every later call on the channel names it.
    let refused = feed.read().await.expect_err("the connection is gone");
    assert_eq!(refused.code(), Code::Unavailable, "{refused}");
    assert!(refused.message().contains("another subject"), "{refused}");
}

async fn without_a_fresh_proof_calls_fail_at_expiry_and_streams_end_after_the_grace(
    transport: Transport,
) {
    let grace = Duration::from_secs(10);
    let fx = start(transport, Tokens::default(), move |b| b.expiry_grace(grace)).await;
    let source = Script::new(["sub=alice;perms=feed.read,feed.watch;ttl=60"]);
    let started = Instant::now();
    let feed = FeedClient::new(channel(&fx, &source).await);
    source.fail_from_now_on();
    let mut ticks = feed.watch().await.expect("the stream opens");
    // A second before the expiry, calls still run…
    tokio::time::sleep_until(started + Duration::from_secs(59)).await;
    assert_eq!(feed.read().await.expect("not yet expired"), "alice");
    // …a second past it, inside the grace, new calls and streams are
    // refused, public ops run, the open stream goes on.
    tokio::time::sleep_until(started + Duration::from_secs(61)).await;
    let refused = feed.read().await.expect_err("expired");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused}");
    assert!(refused.message().contains("expired"), "{refused}");
    let refused = feed.watch().await.expect_err("no new streams either");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused}");
    assert!(feed.health().await.expect("public"));
    keeps_ticking(&mut ticks, Duration::from_secs(4)).await;
    // At the end of the grace, the stream ends.
    let status = ends_with(&mut ticks, Duration::from_secs(30)).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status}");
    let expiry = Duration::from_secs(60);
    assert_between(started.elapsed(), expiry + grace, expiry + grace + TICK);
    // The connection itself stays, for public ops and a later proof.
    assert!(feed.health().await.expect("public"));
}

async fn revocation_takes_a_permission_away_mid_stream(transport: Transport) {
    let version = AuthzVersion::new(1);
    let tokens = Tokens::versioned(&version);
    let fx = start(transport, tokens, |b| b).await;
    let source = Script::new([
        "sub=alice;perms=feed.read,feed.watch;v=1",
        "sub=alice;perms=feed.read;v=2",
    ]);
    let feed = FeedClient::new(channel(&fx, &source).await);
    let mut ticks = feed.watch().await.expect("the stream opens");
    keeps_ticking(&mut ticks, Duration::from_secs(5)).await;
    let bumped = Instant::now();
    version.bump();
    // Asked for a fresh proof, the client presents one of version 2 that
    // no longer grants `feed.watch`: the stream ends at once.
    let status = ends_with(&mut ticks, Duration::from_secs(30)).await;
    assert_eq!(status.code(), Code::PermissionDenied, "{status}");
    assert!(status.message().contains("feed.watch"), "{status}");
    assert_between(bumped.elapsed(), Duration::ZERO, TICK);
    assert_eq!(feed.read().await.expect("still may read"), "alice");
    let refused = feed.watch().await.expect_err("no longer may watch");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused}");
}

async fn revocation_without_a_fresh_proof_ends_streams_after_the_grace(transport: Transport) {
    let version = AuthzVersion::new(1);
    let tokens = Tokens::versioned(&version);
    let grace = Duration::from_secs(10);
    let fx = start(transport, tokens, move |b| b.revocation_grace(grace)).await;
    let source = Script::new(["sub=alice;perms=feed.read,feed.watch;v=1"]);
    let feed = FeedClient::new(channel(&fx, &source).await);
    let mut ticks = feed.watch().await.expect("the stream opens");
    keeps_ticking(&mut ticks, Duration::from_secs(5)).await;
    source.fail_from_now_on();
    let bumped = Instant::now();
    version.bump();
    let status = ends_with(&mut ticks, Duration::from_secs(30)).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status}");
    assert_between(bumped.elapsed(), grace, grace + TICK);
    let refused = feed.read().await.expect_err("stale");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused}");
}

per_local_transport!(
    paused:
    reauthentication_extends_a_live_stream_across_expiry,
    a_fresh_proof_for_someone_else_closes_the_connection,
    without_a_fresh_proof_calls_fail_at_expiry_and_streams_end_after_the_grace,
    revocation_takes_a_permission_away_mid_stream,
    revocation_without_a_fresh_proof_ends_streams_after_the_grace,
);

/// A thousand channels opened together re-authenticate at points spread
/// over 85–95% of their lifetime, each before its expiry, and every call
/// after it succeeds.
#[tokio::test(start_paused = true)]
async fn a_thousand_channels_reauthenticate_spread_over_the_window() {
    install_panic_hook();
    const CHANNELS: usize = 1000;
    const TTL: Duration = Duration::from_secs(600);
    let seen = Arc::new(Mutex::new(Vec::new()));
    let tokens = Tokens {
        version: None,
        seen: Arc::clone(&seen),
    };
    let fx = start(Transport::Mem, tokens, |b| b).await;
    let mut feeds = Vec::with_capacity(CHANNELS);
    for id in 0..CHANNELS {
        let token = format!(
            "sub=worker;perms=feed.read;ttl={};id={id};gen={{gen}}",
            TTL.as_secs()
        );
        let source = Script::new([token.as_str()]);
        feeds.push(FeedClient::new(channel(&fx, &source).await));
    }
    // By the end of the first lifetime, every channel presented its second
    // proof (generation 1), and no third yet.
    tokio::time::sleep(TTL).await;
    let seen = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let first: HashMap<&str, Instant> = (seen.iter())
        .filter(|s| s.generation == 0)
        .map(|s| (s.id.as_str(), s.at))
        .collect();
    let renewed: Vec<&Seen> = seen.iter().filter(|s| s.generation == 1).collect();
    assert_eq!(
        renewed.len(),
        CHANNELS,
        "every channel re-authenticated once"
    );
    assert_eq!(seen.len(), 2 * CHANNELS, "and only once");
    let (early, late) = reauth_window(TTL);
    let mut shares: Vec<f64> = (renewed.iter())
        .map(|s| {
            let waited = s.at - first[s.id.as_str()];
            assert_between(waited, early, late);
            waited.as_secs_f64() / TTL.as_secs_f64()
        })
        .collect();
    // Spread, not bunched: the middle 80% covers most of the 10% window.
    shares.sort_by(f64::total_cmp);
    let spread = shares[CHANNELS * 9 / 10] - shares[CHANNELS / 10];
    assert!(
        spread >= 0.05,
        "re-authentications bunched: p10..p90 spans {spread:.3}"
    );
    for feed in &feeds {
        assert_eq!(feed.read().await.expect("renewed"), "worker");
    }
}
