//! Datagram ops (`#[prism(datagram)]`): fire-and-forget messages, carried
//! in unreliable QUIC datagrams, in band on links without them where the
//! op allows it, refused at the handshake where it does not; sized against
//! the link, and authorized before decode like any call.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use common::{Counters, Fixture, Transport, eventually};
use prism::transport::{Connector, LinkConfig, SessionConfig};
use prism::{Channel, Code, ConnectError, Server};
use prism_proto::session::{Hello, OpEntry};
use prism_transport::driver::{self, Setup};
use tokio::sync::Semaphore;

/// What the telemetry server saw.
#[derive(Debug, Default)]
struct Seen {
    notes: AtomicU64,
    ticks: AtomicU64,
    audits: AtomicU64,
    bytes: AtomicU64,
}

#[prism::service(package = "test.datagram", public)]
trait Telemetry {
    /// Travels in a datagram where the link has them, in band otherwise.
    #[prism(datagram = "reliable")]
    async fn note(&self, n: u64);

    /// Needs unreliable datagrams: links without them are refused.
    #[prism(datagram)]
    async fn tick(&self, n: u64);

    /// A blob, for sizes.
    #[prism(datagram = "reliable")]
    async fn blob(&self, bytes: Vec<u8>);

    /// Only for a caller holding `telemetry.audit`.
    #[prism(datagram = "reliable", permission = "telemetry.audit")]
    async fn audit(&self, n: u64);

    /// How many notes, ticks and audits arrived.
    async fn seen(&self) -> (u64, u64, u64);
}

struct TelemetryImpl(Arc<Seen>);

impl Telemetry for TelemetryImpl {
    async fn note(&self, _n: u64) {
        self.0.notes.fetch_add(1, Ordering::Relaxed);
    }

    async fn tick(&self, _n: u64) {
        self.0.ticks.fetch_add(1, Ordering::Relaxed);
    }

    async fn blob(&self, bytes: Vec<u8>) {
        self.0
            .bytes
            .fetch_add(bytes.len() as u64, Ordering::Relaxed);
    }

    async fn audit(&self, _n: u64) {
        self.0.audits.fetch_add(1, Ordering::Relaxed);
    }

    async fn seen(&self) -> (u64, u64, u64) {
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        (
            load(&self.0.notes),
            load(&self.0.ticks),
            load(&self.0.audits),
        )
    }
}

async fn start(transport: Transport) -> (Fixture, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let server = Server::builder()
        .allow_unauthenticated()
        .allow_plaintext()
        .add_service(TelemetryServer::new(TelemetryImpl(Arc::clone(&seen))))
        .build()
        .expect("the telemetry server builds");
    let fixture = Fixture::start_with(transport, server, Arc::new(Counters::default())).await;
    (fixture, seen)
}

