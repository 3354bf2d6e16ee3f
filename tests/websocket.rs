//! WebSocket links over real loopback sockets: `ws://` and `wss://` pass
//! the link conformance suite; a peer that sends text, messages that are
//! not one whole frame, or too much gets a typed error; an upgrade without
//! Prism's subprotocol is refused while the listener goes on; `ws://` is
//! plaintext and refused unless allowed, `wss://` passes the default policy
//! and proves the server's identity and a channel binding; silent
//! connections cannot keep a good client out; a raw peer that sends past
//! its window is cut off with a flow-control GOAWAY, as over TCP. (Calls, streams and the rest
//! of the protocol run over `ws://` in every `per_transport!` test.)

mod common;

use std::future::poll_fn;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::pki::Ca;
use common::{CalcClient, CalcServer, Counters, TestCalc, assert_no_panics, install_panic_hook};
use futures_util::{SinkExt, StreamExt};
use prism::tls::{ClientTls, ServerTls};
use prism::transport::testing::{self, LinkPair};
use prism::transport::{Connector, Link, LinkConfig, LinkError, Listener};
use prism::ws::{SUBPROTOCOL, WsConnector, WsListener};
use prism::{Channel, ConnectError, ServeError, Server};
use prism_proto::frame::{FrameHeader, FrameKind};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

const SERVER_ID: &str = "spiffe://test.internal/calc";

/// A connected pair: what `connector` opens and what `listener` accepts.
async fn pair(listener: &mut WsListener, connector: &WsConnector, max_frame: u32) -> LinkPair {
    let config = LinkConfig::with_max_frame(max_frame);
    let (a, b) = tokio::join!(connector.connect(&config), listener.accept(&config));
    (Box::new(a.expect("connect")), Box::new(b.expect("accept")))
}

async fn ws_endpoint() -> (WsListener, WsConnector) {
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}/prism", tcp.local_addr().expect("addr"));
    (WsListener::new(tcp), WsConnector::new(&url).expect("url"))
}

