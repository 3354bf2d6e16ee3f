//! Channels that come back. A real server process (this test binary run
//! again as `server_process`) is killed with SIGKILL and started again on
//! the same Unix socket while clients call it; the channel reconnects with
//! backoff, redoes its handshake, and reports a changed schema per op.
//! Also: the fail-fast and wait-for-ready policies, lazy channels, close,
//! a deadline that passes while waiting for a connection, and connections
//! closed for being idle, which every channel made from a connector comes
//! back from.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::SocketPath;
use common::process::Process;
use prism::client::{ChannelState, Reconnect};
use prism::transport::SessionConfig;
use prism::unix::UnixConnector;
use prism::{Channel, Code, Server};
use tokio::net::UnixListener;

/// The service, first version.
mod v1 {
    #[prism::service(package = "tests.reconnect", public)]
    pub trait Echo {
        /// Returns `text`.
        async fn echo(&self, text: String) -> String;
        /// The server's process id.
        async fn pid(&self) -> u32;
    }

    pub(crate) struct Impl;

    impl Echo for Impl {
        async fn echo(&self, text: String) -> String {
            text
        }

        async fn pid(&self) -> u32 {
            std::process::id()
        }
    }
}

/// The same service after `echo` changed its types.
mod v2 {
    #[prism::service(package = "tests.reconnect", public)]
    pub trait Echo {
        /// Returns `n`.
        async fn echo(&self, n: u64) -> u64;
        /// The server's process id.
        async fn pid(&self) -> u32;
    }

    pub(crate) struct Impl;

    impl Echo for Impl {
        async fn echo(&self, n: u64) -> u64 {
            n
        }

        async fn pid(&self) -> u32 {
            std::process::id()
        }
    }
}

const SERVER_ENV: &str = "PRISM_RECONNECT_SERVER";
const SCHEMA_ENV: &str = "PRISM_RECONNECT_SCHEMA";

/// The server the other tests start as a process of their own: serves the
/// schema named by `PRISM_RECONNECT_SCHEMA` on the Unix socket named by
/// `PRISM_RECONNECT_SERVER`, says `ready` once it listens, and runs until
/// killed.
#[test]
#[ignore = "a server process the reconnect tests start; not a test by itself"]
fn server_process() {
    let path = std::env::var(SERVER_ENV).expect("run by the reconnect tests, which set the path");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let builder = Server::builder().allow_unauthenticated();
        let builder = match std::env::var(SCHEMA_ENV).as_deref() {
            Ok("v2") => builder.add_service(v2::EchoServer::new(v2::Impl)),
            _ => builder.add_service(v1::EchoServer::new(v1::Impl)),
        };
        let server = builder.build().expect("server");
        let _ = std::fs::remove_file(&path);
        let listener = UnixListener::bind(&path).expect("bind");
        println!("ready");
        server.serve(listener).await.expect("serve");
    });
}

/// A server process serving `schema` on `path`, once it listens; killed
/// with SIGKILL when dropped.
async fn start_server(path: &Path, schema: &str) -> Process {
    let env = vec![
        (SERVER_ENV, path.display().to_string()),
        (SCHEMA_ENV, schema.to_owned()),
    ];
    Process::start("server_process", env).await
}

/// Quick retries, so the tests do not wait long.
fn quick() -> Reconnect {
    Reconnect::default().backoff(Duration::from_millis(10), Duration::from_millis(100))
}

