//! QUIC over loopback: QUIC links pass the multiplexed-link conformance
//! suite; calls and streams travel on streams of their own, carry the
//! peer's certificate identity and a channel binding, and pass the default
//! security policy.

mod common;

use core::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::pki::Ca;
use prism::codec::Payload;
use prism::quic::{QuicConnector, QuicLink, QuicListener};
use prism::tls::{ClientTls, ServerTls};
use prism::transport::testing::{self, LinkPair};
use prism::transport::{Connector, Frame, Link, LinkConfig, LinkError, Listener, Priority};
use prism_proto::frame::{FrameHeader, FrameKind};

const SERVER_ID: &str = "spiffe://test.internal/server";
const CLIENT_ID: &str = "spiffe://test.internal/worker";

type Pki = common::TestPki;

fn pki() -> Pki {
    Pki::new(SERVER_ID)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quic_links_conform() {
    let pki = pki();
    let listener =
        QuicListener::bind("127.0.0.1:0".parse().expect("addr"), pki.server_tls()).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let listener = Arc::new(tokio::sync::Mutex::new(listener));
    let connector = QuicConnector::new(addr, "localhost", pki.client_tls()).expect("connector");
    testing::check_multiplexed_links(|max_frame| {
        let (listener, connector) = (listener.clone(), connector.clone());
        async move {
            let config = LinkConfig::with_max_frame(max_frame);
            let mut listener = listener.lock().await;
            let (a, b) = tokio::join!(connector.connect(&config), listener.accept(&config));
            let pair: LinkPair = (Box::new(a.expect("connect")), Box::new(b.expect("accept")));
            pair
        }
    })
    .await;
}

/// A connected pair of QUIC links: (client's, server's).
async fn pair(listener: &mut QuicListener, connector: &QuicConnector) -> (QuicLink, QuicLink) {
    let config = LinkConfig::default();
    let (a, b) = tokio::join!(connector.connect(&config), listener.accept(&config));
    (a.expect("connect"), b.expect("accept"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_quic_proves_both_identities_and_one_binding() {
    let pki = pki();
    let client = pki.ca.client(CLIENT_ID);
    let tls = ServerTls::mutual_from_pem(
        pki.server.cert_pem.as_bytes(),
        pki.server.key_pem.as_bytes(),
        pki.ca.cert_pem.as_bytes(),
    )
    .expect("mutual server tls");
    let mut listener = QuicListener::bind(localhost(), tls).expect("bind");
    assert_eq!(listener.kind(), prism::quic::AUTHENTICATED_KIND);
    let client_tls = ClientTls::mutual_from_pem(
        pki.ca.cert_pem.as_bytes(),
        client.cert_pem.as_bytes(),
        client.key_pem.as_bytes(),
    )
    .expect("mutual client tls");
    let addr = listener.local_addr().expect("addr");
    let connector = QuicConnector::new(addr, "localhost", client_tls).expect("connector");
    let (a, b) = pair(&mut listener, &connector).await;
    assert_eq!(a.info().peer_identity.as_deref(), Some(SERVER_ID));
    assert_eq!(b.info().peer_identity.as_deref(), Some(CLIENT_ID));
    assert!(a.info().peer_identity_expiry.is_some());
    assert!(b.info().peer_identity_expiry.is_some());
    assert!(a.info().kind.security.peer_authenticated);
    assert!(b.info().kind.independent_channels);
    let (ours, theirs) = (&a.info().channel_binding, &b.info().channel_binding);
    assert!(ours.is_some(), "a QUIC link has a channel binding");
    assert_eq!(ours, theirs, "both ends derive the same binding");

    // Another connection has another binding.
    let (c, _d) = pair(&mut listener, &connector).await;
    assert_ne!(c.info().channel_binding, a.info().channel_binding);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_the_servers_roots_is_refused() {
    let pki = pki();
    let listener = QuicListener::bind(localhost(), pki.server_tls()).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let serving = tokio::spawn(accept_forever(listener));
    let strangers = Ca::new("another ca");
    let tls = ClientTls::from_pem(strangers.cert_pem.as_bytes()).expect("client tls");
    let connector = QuicConnector::new(addr, "localhost", tls).expect("connector");
    let error = connector
        .connect(&LinkConfig::default())
        .await
        .expect_err("an unknown server");
    assert!(error.to_string().contains("certificate"), "{error}");
    serving.abort();
}

/// Priorities reach QUIC's scheduler: a bulk call on a high-priority
/// channel, queued after one as large on a low-priority channel, arrives
/// first. With equal priorities the first queued would finish first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_high_priority_channel_overtakes_a_bulk_one() {
    let pki = pki();
    let mut listener = QuicListener::bind(localhost(), pki.server_tls()).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let connector = QuicConnector::new(addr, "localhost", pki.client_tls()).expect("connector");
    for round in 0..3 {
        let (mut a, mut b) = pair(&mut listener, &connector).await;
        let bulk = |channel: u32| {
            let header = FrameHeader {
                channel,
                ..FrameHeader::new(FrameKind::Call)
            };
            Frame::new(
                header,
                Payload::new(Bytes::from(vec![channel as u8; 8 << 20])),
            )
        };
        a.set_priority(1, Priority::LOWEST);
        a.set_priority(3, Priority::HIGHEST);
        a.queue(bulk(1)).expect("queue");
        a.queue(bulk(3)).expect("queue");
        let flush = async { poll_fn(|cx| a.poll_flush(cx)).await.expect("flush") };
        let receive = async {
            let first = poll_fn(|cx| b.poll_recv(cx))
                .await
                .expect("recv")
                .expect("a frame");
            let second = poll_fn(|cx| b.poll_recv(cx))
                .await
                .expect("recv")
                .expect("a frame");
            (first.header.channel, second.header.channel)
        };
        let ((), order) = tokio::join!(flush, receive);
        assert_eq!(
            order,
            (3, 1),
            "round {round}: the urgent channel comes first"
        );
    }
}

/// A peer that opens a stream and sends garbage loses its connection,
/// with nothing served; the server goes on serving others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_on_a_stream_closes_that_connection_only() {
    common::install_panic_hook();
    let pki = pki();
    let server = common::test_server(&Default::default());
    let (addr, serving) = serve_quic(&pki, &server);
    // A bad preamble; a stream that ends inside its preamble; a frame of
    // an unknown kind; a first frame that is not a CALL.
    let unknown_kind = [[0u8; 16].as_slice(), &[99], &[0; 31]].concat();
    let ping_first = [
        [0u8; 16].as_slice(),
        &FrameHeader::new(FrameKind::Ping).encode(0),
    ]
    .concat();
    for garbage in [&[0xFFu8; 64][..], &[0u8; 7][..], &unknown_kind, &ping_first] {
        let conn = raw_connection(&pki, addr).await;
        let (mut send, _recv) = conn.open_bi().await.expect("open a stream");
        send.write_all(garbage).await.expect("write");
        send.finish().expect("finish");
        // Well before the 10 s handshake timeout would close it anyway.
        let closed = tokio::time::timeout(Duration::from_secs(3), conn.closed()).await;
        assert!(
            closed.is_ok(),
            "the server closes a connection that sent garbage {garbage:?}"
        );
    }
    serves_others_then_shuts_down(&pki, addr, &server, serving).await;
}

/// A CALL on the control stream (which would slip past QUIC's stream
/// limit: every call opens a stream of its own) closes the connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_on_the_control_stream_closes_the_connection() {
    common::install_panic_hook();
    let pki = pki();
    let server = common::test_server(&Default::default());
    let (addr, serving) = serve_quic(&pki, &server);
    let conn = raw_connection(&pki, addr).await;
    let (mut control, _theirs) = raw_handshake(&conn).await;
    let header = FrameHeader {
        channel: 1,
        ..FrameHeader::new(FrameKind::Call)
    };
    write_raw_frame(&mut control, header, &[]).await;
    let closed = tokio::time::timeout(Duration::from_secs(3), conn.closed()).await;
    assert!(closed.is_ok(), "the server closes the connection");
    serves_others_then_shuts_down(&pki, addr, &server, serving).await;
}

/// Serves `server` over QUIC on loopback: its address, and the task.
fn serve_quic(
    pki: &Pki,
    server: &prism::Server,
) -> (
    std::net::SocketAddr,
    tokio::task::JoinHandle<Result<(), prism::ServeError>>,
) {
    let listener = QuicListener::bind(localhost(), pki.server_tls()).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = server.clone();
    (
        addr,
        tokio::spawn(async move { server.serve(listener).await }),
    )
}

/// A well-behaved client of the server at `addr` is served (whatever an
/// earlier peer did); then the server shuts down, with no panic anywhere.
async fn serves_others_then_shuts_down(
    pki: &Pki,
    addr: std::net::SocketAddr,
    server: &prism::Server,
    serving: tokio::task::JoinHandle<Result<(), prism::ServeError>>,
) {
    let connector = QuicConnector::new(addr, "localhost", pki.client_tls()).expect("connector");
    let channel = prism::Channel::builder()
        .connect(connector)
        .await
        .expect("connect");
    let calc = common::CalcClient::new(channel);
    assert_eq!(calc.add(2, 3).await.expect("a call"), 5);
    server.shutdown();
    let _ = tokio::time::timeout(Duration::from_secs(10), serving).await;
    common::assert_no_panics();
}

/// A QUIC connection made by hand, speaking Prism's ALPN.
async fn raw_connection(pki: &Pki, addr: std::net::SocketAddr) -> quinn::Connection {
    raw_connection_with(pki, addr, quinn::TransportConfig::default()).await
}

/// [`raw_connection`] with QUIC settings of its own.
async fn raw_connection_with(
    pki: &Pki,
    addr: std::net::SocketAddr,
    transport: quinn::TransportConfig,
) -> quinn::Connection {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pki.ca.cert_pem.as_bytes()) {
        roots.add(cert.expect("a certificate")).expect("a root");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_root_certificates(roots)
        .with_no_client_auth();
    tls.alpn_protocols = vec![prism::quic::ALPN_PROTOCOL.to_vec()];
    let crypto = quinn::crypto::rustls::QuicClientConfig::try_from(tls).expect("QUIC TLS");
    let mut endpoint = quinn::Endpoint::client(localhost()).expect("endpoint");
    let mut client = quinn::ClientConfig::new(Arc::new(crypto));
    client.transport_config(Arc::new(transport));
    endpoint.set_default_client_config(client);
    endpoint
        .connect(addr, "localhost")
        .expect("connect")
        .await
        .expect("handshake")
}

async fn accept_forever(mut listener: QuicListener) {
    let mut links = Vec::new();
    while let Ok(link) = listener.accept(&LinkConfig::default()).await {
        links.push(link);
    }
}

fn localhost() -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], 0))
}

