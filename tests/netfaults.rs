//! Network faults on a real link: two network namespaces this test makes
//! itself, joined by a veth pair, a server process in one and a load
//! client process in the other. The test then breaks the link under load:
//! random loss and a slow link (which TCP must hide), a blackhole (which
//! keepalive must notice, and the channel must come back from), and
//! resets (which the channel must reconnect after). For each: what the
//! client saw, that no reply was lost or mismatched, and the server's
//! memory before and after. Loss, the slow link and the blackhole are run
//! over QUIC too (a stream per call, its own loss recovery). Datagram
//! ops under loss: over QUIC some are lost (unreliable datagrams), over
//! TCP (in band) none.
//!
//! Faults are made with nftables (loss: `numgen random`; blackhole: drop;
//! reset: `reject with tcp reset`) and a `tbf` qdisc (slow link). The
//! kernel here has no `netem`, so added delay is not tested. Needs root,
//! `ip` (iproute2) and `nft` (nftables): where the machine forbids network
//! namespaces the tests say so and pass, unless `PRISM_REQUIRE_NETNS` is
//! set (CI sets it), where they fail.

mod common;

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use common::pki::Ca;
use common::process::{Process, rss_of};
use prism::client::{ChannelState, Reconnect};
use prism::quic::{QuicConnector, QuicListener};
use prism::tcp::TcpConnector;
use prism::tls::{ClientTls, ServerTls};
use prism::transport::{Connector, SessionConfig};
use prism::{Channel, Code, Server};
use tokio::net::TcpListener;

/// Echoes text back, and counts heartbeats.
#[prism::service(package = "tests.netfaults", public)]
pub trait Echo {
    /// Returns `text`.
    async fn echo(&self, text: String) -> String;
    /// A heartbeat: an unreliable datagram over QUIC, in band over TCP.
    #[prism(datagram = "reliable")]
    async fn beat(&self, n: u64);
    /// How many heartbeats arrived.
    async fn beats(&self) -> u64;
}

/// Heartbeats the server process took.
static BEATS: AtomicU64 = AtomicU64::new(0);

struct Impl;

impl Echo for Impl {
    async fn echo(&self, text: String) -> String {
        text
    }

    async fn beat(&self, _n: u64) {
        BEATS.fetch_add(1, Ordering::Relaxed);
    }

    async fn beats(&self) -> u64 {
        BEATS.load(Ordering::Relaxed)
    }
}

const ROLE: &str = "PRISM_NETFAULT_ROLE";
const ADDR: &str = "PRISM_NETFAULT_ADDR";
const SECONDS: &str = "PRISM_NETFAULT_SECONDS";
const KEEPALIVE: &str = "PRISM_NETFAULT_KEEPALIVE_MS";
/// `tcp` (the default) or `quic`.
const TRANSPORT: &str = "PRISM_NETFAULT_TRANSPORT";
/// For QUIC: the server's certificate and key, and the CA the client
/// trusts (PEM), made by the test.
const CERT: &str = "PRISM_NETFAULT_CERT";
const KEY: &str = "PRISM_NETFAULT_KEY";
const ROOTS: &str = "PRISM_NETFAULT_ROOTS";
/// The server's address, inside its namespace.
const SERVER_IP: &str = "10.201.0.1";
const CLIENT_IP: &str = "10.201.0.2";
const PORT: u16 = 7000;

/// The keepalive interval both sides use (`PRISM_NETFAULT_KEEPALIVE_MS`,
/// 1 s by default: a dead link is noticed within about 2 s); each call of
/// the load client may take twice as long.
fn keepalive() -> Duration {
    let ms = std::env::var(KEEPALIVE).ok().and_then(|ms| ms.parse().ok());
    Duration::from_millis(ms.unwrap_or(1000))
}

fn session() -> SessionConfig {
    SessionConfig::default().with_keepalive(Some(keepalive()))
}

