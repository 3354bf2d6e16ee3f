//! Malformed input over a real TCP socket: each case drives a fresh raw
//! connection to a running server by hand and expects a typed ERROR frame
//! or a clean close, promptly. After every case, and after all of them in
//! a row or at once, the server goes on serving, and nothing panicked.

mod common;

use std::net::SocketAddr;

use common::raw::{self, End, RawConn};
use common::{Fixture, Transport, assert_no_panics};
use prism::codec::{Decode, Payload, Postcard};
use prism::{Code, Limits};
use prism_proto::frame::{DEFAULT_MAX_FRAME, FrameHeader, FrameKind};

/// One test per case on its own server, plus the same cases in a row and
/// all at once against one server.
macro_rules! cases {
    ($($case:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fx = Fixture::start(Transport::Tcp).await;
                cases::$case(fx.tcp_addr()).await;
                still_serves(&fx).await;
                fx.shutdown().await.expect("clean shutdown");
                assert_no_panics();
            }
        )*

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_server_survives_every_case_in_a_row() {
            let fx = Fixture::start(Transport::Tcp).await;
            let addr = fx.tcp_addr();
            $( cases::$case(addr).await; )*
            still_serves(&fx).await;
            fx.shutdown().await.expect("clean shutdown");
            assert_no_panics();
        }

        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_server_survives_every_case_at_once() {
            let fx = Fixture::start(Transport::Tcp).await;
            let addr = fx.tcp_addr();
            let mut all = tokio::task::JoinSet::new();
            $( all.spawn(cases::$case(addr)); )*
            // Well-behaved clients at the same time.
            for _ in 0..4 {
                let calc = fx.calc();
                all.spawn(async move {
                    for i in 0..50 {
                        assert_eq!(calc.add(i, 1).await.expect("add"), i + 1);
                    }
                });
            }
            while let Some(done) = all.join_next().await {
                done.expect("case");
            }
            still_serves(&fx).await;
            fx.shutdown().await.expect("clean shutdown");
            assert_no_panics();
        }
    };
}

cases!(
    truncated_header_then_close,
    truncated_header_before_the_hello,
    truncated_payload_then_close,
    oversized_length,
    unknown_frame_kind,
    reserved_header_bytes_set,
    padding_not_zero,
    call_before_the_hello,
    call_before_the_accept,
    accept_before_the_hello,
    a_schema_the_server_does_not_have,
    malformed_hello,
    second_hello,
    unknown_op,
    wrong_codec_id,
    garbage_payload,
    even_channel_id,
    reused_channel_id,
    response_from_the_client,
    cancel_of_a_channel_never_opened,
);

/// The server still serves: a raw call on a new connection and a real
/// client on another.
async fn still_serves(fx: &Fixture) {
    let (mut conn, _) = RawConn::handshake(fx.tcp_addr()).await;
    assert_eq!(add(&mut conn, 1, 20, 22).await, 42);
    let channel = fx.connect().await.expect("a new connection");
    let calc = common::CalcClient::new(channel);
    assert_eq!(calc.add(2, 3).await.expect("add"), 5);
    assert_eq!(
        calc.div(1, 0).await.expect("div"),
        Err(common::MathError::DivideByZero)
    );
}

/// A valid `Calc::add` call on `channel`; returns the sum.
async fn add(conn: &mut RawConn, channel: u32, a: i64, b: i64) -> i64 {
    let request = common::calc::AddRequest { a, b };
    let header = raw::call_header(channel, common::calc::ADD.get());
    conn.send(header, &raw::encode(&request)).await;
    let body = conn.expect_response(channel).await;
    <i64 as Decode<Postcard>>::decode(&Payload::new(body), &Limits::default())
        .expect("the response decodes")
}

/// A valid `Calc::add` request payload.
fn add_request() -> bytes::Bytes {
    raw::encode(&common::calc::AddRequest { a: 1, b: 2 })
}