/// A peer that stops reading a stream while its connection lives on
/// (QUIC keeps the path alive) fails the link once a write moved nothing
/// for the write timeout, instead of holding what waits for it forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_the_peer_stops_reading_fails_the_link_after_the_write_timeout() {
    let pki = pki();
    let mut listener = QuicListener::bind(localhost(), pki.server_tls()).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let connector = QuicConnector::new(addr, "localhost", pki.client_tls()).expect("connector");
    let mut ours = LinkConfig::default();
    ours.frame_timeout = Some(Duration::from_millis(300));
    // The peer reads ahead little, and its session never takes a frame.
    let mut theirs = LinkConfig::with_max_frame(1 << 20);
    theirs.max_chunk = 16 << 10;
    theirs.max_channels = 1;
    theirs.stream_window = 64 << 10;
    theirs.connection_window = 64 << 10;
    theirs.frame_timeout = None;
    let (a, b) = tokio::join!(connector.connect(&ours), listener.accept(&theirs));
    let (mut a, _b) = (a.expect("connect"), b.expect("accept"));
    let block = Bytes::from(vec![7u8; 256 << 10]);
    for i in 0..16 {
        let kind = if i == 0 {
            FrameKind::Call
        } else {
            FrameKind::Data
        };
        let header = FrameHeader {
            channel: 1,
            ..FrameHeader::new(kind)
        };
        a.queue(Frame::new(header, Payload::new(block.clone())))
            .expect("queue");
    }
    let flushed = tokio::time::timeout(Duration::from_secs(20), poll_fn(|cx| a.poll_flush(cx)))
        .await
        .expect("the write fails long before the test gives up");
    match flushed {
        Err(LinkError::WriteTimeout(after)) => assert_eq!(after, Duration::from_millis(300)),
        other => panic!("expected a write that timed out, got {other:?}"),
    }
}