/// The helper process: `server` serves `Echo` on `PRISM_NETFAULT_ADDR`;
/// `load` calls it from 4 callers for `PRISM_NETFAULT_SECONDS` over a
/// reconnecting channel that waits for ready (each call with a timeout of
/// twice the keepalive), prints `second N ok=…` each second and a last
/// `summary` line; `beats` sends a heartbeat each millisecond for as long,
/// then prints how many it sent and how many the server counted.
#[test]
#[ignore = "a helper process the network fault tests start; not a test by itself"]
fn netfault_process() {
    let role = std::env::var(ROLE).expect("run by the tests, which set the role");
    let addr = std::env::var(ADDR).expect("an address");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async move {
        match role.as_str() {
            "server" => {
                let server = Server::builder()
                    .allow_unauthenticated()
                    .allow_plaintext()
                    .session_config(session())
                    .add_service(EchoServer::new(Impl))
                    .build()
                    .expect("server");
                if quic() {
                    let tls = ServerTls::from_pem(env(CERT).as_bytes(), env(KEY).as_bytes())
                        .expect("server tls");
                    let listener =
                        QuicListener::bind(addr.parse().expect("an address"), tls).expect("bind");
                    println!("ready");
                    server.serve(listener).await.expect("serve");
                } else {
                    let listener = TcpListener::bind(&addr).await.expect("bind");
                    println!("ready");
                    server.serve(listener).await.expect("serve");
                }
            }
            "load" | "beats" => {
                let seconds: u64 = std::env::var(SECONDS)
                    .ok()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(10);
                let duration = Duration::from_secs(seconds);
                let beats = role == "beats";
                if quic() {
                    let roots = ClientTls::from_pem(env(ROOTS).as_bytes()).expect("roots");
                    let connector =
                        QuicConnector::new(&addr, "localhost", roots).expect("a connector");
                    if beats {
                        heartbeats(connector, duration).await;
                    } else {
                        load(connector, duration).await;
                    }
                } else if beats {
                    heartbeats(TcpConnector::new(&addr), duration).await;
                } else {
                    load(TcpConnector::new(&addr), duration).await;
                }
            }
            other => panic!("no role {other}"),
        }
    });
}

/// What the load client counts.
#[derive(Default)]
struct Tally {
    ok: AtomicU64,
    mismatched: AtomicU64,
    unavailable: AtomicU64,
    deadline: AtomicU64,
    other: AtomicU64,
    /// Connections made after the first.
    reconnects: AtomicUsize,
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set by the tests"))
}

fn quic() -> bool {
    std::env::var(TRANSPORT).is_ok_and(|t| t == "quic")
}

async fn load<C: Connector>(connector: C, duration: Duration) {
    let channel = Channel::builder()
        .allow_plaintext()
        .session_config(session().with_handshake_timeout(Duration::from_secs(2)))
        .reconnect(
            Reconnect::default()
                .backoff(Duration::from_millis(50), Duration::from_millis(500))
                .wait_for_ready(),
        )
        .connect(connector)
        .await
        .expect("connect");
    let tally = Arc::new(Tally::default());
    let mut states = channel.state_watch();
    tokio::spawn({
        let tally = Arc::clone(&tally);
        async move {
            while states.changed().await.is_ok() {
                let state = states.borrow_and_update().clone();
                if matches!(state, ChannelState::Ready) {
                    tally.reconnects.fetch_add(1, Ordering::SeqCst);
                }
                println!("state {state:?}");
            }
        }
    });
    println!("ready");
    let end = tokio::time::Instant::now() + duration;
    let echo = EchoClient::new(channel);
    let callers: Vec<_> = (0..4)
        .map(|i| {
            let (echo, tally) = (echo.clone(), Arc::clone(&tally));
            tokio::spawn(async move {
                let mut n = 0u64;
                while tokio::time::Instant::now() < end {
                    let text = format!("{i}-{n}-{}", "x".repeat(512));
                    let result = echo.echo(text.clone()).timeout(2 * keepalive()).await;
                    let counter = match result {
                        Ok(back) if back == text => &tally.ok,
                        Ok(_) => &tally.mismatched,
                        Err(status) => match status.code() {
                            Code::Unavailable => &tally.unavailable,
                            Code::DeadlineExceeded => &tally.deadline,
                            _ => {
                                eprintln!("unexpected: {status}");
                                &tally.other
                            }
                        },
                    };
                    counter.fetch_add(1, Ordering::SeqCst);
                    n += 1;
                }
            })
        })
        .collect();
    let mut second = 0;
    let mut last_ok = 0;
    while tokio::time::Instant::now() < end {
        tokio::time::sleep(Duration::from_secs(1)).await;
        second += 1;
        let ok = tally.ok.load(Ordering::SeqCst);
        println!("second {second} ok={}", ok - last_ok);
        last_ok = ok;
    }
    for caller in callers {
        let _ = caller.await;
    }
    println!(
        "summary ok={} mismatched={} unavailable={} deadline={} other={} reconnects={}",
        tally.ok.load(Ordering::SeqCst),
        tally.mismatched.load(Ordering::SeqCst),
        tally.unavailable.load(Ordering::SeqCst),
        tally.deadline.load(Ordering::SeqCst),
        tally.other.load(Ordering::SeqCst),
        tally.reconnects.load(Ordering::SeqCst),
    );
}

