//! The link conformance suite, run against every adapter, plus adapter
//! specifics and malformed input on a raw TCP connection.

use std::future::{Future, poll_fn};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use prism_transport::aligned::{aligned_copy, is_aligned};
use prism_transport::frame::{Body, DEFAULT_MAX_FRAME, Flags, Frame, FrameHeader, FrameKind};
use prism_transport::{Link, LinkError, LinkKind, SecurityProperties};
use tokio::net::{TcpListener, TcpStream};

/// Two connected links, type-erased so one suite serves every adapter.
type Pair = (Box<dyn Link>, Box<dyn Link>);

async fn mem_pair(_max_frame: u32) -> Pair {
    let (a, b) = prism_transport::mem::pair();
    (Box::new(a), Box::new(b))
}

async fn tcp_pair(max_frame: u32) -> Pair {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let a = prism_transport::tcp::TcpLink::with_max_frame(client, max_frame).unwrap();
    let b = prism_transport::tcp::TcpLink::with_max_frame(server, max_frame).unwrap();
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
async fn unix_pair(max_frame: u32) -> Pair {
    use prism_transport::unix::UnixLink;
    let dir = unique_dir();
    let path = dir.join("link.sock");
    let listener = tokio::net::UnixListener::bind(&path).unwrap();
    let client = tokio::net::UnixStream::connect(&path).await.unwrap();
    let (server, _) = listener.accept().await.unwrap();
    let a = UnixLink::with_max_frame(client, max_frame).unwrap();
    let b = UnixLink::with_max_frame(server, max_frame).unwrap();
    assert_eq!(a.info().peer, path.display().to_string());
    // Connected sockets outlive their path.
    drop(listener);
    std::fs::remove_dir_all(&dir).unwrap();
    (Box::new(a), Box::new(b))
}

async fn recv(link: &mut dyn Link) -> Option<Frame> {
    poll_fn(|cx| link.poll_recv(cx)).await.unwrap()
}

async fn flush(link: &mut dyn Link) {
    poll_fn(|cx| link.poll_flush(cx)).await.unwrap();
}

async fn close(link: &mut dyn Link) {
    poll_fn(|cx| link.poll_close(cx)).await.unwrap();
}

/// Fails the test instead of hanging when a case deadlocks.
async fn bounded<F: Future>(case: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(60), case)
        .await
        .expect("case timed out")
}

/// A frame with every header field set and a recognizable, aligned payload.
fn frame(n: u64, len: usize) -> Frame {
    let header = FrameHeader {
        kind: FrameKind::Call,
        flags: Flags::APP_ERROR,
        codec: 0xC0DE,
        channel: n as u32 | 1,
        op: 0x0123_4567_89AB_CDEF ^ n,
        aux: n,
    };
    let body: Vec<u8> = (0..len)
        .map(|i| (i as u64).wrapping_mul(31).wrapping_add(n) as u8)
        .collect();
    Frame::new(header, aligned_copy(&body).freeze().into())
}

/// Sends `frames` from `a` while `b` receives as many; returns what arrived.
async fn transfer(a: &mut dyn Link, b: &mut dyn Link, frames: Vec<Frame>) -> Vec<Frame> {
    let count = frames.len();
    let send = async {
        for frame in frames {
            a.queue(frame).unwrap();
        }
        flush(a).await;
    };
    let receive = async {
        let mut got = Vec::with_capacity(count);
        for _ in 0..count {
            got.push(recv(b).await.expect("peer closed early"));
        }
        got
    };
    tokio::join!(send, receive).1
}

/// The contiguous payload, for comparing bodies cut into different segments.
fn flat(frame: &Frame) -> Bytes {
    frame.body.clone().into_contiguous()
}

mod cases {
    use super::*;

    pub(crate) async fn round_trip((mut a, mut b): Pair) {
        for len in [0, 1, 5, 15, 16, 17, 4095, 4096, 65_535, 65_536, 1 << 20] {
            let sent = frame(len as u64, len);
            let got = transfer(&mut *a, &mut *b, vec![sent.clone()]).await;
            assert_eq!(got, std::slice::from_ref(&sent), "a -> b, len {len}");
            let got = transfer(&mut *b, &mut *a, vec![sent.clone()]).await;
            assert_eq!(got, [sent], "b -> a, len {len}");
        }
    }

    pub(crate) async fn multi_segment((mut a, mut b): Pair) {
        let segments = vec![
            Bytes::from(vec![2u8; 100_000]),
            Bytes::new(),
            Bytes::from_static(b"tail"),
        ];
        let body = Body::from_segments(Bytes::from_static(b"head"), segments);
        let sent = Frame::new(FrameHeader::new(FrameKind::Response), body);
        let got = transfer(&mut *a, &mut *b, vec![sent.clone(), frame(1, 3)]).await;
        assert_eq!(got[0].header, sent.header);
        assert_eq!(flat(&got[0]), flat(&sent));
        assert_eq!(got[1], frame(1, 3));
    }

    pub(crate) async fn ordering((a, mut b): Pair) {
        const N: u64 = 10_000;
        // The sender runs on its own task: links move across tasks.
        let sender = tokio::spawn(async move {
            let mut a = a;
            for n in 0..N {
                a.queue(frame(n, (n % 97) as usize)).unwrap();
                if n % 64 == 63 {
                    flush(&mut *a).await;
                }
            }
            flush(&mut *a).await;
            a
        });
        for n in 0..N {
            let got = recv(&mut *b).await.expect("peer closed early");
            assert_eq!(got.header.aux, n);
            assert_eq!(got, frame(n, (n % 97) as usize));
        }
        sender.await.unwrap();
    }

