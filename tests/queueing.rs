//! Calls and stream opens beyond the server's channel limit wait for a
//! free channel, in the order they were made, instead of failing with
//! `RESOURCE_EXHAUSTED`; one whose deadline passes while it waits fails
//! with `DEADLINE_EXCEEDED` saying so, and one its caller drops leaves
//! the queue. Under a reconnect policy, what still waits when the server
//! goes away is sent to the next server.

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Counters, Fixture, Transport, assert_no_panics};
use futures_util::StreamExt;
use futures_util::future::join_all;
use prism::transport::SessionConfig;
use prism::{Code, Server, Streaming};

/// What the held handlers saw.
#[derive(Debug, Default)]
pub struct Seen {
    now: AtomicUsize,
    most: AtomicUsize,
    order: Mutex<Vec<u32>>,
}

/// Holds each call for a while, counting how many run at once.
#[prism::service(public, package = "tests")]
pub trait Hold {
    /// Holds for `ms` milliseconds; returns `i`.
    async fn hold(&self, i: u32, ms: u64) -> u32;
    /// Streams `n` numbers, then holds its channel open until the caller
    /// drops it.
    async fn count(&self, n: u32) -> Streaming<u32>;
}

#[derive(Clone)]
struct Holder(Arc<Seen>);

impl Hold for Holder {
    async fn hold(&self, i: u32, ms: u64) -> u32 {
        let seen = &self.0;
        seen.order.lock().expect("order").push(i);
        let now = seen.now.fetch_add(1, Ordering::SeqCst) + 1;
        seen.most.fetch_max(now, Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(ms)).await;
        seen.now.fetch_sub(1, Ordering::SeqCst);
        i
    }

    async fn count(&self, n: u32) -> Streaming<u32> {
        Streaming::from_stream(
            futures_util::stream::iter(0..n).chain(futures_util::stream::pending()),
        )
    }
}

