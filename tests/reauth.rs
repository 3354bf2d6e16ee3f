//! Long-lived channels over Unix sockets (and, for a thousand channels,
//! in memory): the client re-authenticates in band before the lifetime
//! the server announced runs out, without disturbing a live stream; a
//! fresh proof for someone else closes the connection; without one, new
//! calls fail at the expiry and open streams end after the grace; a
//! revoked authorization version takes the permission away mid-stream.
//!
//! Tokens here are `key=value;…` strings the test authenticator reads
//! (`sub`, `perms`, `ttl` in ms, `v` an authz version, `id`), so every
//! scenario states exactly what each proof grants.

#[macro_use]
mod common;

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use common::{Counters, Fixture, Transport, assert_no_panics, install_panic_hook};
use prism::auth::{
    AuthError, AuthFuture, Authenticator, AuthzVersion, ChannelIdentity, CredentialFuture,
    CredentialSource, Proof,
};
use prism::transport::{LinkInfo, SessionError};
use prism::{Channel, Code, ConnectionError, Server, Streaming};

/// A feed: reading needs `feed.read`, watching `feed.watch`; its health
/// is public.
#[prism::service(package = "tests", permission = "feed.read")]
pub trait Feed {
    /// The caller's subject.
    async fn read(&self, cx: &prism::Context) -> String;
    /// A tick every 10 ms, for as long as the caller reads.
    #[prism(permission = "feed.watch")]
    async fn watch(&self) -> Streaming<u64>;
    /// Whether the feed is up.
    #[prism(public)]
    async fn health(&self) -> bool;
}

struct Ticks;

impl Feed for Ticks {
    async fn read(&self, cx: &prism::Context) -> String {
        cx.identity()
            .map_or_else(String::new, |id| id.subject().to_owned())
    }

