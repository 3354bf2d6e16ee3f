//! The errors a user sees: a schema that changed on one side, an op the
//! server does not serve, a request the server cannot decode, a server
//! that went away, a connect nobody answers, a service added twice. Each
//! is a clear status or error naming the op (or the address, or why the
//! connection closed), never a timeout.

mod common;

use std::future::IntoFuture;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::raw::{self, RawConn};
use common::{
    Counters, Fixture, GreeterClient, PROMPTLY, Transport, assert_no_panics, install_panic_hook,
};
use prism::client::{Plain, UnaryCall};
use prism::codec::Postcard;
use prism::{Channel, Code, Execution, Server};

/// The `Store` service as the server knows it.
mod v1 {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[prism::service(public, package = "t", name = "Store")]
    pub trait Store {
        async fn get(&self, key: String) -> u64;
        async fn put(&self, key: u64, value: u64) -> bool;
    }

    /// Counts the calls that reach it.
    #[derive(Debug, Default)]
    pub(crate) struct MyStore {
        pub(crate) calls: Arc<AtomicUsize>,
    }

    impl Store for MyStore {
        async fn get(&self, key: String) -> u64 {
            self.calls.fetch_add(1, Ordering::SeqCst);
            key.len() as u64
        }

        async fn put(&self, key: u64, value: u64) -> bool {
            self.calls.fetch_add(1, Ordering::SeqCst);
            key == value
        }
    }
}

/// The `Store` service as a newer client knows it: `put` takes a string key.
mod v2 {
    #[prism::service(public, package = "t", name = "Store")]
    pub trait Store {
        async fn get(&self, key: String) -> u64;
        async fn put(&self, key: String, value: u64) -> bool;
    }
}

/// Serves v1 over `transport`; returns the fixture and v1's call counter.
async fn serve_v1(transport: Transport) -> (Fixture, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(v1::StoreServer::new(v1::MyStore {
            calls: Arc::clone(&calls),
        }))
        .allow_plaintext()
        .build()
        .unwrap();
    let fx = Fixture::start_with(transport, server, Arc::new(Counters::default())).await;
    (fx, calls)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_schema_fails_with_failed_precondition_naming_the_op() {
    for transport in Transport::ALL {
        let (fx, calls) = serve_v1(transport).await;
        // Same names, so the same op ids...
        assert_eq!(v1::store::PUT, v2::store::PUT);
        let store = v2::StoreClient::new(fx.channel.clone());

        // ...but `put`'s request differs: refused before anything is sent.
        let status = tokio::time::timeout(PROMPTLY, store.put("k".into(), 1))
            .await
            .expect("refused at once")
            .expect_err("a put with another schema is refused");
        assert_eq!(status.code(), Code::FailedPrecondition, "{status}");
        assert!(status.message().contains("t.Store/put"), "{status}");
        assert!(status.message().contains("schema"), "{status}");
        assert_eq!(calls.load(Ordering::SeqCst), 0, "the server never saw it");

        // The same again (the verdict is cached, not recomputed wrongly).
        let status = store.put("k".into(), 1).await.expect_err("still refused");
        assert_eq!(status.code(), Code::FailedPrecondition, "{status}");

        // `get` is unchanged and keeps working on the same connection.
        assert_eq!(store.get("four".into()).await.unwrap(), 4);
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // And a v1 client on a new connection can put.
        let current = v1::StoreClient::new(fx.connect().await.expect("connect"));
        assert!(current.put(3, 3).await.unwrap());
        fx.shutdown().await.expect("clean shutdown");
    }
    assert_no_panics();
}

/// The schema check belongs to the client's op, not only to the op id:
/// two client types for one op id on one channel each get their own verdict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schema_verdicts_are_per_client_type_on_a_shared_channel() {
    let (fx, calls) = serve_v1(Transport::Mem).await;
    let current = v1::StoreClient::new(fx.channel.clone());
    let newer = v2::StoreClient::new(fx.channel.clone());

    // The matching client first: its verdict (compatible) must not be
    // reused for the other schema. `put("", 5)` encodes as the bytes of
    // v1's `put(0, 5)`, so if it is sent the server silently runs the
    // wrong request.
    assert!(current.put(7, 7).await.unwrap());
    let result = newer.put(String::new(), 5).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "v2's put reached v1's handler"
    );
    let status = result.expect_err("v2's put has another schema than the server's");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status}");

    // The other order on a fresh channel: the v2 refusal must not make
    // v1's matching put fail.
    let channel = fx.connect().await.expect("connect");
    let newer = v2::StoreClient::new(channel.clone());
    let current = v1::StoreClient::new(channel);
    let status = newer.put("k".into(), 1).await.expect_err("refused");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status}");
    let result = current.put(3, 3).await;
    assert!(
        result.as_ref().is_ok_and(|same| *same),
        "a matching client was refused with another client's verdict: {result:?}"
    );
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_op_the_server_does_not_serve_is_not_found() {
    for transport in Transport::ALL {
        let (fx, _calls) = serve_v1(transport).await;
        let greeter = GreeterClient::new(fx.channel.clone());
        let status = tokio::time::timeout(PROMPTLY, greeter.greet("x".into()))
            .await
            .expect("refused at once")
            .expect_err("the server serves no Greeter");
        assert_eq!(status.code(), Code::NotFound, "{status}");
        assert!(status.message().contains("tests.Greeter/greet"), "{status}");
        // The connection is fine.
        let store = v1::StoreClient::new(fx.channel.clone());
        assert_eq!(store.get("ab".into()).await.unwrap(), 2);
        fx.shutdown().await.expect("clean shutdown");
    }
    assert_no_panics();
}