    pub(crate) async fn batching((mut a, mut b): Pair) {
        let frames: Vec<Frame> = (0..100).map(|n| frame(n, 40)).collect();
        for frame in &frames {
            a.queue(frame.clone()).unwrap();
        }
        assert!(
            a.queued_bytes() >= 100 * (32 + 40),
            "queued {}",
            a.queued_bytes()
        );
        flush(&mut *a).await;
        assert_eq!(a.queued_bytes(), 0);
        for sent in &frames {
            assert_eq!(recv(&mut *b).await.as_ref(), Some(sent));
        }
    }

    pub(crate) async fn peer_close((mut a, mut b): Pair) {
        for n in 0..3 {
            a.queue(frame(n, 10)).unwrap();
        }
        close(&mut *a).await;
        assert!(matches!(a.queue(frame(9, 1)), Err(LinkError::Closed)));
        for n in 0..3 {
            assert_eq!(recv(&mut *b).await, Some(frame(n, 10)));
        }
        assert_eq!(recv(&mut *b).await, None);
        assert_eq!(recv(&mut *b).await, None, "end of stream is sticky");
        // The other direction still works after a half close.
        let got = transfer(&mut *b, &mut *a, vec![frame(7, 7)]).await;
        assert_eq!(got, [frame(7, 7)]);
        drop(b);
        assert_eq!(
            recv(&mut *a).await,
            None,
            "a dropped peer reads as a clean close"
        );
    }

    pub(crate) async fn alignment((mut a, mut b): Pair) {
        // Odd sizes make later frames start at every offset of a read.
        let frames: Vec<Frame> = [1, 3, 17, 33, 1000, 4097, 70_000, 5, 131_071, 9]
            .iter()
            .enumerate()
            .map(|(n, &len)| frame(n as u64, len))
            .collect();
        let got = transfer(&mut *a, &mut *b, frames.clone()).await;
        assert_eq!(got, frames);
        for frame in &got {
            for segment in frame.body.segments().filter(|s| !s.is_empty()) {
                assert!(is_aligned(segment), "payload of {} bytes", frame.body.len());
            }
        }
    }

    pub(crate) async fn large((mut a, mut b): Pair) {
        let len = 20 << 20;
        let sent = frame(3, len);
        let got = transfer(&mut *a, &mut *b, vec![sent.clone()]).await;
        assert_eq!(got[0].body.len(), len);
        assert!(is_aligned(&flat(&got[0])));
        assert!(got[0] == sent, "20 MiB payload differs");
    }
}

macro_rules! conformance {
    ($($adapter:ident => $make:ident,)*) => {$(
        mod $adapter {
            use super::*;

            #[tokio::test]
            async fn round_trip() {
                bounded(cases::round_trip($make(DEFAULT_MAX_FRAME).await)).await;
            }

            #[tokio::test]
            async fn multi_segment() {
                bounded(cases::multi_segment($make(DEFAULT_MAX_FRAME).await)).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn ordering() {
                bounded(cases::ordering($make(DEFAULT_MAX_FRAME).await)).await;
            }

            #[tokio::test]
            async fn batching() {
                bounded(cases::batching($make(DEFAULT_MAX_FRAME).await)).await;
            }

            #[tokio::test]
            async fn peer_close() {
                bounded(cases::peer_close($make(DEFAULT_MAX_FRAME).await)).await;
            }

            #[tokio::test]
            async fn alignment() {
                bounded(cases::alignment($make(DEFAULT_MAX_FRAME).await)).await;
            }

            #[tokio::test]
            async fn large() {
                bounded(cases::large($make(32 << 20).await)).await;
            }
        }
    )*};
}

conformance! {
    mem => mem_pair,
    tcp => tcp_pair,
}

#[cfg(unix)]
conformance! {
    unix => unix_pair,
}

#[tokio::test]
async fn links_describe_themselves() {
    let (a, _) = mem_pair(0).await;
    assert_eq!(
        (a.info().kind, a.info().peer.as_str()),
        (LinkKind::Mem, "mem")
    );
    assert_eq!(a.info().security, SecurityProperties::LOCAL);
    let (a, b) = tcp_pair(DEFAULT_MAX_FRAME).await;
    assert_eq!(a.info().kind, LinkKind::Tcp);
    assert_eq!(a.info().security, SecurityProperties::NONE);
    assert!(a.info().peer.starts_with("127.0.0.1:"), "{}", a.info().peer);
    assert!(b.info().peer.starts_with("127.0.0.1:"), "{}", b.info().peer);
}

#[cfg(unix)]
#[tokio::test]
async fn unix_links_describe_themselves() {
    let (a, b) = unix_pair(DEFAULT_MAX_FRAME).await;
    assert_eq!(a.info().kind, LinkKind::Unix);
    assert_eq!(a.info().security, SecurityProperties::LOCAL);
    assert_eq!(b.info().peer, "unix");
}

#[tokio::test]
async fn mem_payloads_are_never_copied() {
    let (mut a, mut b) = prism_transport::mem::pair();
    let payload = Bytes::from(vec![5u8; 1 << 20]);
    let second = Bytes::from_static(b"second segment");
    let body = Body::from_segments(payload.clone(), vec![second.clone()]);
    a.queue(Frame::new(FrameHeader::new(FrameKind::Call), body))
        .unwrap();
    flush(&mut a).await;
    let got = recv(&mut b).await.unwrap();
    let pointers: Vec<*const u8> = got.body.segments().map(|s| s.as_ptr()).collect();
    assert_eq!(pointers, [payload.as_ptr(), second.as_ptr()]);
}