/// A peer that never lets this side open another stream (it frees no
/// stream credit) fails the link once a call waited the write timeout for
/// one, instead of holding that call and every later one forever.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_frees_no_stream_fails_the_link_after_the_write_timeout() {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let pki = pki();
    let certs: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(pki.server.cert_pem.as_bytes())
            .map(|cert| cert.expect("a certificate"))
            .collect();
    let key = PrivateKeyDer::from_pem_slice(pki.server.key_pem.as_bytes()).expect("a key");
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .expect("TLS 1.3")
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("server certificate");
    tls.alpn_protocols = vec![prism::quic::ALPN_PROTOCOL.to_vec()];
    let crypto = quinn::crypto::rustls::QuicServerConfig::try_from(tls).expect("QUIC TLS");
    let mut server = quinn::ServerConfig::with_crypto(Arc::new(crypto));
    // The control stream, and no channel stream at all.
    let mut transport = quinn::TransportConfig::default();
    transport
        .max_concurrent_bidi_streams(0u32.into())
        .max_concurrent_uni_streams(1u32.into());
    server.transport_config(Arc::new(transport));
    let endpoint = quinn::Endpoint::server(server, localhost()).expect("endpoint");
    let addr = endpoint.local_addr().expect("addr");
    let holding = tokio::spawn(async move {
        let conn = endpoint
            .accept()
            .await
            .expect("an attempt")
            .await
            .expect("handshake");
        // Holds the connection (keep-alives pass), reads nothing.
        conn.closed().await;
    });
    let connector = QuicConnector::new(addr, "localhost", pki.client_tls()).expect("connector");
    let mut ours = LinkConfig::default();
    ours.frame_timeout = Some(Duration::from_millis(300));
    let mut link = connector.connect(&ours).await.expect("connect");
    let header = FrameHeader {
        channel: 1,
        ..FrameHeader::new(FrameKind::Call)
    };
    link.queue(Frame::new(header, Payload::from(vec![1u8; 64])))
        .expect("queue");
    let flushed = tokio::time::timeout(Duration::from_secs(10), poll_fn(|cx| link.poll_flush(cx)))
        .await
        .expect("the wait fails long before the test gives up");
    match flushed {
        Err(LinkError::WriteTimeout(after)) => assert_eq!(after, Duration::from_millis(300)),
        other => panic!("expected a wait that timed out, got {other:?}"),
    }
    link.abort();
    drop(link);
    holding.abort();
}

