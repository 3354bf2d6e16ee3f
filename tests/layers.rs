//! The middleware seam: server layers see each call routed but not yet
//! decoded, and may refuse it or attach values for the handler; client
//! layers see each call encoded, before it is sent.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use common::raw::{self, RawConn};
use common::{Counters, Fixture, Transport, assert_no_panics};
use prism::server::{Answer, Call, Dispatched, Handle, Layer, layer_fn};
use prism::{Code, Context, Server, Status};

/// What a layer attached to a call.
#[derive(Debug, Clone, PartialEq)]
struct Tenant(String);

/// Reports what layers attached.
#[prism::service(public, package = "tests")]
pub trait Tenants {
    /// The tenant a layer attached to this call, if any.
    async fn whoami(&self, cx: &Context) -> String;
    /// Never reached: a layer refuses it.
    async fn forbidden(&self, x: u64) -> u64;
}

struct MyTenants {
    reached: Arc<AtomicUsize>,
}

impl Tenants for MyTenants {
    async fn whoami(&self, cx: &Context) -> String {
        self.reached.fetch_add(1, Ordering::SeqCst);
        match cx.extension::<Tenant>() {
            Some(Tenant(name)) => name.clone(),
            None => String::from("nobody"),
        }
    }

    async fn forbidden(&self, x: u64) -> u64 {
        self.reached.fetch_add(1, Ordering::SeqCst);
        x
    }
}