/// Sends a heartbeat each millisecond for `duration`, waits a second for
/// the last ones, then prints `summary sent=… arrived=…`.
async fn heartbeats<C: Connector>(connector: C, duration: Duration) {
    let channel = Channel::builder()
        .allow_plaintext()
        .session_config(session())
        .connect(connector)
        .await
        .expect("connect");
    let echo = EchoClient::new(channel);
    println!("ready");
    let end = tokio::time::Instant::now() + duration;
    let mut sent = 0;
    while tokio::time::Instant::now() < end {
        echo.beat(sent).await.expect("a heartbeat is sent");
        sent += 1;
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let arrived = echo.beats().await.expect("the connection went on");
    println!("summary sent={sent} arrived={arrived}");
}

/// Two namespaces joined by a veth pair; deleted on drop.
struct Net {
    server: String,
    client: String,
    /// The veth end in each.
    server_if: String,
    client_if: String,
}

/// Runs `args`, returning stderr when it fails.
fn run(args: &[&str]) -> Result<(), String> {
    let output = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

impl Net {
    /// Makes the namespaces, or says why it cannot.
    fn new(tag: &str) -> Result<Net, String> {
        let id = std::process::id() % 100_000;
        let net = Net {
            server: format!("pf{id}{tag}s"),
            client: format!("pf{id}{tag}c"),
            server_if: format!("pf{id}{tag}a"),
            client_if: format!("pf{id}{tag}b"),
        };
        run(&["nft", "--version"])?;
        run(&["ip", "netns", "add", &net.server])?;
        run(&["ip", "netns", "add", &net.client])?;
        let (s, c) = (&net.server, &net.client);
        let (sif, cif) = (&net.server_if, &net.client_if);
        run(&[
            "ip", "link", "add", sif, "type", "veth", "peer", "name", cif,
        ])?;
        run(&["ip", "link", "set", sif, "netns", s])?;
        run(&["ip", "link", "set", cif, "netns", c])?;
        let server_cidr = format!("{SERVER_IP}/24");
        let client_cidr = format!("{CLIENT_IP}/24");
        run(&["ip", "-n", s, "addr", "add", &server_cidr, "dev", sif])?;
        run(&["ip", "-n", c, "addr", "add", &client_cidr, "dev", cif])?;
        for (ns, dev) in [(s, sif), (c, cif)] {
            run(&["ip", "-n", ns, "link", "set", dev, "up"])?;
            run(&["ip", "-n", ns, "link", "set", "lo", "up"])?;
            run(&[
                "ip", "netns", "exec", ns, "nft", "add", "table", "inet", "fault",
            ])?;
            run(&[
                "ip",
                "netns",
                "exec",
                ns,
                "nft",
                "add",
                "chain",
                "inet",
                "fault",
                "out",
                "{ type filter hook output priority 0; }",
            ])?;
        }
        Ok(net)
    }

    /// Both namespaces with their veth end.
    fn sides(&self) -> [(&str, &str); 2] {
        [
            (&self.server, &self.server_if),
            (&self.client, &self.client_if),
        ]
    }

    /// Replaces the fault rule on both sides' outgoing packets with `rule`
    /// (nft syntax after the interface match), or none.
    fn rule(&self, rule: Option<&str>) {
        for (ns, dev) in self.sides() {
            run(&[
                "ip", "netns", "exec", ns, "nft", "flush", "chain", "inet", "fault", "out",
            ])
            .expect("flush");
            if let Some(rule) = rule {
                let rule = format!("add rule inet fault out oifname {dev} {rule}");
                let mut args = vec!["ip", "netns", "exec", ns, "nft"];
                args.extend(rule.split(' '));
                run(&args).expect("add a fault rule");
            }
        }
    }

    /// Limits both sides to `rate` (a `tbf` qdisc), or lifts the limit.
    fn rate(&self, rate: Option<&str>) {
        for (ns, dev) in self.sides() {
            let _ = run(&[
                "ip", "netns", "exec", ns, "tc", "qdisc", "del", "dev", dev, "root",
            ]);
            if let Some(rate) = rate {
                run(&[
                    "ip", "netns", "exec", ns, "tc", "qdisc", "add", "dev", dev, "root", "tbf",
                    "rate", rate, "burst", "16kb", "latency", "500ms",
                ])
                .expect("tbf");
            }
        }
    }
}

impl Drop for Net {
    fn drop(&mut self) {
        let _ = run(&["ip", "netns", "del", &self.server]);
        let _ = run(&["ip", "netns", "del", &self.client]);
    }
}

/// The namespaces, or `None` (with a message) where the machine forbids
/// them; a failure when `PRISM_REQUIRE_NETNS` is set.
fn net_or_skip(tag: &str) -> Option<Net> {
    match Net::new(tag) {
        Ok(net) => Some(net),
        Err(why) if std::env::var_os("PRISM_REQUIRE_NETNS").is_some() => {
            panic!("network namespaces are required here (PRISM_REQUIRE_NETNS) but: {why}")
        }
        Err(why) => {
            eprintln!("skipped: this machine cannot make network namespaces: {why}");
            None
        }
    }
}

/// The transport a run uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Over {
    Tcp,
    Quic,
}

/// The server in its namespace, and the load client in its own for
/// `seconds`, both with a keepalive of `keepalive`, over `over`.
async fn start(net: &Net, over: Over, seconds: u64, keepalive: Duration) -> (Process, Process) {
    start_as(net, over, "load", seconds, keepalive).await
}

/// The same, with the client in `role` (`load` or `beats`).
async fn start_as(
    net: &Net,
    over: Over,
    role: &str,
    seconds: u64,
    keepalive: Duration,
) -> (Process, Process) {
    let addr = format!("{SERVER_IP}:{PORT}");
    let keepalive = keepalive.as_millis().to_string();
    let mut server_env = vec![
        (ROLE, "server".into()),
        (ADDR, addr.clone()),
        (KEEPALIVE, keepalive.clone()),
    ];
    let mut client_env = vec![
        (ROLE, role.into()),
        (ADDR, addr),
        (SECONDS, seconds.to_string()),
        (KEEPALIVE, keepalive),
    ];
    if over == Over::Quic {
        // The client names the server `localhost`, which the certificate
        // is for, whatever address it dials.
        let ca = Ca::new("netfault ca");
        let cert = ca.server("spiffe://test.internal/echo");
        server_env.extend([
            (TRANSPORT, "quic".into()),
            (CERT, cert.cert_pem.clone()),
            (KEY, cert.key_pem.clone()),
        ]);
        client_env.extend([(TRANSPORT, "quic".into()), (ROOTS, ca.cert_pem.clone())]);
    }
    let server = Process::start_in("netfault_process", server_env, Some(net.server.clone())).await;
    let client = Process::start_in("netfault_process", client_env, Some(net.client.clone())).await;
    (server, client)
}

/// The load client's report: every line after `ready`, and the summary
/// counts by name.
async fn report(client: Process) -> (Vec<String>, Vec<(String, u64)>) {
    tokio::task::spawn_blocking(move || {
        let mut client = client;
        let mut lines = Vec::new();
        while let Some(line) = client.find(|_| true) {
            let done = line.starts_with("summary");
            lines.push(line);
            if done {
                break;
            }
        }
        let summary = lines
            .last()
            .filter(|line| line.starts_with("summary"))
            .unwrap_or_else(|| panic!("no summary in {lines:?}"))
            .split(' ')
            .skip(1)
            .filter_map(|pair| pair.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.parse().expect("a count")))
            .collect();
        (lines, summary)
    })
    .await
    .expect("reading the load client")
}

