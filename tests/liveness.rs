//! No connection is held forever, over real sockets: a peer that sends
//! part of a frame and stops is let go after the frame timeout, one that
//! completes its handshake and goes silent after keepalive's two
//! intervals, while a live but idle channel stays up; one that stops
//! reading what the server writes is let go after the frame timeout, while
//! a slow reader stays; and a server holds
//! no more connections than its caps allow, in total and from one address,
//! refusing the rest at their handshake with a reason and counting them.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::raw::{self, End, RawConn};
use common::{CalcServer, Counters, Fixture, TestCalc, Transport, assert_no_panics, eventually};
use prism::transport::SessionConfig;
use prism::{Code, ConnectError, ConnectionRefusals, Server, ServerBuilder};
use prism_proto::frame::{FrameHeader, FrameKind};

/// Large answers to small requests.
#[prism::service(package = "test.liveness", public)]
pub trait Bulk {
    /// `len` bytes.
    async fn bytes(&self, len: u32) -> Vec<u8>;
}

struct BulkImpl;

impl Bulk for BulkImpl {
    async fn bytes(&self, len: u32) -> Vec<u8> {
        vec![7; len as usize]
    }
}

/// A raw connection that asks for `calls` answers of 60 KiB each.
async fn ask_for_much(addr: std::net::SocketAddr, calls: u32) -> RawConn {
    ask_for(addr, calls, 60 << 10).await
}

/// Like [`ask_for_much`], with answers of `len` bytes.
async fn ask_for(addr: std::net::SocketAddr, calls: u32, len: u32) -> RawConn {
    let (mut conn, _) = RawConn::handshake(addr).await;
    let request = raw::encode(&bulk::BytesRequest { len });
    for i in 0..calls {
        let header = raw::call_header(1 + 2 * i, bulk::BYTES.get());
        conn.send(header, &request).await;
    }
    conn
}

/// The calculator service, plaintext and unauthenticated allowed.
fn calc_server(counters: &Arc<Counters>) -> ServerBuilder {
    Server::builder()
        .allow_unauthenticated()
        .allow_plaintext()
        .add_service(CalcServer::new(TestCalc::new(Arc::clone(counters))))
}

async fn start(transport: Transport, builder: ServerBuilder, counters: Arc<Counters>) -> Fixture {
    let server = builder.build().expect("the server builds");
    Fixture::start_with(transport, server, counters).await
}