/// A server that lets a client hold `max_channels` channels open.
async fn start(transport: Transport, max_channels: u32) -> (Fixture, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let server = Server::builder()
        .allow_unauthenticated()
        .allow_plaintext()
        .session_config(SessionConfig::default().with_max_channels(max_channels))
        .add_service(common::CalcServer::new(common::TestCalc::new(Arc::new(
            Counters::default(),
        ))))
        .add_service(HoldServer::new(Holder(Arc::clone(&seen))))
        .build()
        .expect("the server builds");
    let fx = Fixture::start_with(transport, server, Arc::new(Counters::default())).await;
    (fx, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_past_the_channel_limit_wait_for_a_free_channel_instead_of_failing() {
    for transport in Transport::ALL {
        let (fx, seen) = start(transport, 8).await;
        let hold = HoldClient::new(fx.channel.clone());
        let calls = (0..300).map(|i| {
            let hold = hold.clone();
            async move { hold.hold(i, 2).await }
        });
        let answers = join_all(calls).await;
        for (i, answer) in answers.into_iter().enumerate() {
            assert_eq!(answer.expect("no call fails"), i as u32, "{transport:?}");
        }
        let most = seen.most.load(Ordering::SeqCst);
        assert!(most <= 8, "{transport:?}: {most} ran at once");
        fx.shutdown().await.expect("clean shutdown");
    }
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_calls_leave_the_queue_in_the_order_they_were_made() {
    let (fx, seen) = start(Transport::Unix, 1).await;
    let hold = HoldClient::new(fx.channel.clone());
    let calls = (0..50).map(|i| {
        let hold = hold.clone();
        async move { hold.hold(i, 0).await }
    });
    for answer in join_all(calls).await {
        answer.expect("no call fails");
    }
    let order = seen.order.lock().expect("order").clone();
    assert_eq!(order, (0..50).collect::<Vec<u32>>());
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_opens_queue_like_calls() {
    let (fx, _) = start(Transport::Tcp, 2).await;
    let hold = HoldClient::new(fx.channel.clone());
    // Two open streams hold both channels; a call and a third stream
    // wait behind them.
    let mut first = hold.count(3).await.expect("first stream");
    let mut second = hold.count(3).await.expect("second stream");
    let hold2 = hold.clone();
    let waiting_call = tokio::spawn(async move { hold2.hold(7, 0).await });
    let hold3 = hold.clone();
    let waiting_stream = tokio::spawn(async move {
        let stream = hold3.count(4).await.expect("third stream");
        stream.take(4).collect::<Vec<_>>().await
    });
    for stream in [&mut first, &mut second] {
        for i in 0..3 {
            assert_eq!(stream.next().await.expect("an item").expect("ok"), i);
        }
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting_call.is_finished() && !waiting_stream.is_finished());
    // Dropping one frees a channel: the call goes first, then the third
    // stream (on the channel the call leaves, or the second's).
    drop(first);
    assert_eq!(waiting_call.await.expect("task").expect("call"), 7);
    drop(second);
    let items = waiting_stream.await.expect("task");
    assert_eq!(items.len(), 4);
    assert!(items.iter().all(Result::is_ok));
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deadline_that_passes_in_the_queue_fails_the_call_and_a_dropped_call_leaves_it() {
    let (fx, seen) = start(Transport::Mem, 1).await;
    let hold = HoldClient::new(fx.channel.clone());
    // One call holds the only channel for a while.
    let holder = {
        let hold = hold.clone();
        tokio::spawn(async move { hold.hold(0, 300).await })
    };
    common::eventually("the first call runs", || {
        seen.now.load(Ordering::SeqCst) == 1
    })
    .await;
    // A call whose deadline passes while it waits.
    let status = hold
        .hold(1, 0)
        .timeout(Duration::from_millis(50))
        .await
        .expect_err("the deadline passes in the queue");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    assert!(
        status.message().contains("waiting for a free channel"),
        "{status}"
    );
    // A call dropped while it waits never reaches the server.
    let dropped = tokio::time::timeout(Duration::from_millis(20), hold.hold(2, 0)).await;
    assert!(dropped.is_err(), "it was still waiting");
    assert_eq!(holder.await.expect("task").expect("call"), 0);
    assert_eq!(hold.hold(3, 0).await.expect("call"), 3);
    let order = seen.order.lock().expect("order").clone();
    assert_eq!(
        order,
        [0, 3],
        "neither the expired nor the dropped call ran"
    );
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

/// A server of `Hold` on the Unix socket at `path`, taking at most
/// `max_channels` channels per connection.
fn serve_at(path: &std::path::Path, max_channels: u32, seen: &Arc<Seen>) -> Server {
    let server = Server::builder()
        .allow_unauthenticated()
        .session_config(SessionConfig::default().with_max_channels(max_channels))
        .add_service(HoldServer::new(Holder(Arc::clone(seen))))
        .build()
        .expect("the server builds");
    let listener = tokio::net::UnixListener::bind(path).expect("bind");
    tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });
    server
}

/// Opens a stream that holds a channel until dropped, once its first item
/// shows it is open.
async fn occupy(hold: &HoldClient) -> Streaming<u32> {
    let mut stream = hold.count(1).await.expect("a stream opens");
    assert_eq!(stream.next().await.expect("an item").expect("ok"), 0);
    stream
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_a_reconnect_policy_opens_and_calls_queued_at_a_goaway_go_to_the_next_server() {
    let socket = common::SocketPath::new();
    let (old, new) = (Arc::new(Seen::default()), Arc::new(Seen::default()));
    let old_server = serve_at(socket.path(), 1, &old);
    let channel = prism::Channel::builder()
        .reconnect(
            prism::client::Reconnect::default()
                .backoff(Duration::from_millis(10), Duration::from_millis(100)),
        )
        .connect(prism::unix::UnixConnector::new(socket.path()))
        .await
        .expect("connect");
    let hold = HoldClient::new(channel.clone());
    // One stream holds the old server's only channel; a server stream and
    // a call wait behind it, never sent.
    let first = occupy(&hold).await;
    let waiting_stream = tokio::spawn({
        let hold = hold.clone();
        async move {
            let stream = hold.count(3).await?;
            stream
                .take(3)
                .collect::<Vec<_>>()
                .await
                .into_iter()
                .collect()
        }
    });
    let waiting_call = tokio::spawn({
        let hold = hold.clone();
        async move { hold.hold(7, 0).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(!waiting_stream.is_finished() && !waiting_call.is_finished());

    // The old server goes away and a new one takes the address: what
    // waited was never processed, so it is sent once more, there.
    std::fs::remove_file(socket.path()).expect("unlink");
    let new_server = serve_at(socket.path(), 100, &new);
    old_server.shutdown();
    let items: Result<Vec<u32>, prism::Status> = waiting_stream.await.expect("task");
    assert_eq!(
        items.expect("the stream opened on the next server"),
        [0, 1, 2]
    );
    assert_eq!(waiting_call.await.expect("task").expect("call"), 7);
    assert_eq!(*new.order.lock().expect("order"), [7]);
    assert!(old.order.lock().expect("order").is_empty());
    drop(first);
    new_server.shutdown();
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resent_call_keeps_the_deadline_a_layer_gave_its_first_attempt() {
    let socket = common::SocketPath::new();
    let (old, new) = (Arc::new(Seen::default()), Arc::new(Seen::default()));
    let old_server = serve_at(socket.path(), 1, &old);
    // The caller sets no timeout; a layer gives every call 500 ms.
    let sent = Arc::new(AtomicUsize::new(0));
    let timeout = prism::client::layer_fn({
        let sent = Arc::clone(&sent);
        move |mut call, next| {
            call.set_timeout(Some(Duration::from_millis(500)));
            sent.fetch_add(1, Ordering::SeqCst);
            next.handle(call)
        }
    });
    let channel = prism::Channel::builder()
        .layer(timeout)
        .reconnect(
            prism::client::Reconnect::default()
                .wait_for_ready()
                .backoff(Duration::from_millis(10), Duration::from_millis(50)),
        )
        .connect(prism::unix::UnixConnector::new(socket.path()))
        .await
        .expect("connect");
    let hold = HoldClient::new(channel.clone());
    // A stream holds the old server's only channel; a call waits behind it.
    let first = occupy(&hold).await;
    let waiting_call = tokio::spawn({
        let hold = hold.clone();
        async move { hold.hold(7, 0).await }
    });
    common::eventually("the call went to the old connection", || {
        sent.load(Ordering::SeqCst) == 1
    })
    .await;
    // The old server goes away, refusing the call unprocessed; the next
    // server comes only after the layer's 500 ms passed.
    std::fs::remove_file(socket.path()).expect("unlink");
    old_server.shutdown();
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    let new_server = serve_at(socket.path(), 100, &new);
    let failed = waiting_call
        .await
        .expect("task")
        .expect_err("the layer's deadline passed before the next server came");
    // Past its deadline while it waited for the next connection, or (on a
    // slow machine) already when the old server refused it.
    assert!(
        failed.code() == Code::DeadlineExceeded
            || (failed.code() == Code::Unavailable && failed.is_unprocessed()),
        "{failed:?}"
    );
    assert!(new.order.lock().expect("order").is_empty());
    assert!(old.order.lock().expect("order").is_empty());
    drop(first);
    new_server.shutdown();
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_policy_a_call_made_while_the_server_drains_fails_at_once() {
    let socket = common::SocketPath::new();
    let seen = Arc::new(Seen::default());
    let server = serve_at(socket.path(), 100, &seen);
    let channel = prism::Channel::builder()
        .connect(prism::unix::UnixConnector::new(socket.path()))
        .await
        .expect("connect");
    let hold = HoldClient::new(channel.clone());
    // A long call keeps the old connection draining for seconds.
    let slow = tokio::spawn({
        let hold = hold.clone();
        async move { hold.hold(1, 3_000).await }
    });
    common::eventually("the slow call runs", || {
        seen.now.load(Ordering::SeqCst) == 1
    })
    .await;
    server.shutdown();
    // Time for the GOAWAY to reach the channel.
    tokio::time::sleep(Duration::from_millis(300)).await;
    // No next connection will come: a new call is refused at once
    // (unprocessed, so the caller may retry it elsewhere), not held until
    // the drain ends.
    let refused = tokio::time::timeout(Duration::from_millis(1_500), hold.hold(2, 0))
        .await
        .expect("refused before the drain ends")
        .expect_err("the server is going away");
    assert_eq!(refused.code(), Code::Unavailable, "{refused}");
    assert!(refused.is_unprocessed(), "{refused:?}");
    assert_eq!(slow.await.expect("task").expect("drained"), 1);
    assert_no_panics();
}
