//! Flow control end to end: what a slow reader buffers, the connection
//! window over several streams, full windows both ways, messages larger
//! than the window, credit coming back after a cancel, unary calls beside
//! stalled and bulk streams, and a raw peer that ignores credit.

#[macro_use]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::raw::{RawConn, postcard_id};
use common::{Counters, Fixture, Transport, assert_no_panics};
use futures_util::StreamExt;
use prism::transport::SessionConfig;
use prism::{Channel, Code, Server, Streaming};
use prism_proto::frame::{Flags, FrameHeader, FrameKind};

/// Streams of byte items, for pushing windows around.
#[prism::service(public, package = "tests")]
pub trait Pipe {
    /// Items of `size` bytes, forever, as fast as the caller reads.
    async fn forever(&self, size: u64) -> Streaming<Vec<u8>>;
    /// Each item back, as it arrives.
    async fn echo(&self, items: Streaming<Vec<u8>>) -> Streaming<Vec<u8>>;
    /// The bytes received.
    async fn upload(&self, items: Streaming<Vec<u8>>) -> u64;
    /// Never reads its stream; waits to be cancelled.
    async fn swallow(&self, items: Streaming<Vec<u8>>) -> u64;
    /// Its argument back: the unary probe.
    async fn ping(&self, n: u64) -> u64;
}

struct Pipes;

impl Pipe for Pipes {
    async fn forever(&self, size: u64) -> Streaming<Vec<u8>> {
        Streaming::from_stream(futures_util::stream::repeat(vec![7u8; size as usize]))
    }

    async fn echo(&self, items: Streaming<Vec<u8>>) -> Streaming<Vec<u8>> {
        items
    }

    async fn upload(&self, mut items: Streaming<Vec<u8>>) -> u64 {
        let mut total = 0;
        while let Ok(Some(item)) = items.message().await {
            total += item.len() as u64;
        }
        total
    }

    async fn swallow(&self, _items: Streaming<Vec<u8>>) -> u64 {
        core::future::pending().await
    }

    async fn ping(&self, n: u64) -> u64 {
        n
    }
}

const KIB: u64 = 1 << 10;
/// One frame of a chunked message, as credit counts it: a 64 KiB chunk
/// (the default) and its 32-byte header.
const FRAME: u64 = 64 * KIB + 32;

/// A server and a client connection, both with `config`'s windows.
async fn start(transport: Transport, config: SessionConfig) -> (Fixture, PipeClient, Channel) {
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(PipeServer::new(Pipes))
        .session_config(config.clone())
        .allow_plaintext()
        .build()
        .expect("server");
    let fx = Fixture::start_with(transport, server, Arc::new(Counters::default())).await;
    let channel = fx
        .connect_with(Channel::builder().session_config(config))
        .await
        .expect("connect");
    (fx, PipeClient::new(channel.clone()), channel)
}

/// Held by the tests that measure this process's memory and by the one
/// that allocates a lot: `cargo test` runs a binary's tests on threads of
/// one process, so a measurement must not count another test's 64 MiB.
static MEMORY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// This process's resident memory, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

per_transport!(
    a_reader_that_stops_holds_one_window_and_memory_stays_flat,
    streams_together_are_held_to_the_connection_window,
    full_windows_both_ways_do_not_deadlock,
    a_cancel_while_blocked_gives_the_credit_back,
    unary_calls_are_not_held_behind_streams,
);