/// Writes one frame as QUIC streams carry it: header, then payload.
async fn write_raw_frame(send: &mut quinn::SendStream, header: FrameHeader, payload: &[u8]) {
    let len = u32::try_from(payload.len()).expect("a frame's length");
    send.write_all(&header.encode(len)).await.expect("write");
    send.write_all(payload).await.expect("write");
}

/// Reads one frame as QUIC streams carry it; `None` once the stream ends
/// or breaks.
async fn read_raw_frame(recv: &mut quinn::RecvStream) -> Option<(FrameHeader, Vec<u8>)> {
    let mut head = [0u8; 32];
    recv.read_exact(&mut head).await.ok()?;
    let (header, len) = FrameHeader::decode(&head, u32::MAX).expect("a valid header");
    let mut payload = vec![0u8; len as usize];
    recv.read_exact(&mut payload).await.ok()?;
    Some((header, payload))
}

/// Does the Prism handshake by hand: our HELLO and ACCEPT on our control
/// stream, the server's read from its own. Returns both control streams.
async fn raw_handshake(conn: &quinn::Connection) -> (quinn::SendStream, quinn::RecvStream) {
    use prism_proto::session::{Accept, Hello};
    let mut control = conn.open_uni().await.expect("a control stream");
    let hello = Hello::new(vec![]).encode();
    write_raw_frame(&mut control, FrameHeader::new(FrameKind::Hello), &hello).await;
    let accept = Accept::default().encode();
    write_raw_frame(&mut control, FrameHeader::new(FrameKind::Accept), &accept).await;
    let mut theirs = conn
        .accept_uni()
        .await
        .expect("the server's control stream");
    for kind in [FrameKind::Hello, FrameKind::Accept] {
        let (header, _) = read_raw_frame(&mut theirs).await.expect("a frame");
        assert_eq!(header.kind, kind);
    }
    (control, theirs)
}