/// Expects the server to close the connection without a GOAWAY being
/// required: the byte stream itself was broken.
async fn expect_clean_close(conn: &mut RawConn, case: &str) {
    let (goaways, end) = conn.expect_close().await;
    assert_eq!(
        end,
        End::Closed,
        "{case}: closed, not reset (goaways {goaways:?})"
    );
}

/// Expects a GOAWAY saying the peer broke the protocol, then a clean close.
/// Returns the GOAWAY's reason.
async fn expect_goaway_and_close(conn: &mut RawConn, case: &str, code: Code) -> String {
    let (goaways, end) = conn.expect_close().await;
    let codes: Vec<Code> = goaways.iter().map(|(code, _)| *code).collect();
    assert_eq!(codes, [code], "{case}: one GOAWAY saying why: {goaways:?}");
    assert_eq!(end, End::Closed, "{case}: closed, not reset");
    goaways
        .into_iter()
        .next()
        .map(|(_, reason)| reason)
        .unwrap_or_default()
}

mod cases {
    use super::*;

    pub(super) async fn truncated_header_then_close(addr: SocketAddr) {
        let (mut conn, _) = RawConn::handshake(addr).await;
        let header = raw::call_header(1, common::calc::ADD.get()).encode(16);
        conn.send_bytes(&header[..10]).await;
        conn.shutdown_write().await;
        expect_clean_close(&mut conn, "truncated header").await;
    }

    pub(super) async fn truncated_header_before_the_hello(addr: SocketAddr) {
        let mut conn = RawConn::connect(addr).await;
        let header = FrameHeader::new(FrameKind::Hello).encode(40);
        conn.send_bytes(&header[..31]).await;
        conn.shutdown_write().await;
        expect_clean_close(&mut conn, "truncated first header").await;
    }

    pub(super) async fn truncated_payload_then_close(addr: SocketAddr) {
        let (mut conn, _) = RawConn::handshake(addr).await;
        let header = raw::call_header(1, common::calc::ECHO.get());
        // Claims 1000 bytes, sends 100, then closes.
        conn.send_with_len(header, 1000, &[0u8; 100]).await;
        conn.shutdown_write().await;
        expect_clean_close(&mut conn, "truncated payload").await;
    }

    pub(super) async fn oversized_length(addr: SocketAddr) {
        for len in [DEFAULT_MAX_FRAME + 1, u32::MAX] {
            let (mut conn, _) = RawConn::handshake(addr).await;
            let header = raw::call_header(1, common::calc::ECHO.get());
            // Only the header: the server must refuse it from the length
            // alone, without waiting for (or allocating) the payload.
            conn.send_bytes(&header.encode(len)).await;
            expect_clean_close(&mut conn, &format!("length {len}")).await;
        }
    }

    pub(super) async fn unknown_frame_kind(addr: SocketAddr) {
        // Never used; 6 and 7 are stream data and credit.
        for kind in [0u8, 12, 0x7f, 0xff] {
            let (mut conn, _) = RawConn::handshake(addr).await;
            let mut header = FrameHeader::new(FrameKind::Ping).encode(0);
            header[0] = kind;
            conn.send_bytes(&header).await;
            expect_clean_close(&mut conn, &format!("kind {kind}")).await;
        }
    }

    pub(super) async fn reserved_header_bytes_set(addr: SocketAddr) {
        for byte in 20..24 {
            let (mut conn, _) = RawConn::handshake(addr).await;
            let mut header = raw::call_header(1, common::calc::ADD.get()).encode(0);
            header[byte] = 1;
            conn.send_bytes(&header).await;
            expect_clean_close(&mut conn, &format!("reserved byte {byte}")).await;
        }
    }

    pub(super) async fn padding_not_zero(addr: SocketAddr) {
        let (mut conn, _) = RawConn::handshake(addr).await;
        let request = add_request();
        let header = raw::call_header(1, common::calc::ADD.get()).encode(request.len() as u32);
        let mut frame = header.to_vec();
        frame.extend_from_slice(&request);
        // Padding up to 16 bytes, one of them not zero.
        frame.resize(frame.len().next_multiple_of(16), 0);
        assert!(
            !request.len().is_multiple_of(16),
            "the request needs padding"
        );
        let last = frame.len() - 1;
        frame[last] = 0x5a;
        conn.send_bytes(&frame).await;
        expect_clean_close(&mut conn, "padding not zero").await;
    }