/// The load client's report once it is done, after what holds of every
/// run: no reply mismatched, no unexpected code, and the server's memory
/// (`before` the faults) within 64 MiB of where it was.
async fn finish(
    client: Process,
    server: &Process,
    before: u64,
) -> (Vec<String>, Vec<(String, u64)>) {
    let (lines, summary) = report(client).await;
    let after = rss_of(server.id());
    eprintln!("{}", lines.join("\n"));
    eprintln!(
        "server RSS {} KiB before, {} KiB after",
        before / 1024,
        after / 1024
    );
    assert_eq!(count(&summary, "mismatched"), 0, "{lines:?}");
    assert_eq!(count(&summary, "other"), 0, "{lines:?}");
    assert!(
        after < before + (64 << 20),
        "server memory {before} -> {after}"
    );
    (lines, summary)
}

fn count(summary: &[(String, u64)], name: &str) -> u64 {
    summary
        .iter()
        .find(|(k, _)| k == name)
        .map_or_else(|| panic!("no {name} in {summary:?}"), |(_, v)| *v)
}

/// Calls answered in the report's seconds `from..=to` (1-based).
fn ok_in(lines: &[String], from: u64, to: u64) -> u64 {
    lines
        .iter()
        .filter_map(|line| line.strip_prefix("second "))
        .filter_map(|rest| {
            let (second, ok) = rest.split_once(" ok=")?;
            Some((second.parse::<u64>().ok()?, ok.parse::<u64>().ok()?))
        })
        .filter(|(second, _)| (from..=to).contains(second))
        .map(|(_, ok)| ok)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_and_a_slow_link_lose_nothing() {
    loss_and_a_slow_link(Over::Tcp, "l").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loss_and_a_slow_link_lose_nothing_over_quic() {
    loss_and_a_slow_link(Over::Quic, "q").await;
}

async fn loss_and_a_slow_link(over: Over, tag: &str) {
    let Some(net) = net_or_skip(tag) else { return };
    // A long keepalive and call timeout: TCP may stall for seconds when a
    // segment is lost several times in a row, and that is not a failure.
    let (server, client) = start(&net, over, 8, Duration::from_secs(5)).await;
    let before = rss_of(server.id());
    // Seconds 0–3: 10% of packets dropped each way; 3–6: also 2 Mbit/s.
    net.rule(Some("numgen random mod 100 < 10 drop"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    net.rate(Some("2mbit"));
    tokio::time::sleep(Duration::from_secs(3)).await;
    net.rule(None);
    net.rate(None);
    let (lines, summary) = finish(client, &server, before).await;
    // TCP and QUIC hide loss and a slow link: calls slow down, none fail.
    assert_eq!(count(&summary, "unavailable"), 0, "{lines:?}");
    assert_eq!(count(&summary, "deadline"), 0, "{lines:?}");
    assert!(
        ok_in(&lines, 1, 3) > 0 && ok_in(&lines, 4, 6) > 0,
        "{lines:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagrams_under_loss_are_lost_over_quic_and_kept_in_band_over_tcp() {
    for (over, tag) in [(Over::Quic, "d"), (Over::Tcp, "e")] {
        let Some(net) = net_or_skip(tag) else { return };
        let (server, client) = start_as(&net, over, "beats", 4, Duration::from_secs(5)).await;
        let before = rss_of(server.id());
        // Seconds 0–3: 10% of packets dropped each way; then none.
        net.rule(Some("numgen random mod 100 < 10 drop"));
        tokio::time::sleep(Duration::from_secs(3)).await;
        net.rule(None);
        let (lines, summary) = report(client).await;
        eprintln!("{over:?}: {}", lines.join("\n"));
        let (sent, arrived) = (count(&summary, "sent"), count(&summary, "arrived"));
        assert!(sent > 1000, "{lines:?}");
        match over {
            // Unreliable: about a tenth lost, the rest arrived, and the
            // connection went on (the count came back).
            Over::Quic => assert!(arrived < sent && arrived > sent / 2, "{lines:?}"),
            // In band: TCP retransmits; nothing lost.
            Over::Tcp => assert_eq!(arrived, sent, "{lines:?}"),
        }
        let after = rss_of(server.id());
        assert!(
            after < before + (64 << 20),
            "server memory {before} -> {after}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackhole_over_quic_is_survived_by_reconnecting() {
    let Some(net) = net_or_skip("h") else { return };
    let (server, client) = start(&net, Over::Quic, 10, Duration::from_secs(1)).await;
    let before = rss_of(server.id());
    // Seconds 0–2 fine; 2–6 every packet dropped; 6–10 fine.
    tokio::time::sleep(Duration::from_secs(2)).await;
    net.rule(Some("drop"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    net.rule(None);
    let (lines, summary) = finish(client, &server, before).await;
    // Keepalive noticed the blackhole; the channel connected again and
    // calls went through in the last seconds.
    assert!(count(&summary, "reconnects") >= 1, "{lines:?}");
    assert!(ok_in(&lines, 8, 10) > 0, "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blackhole_and_resets_are_survived_by_reconnecting() {
    let Some(net) = net_or_skip("b") else { return };
    let (server, client) = start(&net, Over::Tcp, 14, Duration::from_secs(1)).await;
    let before = rss_of(server.id());
    // Seconds 0–2 fine; 2–6 every packet dropped; 6–8 fine; 8–9 every
    // packet answered with a reset; 9–14 fine.
    tokio::time::sleep(Duration::from_secs(2)).await;
    net.rule(Some("drop"));
    tokio::time::sleep(Duration::from_secs(4)).await;
    net.rule(None);
    tokio::time::sleep(Duration::from_secs(2)).await;
    net.rule(Some("meta l4proto tcp reject with tcp reset"));
    tokio::time::sleep(Duration::from_secs(1)).await;
    net.rule(None);
    let (lines, summary) = finish(client, &server, before).await;
    // The blackhole was noticed (keepalive) and the channel connected
    // again, twice at least (after it, and after the resets)…
    assert!(count(&summary, "reconnects") >= 2, "{lines:?}");
    // …and calls went through again in the last seconds.
    assert!(ok_in(&lines, 11, 14) > 0, "{lines:?}");
}