async fn a_reader_that_stops_holds_one_window_and_memory_stays_flat(transport: Transport) {
    let _alone = MEMORY.lock().await;
    let window = 256 * KIB;
    let config = SessionConfig::default().with_windows(window as u32, 4 << 20);
    let (fx, pipe, channel) = start(transport, config).await;
    let before = rss();
    // An endless producer offers 64 KiB items; the reader takes a few, then
    // stops for a while: well over 1 GiB would have been sent by now
    // without credit.
    let mut items = pipe.forever(64 * KIB).await.expect("open");
    for _ in 0..10 {
        items.message().await.expect("item").expect("one");
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let peak = channel.stats().peak_buffered;
    // In-process, an item is one frame (it is not cut into chunks).
    let slack = if transport == Transport::Mem {
        64 * KIB + 64 + 32
    } else {
        FRAME
    };
    assert!(
        peak <= window + slack,
        "{peak} bytes held for a window of {window}"
    );
    assert!(peak >= window / 2, "the window did fill: {peak}");
    let grown = rss().saturating_sub(before);
    assert!(grown < 64 << 20, "memory grew by {grown} bytes");
    // Reading again resumes the stream.
    for _ in 0..100 {
        items.message().await.expect("item").expect("one");
    }
    drop(items);
    fx.shutdown().await.expect("clean shutdown");
}

async fn streams_together_are_held_to_the_connection_window(transport: Transport) {
    // Two streams' windows and a half: the third stream opens, then is
    // held back by the connection's window while within its own.
    let (stream_window, conn_window) = (256 * KIB, 640 * KIB);
    let config = SessionConfig::default().with_windows(stream_window as u32, conn_window as u32);
    let (fx, pipe, channel) = start(transport, config).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut items = pipe.forever(16 * KIB).await.expect("open");
        items.message().await.expect("item").expect("one");
        streams.push(items);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let peak = channel.stats().peak_buffered;
    assert!(
        peak <= conn_window + FRAME,
        "{peak} bytes held for a connection window of {conn_window}"
    );
    assert!(
        peak > stream_window,
        "more than one stream's window filled: {peak}"
    );
    // Each stream still moves once read.
    for items in &mut streams {
        for _ in 0..50 {
            items.message().await.expect("item").expect("one");
        }
    }
    drop(streams);
    fx.shutdown().await.expect("clean shutdown");
}

async fn full_windows_both_ways_do_not_deadlock(transport: Transport) {
    let config = SessionConfig::default().with_windows(64 * KIB as u32, 128 * KIB as u32);
    let (fx, pipe, _) = start(transport, config).await;
    let (sender, items) = Streaming::channel();
    let mut echoes = pipe.echo(items).await.expect("open");
    // 16 MiB each way through 64 KiB windows, the writer racing ahead of
    // the reader, which also naps: both windows fill again and again.
    let writer = tokio::spawn(async move {
        for i in 0..1024u32 {
            sender.send(vec![i as u8; 16 << 10]).await.expect("send");
        }
        sender.finish();
    });
    let mut received = 0u32;
    let read = async {
        while let Some(item) = echoes.message().await.expect("echo") {
            assert_eq!(item, vec![received as u8; 16 << 10]);
            received += 1;
            if received.is_multiple_of(128) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(60), read)
        .await
        .expect("no deadlock");
    writer.await.expect("writer");
    assert_eq!(received, 1024);
    fx.shutdown().await.expect("clean shutdown");
}

async fn a_cancel_while_blocked_gives_the_credit_back(transport: Transport) {
    let config = SessionConfig::default().with_windows(128 * KIB as u32, 256 * KIB as u32);
    let (fx, pipe, channel) = start(transport, config).await;
    // Two stalled streams use up the connection window, then go away: one
    // dropped, one past its deadline.
    let dropped = pipe.forever(8 * KIB).await.expect("open");
    let expiring = pipe
        .forever(8 * KIB)
        .timeout(Duration::from_millis(300))
        .await
        .expect("open");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        channel.stats().peak_buffered >= 200 * KIB,
        "the window filled"
    );
    drop(dropped);
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(expiring);
    // Four connection windows' worth now flows on a fresh stream.
    // Without the credit back this would wait forever: bound it.
    let fresh = async {
        pipe.forever(8 * KIB)
            .await
            .expect("open")
            .take(128)
            .collect()
            .await
    };
    let items: Vec<_> = tokio::time::timeout(Duration::from_secs(30), fresh)
        .await
        .expect("the connection window came back");
    assert!(
        items
            .iter()
            .all(|item| item.as_ref().is_ok_and(|i| i.len() == 8 << 10))
    );
    fx.shutdown().await.expect("clean shutdown");
}

async fn unary_calls_are_not_held_behind_streams(transport: Transport) {
    let (fx, pipe, _) = start(transport, SessionConfig::default()).await;
    // One stream stalled with its window full, and one bulk stream of
    // 1 MiB items (16 chunks each on byte streams) read flat out.
    let mut stalled = pipe.forever(64 * KIB).await.expect("open");
    stalled.message().await.expect("item").expect("one");
    let stop = Arc::new(AtomicBool::new(false));
    let moved = Arc::new(AtomicU64::new(0));
    let bulk = tokio::spawn({
        let (pipe, stop, moved) = (pipe.clone(), Arc::clone(&stop), Arc::clone(&moved));
        async move {
            let mut items = pipe.forever(1 << 20).await.expect("open");
            while !stop.load(Ordering::Relaxed) {
                items.message().await.expect("item").expect("one");
                moved.fetch_add(1, Ordering::Relaxed);
            }
        }
    });
    common::eventually("the bulk stream moves", || {
        moved.load(Ordering::Relaxed) >= 4
    })
    .await;
    let before = moved.load(Ordering::Relaxed);
    // At least 200 calls, and on until 8 MiB moved beside them.
    let mut waits = Vec::new();
    let mut n = 0;
    while n < 200 || moved.load(Ordering::Relaxed) - before < 8 {
        let start = Instant::now();
        assert_eq!(pipe.ping(n).await.expect("ping"), n);
        waits.push(start.elapsed());
        n += 1;
        assert!(n < 100_000, "the bulk stream stalled beside the calls");
    }
    stop.store(true, Ordering::Relaxed);
    bulk.await.expect("bulk reader");
    waits.sort();
    // A liveness bound, not a benchmark (`benches/src/bin/streams.rs`
    // measures the latency): a call queued behind the bulk stream's items
    // instead of beside them would wait for the whole stream, forever.
    let p99 = waits[waits.len() * 99 / 100 - 1];
    assert!(
        p99 < Duration::from_secs(2),
        "unary p99 {p99:?} beside a stalled and a bulk stream"
    );
    drop(stalled);
    fx.shutdown().await.expect("clean shutdown");
}

/// A 64 MiB message through a 256 KiB window, over the transports that
/// carry bytes (in-process links move messages whole): it arrives whole,
/// and what waits unread stays within the window plus a chunk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_64_mib_message_passes_a_256_kib_window() {
    let _alone = MEMORY.lock().await;
    for transport in [
        Transport::Tcp,
        Transport::Unix,
        Transport::Tls,
        Transport::Ws,
        Transport::Quic,
    ] {
        let window = 256 * KIB;
        let config = SessionConfig::default()
            .with_windows(window as u32, window as u32)
            .with_max_message(80 << 20);
        let (fx, pipe, channel) = start(transport, config).await;
        let item = vec![5u8; 64 << 20];
        let echoed: Vec<_> = pipe
            .echo(Streaming::iter([item]))
            .await
            .expect("open")
            .collect()
            .await;
        let [Ok(back)] = echoed.as_slice() else {
            panic!("one echo, got {}", echoed.len())
        };
        assert!(back.len() == 64 << 20 && back.iter().all(|&b| b == 5));
        let peak = channel.stats().peak_buffered;
        assert!(
            peak <= window + FRAME,
            "{peak} bytes held for a window of {window}"
        );
        fx.shutdown().await.expect("clean shutdown");
    }
    assert_no_panics();
}