/// Expects one GOAWAY with `code` whose reason contains `says`, then a
/// clean close.
async fn expect_goaway(conn: &mut RawConn, code: Code, says: &str) {
    let (goaways, end) = conn.expect_close().await;
    assert_eq!(goaways.len(), 1, "one GOAWAY saying why: {goaways:?}");
    assert_eq!(goaways[0].0, code, "{goaways:?}");
    assert!(goaways[0].1.contains(says), "{goaways:?}");
    assert_eq!(end, End::Closed, "closed, not reset");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_of_a_frame_and_silence_is_let_go_after_the_frame_timeout() {
    let counters = Arc::new(Counters::default());
    let config = SessionConfig::default()
        .with_keepalive(None)
        .with_frame_timeout(Some(Duration::from_millis(300)));
    let fx = start(
        Transport::Tcp,
        calc_server(&counters).session_config(config),
        counters,
    )
    .await;

    // Half a HELLO header, before any handshake.
    let mut conn = RawConn::connect(fx.tcp_addr()).await;
    let header = FrameHeader::new(FrameKind::Hello).encode(40);
    conn.send_bytes(&header[..20]).await;
    expect_goaway(&mut conn, Code::DeadlineExceeded, "part of a frame").await;

    // A whole header and half a payload, after the handshake.
    let (mut conn, _) = RawConn::handshake(fx.tcp_addr()).await;
    let request = raw::encode(&common::calc::AddRequest { a: 1, b: 2 });
    let header = raw::call_header(1, common::calc::ADD.get()).encode(request.len() as u32);
    conn.send_bytes(&header).await;
    conn.send_bytes(&request[..request.len() / 2]).await;
    expect_goaway(&mut conn, Code::DeadlineExceeded, "part of a frame").await;

    // The server serves the others all along.
    assert_eq!(fx.calc().add(2, 3).await.expect("add"), 5);
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_goes_silent_after_its_handshake_is_let_go_by_keepalive() {
    let counters = Arc::new(Counters::default());
    let config = SessionConfig::default().with_keepalive(Some(Duration::from_millis(200)));
    let fx = start(
        Transport::Tcp,
        calc_server(&counters).session_config(config),
        counters,
    )
    .await;
    // Handshakes, then never reads or answers a ping.
    let (mut conn, _) = RawConn::handshake(fx.tcp_addr()).await;
    expect_goaway(&mut conn, Code::DeadlineExceeded, "keepalive").await;
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_channel_stays_up_across_many_keepalive_intervals() {
    let counters = Arc::new(Counters::default());
    let config = SessionConfig::default().with_keepalive(Some(Duration::from_millis(50)));
    for transport in [Transport::Tcp, Transport::Unix] {
        let fx = start(
            transport,
            calc_server(&counters).session_config(config.clone()),
            Arc::clone(&counters),
        )
        .await;
        // The client (default keepalive) answers the server's pings.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert!(!fx.channel.is_closed(), "{transport:?}");
        assert_eq!(fx.calc().add(20, 22).await.expect("add"), 42);
        fx.shutdown().await.expect("clean shutdown");
    }
    assert_no_panics();
}

/// The reason of a refused connect.
fn refusal(result: Result<prism::Channel, ConnectError>) -> (Code, String) {
    match result {
        Err(ConnectError::Rejected { code, reason }) => (code, reason),
        Err(other) => panic!("expected a refusal, got {other}"),
        Ok(_) => panic!("expected a refusal, got a channel"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_total_cap_are_refused_with_a_reason_and_counted() {
    let counters = Arc::new(Counters::default());
    let fx = start(
        Transport::Unix,
        calc_server(&counters).max_connections(2),
        counters,
    )
    .await;
    let second = fx.connect().await.expect("the second connection");
    let (code, reason) = refusal(fx.connect().await);
    assert_eq!(code, Code::ResourceExhausted);
    assert!(reason.contains("limit of 2 connections"), "{reason}");
    let refusals: ConnectionRefusals = fx.server.connection_refusals();
    assert_eq!((refusals.total, refusals.per_peer), (1, 0));
    // The connections held are served; one that closes frees its slot.
    assert_eq!(fx.calc().add(1, 1).await.expect("add"), 2);
    drop(second);
    eventually("the second connection's slot is free", || {
        fx.server.connections() == 1
    })
    .await;
    let third = fx.connect().await.expect("a slot came free");
    assert_eq!(
        common::CalcClient::new(third).add(2, 2).await.expect("add"),
        4
    );
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_over_the_per_address_cap_are_refused_with_a_reason_and_counted() {
    let counters = Arc::new(Counters::default());
    let fx = start(
        Transport::Tcp,
        calc_server(&counters).max_connections_per_peer(1),
        counters,
    )
    .await;
    // The fixture's channel is the one connection 127.0.0.1 may hold.
    for _ in 0..3 {
        let (code, reason) = refusal(fx.connect().await);
        assert_eq!(code, Code::ResourceExhausted);
        assert!(
            reason.contains("limit of 1 connections from 127.0.0.1"),
            "{reason}"
        );
    }
    assert_eq!(fx.server.connection_refusals().per_peer, 3);
    assert_eq!(fx.server.connection_refusals().total, 0);
    assert_eq!(fx.calc().add(1, 2).await.expect("add"), 3);
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

/// The server's frame timeout is 300 ms, keepalive off: only the stall
/// can end the connection.
async fn bulk_fixture() -> Fixture {
    bulk_fixture_with(SessionConfig::default().with_frame_timeout(Some(Duration::from_millis(300))))
        .await
}

/// The calculator and bulk services over TCP with `config`, keepalive off.
async fn bulk_fixture_with(config: SessionConfig) -> Fixture {
    let counters = Arc::new(Counters::default());
    let builder = calc_server(&counters)
        .add_service(BulkServer::new(BulkImpl))
        .session_config(config.with_keepalive(None));
    start(Transport::Tcp, builder, counters).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_is_let_go_after_the_frame_timeout() {
    let fx = bulk_fixture().await;
    // 60 MiB of answers: far more than the sockets and the server's
    // write queue hold, so the server's writes stop moving.
    let mut conn = ask_for_much(fx.tcp_addr(), 1000).await;
    eventually("the server lets the connection go", || {
        fx.server.connections() == 1
    })
    .await;
    // The server resets the connection rather than leave its kernel
    // holding megabytes nobody reads: what already reached this side can
    // be read, then the reset, not the rest and a close.
    assert_eq!(conn.until_end(Duration::from_secs(10)).await, End::Reset);
    // The server serves the others all along.
    assert_eq!(fx.calc().add(2, 3).await.expect("add"), 5);
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

/// A bulk server whose connections drain for 500 ms at shutdown and never
/// time their writes, with a raw connection that asked it for 24 MiB of
/// answers (in calls the server reads in one turn: an unread request of
/// ours would make its kernel reset the connection anyway), shut down
/// once the answers fill the sockets and the server's write queue. Only
/// the linger after the drain ends the connection.
async fn shut_down_with_answers_waiting() -> (Fixture, RawConn) {
    let fx = bulk_fixture_with(
        SessionConfig::default()
            .with_frame_timeout(None)
            .with_drain_timeout(Duration::from_millis(500)),
    )
    .await;
    let conn = ask_for(fx.tcp_addr(), 200, 120 << 10).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    fx.server.shutdown();
    (fx, conn)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_session_whose_bytes_do_not_move_is_reset_when_its_linger_ends() {
    let (_fx, mut conn) = shut_down_with_answers_waiting().await;
    // Nothing moves during the drain or the linger after it (1 s)...
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // ...so the link was reset: what reached this side can be read, then
    // the reset, not the rest of the answers and a close.
    assert_eq!(conn.until_end(Duration::from_secs(10)).await, End::Reset);
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_still_reading_when_the_linger_ends_gets_a_close() {
    let (_fx, mut conn) = shut_down_with_answers_waiting().await;
    // 64 KiB every 16 ms: the drain and the linger (1 s) end while
    // megabytes still wait, but they keep moving, so the link is closed,
    // not reset: what reached the server's kernel still arrives.
    let (end, read) = conn
        .slowly_until_end(Duration::from_millis(16), Duration::from_secs(20))
        .await;
    assert_eq!(end, End::Closed, "after {read} bytes");
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_reader_is_not_let_go() {
    let fx = bulk_fixture().await;
    let mut conn = ask_for_much(fx.tcp_addr(), 300).await;
    // One answer every 5 ms, with stalls of the server's writes far
    // shorter than its frame timeout: every one of the 300 arrives.
    let mut answered = 0;
    while answered < 300 {
        let frame = conn.recv().await.expect("the connection stays");
        if frame.header.kind == FrameKind::Response {
            answered += 1;
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
    assert_eq!(fx.server.connections(), 2);
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}