/// Refuses one method by name, before anything is decoded.
struct Deny(&'static str);

struct DenyHandle {
    method: &'static str,
    inner: Arc<dyn Handle>,
}

impl Handle for DenyHandle {
    fn handle(&self, call: Call) -> Dispatched {
        if call.op().method() == self.method {
            return Dispatched::fail(Status::permission_denied(format!(
                "{} is not for you",
                call.op().full_name()
            )));
        }
        self.inner.handle(call)
    }
}

impl Layer for Deny {
    fn layer(&self, inner: Arc<dyn Handle>) -> Arc<dyn Handle> {
        Arc::new(DenyHandle {
            method: self.0,
            inner,
        })
    }
}

fn server(reached: &Arc<AtomicUsize>, order: &Arc<std::sync::Mutex<Vec<&'static str>>>) -> Server {
    let first = Arc::clone(order);
    let second = Arc::clone(order);
    Server::builder()
        .allow_unauthenticated()
        .add_service(TenantsServer::new(MyTenants {
            reached: Arc::clone(reached),
        }))
        .layer(layer_fn(move |mut call, next| {
            first.lock().unwrap().push("first");
            call.extensions_mut().insert(Tenant("acme".into()));
            next.handle(call)
        }))
        .layer(Deny("forbidden"))
        .layer(layer_fn(move |call, next| {
            second.lock().unwrap().push("second");
            // The first layer ran before this one: its value is here.
            assert!(call.extensions().get::<Tenant>().is_some());
            next.handle(call)
        }))
        .allow_plaintext()
        .build()
        .expect("server")
}

#[tokio::test]
async fn server_layers_run_in_order_attach_values_and_refuse_before_decoding() {
    for transport in Transport::ALL {
        let reached = Arc::new(AtomicUsize::new(0));
        let order = Arc::new(std::sync::Mutex::new(Vec::new()));
        let fixture = Fixture::start_with(
            transport,
            server(&reached, &order),
            Arc::new(Counters::default()),
        )
        .await;
        let tenants = TenantsClient::new(fixture.channel.clone());
        assert_eq!(tenants.whoami().await.expect("whoami"), "acme");
        assert_eq!(*order.lock().unwrap(), ["first", "second"]);

        let status = tenants.forbidden(7).await.expect_err("refused");
        assert_eq!(status.code(), Code::PermissionDenied, "{status}");
        assert!(
            status.message().contains("tests.Tenants/forbidden"),
            "{status}"
        );
        assert_eq!(reached.load(Ordering::SeqCst), 1, "the handler never ran");
        // The refusal came from the middle layer: the first ran, the one
        // below it did not.
        assert_eq!(*order.lock().unwrap(), ["first", "second", "first"]);
        fixture.shutdown().await.expect("shutdown");
    }
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusing_layer_never_lets_a_codec_read_the_payload() {
    let reached = Arc::new(AtomicUsize::new(0));
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let fixture = Fixture::start_with(
        Transport::Tcp,
        server(&reached, &order),
        Arc::new(Counters::default()),
    )
    .await;
    // Garbage for `forbidden`: refused as forbidden, not as undecodable.
    let (mut conn, _) = RawConn::handshake(fixture.tcp_addr()).await;
    conn.send(raw::call_header(1, tenants::FORBIDDEN.get()), &[0xff; 24])
        .await;
    let (code, message) = conn.expect_error(1).await;
    assert_eq!(code, Code::PermissionDenied, "{message}");
    // The same garbage for an allowed op is a decode error.
    conn.send(raw::call_header(3, tenants::WHOAMI.get()), &[0xff; 24])
        .await;
    let (code, message) = conn.expect_error(3).await;
    assert_eq!(code, Code::InvalidArgument, "{message}");
    assert_eq!(reached.load(Ordering::SeqCst), 0);
    fixture.shutdown().await.expect("shutdown");
    assert_no_panics();
}

#[tokio::test]
async fn client_layers_see_every_call_and_may_answer_it_themselves() {
    let fixture = Fixture::start(Transport::Mem).await;
    let calls = Arc::new(AtomicU64::new(0));
    let counted = Arc::clone(&calls);
    let builder = prism::Channel::builder()
        .layer(prism::client::layer_fn(move |call, next| {
            counted.fetch_add(1, Ordering::SeqCst);
            next.handle(call)
        }))
        .layer(prism::client::layer_fn(|mut call, next| {
            match call.op().method() {
                // Short-circuits: never sent.
                "greet" => Box::pin(async { Err(Status::unavailable("greetings are off")) }),
                // A layer may bound every call.
                "sleep" => {
                    call.set_timeout(Some(Duration::from_millis(20)));
                    next.handle(call)
                }
                _ => next.handle(call),
            }
        }));
    let channel = fixture.connect_with(builder).await.expect("connect");
    let calc = common::CalcClient::new(channel.clone());
    assert_eq!(calc.add(2, 2).await.expect("add"), 4);
    let status = calc.sleep(5_000).await.expect_err("the layer's timeout");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    let status = common::GreeterClient::new(channel.clone())
        .greet("x".into())
        .await
        .expect_err("short-circuited");
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    // The short-circuited call never reached the connection.
    assert_eq!(channel.stats().calls_sent, 2);
    fixture.shutdown().await.expect("shutdown");
    assert_no_panics();
}

#[tokio::test]
async fn a_layer_may_wait_before_passing_the_call_on() {
    // A concurrency limit of one call at a time, and a gauge of how many
    // calls were inside at once.
    let permits = Arc::new(tokio::sync::Semaphore::new(1));
    let inside = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let (gauge, peak) = (Arc::clone(&inside), Arc::clone(&most));
    let limit = layer_fn(move |call, next| {
        let (permits, next) = (Arc::clone(&permits), Arc::clone(next));
        let (inside, most) = (Arc::clone(&gauge), Arc::clone(&peak));
        let execution = call.execution();
        let future = Box::pin(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return Answer::Reply(Err(Status::unavailable("the limiter closed")));
            };
            let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            let reply = next.handle(call).into_future().await;
            inside.fetch_sub(1, Ordering::SeqCst);
            reply
        });
        Dispatched::Run { future, execution }
    });
    let counters = Arc::new(Counters::default());
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(common::CalcServer::new(common::TestCalc::new(Arc::clone(
            &counters,
        ))))
        .layer(limit)
        .build()
        .expect("server");
    let fixture = Fixture::start_with(Transport::Mem, server, counters).await;
    let calc = fixture.calc();
    let calls: Vec<_> = (0..8)
        .map(|_| tokio::spawn(std::future::IntoFuture::into_future(calc.sleep(5))))
        .collect();
    for call in calls {
        assert_eq!(call.await.expect("task").expect("sleep"), 5);
    }
    assert_eq!(most.load(Ordering::SeqCst), 1, "one call at a time");
    assert_eq!(inside.load(Ordering::SeqCst), 0);
    fixture.shutdown().await.expect("shutdown");
    assert_no_panics();
}
