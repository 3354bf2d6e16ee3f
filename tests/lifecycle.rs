//! The life of calls, connections and servers: cancellation, deadlines,
//! graceful shutdown, closing, plaintext refusal and building a server.

mod common;

use std::future::IntoFuture;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::raw::{self, RawConn};
use common::{
    CalcClient, CalcServer, Counters, Fixture, GreeterServer, PROMPTLY, TestCalc, TestGreeter,
    Transport, assert_no_panics, eventually, install_panic_hook,
};
use prism::tcp::{TcpConnector, TcpLink};
use prism::transport::{Connector, LinkConfig};
use prism::{BuildError, Channel, Code, ConnectError, ServeError, Server};
use tokio::net::TcpListener;

/// Starts `calc.sleep(10_000)`, waits until its handler runs on the
/// server, then drops the call future.
async fn start_then_drop_a_sleep(fx: &Fixture) {
    let started = fx.counters.started();
    let mut call = Box::pin(fx.calc().sleep(10_000).into_future());
    tokio::select! {
        result = &mut call => panic!("a 10 s sleep finished early: {result:?}"),
        () = eventually("the handler started", || fx.counters.started() > started) => {}
    }
    drop(call);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_a_call_cancels_it_on_the_server() {
    for transport in Transport::ALL {
        let fx = Fixture::start(transport).await;
        start_then_drop_a_sleep(&fx).await;
        eventually("the server dropped the handler", || {
            fx.counters.dropped() == 1
        })
        .await;
        assert_eq!(fx.counters.finished(), 0, "{transport:?}");
        // The connection goes on.
        assert_eq!(fx.calc().add(1, 2).await.unwrap(), 3, "{transport:?}");
        fx.shutdown().await.expect("clean shutdown");
    }
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn giving_up_after_20ms_leaves_no_handler_running() {
    // The plain recipe: give up on the future after 20 ms.
    let fx = Fixture::start(Transport::Tcp).await;
    let calc = fx.calc();
    let gave_up = tokio::time::timeout(Duration::from_millis(20), calc.sleep(10_000)).await;
    assert!(gave_up.is_err(), "a 10 s sleep finished within 20 ms");
    // Whether or not the handler had started, the server ends up with no
    // running sleep: either it never started or it was dropped.
    eventually("the server forgot the call", || {
        fx.counters.started() == fx.counters.dropped()
    })
    .await;
    assert_eq!(fx.counters.finished(), 0);
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_past_its_deadline_fails_and_its_handler_is_dropped() {
    for transport in Transport::ALL {
        let fx = Fixture::start(transport).await;
        let begun = Instant::now();
        let result = fx
            .calc()
            .sleep(10_000)
            .timeout(Duration::from_millis(50))
            .await;
        let elapsed = begun.elapsed();
        let status = result.expect_err("a 10 s sleep cannot beat a 50 ms deadline");
        assert_eq!(
            status.code(),
            Code::DeadlineExceeded,
            "{transport:?}: {status}"
        );
        assert!(elapsed >= Duration::from_millis(50), "{elapsed:?}");
        assert!(elapsed < PROMPTLY, "{elapsed:?}");
        eventually("the server dropped the handler", || {
            fx.counters.dropped() == 1
        })
        .await;
        assert_eq!(fx.counters.finished(), 0);
        assert_eq!(fx.calc().add(1, 2).await.unwrap(), 3);
        let served = fx.shutdown().await;
        served.unwrap_or_else(|e| panic!("{transport:?}: clean shutdown: {e:?}"));
    }
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_enforces_a_deadline_on_its_own() {
    // A raw client that sends a deadline and never cancels: the server
    // must stop the handler and answer DEADLINE_EXCEEDED by itself.
    let fx = Fixture::start(Transport::Tcp).await;
    let addr = fx.tcp_addr();
    let (mut conn, _) = RawConn::handshake(addr).await;
    let mut header = raw::call_header(1, common::calc::SLEEP.get());
    header.aux = 30_000; // µs
    let request = common::calc::SleepRequest { ms: 10_000 };
    let begun = Instant::now();
    conn.send(header, &raw::encode(&request)).await;
    let (code, message) = conn.expect_error(1).await;
    assert_eq!(code, Code::DeadlineExceeded, "{message}");
    assert!(begun.elapsed() < PROMPTLY);
    eventually("the server dropped the handler", || {
        fx.counters.dropped() == 1
    })
    .await;
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_shutdown_finishes_in_flight_calls() {
    let fx = Fixture::start(Transport::Tcp).await;
    let addr = fx.tcp_addr();
    let calc = fx.calc();
    let slow = tokio::spawn(calc.sleep(200).into_future());
    eventually("the slow call started", || fx.counters.started() == 1).await;

    fx.server.shutdown();
    let result = tokio::time::timeout(PROMPTLY, slow)
        .await
        .expect("the in-flight call finishes")
        .expect("call task");
    assert_eq!(result.expect("the in-flight call succeeds"), 200);
    assert_eq!(fx.counters.finished(), 1);

    // The reply came after the server's GOAWAY: no new calls here.
    let status = calc
        .add(1, 2)
        .await
        .expect_err("no new calls after shutdown");
    assert_eq!(status.code(), Code::Unavailable, "{status}");

    // With its only connection drained, serve returns.
    let served = tokio::time::timeout(PROMPTLY, fx.serving)
        .await
        .expect("serve returns after the drain")
        .expect("serving task");
    served.expect("serve returns Ok");

    // And nobody listens any more: the error names the address and the
    // operating system's reason.
    let connect = Channel::builder()
        .allow_plaintext()
        .connect(TcpConnector::new(addr));
    let err = tokio::time::timeout(PROMPTLY, connect)
        .await
        .expect("connecting fails promptly")
        .expect_err("the listener is gone");
    assert!(matches!(err, ConnectError::Connect { .. }), "{err:?}");
    let shown = err.to_string();
    assert!(
        shown.contains(&addr.to_string()) && shown.contains("refused"),
        "{shown}"
    );
    // The old channel says why it closed.
    let reason = tokio::time::timeout(PROMPTLY, fx.channel.closed())
        .await
        .expect("the channel closes");
    assert!(reason.is_graceful(), "{reason}");
    assert!(reason.to_string().contains("shutting down"), "{reason}");
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_during_the_drain_are_refused_promptly() {
    let fx = Fixture::start(Transport::Tcp).await;
    let addr = fx.tcp_addr();
    // Keep the server draining for a while.
    let slow = tokio::spawn(fx.calc().sleep(1_500).into_future());
    eventually("the slow call started", || fx.counters.started() == 1).await;
    fx.server.shutdown();
    // Once the existing connection refuses new calls the shutdown has
    // reached the server's tasks; a moment more for the accept loop.
    let status = fx.calc().add(1, 2).await.expect_err("draining");
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    tokio::time::sleep(Duration::from_millis(20)).await;

    // A client arriving now must learn at once that it is not served:
    // refused, or a handshake answered with GOAWAY. Waiting out its
    // handshake timeout (10 s by default) is the wrong answer.
    let connect = Channel::builder()
        .allow_plaintext()
        .connect(TcpConnector::new(addr));
    let outcome = tokio::time::timeout(Duration::from_millis(1_000), connect).await;
    match outcome {
        Ok(Err(_)) => {}
        Ok(Ok(channel)) => {
            let status = common::CalcClient::new(channel)
                .add(1, 2)
                .await
                .expect_err("a draining server takes no new calls");
            assert_eq!(status.code(), Code::Unavailable, "{status}");
        }
        Err(_) => panic!(
            "a connection made while the server drains hangs instead of failing \
             (the listener is still open but never accepted from)"
        ),
    }
    assert_eq!(slow.await.expect("task").expect("in-flight call"), 1_500);
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_with_no_calls_returns_at_once() {
    for transport in Transport::ALL {
        let fx = Fixture::start(transport).await;
        assert_eq!(fx.calc().add(1, 2).await.unwrap(), 3);
        let channel = fx.channel.clone();
        fx.server.shutdown();
        // The idle connection is told to go away and closes...
        eventually("the client sees the connection closed", || {
            channel.is_closed()
        })
        .await;
        let status = CalcClient::new(channel)
            .add(1, 2)
            .await
            .expect_err("closed");
        assert_eq!(status.code(), Code::Unavailable, "{transport:?}: {status}");
        // ...and serve returns Ok.
        let served = tokio::time::timeout(PROMPTLY, fx.serving)
            .await
            .expect("serve returns promptly")
            .expect("serving task");
        served.unwrap_or_else(|e| panic!("{transport:?}: {e:?}"));
    }
    assert_no_panics();
}

/// Answers with as many bytes as asked for.
#[prism::service(public, package = "tests")]
pub trait Blob {
    /// `len` bytes.
    async fn blob(&self, len: u32) -> Vec<u8>;
}

struct Blobs;

impl Blob for Blobs {
    async fn blob(&self, len: u32) -> Vec<u8> {
        vec![7; len as usize]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_cannot_hold_a_shutdown_open() {
    let drain_timeout = Duration::from_millis(200);
    let session = prism::transport::SessionConfig::default().with_drain_timeout(drain_timeout);
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(BlobServer::new(Blobs))
        .session_config(session)
        .allow_plaintext()
        .build()
        .unwrap();
    let fixture = Fixture::start_with(Transport::Tcp, server, Arc::new(Counters::default())).await;
    let addr = fixture.tcp_addr();
    let (server, serving) = (fixture.server.clone(), fixture.serving);
    // Asks for 32 MiB of answers, far more than the sockets buffer, and
    // never reads them.
    let (mut conn, _) = RawConn::handshake(addr).await;
    let request = raw::encode(&blob::BlobRequest { len: 8 << 20 });
    for channel in [1, 3, 5, 7] {
        conn.send(raw::call_header(channel, blob::BLOB.get()), &request)
            .await;
    }
    // All four taken before the goodbye: one 8 MiB answer alone can fit
    // in loopback's socket buffers (up to 4 MiB to send, 6 MiB to
    // receive), and then nothing would wait.
    eventually("the server took every call", || {
        server.stats().calls_received >= 4
    })
    .await;
    // The calls it took are answered (the drain has nothing to wait for),
    // but 8 MiB answers cannot leave: the server waits the drain timeout
    // for them, then drops the link.
    let started = Instant::now();
    server.shutdown();
    tokio::time::timeout(PROMPTLY, serving)
        .await
        .expect("serve ends although the peer reads nothing")
        .expect("serving task")
        .expect("serve returns Ok");
    // The drain timer starts from the driver's clock, read at the start
    // of its turn, which may be a little before `started`.
    assert!(
        started.elapsed() >= drain_timeout * 3 / 4,
        "the last frames got the drain timeout to leave: {:?}",
        started.elapsed()
    );
    drop(conn);
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_client_closes_the_connection() {
    install_panic_hook();
    let counters = Arc::new(Counters::default());
    let server = common::test_server(&counters);
    let (client_link, server_link) = prism::mem::pair();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve_link(server_link).await }
    });
    let channel = Channel::builder()
        .connect_link(client_link)
        .await
        .expect("connect");
    let calc = CalcClient::new(channel.clone());
    let calc2 = calc.clone();
    assert_eq!(calc.add(1, 2).await.unwrap(), 3);
    drop(channel);
    drop(calc);
    // One handle left: still serving.
    assert_eq!(calc2.add(2, 2).await.unwrap(), 4);
    assert!(!serving.is_finished());
    drop(calc2);
    let served = tokio::time::timeout(PROMPTLY, serving)
        .await
        .expect("serve_link returns once every client handle is gone")
        .expect("serving task");
    served.expect("serve_link returns Ok");
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_every_client_over_tcp_ends_serve_link() {
    install_panic_hook();
    let counters = Arc::new(Counters::default());
    let server = common::test_server(&counters);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serving = tokio::spawn({
        let server = server.clone();
        async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let link = TcpLink::new(stream, &LinkConfig::default()).expect("link");
            server.serve_link(link).await
        }
    });
    let channel = Channel::builder()
        .allow_plaintext()
        .connect(TcpConnector::new(addr))
        .await
        .expect("connect");
    let calc = CalcClient::new(channel);
    assert_eq!(calc.add(1, 2).await.unwrap(), 3);
    drop(calc);
    let served = tokio::time::timeout(PROMPTLY, serving)
        .await
        .expect("serve_link returns once every client handle is gone")
        .expect("serving task");
    served.expect("serve_link returns Ok");
    assert_no_panics();
}

#[tokio::test]
async fn plaintext_tcp_is_refused_by_the_client_unless_allowed() {
    install_panic_hook();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();

    let err = Channel::builder()
        .connect(TcpConnector::new(addr))
        .await
        .expect_err("plaintext tcp was not allowed");
    assert!(
        matches!(&err, ConnectError::InsecureLink(refused) if refused.transport() == "tcp"),
        "{err:?}"
    );
    assert!(err.to_string().contains("allow_plaintext"), "{err}");
    // Refused before connecting: the listener saw nobody.
    let nobody = tokio::time::timeout(Duration::from_millis(50), listener.accept()).await;
    assert!(nobody.is_err(), "the client connected before refusing");

    // The same for a TCP link handed over directly.
    let link = TcpConnector::new(addr)
        .connect(&LinkConfig::default())
        .await
        .unwrap();
    let err = Channel::builder()
        .connect_link(link)
        .await
        .expect_err("plaintext tcp was not allowed");
    assert!(
        matches!(&err, ConnectError::InsecureLink(refused) if refused.transport() == "tcp"),
        "{err:?}"
    );
    assert_no_panics();
}

#[tokio::test]
async fn plaintext_tcp_is_refused_by_the_server_unless_allowed() {
    install_panic_hook();
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(CalcServer::new(TestCalc::new(Arc::default())))
        .build()
        .unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let err = tokio::time::timeout(PROMPTLY, server.serve(listener))
        .await
        .expect("refused at once")
        .expect_err("plaintext tcp was not allowed");
    assert!(
        matches!(&err, ServeError::InsecureLink(refused) if refused.transport() == "tcp"),
        "{err:?}"
    );
    assert!(err.to_string().contains("allow_plaintext"), "{err}");

    // serve_link with a TCP link: refused too.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (accepted, _connected) =
        tokio::join!(listener.accept(), tokio::net::TcpStream::connect(addr));
    let link = TcpLink::new(accepted.unwrap().0, &LinkConfig::default()).unwrap();
    let err = server.serve_link(link).await.expect_err("refused");
    assert!(
        matches!(&err, ServeError::InsecureLink(refused) if refused.transport() == "tcp"),
        "{err:?}"
    );

    // Links that do not cross a network need no permission.
    let (client, link) = prism::mem::pair();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve_link(link).await }
    });
    let channel = Channel::builder().connect_link(client).await.unwrap();
    assert_eq!(CalcClient::new(channel).add(2, 2).await.unwrap(), 4);
    serving.await.unwrap().expect("mem serve_link");

    let path = common::SocketPath::new();
    let listener = tokio::net::UnixListener::bind(path.path()).unwrap();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });
    let channel = Channel::builder()
        .connect(prism::unix::UnixConnector::new(path.path()))
        .await
        .unwrap();
    assert_eq!(CalcClient::new(channel).add(2, 2).await.unwrap(), 4);
    server.shutdown();
    serving.await.unwrap().expect("serve over unix");

    // Serving after shutdown is an error, not a silent no-op.
    let (listener, _connector) = prism::mem::endpoint();
    let err = server.serve(listener).await.expect_err("shut down");
    assert!(matches!(err, ServeError::ShutDown), "{err:?}");
    assert_no_panics();
}

/// A second declaration of `Calc`'s wire identity: same package, service
/// and method names, so the same op ids.
mod twin {
    #[prism::service(public, package = "tests", name = "Calc")]
    pub trait CalcTwin {
        async fn add(&self, a: i64, b: i64) -> i64;
    }

    #[derive(Debug)]
    pub(crate) struct Twin;

    impl CalcTwin for Twin {
        async fn add(&self, a: i64, b: i64) -> i64 {
            a - b
        }
    }
}

#[test]
fn colliding_op_ids_fail_the_build() {
    install_panic_hook();
    // The same service twice.
    let counters = Arc::new(Counters::default());
    let err = Server::builder()
        .allow_unauthenticated()
        .add_service(CalcServer::new(TestCalc::new(Arc::clone(&counters))))
        .add_service(GreeterServer::new(TestGreeter))
        .add_service(CalcServer::new(TestCalc::new(counters)))
        .build()
        .expect_err("a service added twice");
    assert!(matches!(err, BuildError::Ops(_)), "{err:?}");
    let source = std::error::Error::source(&err).map(ToString::to_string);
    assert!(
        source.as_deref().is_some_and(|s| s.contains("tests.Calc")),
        "the cause names the service: {source:?}"
    );

    // Two traits that declare the same package, service and method.
    let err = Server::builder()
        .allow_unauthenticated()
        .add_service(CalcServer::new(TestCalc::new(Arc::default())))
        .add_service(twin::CalcTwinServer::new(twin::Twin))
        .build()
        .expect_err("two ops with one id");
    assert!(matches!(err, BuildError::Ops(_)), "{err:?}");
    assert_eq!(twin::calc_twin::ADD, common::calc::ADD);
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_accepts_a_bare_hello_with_its_op_table() {
    let fx = Fixture::start(Transport::Tcp).await;
    let addr = fx.tcp_addr();
    let (mut conn, accept) = RawConn::handshake(addr).await;
    let ops: Vec<u64> = accept.ops.iter().map(|op| op.op).collect();
    assert!(ops.contains(&common::calc::ADD.get()));
    assert!(ops.contains(&common::greeter::GREET.get()));
    assert_eq!(
        ops.len(),
        common::calc::OPS.len() + common::greeter::OPS.len()
    );
    // Closing our side ends the connection cleanly.
    conn.shutdown_write().await;
    let (goaways, end) = conn.expect_close().await;
    assert_eq!(end, raw::End::Closed, "{goaways:?}");
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}