/// Opens a channel's stream after [`raw_handshake`]: its preamble says
/// our two control frames come first.
async fn open_channel_stream(conn: &quinn::Connection) -> (quinn::SendStream, quinn::RecvStream) {
    let (mut send, recv) = conn.open_bi().await.expect("a channel stream");
    send.write_all(&[[2u8].as_slice(), &[0; 15]].concat())
        .await
        .expect("the preamble: after our two control frames");
    (send, recv)
}

/// A whole CALL of channel 1 echoing `len` bytes, as a QUIC stream carries
/// it: header, then payload.
fn echo_call(len: usize) -> Vec<u8> {
    let request = common::raw::encode(&common::calc::EchoRequest { data: vec![7; len] });
    let header = common::raw::call_header(1, common::calc::ECHO.get());
    let len = u32::try_from(request.len()).expect("a length");
    [header.encode(len).as_slice(), &request].concat()
}

/// A calculator server, open to all, with the given frame timeout.
fn server_with_frame_timeout(timeout: Duration) -> prism::Server {
    prism::Server::builder()
        .allow_unauthenticated()
        .session_config(
            prism::transport::SessionConfig::default().with_frame_timeout(Some(timeout)),
        )
        .add_service(common::CalcServer::new(common::TestCalc::new(
            Arc::default(),
        )))
        .build()
        .expect("the server builds")
}

/// A peer that completes its handshake and keeps its connection alive but
/// never reads the stream of its call (its QUIC stream window is tiny)
/// cannot hold the answer, and the server's memory for it, forever: the
/// server closes the connection once a write moved nothing for its frame
/// timeout, and serves others on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_never_reads_its_calls_stream_is_cut_off() {
    common::install_panic_hook();
    let pki = pki();
    let server = server_with_frame_timeout(Duration::from_millis(300));
    let (addr, serving) = serve_quic(&pki, &server);
    let mut transport = quinn::TransportConfig::default();
    transport.stream_receive_window(quinn::VarInt::from_u32(1024));
    let conn = raw_connection_with(&pki, addr, transport).await;
    let (_control, _theirs) = raw_handshake(&conn).await;
    // A call for a 32 KiB answer, on a stream whose answer we never read.
    let (mut call, _never_read) = open_channel_stream(&conn).await;
    call.write_all(&echo_call(32 << 10))
        .await
        .expect("the CALL");
    let closed = tokio::time::timeout(Duration::from_secs(10), conn.closed())
        .await
        .expect("the server closes the connection well before the test gives up");
    assert!(
        matches!(&closed, quinn::ConnectionError::ApplicationClosed(close)
            if close.error_code.into_inner() == 1
                && close.reason.starts_with(b"the peer took nothing written")),
        "{closed:?}"
    );
    serves_others_then_shuts_down(&pki, addr, &server, serving).await;
}