/// A raw peer that keeps sending DATA without waiting for credit is cut
/// off with a flow-control GOAWAY once past the window, and the server
/// never held more than the window plus a chunk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_ignores_credit_is_cut_off() {
    let (fx, _pipe, _) = start(Transport::Tcp, SessionConfig::default()).await;
    let (mut conn, _) = RawConn::handshake(fx.tcp_addr()).await;
    let mut open = FrameHeader::new(FrameKind::Call);
    open.channel = 1;
    open.op = pipe::SWALLOW.get();
    open.codec = postcard_id();
    open.flags = Flags::OPEN;
    conn.send(open, b"").await;
    // 4 MiB of 32 KiB items into a 256 KiB window that is never granted
    // back.
    let mut item = FrameHeader::new(FrameKind::Data);
    item.channel = 1;
    item.codec = postcard_id();
    let body = vec![0u8; 32 << 10];
    for _ in 0..128 {
        // The server may cut the connection before the last frames leave.
        if !conn.try_send(item, &body).await {
            break;
        }
    }
    let (goaways, _) = conn.expect_close().await;
    let reasons: Vec<_> = goaways
        .iter()
        .map(|(code, reason)| (*code, reason.as_str()))
        .collect();
    assert!(
        reasons
            .iter()
            .any(|(code, reason)| *code == Code::ResourceExhausted
                && reason.contains("flow control")),
        "{reasons:?}"
    );
    let peak = fx.server.stats().peak_buffered;
    let window = u64::from(SessionConfig::default().stream_window);
    assert!(peak <= window + FRAME, "the server held {peak} bytes");
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}
