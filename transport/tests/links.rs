//! The public link conformance suite (`prism_transport::testing`), run
//! against every adapter, plus what each adapter says about itself.

use std::future::poll_fn;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use prism_core::Payload;
use prism_proto::frame::{Frame, FrameHeader, FrameKind};
use prism_transport::testing::{self, LinkPair};
use prism_transport::{
    Connector, Link, LinkConfig, Listener, PeerAddr, SecurityProperties, mem, tcp,
};
use tokio::net::{TcpListener, TcpStream};

async fn mem_pair(_max_frame: u32) -> LinkPair {
    let (a, b) = mem::pair();
    (Box::new(a), Box::new(b))
}

async fn tcp_pair(max_frame: u32) -> LinkPair {
    let config = LinkConfig::with_max_frame(max_frame);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let a = tcp::TcpLink::new(client, &config).unwrap();
    let b = tcp::TcpLink::new(server, &config).unwrap();
    (Box::new(a), Box::new(b))
}

/// A fresh directory under the system temp dir, unique per process and call.
#[cfg(unix)]
fn unique_dir() -> std::path::PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("prism-links-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[cfg(unix)]
async fn unix_pair(max_frame: u32) -> LinkPair {
    use prism_transport::unix::UnixConnector;
    let config = LinkConfig::with_max_frame(max_frame);
    let dir = unique_dir();
    let path = dir.join("link.sock");
    let mut listener = tokio::net::UnixListener::bind(&path).unwrap();
    let a = UnixConnector::new(&path).connect(&config).await.unwrap();
    let b = Listener::accept(&mut listener, &config).await.unwrap();
    assert!(matches!(&a.info().peer, PeerAddr::Unix { path: Some(p), .. } if *p == path));
    // Connected sockets outlive their path.
    drop(listener);
    std::fs::remove_dir_all(&dir).unwrap();
    (Box::new(a), Box::new(b))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mem_links_conform() {
    testing::check_links(mem_pair).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tcp_links_conform() {
    testing::check_links(tcp_pair).await;
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unix_links_conform() {
    testing::check_links(unix_pair).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mem_endpoint_links_conform() {
    let (listener, connector) = mem::endpoint();
    let listener = std::sync::Arc::new(tokio::sync::Mutex::new(listener));
    testing::check_links(|_max_frame| {
        let (listener, connector) = (listener.clone(), connector.clone());
        async move {
            let config = LinkConfig::default();
            let a = connector.connect(&config).await.unwrap();
            let b = listener.lock().await.accept(&config).await.unwrap();
            (Box::new(a) as Box<dyn Link>, Box::new(b) as Box<dyn Link>)
        }
    })
    .await;
}

#[tokio::test]
async fn links_describe_themselves() {
    let (a, _) = mem_pair(0).await;
    assert_eq!((a.info().kind, &a.info().peer), (mem::KIND, &PeerAddr::Mem));
    assert_eq!(a.info().kind.security, SecurityProperties::LOCAL);
    let (a, b) = tcp_pair(1024).await;
    assert_eq!(a.info().kind, tcp::KIND);
    assert!(a.info().kind.is_plaintext_network());
    for link in [&a, &b] {
        match &link.info().peer {
            PeerAddr::Socket(addr) => assert!(addr.ip().is_loopback(), "{addr}"),
            other => panic!("{other:?}"),
        }
    }
}

#[cfg(unix)]
#[tokio::test]
async fn unix_links_carry_the_peers_credentials() {
    let (a, b) = unix_pair(1024).await;
    assert_eq!(a.info().kind, prism_transport::unix::KIND);
    assert!(!a.info().kind.network);
    let PeerAddr::Unix {
        path: None,
        credentials: Some(cred),
    } = &b.info().peer
    else {
        panic!("{:?}", b.info().peer)
    };
    // Both ends are this process.
    assert_eq!(cred.pid, Some(std::process::id() as i32));
    assert_eq!(
        b.info().peer.to_string(),
        format!("unix:pid={},uid={}", std::process::id(), cred.uid)
    );
}

#[tokio::test]
async fn connectors_say_where_they_go_and_fail_with_the_os_error() {
    // A port nobody listens on: bind, learn the port, close.
    let addr = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let connector = tcp::TcpConnector::new(addr);
    assert_eq!(connector.target(), addr.to_string());
    assert_eq!(connector.kind(), tcp::KIND);
    let error = connector.connect(&LinkConfig::default()).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);

    let (listener, connector) = mem::endpoint();
    drop(listener);
    let error = connector.connect(&LinkConfig::default()).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::ConnectionRefused);
}

#[tokio::test]
async fn mem_payloads_are_never_copied() {
    let (mut a, mut b) = mem::pair();
    let payload = Bytes::from(vec![5u8; 1 << 20]);
    let second = Bytes::from_static(b"second segment");
    let body = Payload::from_segments(payload.clone(), vec![second.clone()]);
    a.queue(Frame::new(FrameHeader::new(FrameKind::Call), body))
        .unwrap();
    poll_fn(|cx| a.poll_flush(cx)).await.unwrap();
    let got = poll_fn(|cx| b.poll_recv(cx)).await.unwrap().unwrap();
    let pointers: Vec<*const u8> = got.payload.segments().map(|s| s.as_ptr()).collect();
    assert_eq!(pointers, [payload.as_ptr(), second.as_ptr()]);
}
