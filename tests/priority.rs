//! Per-op priority (`#[prism(priority = N)]`) on a single-stream link: a
//! server with a low-priority bulk stream and a high-priority one sends
//! the high one's chunks first whenever both have output and credit, as
//! seen on the wire by a raw client that holds both streams to their
//! windows and then grants credit to both at once (the bulk stream's
//! first). The typed client carries an op's priority too.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::raw::{self, RawConn};
use common::{Fixture, Transport, assert_no_panics, install_panic_hook};
use futures_util::StreamExt;
use prism::transport::Frame;
use prism::{Server, Streaming};
use prism_proto::frame::{Flags, FrameHeader, FrameKind};

/// Bytes of each bulk item, and of the one urgent message.
const ITEM: usize = 1 << 20;

/// Two server streams that differ only in priority.
#[prism::service(package = "tests", public)]
pub trait Feeds {
    /// `items` messages of a MiB each, sent when nothing else is.
    #[prism(priority = 0)]
    async fn bulk(&self, items: u32) -> Streaming<Vec<u8>>;
    /// One MiB, sent before anything of lower priority.
    #[prism(priority = 7)]
    async fn urgent(&self) -> Streaming<Vec<u8>>;
}

struct MyFeeds;

impl Feeds for MyFeeds {
    async fn bulk(&self, items: u32) -> Streaming<Vec<u8>> {
        Streaming::iter((0..items).map(|_| vec![1u8; ITEM]))
    }

    async fn urgent(&self) -> Streaming<Vec<u8>> {
        Streaming::iter([vec![7u8; ITEM]])
    }
}

fn server() -> Server {
    Server::builder()
        .allow_unauthenticated()
        .allow_plaintext()
        .add_service(FeedsServer::new(MyFeeds))
        .build()
        .expect("server")
}

#[test]
fn the_macro_records_each_ops_priority() {
    let [bulk, urgent] = &feeds::OPS;
    assert_eq!((bulk.id(), bulk.priority()), (feeds::BULK, 0));
    assert_eq!((urgent.id(), urgent.priority()), (feeds::URGENT, 7));
    assert!(common::calc::OPS.iter().all(|op| op.priority() == 3));
}

/// Every frame that arrives within `quiet` of the previous one.
async fn frames_until_quiet(conn: &mut RawConn, quiet: Duration) -> Vec<Frame> {
    let mut frames = Vec::new();
    while let Ok(Some(frame)) = tokio::time::timeout(quiet, conn.recv()).await {
        frames.push(frame);
    }
    frames
}

/// The DATA cost of `frames` on `channel`: what the receiver grants back.
fn cost(frames: &[Frame], channel: u32) -> u64 {
    frames
        .iter()
        .filter(|f| f.header.kind == FrameKind::Data && f.header.channel == channel)
        .map(|f| f.payload.len() as u64 + 32)
        .sum()
}

fn credit(channel: u32, bytes: u64) -> FrameHeader {
    let mut header = FrameHeader::new(FrameKind::Credit);
    header.channel = channel;
    header.aux = bytes;
    header
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_urgent_streams_chunks_go_before_the_bulk_streams() {
    install_panic_hook();
    let counters = Arc::new(common::Counters::default());
    let fx = Fixture::start_with(Transport::Tcp, server(), counters).await;
    let (mut conn, _) = RawConn::handshake(fx.tcp_addr()).await;
    let call = |channel: u32, op: prism::reflect::OpId| {
        let mut header = raw::call_header(channel, op.get());
        header.flags = Flags::NONE;
        header
    };
    conn.send(
        call(1, feeds::BULK),
        &raw::encode(&feeds::BulkRequest { items: 64 }),
    )
    .await;
    conn.send(
        call(3, feeds::URGENT),
        &raw::encode(&feeds::UrgentRequest {}),
    )
    .await;
    // Both streams send until their windows are used up, then wait.
    let first = frames_until_quiet(&mut conn, Duration::from_millis(300)).await;
    let (bulk, urgent) = (cost(&first, 1), cost(&first, 3));
    assert!(
        bulk > 0 && urgent > 0,
        "both streams started: {bulk} {urgent}"
    );
    // Credit for both in one write, the bulk stream's first; the
    // connection's own window is far from used up.
    let mut grants = bytes::BytesMut::new();
    for (channel, bytes) in [(1, bulk), (3, urgent)] {
        let frame = Frame::new(credit(channel, bytes), prism_core::Payload::empty());
        prism_proto::frame::encode_frame(&frame, &mut grants);
    }
    conn.send_bytes(&grants).await;
    let next: Vec<u32> = frames_until_quiet(&mut conn, Duration::from_millis(300))
        .await
        .iter()
        .filter(|f| f.header.kind == FrameKind::Data && !f.payload.is_empty())
        .map(|f| f.header.channel)
        .collect();
    let urgent_at: Vec<usize> = (next.iter().enumerate())
        .filter(|(_, channel)| **channel == 3)
        .map(|(at, _)| at)
        .collect();
    assert!(urgent_at.len() >= 2, "the urgent stream went on: {next:?}");
    // One run: no bulk chunk between two urgent ones. (At most one bulk
    // chunk may go before the run: the bulk credit can be read, and acted
    // on, before the urgent one.)
    let (start, end) = (urgent_at[0], urgent_at[urgent_at.len() - 1]);
    assert_eq!(end - start + 1, urgent_at.len(), "interleaved: {next:?}");
    assert!(start <= 1, "the bulk stream went first: {next:?}");
    assert!(next[end + 1..].iter().all(|&c| c == 1), "{next:?}");
    drop(conn);
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_typed_client_reads_both_streams_whole() {
    install_panic_hook();
    let counters = Arc::new(common::Counters::default());
    let fx = Fixture::start_with(Transport::Mem, server(), counters).await;
    let feeds = FeedsClient::new(fx.channel.clone());
    let bulk = feeds.bulk(4).await.expect("bulk");
    let urgent = feeds.urgent().await.expect("urgent");
    let (bulk, urgent): (Vec<_>, Vec<_>) = tokio::join!(bulk.collect(), urgent.collect());
    assert_eq!(bulk.len(), 4);
    assert!(
        bulk.into_iter()
            .all(|item| item.expect("item") == vec![1u8; ITEM])
    );
    assert_eq!(urgent.len(), 1);
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}