/// A CA, and a `wss://` listener whose certificate it signed.
async fn wss_endpoint() -> (Ca, WsListener, WsConnector) {
    let ca = Ca::new("test ca");
    let server = ca.server(SERVER_ID);
    let tls = ServerTls::from_pem(server.cert_pem.as_bytes(), server.key_pem.as_bytes())
        .expect("server tls");
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!(
        "wss://localhost:{}/",
        tcp.local_addr().expect("addr").port()
    );
    let client = ClientTls::from_pem(ca.cert_pem.as_bytes()).expect("client tls");
    let connector = WsConnector::tls(&url, client).expect("url");
    (ca, WsListener::tls(tcp, tls), connector)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_links_conform() {
    let (listener, connector) = ws_endpoint().await;
    let listener = Arc::new(tokio::sync::Mutex::new(listener));
    testing::check_links(|max_frame| {
        let (listener, connector) = (Arc::clone(&listener), connector.clone());
        async move { pair(&mut *listener.lock().await, &connector, max_frame).await }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_links_conform() {
    let (_ca, listener, connector) = wss_endpoint().await;
    let listener = Arc::new(tokio::sync::Mutex::new(listener));
    testing::check_links(|max_frame| {
        let (listener, connector) = (Arc::clone(&listener), connector.clone());
        async move { pair(&mut *listener.lock().await, &connector, max_frame).await }
    })
    .await;
}

/// A raw WebSocket client that asks for Prism's subprotocol, and the link
/// the listener made of it.
async fn raw_client(
    max_frame: u32,
) -> (tokio_tungstenite::WebSocketStream<TcpStream>, Box<dyn Link>) {
    let (mut listener, connector) = ws_endpoint().await;
    let mut request = connector.target().into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    let addr = listener.local_addr().expect("addr");
    let config = LinkConfig::with_max_frame(max_frame);
    let (client, link) = tokio::join!(
        async {
            let tcp = TcpStream::connect(addr).await.expect("connect");
            tokio_tungstenite::client_async(request, tcp)
                .await
                .expect("upgrade")
                .0
        },
        listener.accept(&config)
    );
    (client, Box::new(link.expect("accept")))
}

async fn recv(link: &mut dyn Link) -> Result<Option<prism_proto::frame::Frame>, LinkError> {
    tokio::time::timeout(Duration::from_secs(10), poll_fn(|cx| link.poll_recv(cx)))
        .await
        .expect("the link answers promptly")
}

fn frame_message(kind: FrameKind, payload: &[u8]) -> Message {
    let mut bytes = FrameHeader::new(kind)
        .encode(u32::try_from(payload.len()).expect("small"))
        .to_vec();
    bytes.extend_from_slice(payload);
    Message::Binary(Bytes::from(bytes))
}

#[tokio::test]
async fn pings_are_ignored_and_text_is_a_typed_error() {
    let (mut client, mut link) = raw_client(1024).await;
    client
        .send(Message::Ping(Bytes::from_static(b"are you there")))
        .await
        .expect("ping");
    client
        .send(frame_message(FrameKind::Ping, b"12345678"))
        .await
        .expect("frame");
    client.send(Message::text("hello")).await.expect("text");
    let frame = recv(&mut *link)
        .await
        .expect("a frame")
        .expect("not the end");
    assert_eq!(frame.header.kind, FrameKind::Ping);
    assert_eq!(&*frame.payload.into_bytes(), b"12345678");
    // tungstenite answered the WebSocket ping by itself.
    let pong = client.next().await.expect("a message").expect("ok");
    assert_eq!(pong, Message::Pong(Bytes::from_static(b"are you there")));
    let error = recv(&mut *link).await.expect_err("text is refused");
    let LinkError::Protocol { transport, reason } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(*transport, "ws");
    assert!(reason.contains("text message"), "{reason}");
    assert!(matches!(recv(&mut *link).await, Err(LinkError::Closed)));
}

/// Bytes tungstenite holds for a peer that reads nothing still count as
/// queued: the connection sees the stall (and lingers, then aborts, on
/// close) instead of taking the link for drained.
#[tokio::test]
async fn bytes_waiting_inside_the_websocket_count_as_queued() {
    let (_reads_nothing, mut link) = raw_client(1 << 20).await;
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let mut stuck = false;
    for _ in 0..100_000 {
        let frame = prism::transport::Frame::new(
            FrameHeader::new(FrameKind::Ping),
            prism::codec::Payload::from(vec![7u8; 4096]),
        );
        link.queue(frame).expect("queue");
        if link.poll_flush(&mut cx).is_pending() {
            stuck = true;
            break;
        }
    }
    assert!(stuck, "a peer that reads nothing fills the socket");
    assert!(link.queued_bytes() > 0, "what waits is counted");
}

#[tokio::test]
async fn messages_that_are_not_one_whole_frame_are_typed_errors() {
    let cases: [(&str, Message, &str); 4] = [
        (
            "shorter than a header",
            Message::Binary(Bytes::from_static(&[1; 10])),
            "shorter than a frame header",
        ),
        (
            "longer than its header says",
            {
                let Message::Binary(bytes) = frame_message(FrameKind::Ping, b"1234") else {
                    unreachable!()
                };
                let mut longer = bytes.to_vec();
                longer.extend_from_slice(b"extra");
                Message::Binary(longer.into())
            },
            "header says 4",
        ),
        (
            "an unknown frame kind",
            {
                let mut bytes = FrameHeader::new(FrameKind::Ping).encode(0).to_vec();
                bytes[0] = 0xee;
                Message::Binary(bytes.into())
            },
            "unknown",
        ),
        (
            "beyond the link's largest frame",
            frame_message(FrameKind::Call, &[7; 4096]),
            "",
        ),
    ];
    for (case, message, says) in cases {
        let (mut client, mut link) = raw_client(1024).await;
        // The link may fail before the whole message is written.
        let _ = client.send(message).await;
        let error = recv(&mut *link)
            .await
            .expect_err(&format!("{case} is refused"));
        assert!(
            matches!(error, LinkError::Protocol { .. } | LinkError::Frame(_)),
            "{case}: {error:?}"
        );
        assert!(
            error.to_string().to_lowercase().contains(says),
            "{case}: {error}"
        );
    }
}

#[tokio::test]
async fn an_upgrade_without_the_subprotocol_is_refused_and_the_listener_goes_on() {
    let (mut listener, connector) = ws_endpoint().await;
    let addr = listener.local_addr().expect("addr");
    let config = LinkConfig::default();
    let accepting = async {
        let link = listener.accept(&config).await.expect("the good client");
        (link, listener.failed())
    };
    let clients = async {
        let tcp = TcpStream::connect(addr).await.expect("connect");
        let refused = tokio_tungstenite::client_async(connector.target(), tcp).await;
        let Err(tokio_tungstenite::tungstenite::Error::Http(response)) = refused else {
            panic!("upgraded without the subprotocol: {refused:?}")
        };
        assert_eq!(response.status(), 400);
        connector.connect(&config).await.expect("a Prism client")
    };
    let ((_, failed), _) = tokio::join!(accepting, clients);
    assert_eq!(failed, 1);
}

fn calc_server(plaintext: bool) -> Server {
    let builder = Server::builder()
        .allow_unauthenticated()
        .add_service(CalcServer::new(TestCalc::new(
            Arc::new(Counters::default()),
        )));
    let builder = if plaintext {
        builder.allow_plaintext()
    } else {
        builder
    };
    builder.build().expect("server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ws_is_plaintext_and_wss_passes_the_default_policy() {
    install_panic_hook();
    // ws:// needs consent at both ends.
    let (listener, connector) = ws_endpoint().await;
    assert!(matches!(
        calc_server(false).serve(listener).await,
        Err(ServeError::InsecureLink(_))
    ));
    assert!(matches!(
        Channel::builder().connect(connector).await,
        Err(ConnectError::InsecureLink(_))
    ));

    // wss:// needs none, and proves the server's certificate identity and
    // a channel binding both ends agree on.
    let (_ca, listener, connector) = wss_endpoint().await;
    assert_eq!(listener.kind(), prism::ws::TLS_KIND);
    let server = calc_server(false);
    let serving = tokio::spawn(async move { server.serve(listener).await });
    let channel = Channel::builder().connect(connector).await.expect("wss");
    let link = channel.link();
    assert_eq!(link.kind, prism::ws::TLS_AUTHENTICATED_KIND);
    assert_eq!(link.peer_identity.as_deref(), Some(SERVER_ID));
    let calc = CalcClient::new(channel.clone());
    assert_eq!(calc.add(20, 22).await.expect("call"), 42);
    let seen = calc.context().await.expect("call");
    assert_eq!(seen.link, "wss");
    let data: Vec<u8> = (0..200_000u32).map(|n| n as u8).collect();
    assert_eq!(calc.echo(data.clone()).await.expect("echo"), data);
    serving.abort();
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_cannot_keep_a_good_client_out() {
    install_panic_hook();
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("addr");
    let listener = WsListener::new(tcp)
        .with_max_pending(4)
        .with_handshake_timeout(Duration::from_millis(200));
    let server = calc_server(true);
    let serving = tokio::spawn(async move { server.serve(listener).await });
    let mut silent = Vec::new();
    for _ in 0..16 {
        silent.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let connector = WsConnector::new(&format!("ws://{addr}/")).expect("url");
    let channel = tokio::time::timeout(
        Duration::from_secs(30),
        Channel::builder().allow_plaintext().connect(connector),
    )
    .await
    .expect("the good client gets in once the silent ones time out")
    .expect("connect");
    assert_eq!(CalcClient::new(channel).add(1, 2).await.expect("call"), 3);
    drop(silent);
    serving.abort();
    assert_no_panics();
}

/// Takes anything a client streams in.
#[prism::service(package = "tests", public)]
pub trait Swallow {
    /// Counts the bytes of every item.
    async fn swallow(&self, items: prism::Streaming<Vec<u8>>) -> u64;
}

struct Swallower;

impl Swallow for Swallower {
    async fn swallow(&self, mut items: prism::Streaming<Vec<u8>>) -> u64 {
        let mut total = 0;
        while let Some(Ok(item)) = items.next().await {
            total += item.len() as u64;
        }
        total
    }
}

/// A raw `ws://` peer that has done the Prism handshake, against a server
/// that swallows streams.
async fn raw_prism_client() -> (tokio_tungstenite::WebSocketStream<TcpStream>, Server) {
    use prism::transport::Frame;
    use prism_proto::session::{Accept, Hello};
    let server = Server::builder()
        .allow_unauthenticated()
        .allow_plaintext()
        .add_service(SwallowServer::new(Swallower))
        .build()
        .expect("server");
    let (listener, connector) = ws_endpoint().await;
    let serving = server.clone();
    tokio::spawn(async move { serving.serve(listener).await });
    let mut request = connector.target().into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        HeaderValue::from_static(SUBPROTOCOL),
    );
    let host = request.uri().authority().expect("authority").to_string();
    let tcp = TcpStream::connect(host).await.expect("connect");
    let (mut ws, _) = tokio_tungstenite::client_async(request, tcp)
        .await
        .expect("upgrade");
    ws.send(frame_message(
        FrameKind::Hello,
        &Hello::new(vec![]).encode(),
    ))
    .await
    .expect("hello");
    ws.send(frame_message(
        FrameKind::Accept,
        &Accept::default().encode(),
    ))
    .await
    .expect("accept");
    for kind in [FrameKind::Hello, FrameKind::Accept] {
        let frame: Frame = next_frame(&mut ws).await.expect("the server's handshake");
        assert_eq!(frame.header.kind, kind);
    }
    (ws, server)
}

/// The next Prism frame from a raw peer, `None` once it closed.
async fn next_frame(
    ws: &mut tokio_tungstenite::WebSocketStream<TcpStream>,
) -> Option<prism::transport::Frame> {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("the server answers or closes promptly");
        match message {
            Some(Ok(Message::Binary(bytes))) if bytes.len() >= 32 => {
                let head = bytes.first_chunk::<32>().expect("a header");
                let (header, _) = FrameHeader::decode(head, u32::MAX).expect("a valid header");
                let payload = prism_core::Payload::new(bytes.slice(32..));
                return Some(prism::transport::Frame::new(header, payload));
            }
            Some(Ok(Message::Binary(_) | Message::Close(_))) | None | Some(Err(_)) => {
                return None;
            }
            Some(Ok(_)) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ws_peer_that_ignores_credit_is_cut_off_with_a_flow_control_goaway() {
    install_panic_hook();
    let (mut ws, server) = raw_prism_client().await;
    let mut open = FrameHeader::new(FrameKind::Call);
    open.channel = 1;
    open.op = swallow::SWALLOW.get();
    open.codec = prism::codec::CodecId::POSTCARD.get();
    open.flags = prism_proto::frame::Flags::OPEN;
    ws.send(Message::Binary(Bytes::from(open.encode(0).to_vec())))
        .await
        .expect("open");
    // 4 MiB of 32 KiB items into a 256 KiB window never granted back.
    let mut item = FrameHeader::new(FrameKind::Data);
    item.channel = 1;
    item.codec = open.codec;
    let mut body = item.encode(32 << 10).to_vec();
    body.resize(32 + (32 << 10), 0);
    let body = Bytes::from(body);
    for _ in 0..128 {
        // The server may close before the last items leave.
        if ws.send(Message::Binary(body.clone())).await.is_err() {
            break;
        }
    }
    let mut goaways = Vec::new();
    while let Some(frame) = next_frame(&mut ws).await {
        if frame.header.kind == FrameKind::GoAway {
            let body = frame.payload.into_bytes();
            let code = u16::from_le_bytes(*body.first_chunk::<2>().expect("a code"));
            goaways.push((code, String::from_utf8_lossy(&body[2..]).into_owned()));
        }
    }
    assert!(
        goaways.iter().any(
            |(code, reason)| *code == prism::Code::ResourceExhausted.as_u16()
                && reason.contains("flow control")
        ),
        "{goaways:?}"
    );
    let peak = server.stats().peak_buffered;
    let window = u64::from(prism::transport::SessionConfig::default().stream_window);
    assert!(peak <= window + (64 << 10), "the server held {peak} bytes");
    assert_no_panics();
}