fn telemetry(fixture: &Fixture) -> TelemetryClient {
    TelemetryClient::new(fixture.channel.clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reliable_fallback_datagram_travels_in_band_on_links_without_datagrams() {
    for transport in [Transport::Mem, Transport::Tcp, Transport::Ws] {
        let (fixture, seen) = start(transport).await;
        let client = telemetry(&fixture);
        for n in 0..1000 {
            client.note(n).await.expect("the note is sent");
        }
        // In band, nothing is lost.
        eventually("every note arrived", || {
            seen.notes.load(Ordering::Relaxed) == 1000
        })
        .await;
        assert_eq!(client.seen().await.expect("seen").0, 1000, "{transport:?}");
        assert_eq!(fixture.channel.stats().datagrams_sent, 1000);
        eventually("the server counts them", || {
            fixture.server.stats().datagrams_received == 1000
        })
        .await;
        assert_eq!(fixture.server.stats().datagrams_dropped, 0);
        // No channel was opened for them: only the one call.
        assert_eq!(fixture.server.stats().calls_received, 1);
        fixture.shutdown().await.expect("clean shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_op_that_needs_datagrams_is_refused_on_a_link_without_them() {
    let (fixture, seen) = start(Transport::Tcp).await;
    // Declared: the channel refuses the link before anything is sent.
    let declared = fixture
        .connect_with(Channel::builder().service(&telemetry::SERVICE))
        .await;
    match declared {
        Err(ConnectError::NoDatagrams { op, transport }) => {
            assert_eq!(op, "test.datagram.Telemetry/tick");
            assert_eq!(transport, "tcp");
        }
        other => panic!("expected NoDatagrams, got {other:?}"),
    }
    // Not declared: the message is refused when sent, with why.
    let status = telemetry(&fixture).tick(1).await.expect_err("refused");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(
        status.message().contains("needs unreliable datagrams") && status.message().contains("tcp"),
        "{status}"
    );
    assert_eq!(seen.ticks.load(Ordering::Relaxed), 0);
    fixture.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_refuses_a_client_declaring_an_op_its_link_cannot_carry() {
    let (fixture, _seen) = start(Transport::Mem).await;
    let common::Endpoint::Mem(connector) = &fixture.endpoint else {
        unreachable!("a mem fixture")
    };
    // A raw client that declares `tick` and skips the channel's own check.
    let tick = &telemetry::OPS[1];
    let entry = OpEntry {
        op: tick.id().get(),
        fingerprint: tick.fingerprint().expect("a fingerprint"),
        codecs: vec![prism::codec::CodecId::POSTCARD.get()],
    };
    let link = Connector::connect(connector, &LinkConfig::default())
        .await
        .expect("a mem link");
    let setup = Setup::new(SessionConfig::default());
    let refused = driver::connect(link, setup, Hello::new(vec![entry])).await;
    let error = refused.expect_err("the server refuses the handshake");
    let shown = error.to_string();
    assert!(
        shown.contains("needs unreliable datagrams") && shown.contains("mem"),
        "{shown}"
    );
    fixture.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagrams_travel_unreliably_over_quic() {
    let (fixture, seen) = start(Transport::Quic).await;
    let declared = fixture
        .connect_with(Channel::builder().service(&telemetry::SERVICE))
        .await
        .expect("QUIC carries datagrams");
    let client = TelemetryClient::new(declared);
    for n in 0..200 {
        client.tick(n).await.expect("the tick is sent");
        client.note(n).await.expect("the note is sent");
    }
    // Loopback loses nothing in practice; the test waits for them.
    eventually("every datagram arrived", || {
        seen.ticks.load(Ordering::Relaxed) == 200 && seen.notes.load(Ordering::Relaxed) == 200
    })
    .await;
    assert_eq!(client.channel().stats().datagrams_sent, 400);
    fixture.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datagram_larger_than_the_link_takes_is_a_typed_error() {
    for transport in [Transport::Quic, Transport::Tcp] {
        let (fixture, seen) = start(transport).await;
        let client = telemetry(&fixture);
        // Over QUIC, one datagram holds about 1.2 KB; in band, one chunk.
        let too_big = match transport {
            Transport::Quic => 2_000,
            _ => 2 * 1024 * 1024,
        };
        let status = client.blob(vec![7; too_big]).await.expect_err("too large");
        assert_eq!(
            status.code(),
            Code::ResourceExhausted,
            "{transport:?}: {status}"
        );
        assert!(status.message().contains("exceeds"), "{status}");
        // One that fits goes, and the connection goes on.
        client.blob(vec![7; 1000]).await.expect("a fitting blob");
        eventually("the fitting blob arrived", || {
            seen.bytes.load(Ordering::Relaxed) == 1000
        })
        .await;
        assert_eq!(client.seen().await.expect("still connected").0, 0);
        fixture.shutdown().await.expect("clean shutdown");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datagram_without_permission_is_dropped_before_its_handler_runs() {
    let (fixture, seen) = start(Transport::Mem).await;
    let client = telemetry(&fixture);
    // Nothing answers a datagram: the sender learns nothing, the server
    // drops it unread and counts it.
    client.audit(1).await.expect("sent all the same");
    client.note(1).await.expect("a public one");
    assert_eq!(client.seen().await.expect("seen"), (1, 0, 0));
    assert_eq!(seen.audits.load(Ordering::Relaxed), 0);
    eventually("the refusal is counted", || {
        fixture.server.stats().datagrams_dropped == 1
    })
    .await;
    fixture.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_datagram_op_is_not_called_and_a_call_is_not_a_datagram() {
    let (fixture, _seen) = start(Transport::Mem).await;
    // By hand: a unary call of a datagram op, and a datagram of a unary op.
    let call = prism::client::UnaryCall::<
        prism::codec::Postcard,
        telemetry::NoteRequest,
        prism::client::Plain<()>,
    >::new(
        fixture.channel.clone(),
        &telemetry::OPS[0],
        telemetry::NoteRequest { n: 1 },
    );
    let status = call.await.expect_err("a datagram op is not called");
    assert_eq!(status.code(), Code::FailedPrecondition);
    assert!(status.message().contains("is a datagram op"), "{status}");

    let datagram = prism::client::DatagramCall::<prism::codec::Postcard, ()>::new(
        fixture.channel.clone(),
        &telemetry::OPS[4],
        (),
    );
    let status = datagram.await.expect_err("a unary op is not a datagram");
    assert_eq!(status.code(), Code::InvalidArgument);
    fixture.shutdown().await.expect("clean shutdown");
}

#[prism::service(package = "test.datagram", public)]
trait Slow {
    /// Waits for a permit the test hands out.
    #[prism(datagram = "reliable")]
    async fn hold(&self);
}

struct SlowImpl {
    gate: Arc<Semaphore>,
    started: Arc<AtomicU64>,
    finished: Arc<AtomicU64>,
}

impl Slow for SlowImpl {
    async fn hold(&self) {
        self.started.fetch_add(1, Ordering::Relaxed);
        let permit = self.gate.acquire().await.expect("the gate stays open");
        permit.forget();
        self.finished.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_slow_datagrams_holds_a_bounded_number_of_handlers() {
    const LIMIT: u32 = 8;
    let gate = Arc::new(Semaphore::new(0));
    let (started, finished) = (Arc::default(), Arc::default());
    let slow = SlowImpl {
        gate: Arc::clone(&gate),
        started: Arc::clone(&started),
        finished: Arc::clone(&finished),
    };
    let server = Server::builder()
        .allow_unauthenticated()
        .session_config(SessionConfig::default().with_max_channels(LIMIT))
        .add_service(SlowServer::new(slow))
        .build()
        .expect("the server builds");
    let fixture = Fixture::start_with(Transport::Mem, server, Arc::new(Counters::default())).await;
    let client = SlowClient::new(fixture.channel.clone());
    for _ in 0..3 * LIMIT {
        client.hold().await.expect("sent");
    }
    // As many run as there are slots; the rest are dropped unread.
    eventually("every datagram was taken or dropped", || {
        let stats = fixture.server.stats();
        stats.datagrams_received == u64::from(LIMIT)
            && stats.datagrams_dropped == u64::from(2 * LIMIT)
    })
    .await;
    assert_eq!(started.load(Ordering::Relaxed), u64::from(LIMIT));
    // Once they finish, there is room again.
    gate.add_permits(LIMIT as usize);
    eventually("the held ones finished", || {
        finished.load(Ordering::Relaxed) == u64::from(LIMIT)
    })
    .await;
    gate.add_permits(1);
    client.hold().await.expect("sent");
    eventually("a later one runs", || {
        finished.load(Ordering::Relaxed) == u64::from(LIMIT) + 1
    })
    .await;
    assert_eq!(
        fixture.server.stats().datagrams_dropped,
        u64::from(2 * LIMIT)
    );
    fixture.shutdown().await.expect("clean shutdown");
}