/// Waits until the channel's state is one `pick` picks.
async fn until(channel: &Channel, pick: impl Fn(&ChannelState) -> bool) {
    let mut states = channel.state_watch();
    let reached = tokio::time::timeout(Duration::from_secs(10), states.wait_for(|s| pick(s)));
    let state = channel.state();
    reached
        .await
        .unwrap_or_else(|_| panic!("the channel stayed {state:?}"))
        .expect("the channel is alive");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_is_reconnected_to_under_load() {
    const CALLERS: usize = 8;
    let socket = SocketPath::new();
    let server = start_server(socket.path(), "v1").await;
    let channel = Channel::builder()
        .reconnect(quick().wait_for_ready())
        .connect(UnixConnector::new(socket.path()))
        .await
        .expect("connect");
    let echo = v1::EchoClient::new(channel.clone());
    let first = echo.pid().await.expect("pid");

    // Callers call without pause; each records what it got.
    let stop = Arc::new(AtomicBool::new(false));
    let callers: Vec<_> = (0..CALLERS)
        .map(|i| {
            let (echo, stop) = (echo.clone(), Arc::clone(&stop));
            tokio::spawn(async move {
                let (mut ok, mut failed) = (0u64, Vec::new());
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let text = format!("{i}-{n}");
                    match echo
                        .echo(text.clone())
                        .timeout(Duration::from_secs(10))
                        .await
                    {
                        Ok(back) => {
                            assert_eq!(back, text, "a reply to another call");
                            ok += 1;
                        }
                        Err(status) => failed.push(status),
                    }
                    n += 1;
                }
                (ok, failed)
            })
        })
        .collect();

    tokio::time::sleep(Duration::from_millis(300)).await;
    server.kill();
    until(&channel, |s| matches!(s, ChannelState::TransientFailure(_))).await;
    // Down for a while: calls wait (wait-for-ready) instead of failing.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let server = start_server(socket.path(), "v1").await;
    until(&channel, |s| matches!(s, ChannelState::Ready)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop.store(true, Ordering::Relaxed);

    let (mut ok, mut failed) = (0, Vec::new());
    for caller in callers {
        let (calls, failures) = caller.await.expect("caller");
        ok += calls;
        failed.extend(failures);
    }
    // Only calls in flight when the server died failed, each UNAVAILABLE
    // (they may have run: they are not sent again); every other call
    // was answered, by one server or the other.
    assert!(ok > 100, "{ok} calls answered");
    for status in &failed {
        assert_eq!(status.code(), Code::Unavailable, "{status}");
    }
    assert!(failed.len() <= 4 * CALLERS, "{} calls failed", failed.len());
    let second = echo.pid().await.expect("pid");
    assert_ne!(first, second, "answered by the new process");
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_attempts_fail_calls_fail_fast_unless_they_wait_for_ready() {
    let socket = SocketPath::new();
    let server = start_server(socket.path(), "v1").await;
    let fail_fast = Channel::builder()
        .reconnect(quick())
        .connect(UnixConnector::new(socket.path()))
        .await
        .expect("connect");
    let waits = Channel::builder()
        .reconnect(quick().wait_for_ready())
        .connect(UnixConnector::new(socket.path()))
        .await
        .expect("connect");
    server.kill();
    until(&fail_fast, |s| {
        matches!(s, ChannelState::TransientFailure(_))
    })
    .await;
    until(&waits, |s| matches!(s, ChannelState::TransientFailure(_))).await;

    // Fail fast: at once, naming why the last attempt failed (refused,
    // or reset by a server process that was still dying).
    let refused = v1::EchoClient::new(fail_fast.clone())
        .echo("a".into())
        .await
        .expect_err("no server");
    assert_eq!(refused.code(), Code::Unavailable, "{refused}");
    let message = refused.message();
    assert!(message.starts_with("not connected: "), "{refused}");
    assert!(
        message.contains("could not connect") || message.contains("the handshake failed"),
        "{refused}"
    );

    // Wait for ready: until the server is back…
    let call = tokio::spawn({
        let echo = v1::EchoClient::new(waits.clone());
        async move { echo.echo("b".into()).timeout(Duration::from_secs(10)).await }
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!call.is_finished(), "the call waits for a connection");
    let server = start_server(socket.path(), "v1").await;
    assert_eq!(call.await.expect("task").expect("answered"), "b");
    // …or until its deadline.
    server.kill();
    until(&waits, |s| matches!(s, ChannelState::TransientFailure(_))).await;
    let late = v1::EchoClient::new(waits)
        .echo("c".into())
        .timeout(Duration::from_millis(100))
        .await
        .expect_err("no server");
    assert_eq!(late.code(), Code::DeadlineExceeded, "{late}");
    assert!(
        late.message().contains("waiting for a connection"),
        "{late}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_back_with_another_schema_is_reported_per_op() {
    let socket = SocketPath::new();
    let server = start_server(socket.path(), "v1").await;
    let channel = Channel::builder()
        .reconnect(quick())
        .connect(UnixConnector::new(socket.path()))
        .await
        .expect("connect");
    let echo = v1::EchoClient::new(channel.clone());
    assert_eq!(echo.echo("a".into()).await.expect("v1"), "a");
    server.kill();
    until(&channel, |s| !matches!(s, ChannelState::Ready)).await;
    let _server = start_server(socket.path(), "v2").await;
    until(&channel, |s| matches!(s, ChannelState::Ready)).await;
    // `echo` changed: refused before anything is sent, naming the op…
    let refused = echo.echo("b".into()).await.expect_err("another schema");
    assert_eq!(refused.code(), Code::FailedPrecondition, "{refused}");
    assert!(
        refused.message().contains("tests.reconnect.Echo/echo"),
        "{refused}"
    );
    assert!(refused.message().contains("different schema"), "{refused}");
    // …while the channel and the op that did not change work.
    assert!(echo.pid().await.is_ok());
    assert!(matches!(channel.state(), ChannelState::Ready));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lazy_channel_connects_on_its_first_call() {
    let socket = SocketPath::new();
    // Nothing listens yet, and nothing is attempted.
    let channel = Channel::builder()
        .connect_lazy(UnixConnector::new(socket.path()))
        .expect("lazy");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(matches!(channel.state(), ChannelState::Idle));
    assert_eq!(channel.link().kind.transport, "unix");
    let _server = start_server(socket.path(), "v1").await;
    let echo = v1::EchoClient::new(channel.clone());
    assert_eq!(echo.echo("a".into()).await.expect("connected"), "a");
    assert!(matches!(channel.state(), ChannelState::Ready));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_channel_stays_closed_and_a_dropped_one_lets_go() {
    let socket = SocketPath::new();
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(v1::EchoServer::new(v1::Impl))
        .build()
        .expect("server");
    let listener = UnixListener::bind(socket.path()).expect("bind");
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });
    let connect = || {
        Channel::builder()
            .reconnect(quick())
            .connect(UnixConnector::new(socket.path()))
    };

    // Closed: the connection ends and no other is made.
    let channel = connect().await.expect("connect");
    let echo = v1::EchoClient::new(channel.clone());
    assert!(echo.pid().await.is_ok());
    channel.close();
    let reason = tokio::time::timeout(Duration::from_secs(5), channel.closed())
        .await
        .expect("closes");
    assert!(reason.is_graceful(), "{reason}");
    assert!(matches!(channel.state(), ChannelState::Shutdown));
    assert!(channel.is_closed());
    let refused = echo.pid().await.expect_err("closed");
    assert_eq!(refused.code(), Code::Unavailable, "{refused}");

    // Dropped: the supervisor ends, and the server sees the connection go.
    let channel = connect().await.expect("connect");
    assert!(v1::EchoClient::new(channel.clone()).pid().await.is_ok());
    drop(channel);
    let gone = async {
        while server.connections() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), gone)
        .await
        .expect("the connection closes with the channel");
    serving.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_connection_closed_for_being_idle_comes_back_on_the_next_call() {
    let idle = SessionConfig::default().with_idle_timeout(Some(Duration::from_millis(100)));
    let server = Server::builder()
        .allow_unauthenticated()
        .session_config(idle)
        .add_service(v1::EchoServer::new(v1::Impl))
        .build()
        .expect("server");
    let (listener, connector) = prism::mem::endpoint();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });
    // No reconnect policy: an idle close is still not the end.
    let channel = Channel::builder()
        .connect(connector.clone())
        .await
        .expect("connect");
    let echo = v1::EchoClient::new(channel.clone());
    assert_eq!(echo.echo("a".into()).await.expect("first"), "a");
    until(&channel, |s| matches!(s, ChannelState::Idle)).await;
    assert!(!channel.is_closed());
    assert!(channel.close_reason().is_none());
    let gone = async {
        while server.connections() > 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(5), gone)
        .await
        .expect("the server let the idle connection go");
    // The next call connects again.
    assert_eq!(echo.echo("b".into()).await.expect("after idle"), "b");
    assert!(matches!(channel.state(), ChannelState::Ready));

    // With a reconnect policy too, an idle close waits for the next call:
    // connecting again at once would defeat the server's idle timeout.
    let eager = Channel::builder()
        .reconnect(quick())
        .connect(connector.clone())
        .await
        .expect("connect");
    let eager_echo = v1::EchoClient::new(eager.clone());
    assert_eq!(eager_echo.echo("c".into()).await.expect("first"), "c");
    until(&eager, |s| matches!(s, ChannelState::Idle)).await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(
        matches!(eager.state(), ChannelState::Idle),
        "{:?}",
        eager.state()
    );
    assert_eq!(eager_echo.echo("d".into()).await.expect("after idle"), "d");

    // A channel over one link cannot come back: it ends, gracefully, and
    // says it was idle.
    let (client_link, server_link) = prism::mem::pair();
    tokio::spawn({
        let server = server.clone();
        async move { server.serve_link(server_link).await }
    });
    let single = Channel::builder()
        .connect_link(client_link)
        .await
        .expect("connect");
    let reason = tokio::time::timeout(Duration::from_secs(5), single.closed())
        .await
        .expect("closed for being idle");
    assert!(reason.is_idle() && reason.is_graceful(), "{reason}");
    let refused = v1::EchoClient::new(single).pid().await.expect_err("ended");
    assert_eq!(refused.code(), Code::Unavailable, "{refused}");
    assert!(refused.message().contains("idle"), "{refused}");
    serving.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_policy_a_connection_lost_otherwise_ends_the_channel() {
    let socket = SocketPath::new();
    let server = start_server(socket.path(), "v1").await;
    let channel = Channel::builder()
        .connect(UnixConnector::new(socket.path()))
        .await
        .expect("connect");
    let echo = v1::EchoClient::new(channel.clone());
    assert!(echo.pid().await.is_ok());
    server.kill();
    let reason = tokio::time::timeout(Duration::from_secs(5), channel.closed())
        .await
        .expect("the channel ends with its connection");
    assert!(!reason.is_idle(), "{reason}");
    assert!(matches!(channel.state(), ChannelState::Shutdown));
    // A server at the same address again changes nothing.
    let _server = start_server(socket.path(), "v1").await;
    let refused = echo.pid().await.expect_err("ended");
    assert_eq!(refused.code(), Code::Unavailable, "{refused}");
}