    async fn watch(&self) -> Streaming<u64> {
        let ticks = futures_util::stream::unfold(0u64, |n| async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
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
                .unwrap_or(60_000);
            let mut identity = ChannelIdentity::new(*subject)
                .with_permissions(
                    fields
                        .get("perms")
                        .unwrap_or(&"")
                        .split(',')
                        .filter(|p| !p.is_empty()),
                )
                .with_expiry(SystemTime::now() + Duration::from_millis(ttl));
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

/// A feed server with `tokens` over `transport`.
async fn start(
    transport: Transport,
    tokens: Tokens,
    configure: fn(prism::ServerBuilder) -> prism::ServerBuilder,
) -> Fixture {
    let builder = Server::builder()
        .add_service(FeedServer::new(Ticks))
        .authenticator(tokens);
    let server = configure(builder).build().expect("server");
    Fixture::start_with(transport, server, Arc::new(Counters::default())).await
}

async fn channel(fx: &Fixture, source: &Script) -> Channel {
    let builder = Channel::builder()
        .credentials(source.clone())
        .audience("feed");
    fx.connect_with(builder).await.expect("connect")
}

/// Reads ticks for `how_long`; panics if the stream ends or stalls.
async fn keeps_ticking(stream: &mut Streaming<u64>, how_long: Duration) -> u64 {
    let until = Instant::now() + how_long;
    let mut read = 0;
    while Instant::now() < until {
        let next = tokio::time::timeout(Duration::from_secs(2), stream.message()).await;
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

async fn reauthentication_extends_a_live_stream_across_expiry(transport: Transport) {
    let seen = Arc::default();
    let tokens = Tokens {
        version: None,
        seen: Arc::clone(&seen),
    };
    let fx = start(transport, tokens, |b| b).await;
    let source = Script::new(["sub=alice;perms=feed.read,feed.watch;ttl=2000;gen={gen}"]);
    let feed = FeedClient::new(channel(&fx, &source).await);
    let mut ticks = feed.watch().await.expect("the stream opens");
    // Two and a quarter lifetimes: two fresh proofs, the stream untouched.
    let read = keeps_ticking(&mut ticks, Duration::from_millis(4500)).await;
    assert!(read > 100, "{read} ticks");
    assert!(
        source.given.load(Ordering::SeqCst) >= 3,
        "the handshake and two fresh proofs"
    );
    assert_eq!(feed.read().await.expect("still authenticated"), "alice");
    assert!(fx.channel.close_reason().is_none());
}

async fn a_fresh_proof_for_someone_else_closes_the_connection(transport: Transport) {
    let fx = start(transport, Tokens::default(), |b| b).await;
    let source = Script::new([
        "sub=alice;perms=feed.read,feed.watch;ttl=1000",
        "sub=mallory;perms=feed.read,feed.watch;ttl=1000",
    ]);
    let channel = channel(&fx, &source).await;
    let feed = FeedClient::new(channel.clone());
    let mut ticks = feed.watch().await.expect("the stream opens");
    let status = ends_with(&mut ticks, Duration::from_secs(3)).await;
    assert_eq!(status.code(), Code::Unavailable, "{status}");
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
    let fx = start(transport, Tokens::default(), |b| {
        b.expiry_grace(Duration::from_millis(1000))
    })
    .await;
    let source = Script::new(["sub=alice;perms=feed.read,feed.watch;ttl=1000"]);
    let started = Instant::now();
    let feed = FeedClient::new(channel(&fx, &source).await);
    source.fail_from_now_on();
    let mut ticks = feed.watch().await.expect("the stream opens");
    // Past the expiry, inside the grace: new calls are refused, public ops
    // run, the open stream goes on.
    tokio::time::sleep_until((started + Duration::from_millis(1300)).into()).await;
    let refused = feed.read().await.expect_err("expired");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused}");
    assert!(refused.message().contains("expired"), "{refused}");
    let refused = feed.watch().await.expect_err("no new streams either");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused}");
    assert!(feed.health().await.expect("public"));
    keeps_ticking(&mut ticks, Duration::from_millis(100)).await;
    // After the grace, the stream ends.
    let status = ends_with(&mut ticks, Duration::from_secs(3)).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status}");
    assert!(
        started.elapsed() >= Duration::from_millis(1900),
        "{:?}",
        started.elapsed()
    );
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
    keeps_ticking(&mut ticks, Duration::from_millis(100)).await;
    version.bump();
    // Asked for a fresh proof, the client presents one of version 2 that
    // no longer grants `feed.watch`.
    let status = ends_with(&mut ticks, Duration::from_secs(3)).await;
    assert_eq!(status.code(), Code::PermissionDenied, "{status}");
    assert!(status.message().contains("feed.watch"), "{status}");
    assert_eq!(feed.read().await.expect("still may read"), "alice");
    let refused = feed.watch().await.expect_err("no longer may watch");
    assert_eq!(refused.code(), Code::PermissionDenied, "{refused}");
}

async fn revocation_without_a_fresh_proof_ends_streams_after_the_grace(transport: Transport) {
    let version = AuthzVersion::new(1);
    let tokens = Tokens::versioned(&version);
    let fx = start(transport, tokens, |b| {
        b.revocation_grace(Duration::from_millis(500))
    })
    .await;
    let source = Script::new(["sub=alice;perms=feed.read,feed.watch;v=1"]);
    let feed = FeedClient::new(channel(&fx, &source).await);
    let mut ticks = feed.watch().await.expect("the stream opens");
    keeps_ticking(&mut ticks, Duration::from_millis(50)).await;
    source.fail_from_now_on();
    let bumped = Instant::now();
    version.bump();
    let status = ends_with(&mut ticks, Duration::from_secs(3)).await;
    assert_eq!(status.code(), Code::Unauthenticated, "{status}");
    assert!(
        bumped.elapsed() >= Duration::from_millis(400),
        "{:?}",
        bumped.elapsed()
    );
    let refused = feed.read().await.expect_err("stale");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused}");
}

per_local_transport!(
    reauthentication_extends_a_live_stream_across_expiry,
    a_fresh_proof_for_someone_else_closes_the_connection,
    without_a_fresh_proof_calls_fail_at_expiry_and_streams_end_after_the_grace,
    revocation_takes_a_permission_away_mid_stream,
    revocation_without_a_fresh_proof_ends_streams_after_the_grace,
);

/// A thousand channels opened together re-authenticate at points spread
/// over 85–95% of their lifetime, each before its expiry, and every call
/// after it succeeds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_channels_reauthenticate_spread_over_the_window() {
    install_panic_hook();
    const CHANNELS: usize = 1000;
    const TTL: Duration = Duration::from_millis(2000);
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
            TTL.as_millis()
        );
        let source = Script::new([token.as_str()]);
        feeds.push(FeedClient::new(channel(&fx, &source).await));
    }
    // Every channel's second proof (generation 1) arrives.
    let deadline = Instant::now() + TTL * 2 + Duration::from_secs(5);
    loop {
        let renewed = (seen.lock().unwrap_or_else(PoisonError::into_inner).iter())
            .filter(|s| s.generation == 1)
            .count();
        if renewed == CHANNELS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "only {renewed} of {CHANNELS} re-authenticated"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let seen = seen.lock().unwrap_or_else(PoisonError::into_inner).clone();
    let first: HashMap<&str, Instant> = (seen.iter())
        .filter(|s| s.generation == 0)
        .map(|s| (s.id.as_str(), s.at))
        .collect();
    let mut shares: Vec<f64> = (seen.iter())
        .filter(|s| s.generation == 1)
        .map(|s| (s.at - first[s.id.as_str()]).as_secs_f64() / TTL.as_secs_f64())
        .collect();
    shares.sort_by(f64::total_cmp);
    let (low, high) = (shares[0], shares[CHANNELS - 1]);
    assert!(
        low >= 0.84,
        "a channel re-authenticated at {low:.3} of its lifetime"
    );
    assert!(
        high < 1.0,
        "a channel re-authenticated after its expiry ({high:.3})"
    );
    // Spread, not bunched: the middle 80% covers most of the 10% window.
    let spread = shares[CHANNELS * 9 / 10] - shares[CHANNELS / 10];
    assert!(
        spread >= 0.05,
        "re-authentications bunched: p10..p90 spans {spread:.3}"
    );
    for feed in &feeds {
        assert_eq!(feed.read().await.expect("renewed"), "worker");
    }
}