/// A peer that sends part of a frame on a channel's stream (half a header,
/// or a header and half its payload) and never the rest, while it keeps
/// the connection busy with whole frames on its control stream, is let go
/// of once its frame timeout passes, with a GOAWAY saying why; the server
/// serves others on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_sends_half_a_frame_is_cut_off_after_the_frame_timeout() {
    common::install_panic_hook();
    let pki = pki();
    let server = server_with_frame_timeout(Duration::from_millis(300));
    let (addr, serving) = serve_quic(&pki, &server);
    let whole = echo_call(4 << 10);
    // Half a header; a header and half its payload.
    for part in [&whole[..20], &whole[..32 + (whole.len() - 32) / 2]] {
        let conn = raw_connection(&pki, addr).await;
        let (mut control, mut theirs) = raw_handshake(&conn).await;
        let (mut call, _answer) = open_channel_stream(&conn).await;
        call.write_all(part).await.expect("part of a CALL");
        // Whole frames on another stream do not excuse the partial one.
        let busy = tokio::spawn(async move {
            for id in 1.. {
                let ping = FrameHeader {
                    aux: id,
                    ..FrameHeader::new(FrameKind::Ping)
                };
                if control.write_all(&ping.encode(0)).await.is_err() {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
        let goaway = tokio::time::timeout(Duration::from_secs(10), async {
            while let Some((header, payload)) = read_raw_frame(&mut theirs).await {
                if header.kind == FrameKind::GoAway {
                    return Some(payload);
                }
            }
            None
        })
        .await
        .expect("the server lets go well before the test gives up")
        .expect("a GOAWAY says why");
        let code = u16::from_le_bytes(*goaway.first_chunk::<2>().expect("a code"));
        let reason = String::from_utf8_lossy(&goaway[2..]);
        assert_eq!(code, prism::Code::DeadlineExceeded.as_u16(), "{reason}");
        assert!(reason.contains("part of a frame"), "{reason}");
        tokio::time::timeout(Duration::from_secs(10), conn.closed())
            .await
            .expect("the connection closes");
        busy.abort();
    }
    serves_others_then_shuts_down(&pki, addr, &server, serving).await;
}

/// The frame timeout holds a QUIC stream to keep moving, not to finish a
/// frame within it (streams share the connection): a call that arrives in
/// pieces, each well within the timeout but all of them well beyond it,
/// is answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_frame_that_keeps_coming_is_served() {
    common::install_panic_hook();
    let pki = pki();
    let server = server_with_frame_timeout(Duration::from_millis(300));
    let (addr, serving) = serve_quic(&pki, &server);
    let conn = raw_connection(&pki, addr).await;
    let (_control, _theirs) = raw_handshake(&conn).await;
    let (mut call, mut answer) = open_channel_stream(&conn).await;
    let whole = echo_call(4 << 10);
    // Twenty pieces 50 ms apart: a second in all, against a 300 ms timeout.
    for piece in whole.chunks(whole.len().div_ceil(20)) {
        call.write_all(piece).await.expect("a piece of the CALL");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (header, _) = tokio::time::timeout(Duration::from_secs(10), read_raw_frame(&mut answer))
        .await
        .expect("the answer comes well before the test gives up")
        .expect("an answer");
    assert_eq!(
        (header.kind, header.channel),
        (FrameKind::Response, 1),
        "{header:?}"
    );
    serves_others_then_shuts_down(&pki, addr, &server, serving).await;
}

/// A caller's CANCEL stops its stream both ways: the callee's queued
/// answer is dropped by QUIC (STOP_SENDING) instead of crossing the
/// network, so its flush completes though the caller reads none of it
/// (without the stop, the caller's link would read ahead only up to its
/// receive budget, far below 256 MiB, and the flush would never end).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_stops_the_answer_at_the_quic_level() {
    let pki = pki();
    let mut listener = QuicListener::bind(localhost(), pki.server_tls()).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let connector = QuicConnector::new(addr, "localhost", pki.client_tls()).expect("connector");
    let (mut a, mut b) = pair(&mut listener, &connector).await;
    let on = |kind, channel| FrameHeader {
        channel,
        ..FrameHeader::new(kind)
    };
    a.queue(Frame::new(on(FrameKind::Call, 1), Payload::empty()))
        .expect("queue");
    poll_fn(|cx| a.poll_flush(cx)).await.expect("flush");
    let call = poll_fn(|cx| b.poll_recv(cx))
        .await
        .expect("recv")
        .expect("the call");
    assert_eq!(call.header.kind, FrameKind::Call);
    const CHUNKS: usize = 256;
    for _ in 0..CHUNKS {
        let chunk = Payload::new(Bytes::from(vec![7u8; 1 << 20]));
        b.queue(Frame::new(on(FrameKind::Data, 1), chunk))
            .expect("queue");
    }
    let first = poll_fn(|cx| a.poll_recv(cx))
        .await
        .expect("recv")
        .expect("a chunk");
    assert_eq!(first.header.kind, FrameKind::Data);
    a.queue(Frame::empty(on(FrameKind::Cancel, 1)))
        .expect("queue");
    poll_fn(|cx| a.poll_flush(cx)).await.expect("flush");
    // The callee's 256 MiB never have to be read for its flush to end.
    tokio::time::timeout(Duration::from_secs(20), poll_fn(|cx| b.poll_flush(cx)))
        .await
        .expect("the callee's flush ends once the caller stopped reading")
        .expect("flush");
    let cancel = poll_fn(|cx| b.poll_recv(cx))
        .await
        .expect("recv")
        .expect("the cancel");
    assert_eq!(cancel.header.kind, FrameKind::Cancel);
    // The connection goes on: what the caller still gets is what its
    // link had read before, then the next frame.
    b.queue(Frame::empty(on(FrameKind::Pong, 0)))
        .expect("queue");
    poll_fn(|cx| b.poll_flush(cx)).await.expect("flush");
    loop {
        let frame = poll_fn(|cx| a.poll_recv(cx))
            .await
            .expect("recv")
            .expect("a frame");
        if frame.header.kind == FrameKind::Pong {
            break;
        }
        assert_eq!(frame.header.channel, 1, "{:?}", frame.header);
    }
}

/// DATAGRAM frames travel in QUIC datagrams where they fit, in band where
/// they do not; received ones wait until the peer's HELLO and ACCEPT (its
/// first two control frames) arrived.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn datagram_frames_travel_as_quic_datagrams_after_the_handshake() {
    let pki = pki();
    let mut listener = QuicListener::bind(localhost(), pki.server_tls()).expect("bind");
    let addr = listener.local_addr().expect("addr");
    let connector = QuicConnector::new(addr, "localhost", pki.client_tls()).expect("connector");
    let (mut a, mut b) = pair(&mut listener, &connector).await;
    let max = a.max_datagram_size().expect("QUIC links carry datagrams");
    assert!((1000..1500).contains(&max), "{max}");
    let datagram = |len: usize| {
        let header = FrameHeader {
            op: 7,
            ..FrameHeader::new(FrameKind::Datagram)
        };
        Frame::new(header, Payload::new(Bytes::from(vec![9; len])))
    };
    let ping = |n: u64| {
        Frame::new(
            FrameHeader {
                aux: n,
                ..FrameHeader::new(FrameKind::Ping)
            },
            Payload::empty(),
        )
    };
    // A datagram first: it is held until two control frames came.
    a.queue(datagram(16)).expect("queue");
    poll_fn(|cx| a.poll_flush(cx)).await.expect("flush");
    // Counted once quinn put it in a packet.
    let sent = async {
        while a.datagrams_sent() == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(10), sent)
        .await
        .expect("the datagram left as a QUIC datagram");
    tokio::time::sleep(Duration::from_millis(50)).await;
    a.queue(ping(1)).expect("queue");
    a.queue(ping(2)).expect("queue");
    // One too large for any datagram (QUIC may find a larger path MTU
    // meanwhile, never one this large) goes in band, after the pings.
    a.queue(datagram(2000)).expect("queue");
    poll_fn(|cx| a.poll_flush(cx)).await.expect("flush");
    let mut arrived = Vec::new();
    for _ in 0..4 {
        let frame = tokio::time::timeout(Duration::from_secs(10), poll_fn(|cx| b.poll_recv(cx)))
            .await
            .expect("in time")
            .expect("recv")
            .expect("a frame");
        arrived.push((frame.header.kind, frame.payload.len()));
    }
    assert_eq!(&arrived[..2], [(FrameKind::Ping, 0), (FrameKind::Ping, 0)]);
    let mut rest = arrived[2..].to_vec();
    rest.sort_by_key(|(_, len)| *len);
    assert_eq!(
        rest,
        [(FrameKind::Datagram, 16), (FrameKind::Datagram, 2000)]
    );
    assert_eq!(a.datagrams_sent(), 1, "the large one went in band");
}