/// A request type of another shape than `Store::get`'s `{ key: String }`:
/// bytes that are not UTF-8 where the server expects a string.
#[prism::message]
#[derive(Debug)]
struct NotAString {
    key: Vec<u8>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_the_server_cannot_decode_is_invalid_argument() {
    for transport in Transport::ALL {
        let (fx, calls) = serve_v1(transport).await;
        // Through the public API: v1's descriptor (so the client's schema
        // check passes) with a request of another type.
        let call: UnaryCall<Postcard, NotAString, Plain<u64>> = UnaryCall::new(
            fx.channel.clone(),
            &v1::store::OPS[0],
            NotAString {
                key: vec![0xff, 0xfe, 0xfd],
            },
        );
        let status = tokio::time::timeout(PROMPTLY, call)
            .await
            .expect("a decode error is an answer, not a timeout")
            .expect_err("the server cannot decode it");
        assert_eq!(status.code(), Code::InvalidArgument, "{status}");
        assert!(status.message().contains("t.Store/get"), "{status}");
        assert_eq!(calls.load(Ordering::SeqCst), 0, "no handler ran");

        let store = v1::StoreClient::new(fx.channel.clone());
        assert_eq!(store.get("abc".into()).await.unwrap(), 3);
        fx.shutdown().await.expect("clean shutdown");
    }
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_garbage_payload_is_invalid_argument_naming_the_op() {
    let fx = Fixture::start(Transport::Tcp).await;
    let (mut conn, _) = RawConn::handshake(fx.tcp_addr()).await;
    let header = raw::call_header(1, common::calc::ADD.get());
    conn.send(header, &[0xff; 24]).await;
    let (code, message) = conn.expect_error(1).await;
    assert_eq!(code, Code::InvalidArgument, "{message}");
    assert!(message.contains("tests.Calc/add"), "{message}");
    // Payload bytes never reach the message.
    assert!(!message.contains("255"), "{message}");
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_to_a_server_that_died_are_unavailable() {
    for transport in Transport::ALL {
        let fx = Fixture::start(transport).await;
        let calc = fx.calc();
        assert_eq!(calc.add(1, 2).await.unwrap(), 3);
        let in_flight = tokio::spawn(calc.sleep(10_000).timeout(PROMPTLY * 5).into_future());
        common::eventually("the call started", || fx.counters.started() == 1).await;
        // Not a graceful shutdown: the serving task (and its connections) vanish.
        fx.serving.abort();
        let status = tokio::time::timeout(PROMPTLY, in_flight)
            .await
            .expect("the caller learns promptly")
            .expect("task")
            .expect_err("the server is gone");
        assert_eq!(status.code(), Code::Unavailable, "{transport:?}: {status}");
        common::eventually("the channel sees the close", || fx.channel.is_closed()).await;
        let status = calc.add(1, 2).await.expect_err("closed");
        assert_eq!(status.code(), Code::Unavailable, "{transport:?}: {status}");
    }
    assert_no_panics();
}

#[tokio::test]
async fn a_handshake_with_nobody_serving_fails_instead_of_hanging() {
    install_panic_hook();
    // The server side of the link is dropped: connecting fails at once.
    let (client, server_link) = prism::mem::pair();
    drop(server_link);
    let result = tokio::time::timeout(PROMPTLY, Channel::builder().connect_link(client)).await;
    let err = result
        .expect("fails promptly")
        .expect_err("nobody is there");
    assert!(matches!(err, prism::ConnectError::Handshake(_)), "{err:?}");
    assert_no_panics();
}

/// A service whose handler panics on request.
mod boom {
    use futures_util::StreamExt;
    use prism::Streaming;

    #[prism::service(public, package = "tests")]
    pub trait Boom {
        /// Panics when `x` is 1; returns `x` otherwise.
        async fn boom(&self, x: u32) -> u32;
        /// 0..n, then a panic in the stream.
        async fn blow(&self, n: u32) -> Streaming<u32>;
        /// The sum of what is sent.
        async fn total(&self, xs: Streaming<u32>) -> u32;
        /// `blow` as a push subscription (its producer runs in a task).
        #[prism(subscription)]
        async fn blast(&self, n: u32) -> Streaming<u32>;
    }

    #[derive(Debug)]
    pub(crate) struct Panicky;

    impl Boom for Panicky {
        async fn boom(&self, x: u32) -> u32 {
            assert_ne!(x, 1, "this handler panics on purpose");
            x
        }

        async fn blow(&self, n: u32) -> Streaming<u32> {
            Streaming::from_stream(futures_util::stream::iter(0..=n).map(move |x| {
                assert_ne!(x, n, "this stream panics on purpose");
                x
            }))
        }

        async fn blast(&self, n: u32) -> Streaming<u32> {
            self.blow(n).await
        }

        async fn total(&self, mut xs: Streaming<u32>) -> u32 {
            let mut total = 0;
            while let Ok(Some(x)) = xs.message().await {
                total += x;
            }
            total
        }
    }
}

/// `Calc` and the panicking `Boom` over `transport`, handlers run as
/// `execution` says, and a client of each.
async fn boom_fixture(
    transport: Transport,
    execution: Execution,
) -> (Fixture, common::CalcClient, boom::BoomClient) {
    let counters = Arc::new(Counters::default());
    let server = Server::builder()
        .allow_unauthenticated()
        .execution(execution)
        .add_service(common::CalcServer::new(common::TestCalc::new(Arc::clone(
            &counters,
        ))))
        .add_service(boom::BoomServer::new(boom::Panicky))
        .allow_plaintext()
        .build()
        .unwrap();
    let fx = Fixture::start_with(transport, server, counters).await;
    let (calc, boom) = (fx.calc(), boom::BoomClient::new(fx.channel.clone()));
    (fx, calc, boom)
}

/// A bug in one handler is that call's failure (`INTERNAL`), not the end of
/// every call multiplexed on the same connection.
///
/// Runs on a current-thread runtime so that the deliberate panic happens on
/// this test's own thread, where the panic guard of the other tests leaves it.
#[tokio::test]
async fn a_panicking_handler_fails_only_its_own_call() {
    // Spawned handlers run on this thread too: the runtime has only one.
    for (transport, execution) in Transport::ALL
        .into_iter()
        .flat_map(|t| [(t, Execution::Inline), (t, Execution::Spawn)])
    {
        let (fx, calc, boom) = boom_fixture(transport, execution).await;
        assert_eq!(boom.boom(2).await.unwrap(), 2);

        // Another call in flight on the same connection.
        let slow = tokio::spawn(calc.sleep(100).into_future());
        common::eventually("the slow call started", || fx.counters.started() == 1).await;

        let status = boom.boom(1).await.expect_err("the handler panicked");
        assert_eq!(
            status.code(),
            Code::Internal,
            "{transport:?}, {execution:?}: {status}"
        );

        let slow = slow.await.expect("task");
        assert_eq!(
            slow,
            Ok(100),
            "{transport:?}, {execution:?}: the other call on the connection"
        );
        assert_eq!(
            boom.boom(3).await,
            Ok(3),
            "{transport:?}, {execution:?}: the connection goes on"
        );
        fx.shutdown().await.expect("clean shutdown");
    }
}

/// A bug in a stream's producer fails that stream's call (`INTERNAL`,
/// after the items it yielded), on either side, not the connection.
///
/// On a current-thread runtime, like the test above.
#[tokio::test]
async fn a_panicking_stream_fails_only_its_own_call() {
    use futures_util::StreamExt;
    for transport in Transport::ALL {
        let (fx, calc, boom) = boom_fixture(transport, Execution::Inline).await;
        let slow = tokio::spawn(calc.sleep(100).into_future());
        common::eventually("the slow call started", || fx.counters.started() == 1).await;

        // The handler's stream panics after two items, pulled by the
        // connection or (a subscription) by a task of its own.
        for subscription in [false, true] {
            let items = match subscription {
                false => boom.blow(2).await,
                true => boom.blast(2).await,
            };
            let mut items = items.expect("open");
            let status = tokio::time::timeout(PROMPTLY, async {
                assert_eq!(items.message().await, Ok(Some(0)), "{transport:?}");
                assert_eq!(items.message().await, Ok(Some(1)), "{transport:?}");
                items.message().await.expect_err("the stream panicked")
            })
            .await
            .expect("the stream ends promptly");
            assert_eq!(status.code(), Code::Internal, "{transport:?}: {status}");
        }

        // The caller's request stream panics on its third item.
        let xs = prism::Streaming::from_stream(futures_util::stream::iter(1..=5u32).map(|x| {
            assert_ne!(x, 3, "this stream panics on purpose");
            x
        }));
        let status = boom.total(xs).await.expect_err("the stream panicked");
        assert_eq!(status.code(), Code::Internal, "{transport:?}: {status}");

        assert_eq!(slow.await.expect("task"), Ok(100), "{transport:?}");
        assert_eq!(
            boom.boom(3).await,
            Ok(3),
            "{transport:?}: the connection goes on"
        );
        fx.shutdown().await.expect("clean shutdown");
    }
}

#[tokio::test]
async fn a_refused_connect_names_the_address_and_the_os_error() {
    install_panic_hook();
    // A port nobody listens on: bind one, then let it go.
    let addr = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("addr")
    };
    let err = Channel::builder()
        .allow_plaintext()
        .connect(prism::tcp::TcpConnector::new(addr))
        .await
        .expect_err("nobody listens");
    let text = err.to_string();
    assert!(
        matches!(err, prism::ConnectError::Connect { .. }),
        "{err:?}"
    );
    assert!(text.contains(&addr.to_string()), "{text}");
    assert!(text.to_lowercase().contains("refused"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_call_after_a_close_says_why_the_connection_closed() {
    let fx = Fixture::start(Transport::Unix).await;
    let calc = fx.calc();
    assert_eq!(calc.add(1, 2).await.expect("add"), 3);
    fx.server.shutdown();
    common::eventually("the goaway closes the channel", || fx.channel.is_closed()).await;
    for _ in 0..3 {
        let status = calc.add(1, 2).await.expect_err("closed");
        assert_eq!(status.code(), Code::Unavailable, "{status}");
        assert!(
            status.message().contains("the server is shutting down"),
            "the peer's GOAWAY reason: {status}"
        );
    }
    drop(calc);
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[test]
fn a_service_added_twice_fails_the_build_naming_an_op() {
    let err = Server::builder()
        .allow_unauthenticated()
        .add_service(v1::StoreServer::new(v1::MyStore::default()))
        .add_service(v1::StoreServer::new(v1::MyStore::default()))
        .build()
        .expect_err("a duplicate service");
    let text = err.to_string();
    assert!(text.contains("t.Store/"), "{text}");
}
