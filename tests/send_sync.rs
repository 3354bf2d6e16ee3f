//! Auto-trait checks, in the manner of tokio's `tests/async_send_sync.rs`:
//! channels, servers, generated clients and servers, calls and the futures
//! of calls and of serving are `Send` (and `Sync` where shared), so they
//! can cross `tokio::spawn`. This file fails to compile if one is not.

mod common;

use std::future::IntoFuture;
use std::sync::Arc;

use common::{
    CalcClient, CalcServer, Counters, GreeterClient, GreeterServer, TestCalc, TestGreeter,
    assert_no_panics, install_panic_hook,
};
use prism::client::{CallFuture, Fallible, Plain, UnaryCall};
use prism::codec::Postcard;
use prism::{
    BuildError, Channel, ChannelBuilder, Code, ConnectError, ConnectionError, Context, ServeError,
    Server, ServerBuilder, Status,
};

fn assert_send<T: Send>(_: &T) {}
fn assert_sync<T: Sync>(_: &T) {}
fn assert_static<T: 'static>(_: &T) {}
fn require_send<T: Send + 'static>() {}
fn require_send_sync<T: Send + Sync + 'static>() {}
fn require_error<T: std::error::Error + Send + Sync + 'static>() {}

#[test]
fn types_are_send_and_sync() {
    require_send_sync::<Channel>();
    require_send_sync::<ChannelBuilder>();
    require_send_sync::<Server>();
    require_send_sync::<ServerBuilder>();
    require_send_sync::<Status>();
    require_send_sync::<Code>();
    require_send_sync::<Context>();
    require_send_sync::<CalcClient>();
    require_send_sync::<GreeterClient>();
    require_send_sync::<CalcServer<TestCalc>>();
    require_send_sync::<GreeterServer<TestGreeter>>();
    require_send_sync::<UnaryCall<Postcard, common::calc::AddRequest, Plain<i64>>>();
    require_send_sync::<
        UnaryCall<Postcard, common::calc::DivRequest, Fallible<i64, common::MathError>>,
    >();
    require_send_sync::<CallFuture<Postcard, Plain<i64>>>();
    require_send_sync::<CallFuture<Postcard, Fallible<i64, common::MathError>>>();
    require_send_sync::<prism::server::Call>();
    require_send_sync::<prism::client::Call>();
    require_send_sync::<prism::ConnectionStats>();
    // A link is owned by its connection task: `Send` is what it needs.
    require_send::<prism::mem::MemLink>();
    require_send::<prism::mem::MemListener>();
    require_send_sync::<prism::mem::MemConnector>();
    require_send_sync::<prism::tcp::TcpConnector>();
    require_send_sync::<prism::unix::UnixConnector>();
}

#[test]
fn errors_are_send_sync_and_static() {
    // So they fit `Box<dyn Error + Send + Sync>` and `anyhow`.
    require_error::<Status>();
    require_error::<ConnectError>();
    require_error::<ServeError>();
    require_error::<BuildError>();
    require_error::<ConnectionError>();
}

#[tokio::test]
async fn futures_are_send() {
    install_panic_hook();
    let counters = Arc::new(Counters::default());
    let server = common::test_server(&counters);

    // Serving futures, created and dropped unpolled.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let serve_tcp = server.serve(listener);
    assert_send(&serve_tcp);
    drop(serve_tcp);
    let path = common::SocketPath::new();
    let serve_unix = server.serve(tokio::net::UnixListener::bind(path.path()).unwrap());
    assert_send(&serve_unix);
    drop(serve_unix);
    let (mem_listener, mem_connector) = prism::mem::endpoint();
    let serve_mem = server.serve(mem_listener);
    assert_send(&serve_mem);
    drop(serve_mem);
    let (client_link, server_link) = prism::mem::pair();
    let serve_link = server.serve_link(server_link);
    assert_send(&serve_link);
    drop(serve_link);

    // Connecting futures.
    let connect_tcp = Channel::builder()
        .allow_plaintext()
        .connect(prism::tcp::TcpConnector::new(addr));
    assert_send(&connect_tcp);
    drop(connect_tcp);
    let connect_unix = Channel::builder().connect(prism::unix::UnixConnector::new(path.path()));
    assert_send(&connect_unix);
    drop(connect_unix);
    let connect_mem = Channel::builder().connect(mem_connector);
    assert_send(&connect_mem);
    drop(connect_mem);

    // A real connection, for calls.
    let (client_link2, server_link2) = prism::mem::pair();
    drop(client_link);
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve_link(server_link2).await }
    });
    let connect_link = Channel::builder().connect_link(client_link2);
    assert_send(&connect_link);
    let channel = connect_link.await.expect("connect");
    let calc = CalcClient::new(channel);

    let call = calc.add(1, 2);
    assert_send(&call);
    assert_sync(&call);
    let fut = call.into_future();
    assert_send(&fut);
    assert_sync(&fut);
    assert_static(&fut);
    // And it does run on another task.
    assert_eq!(tokio::spawn(fut).await.unwrap().unwrap(), 3);

    let fut = calc.div(1, 0).into_future();
    assert_send(&fut);
    assert_eq!(
        tokio::spawn(fut).await.unwrap().unwrap(),
        Err(common::MathError::DivideByZero)
    );

    let fut = calc
        .sleep(1)
        .timeout(std::time::Duration::from_secs(1))
        .into_future();
    assert_send(&fut);
    assert_eq!(tokio::spawn(fut).await.unwrap().unwrap(), 1);

    let channel = calc.channel().clone();
    let closed = channel.closed();
    assert_send(&closed);
    drop(closed);
    drop((calc, channel));
    serving.await.unwrap().expect("serve_link");
    assert_no_panics();
}