    pub(super) async fn call_before_the_hello(addr: SocketAddr) {
        let mut conn = RawConn::connect(addr).await;
        conn.send(raw::call_header(1, common::calc::ADD.get()), &add_request())
            .await;
        expect_goaway_and_close(&mut conn, "call before hello", Code::Internal).await;
    }

    pub(super) async fn call_before_the_accept(addr: SocketAddr) {
        // A HELLO, then a call without accepting the server: the handshake
        // has not finished.
        let mut conn = RawConn::connect(addr).await;
        conn.send_hello().await;
        conn.send(raw::call_header(1, common::calc::ADD.get()), &add_request())
            .await;
        expect_goaway_and_close(&mut conn, "call before accept", Code::Internal).await;
    }

    pub(super) async fn accept_before_the_hello(addr: SocketAddr) {
        let mut conn = RawConn::connect(addr).await;
        conn.send_accept().await;
        expect_goaway_and_close(&mut conn, "accept before hello", Code::Internal).await;
    }

    pub(super) async fn a_schema_the_server_does_not_have(addr: SocketAddr) {
        // A HELLO declaring an op with another fingerprint: refused at the
        // handshake, naming the op.
        let mut conn = RawConn::connect(addr).await;
        let declared = prism_proto::session::OpEntry {
            op: common::calc::ADD.get(),
            fingerprint: 0x0bad,
            codecs: vec![raw::postcard_id()],
        };
        let hello = prism_proto::session::Hello::new(vec![declared]);
        conn.send(FrameHeader::new(FrameKind::Hello), &hello.encode())
            .await;
        let reason =
            expect_goaway_and_close(&mut conn, "schema mismatch", Code::FailedPrecondition).await;
        assert!(reason.contains("tests.Calc/add"), "{reason}");
    }

    pub(super) async fn malformed_hello(addr: SocketAddr) {
        let cases: [&[u8]; 4] = [
            b"",
            b"XXXX\x01\x00",
            // Right magic, an empty version range.
            b"PRSM\x63\x00\x00\x00\x00\x01\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00",
            // Right magic, the version-1 format.
            b"PRSM\x01\x00\x00\x00",
        ];
        for payload in cases {
            let mut conn = RawConn::connect(addr).await;
            conn.send(FrameHeader::new(FrameKind::Hello), payload).await;
            expect_goaway_and_close(&mut conn, "malformed hello", Code::FailedPrecondition).await;
        }
        // An op count the payload cannot hold: refused, nothing allocated.
        let mut conn = RawConn::connect(addr).await;
        let mut hello = prism_proto::session::Hello::new(vec![]).encode().to_vec();
        // After magic (4), versions (2 + 2), features (8 + 8), limits
        // (4 + 4), max message (8), chunk size and windows (4 + 4 + 4).
        hello[52..56].copy_from_slice(&u32::MAX.to_le_bytes());
        conn.send(FrameHeader::new(FrameKind::Hello), &hello).await;
        expect_goaway_and_close(&mut conn, "huge op count", Code::FailedPrecondition).await;
    }

    pub(super) async fn second_hello(addr: SocketAddr) {
        let (mut conn, _) = RawConn::handshake(addr).await;
        conn.send_hello().await;
        expect_goaway_and_close(&mut conn, "second hello", Code::Internal).await;
    }

    pub(super) async fn unknown_op(addr: SocketAddr) {
        let (mut conn, _) = RawConn::handshake(addr).await;
        conn.send(raw::call_header(1, 0xdead_beef_0bad_f00d), &add_request())
            .await;
        let (code, message) = conn.expect_error(1).await;
        assert_eq!(code, Code::NotFound, "{message}");
        // The session goes on.
        assert_eq!(add(&mut conn, 3, 1, 2).await, 3);
    }

    pub(super) async fn wrong_codec_id(addr: SocketAddr) {
        let (mut conn, _) = RawConn::handshake(addr).await;
        let mut header = raw::call_header(1, common::calc::ADD.get());
        header.codec = 0x7777;
        conn.send(header, &add_request()).await;
        let (code, message) = conn.expect_error(1).await;
        assert_eq!(code, Code::InvalidArgument, "{message}");
        assert!(message.contains("tests.Calc/add"), "{message}");
        assert!(message.contains("codec"), "{message}");
        assert_eq!(add(&mut conn, 3, 1, 2).await, 3);
    }

    pub(super) async fn garbage_payload(addr: SocketAddr) {
        let (mut conn, _) = RawConn::handshake(addr).await;
        let add_op = common::calc::ADD.get();
        let echo_op = common::calc::ECHO.get();
        let div_op = common::calc::DIV.get();
        let bad: [(u64, &[u8]); 7] = [
            // Varints that never end.
            (add_op, &[0xff; 24]),
            // Nothing at all.
            (add_op, b""),
            // One field of two.
            (div_op, &[0x02]),
            // A length of 1000 with 3 bytes behind it.
            (echo_op, &[0xe8, 0x07, 1, 2, 3]),
            // A length of u64::MAX: refused, not allocated.
            (
                echo_op,
                &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
            ),
            // A varint longer than any u64.
            (
                echo_op,
                &[
                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01,
                ],
            ),
            // A varint cut off after its first byte.
            (common::calc::SLEEP.get(), &[0x80]),
        ];
        let mut channel = 1;
        for (op, payload) in bad {
            conn.send(raw::call_header(channel, op), payload).await;
            let (code, message) = conn.expect_error(channel).await;
            assert_eq!(
                code,
                Code::InvalidArgument,
                "payload {payload:02x?}: {message}"
            );
            assert!(message.contains("tests.Calc/"), "{message}");
            channel += 2;
        }
        assert_eq!(add(&mut conn, channel, 1, 2).await, 3);
    }

    pub(super) async fn even_channel_id(addr: SocketAddr) {
        let (mut conn, _) = RawConn::handshake(addr).await;
        conn.send(raw::call_header(2, common::calc::ADD.get()), &add_request())
            .await;
        expect_goaway_and_close(&mut conn, "even channel id", Code::Internal).await;
    }

    pub(super) async fn reused_channel_id(addr: SocketAddr) {
        let (mut conn, _) = RawConn::handshake(addr).await;
        assert_eq!(add(&mut conn, 5, 1, 2).await, 3);
        conn.send(raw::call_header(5, common::calc::ADD.get()), &add_request())
            .await;
        expect_goaway_and_close(&mut conn, "reused channel id", Code::Internal).await;

        let (mut conn, _) = RawConn::handshake(addr).await;
        assert_eq!(add(&mut conn, 5, 1, 2).await, 3);
        conn.send(raw::call_header(3, common::calc::ADD.get()), &add_request())
            .await;
        expect_goaway_and_close(&mut conn, "decreasing channel id", Code::Internal).await;
    }

    pub(super) async fn response_from_the_client(addr: SocketAddr) {
        let (mut conn, _) = RawConn::handshake(addr).await;
        let mut header = FrameHeader::new(FrameKind::Response);
        header.channel = 1;
        header.codec = raw::postcard_id();
        conn.send(header, &[0x04]).await;
        expect_goaway_and_close(&mut conn, "response from the client", Code::Internal).await;
    }

    pub(super) async fn cancel_of_a_channel_never_opened(addr: SocketAddr) {
        let (mut conn, _) = RawConn::handshake(addr).await;
        let mut header = FrameHeader::new(FrameKind::Cancel);
        header.channel = 99;
        conn.send(header, b"").await;
        expect_goaway_and_close(
            &mut conn,
            "cancel of a channel never opened",
            Code::Internal,
        )
        .await;
    }
}
