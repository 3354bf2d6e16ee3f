//! A raw TCP peer writes bytes no valid peer sends; the link answers with
//! typed errors, never a panic or a hang.

use std::future::poll_fn;
use std::io::ErrorKind;
use std::time::Duration;

use bytes::BytesMut;
use prism_proto::frame::{Frame, FrameError, FrameHeader, FrameKind, encode_frame};
use prism_transport::tcp::TcpLink;
use prism_transport::{Link, LinkConfig, LinkError};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// A raw socket and the link on the other end of it.
async fn raw_pair(max_frame: u32) -> (TcpStream, TcpLink) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let raw = TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (accepted, _) = listener.accept().await.unwrap();
    let config = LinkConfig::with_max_frame(max_frame);
    (raw, TcpLink::new(accepted, &config).unwrap())
}

/// Writes `bytes`, closes the raw side, and collects what the link makes of it.
async fn feed(bytes: &[u8], max_frame: u32) -> (Vec<Frame>, Option<LinkError>) {
    let (mut raw, mut link) = raw_pair(max_frame).await;
    let writer = async {
        raw.write_all(bytes).await.unwrap();
        raw.shutdown().await.unwrap();
        raw
    };
    let reader = async {
        let mut frames = Vec::new();
        loop {
            match poll_fn(|cx| link.poll_recv(cx)).await {
                Ok(Some(frame)) => frames.push(frame),
                Ok(None) => return (frames, None),
                Err(err) => return (frames, Some(err)),
            }
        }
    };
    let run = async { tokio::join!(writer, reader).1 };
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("link hung")
}

fn header(kind: FrameKind, len: u32) -> [u8; 32] {
    FrameHeader::new(kind).encode(len)
}

fn wire(frame: &Frame) -> Vec<u8> {
    let mut out = BytesMut::new();
    encode_frame(frame, &mut out);
    out.to_vec()
}

fn is_eof(err: &Option<LinkError>) -> bool {
    matches!(err, Some(LinkError::Io(e)) if e.kind() == ErrorKind::UnexpectedEof)
}

#[tokio::test]
async fn a_whole_frame_then_close_is_a_clean_end() {
    let sent = Frame::new(FrameHeader::new(FrameKind::Ping), b"ping"[..].into());
    let (frames, err) = feed(&wire(&sent), 1024).await;
    assert_eq!(frames, [sent]);
    assert!(err.is_none(), "{err:?}");
}

#[tokio::test]
async fn truncated_header_then_close_is_unexpected_eof() {
    let (frames, err) = feed(&header(FrameKind::Ping, 0)[..20], 1024).await;
    assert!(frames.is_empty());
    assert!(is_eof(&err), "{err:?}");
}

#[tokio::test]
async fn truncated_payload_then_close_is_unexpected_eof() {
    for len in [100u32, 200_000] {
        let mut bytes = header(FrameKind::Call, len).to_vec();
        bytes.extend_from_slice(&vec![1u8; len as usize / 2]);
        let (frames, err) = feed(&bytes, 1 << 20).await;
        assert!(frames.is_empty());
        assert!(is_eof(&err), "len {len}: {err:?}");
    }
}

#[tokio::test]
async fn missing_padding_is_unexpected_eof() {
    let mut bytes = header(FrameKind::Call, 5).to_vec();
    bytes.extend_from_slice(b"12345");
    let (frames, err) = feed(&bytes, 1024).await;
    assert!(frames.is_empty());
    assert!(is_eof(&err), "{err:?}");
}

#[tokio::test]
async fn oversized_length_is_too_large() {
    let (_, err) = feed(&header(FrameKind::Call, u32::MAX), 1024).await;
    assert!(
        matches!(
            err,
            Some(LinkError::Frame(FrameError::TooLarge {
                kind: FrameKind::Call,
                len: u32::MAX,
                max: 1024
            }))
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn unknown_kind_is_refused() {
    let mut bytes = header(FrameKind::Ping, 0);
    bytes[0] = 0x77;
    let (_, err) = feed(&bytes, 1024).await;
    assert!(
        matches!(
            err,
            Some(LinkError::Frame(FrameError::UnknownKind { kind: 0x77 }))
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn reserved_bytes_set_are_refused() {
    let mut bytes = header(FrameKind::Response, 0);
    bytes[22] = 1;
    let (_, err) = feed(&bytes, 1024).await;
    assert!(
        matches!(
            err,
            Some(LinkError::Frame(FrameError::ReservedNotZero {
                kind: FrameKind::Response
            }))
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_error_after_good_frames_keeps_them_and_then_closes() {
    let good = Frame::new(FrameHeader::new(FrameKind::Pong), b"ok"[..].into());
    let mut bytes = wire(&good);
    bytes.extend_from_slice(&[0xFF; 64]);
    let (mut raw, mut link) = raw_pair(1024).await;
    raw.write_all(&bytes).await.unwrap();
    assert_eq!(poll_fn(|cx| link.poll_recv(cx)).await.unwrap(), Some(good));
    let err = poll_fn(|cx| link.poll_recv(cx)).await;
    assert!(matches!(
        err,
        Err(LinkError::Frame(FrameError::UnknownKind { kind: 0xFF }))
    ));
    let after = poll_fn(|cx| link.poll_recv(cx)).await;
    assert!(matches!(after, Err(LinkError::Closed)), "{after:?}");
}

#[tokio::test]
async fn garbage_never_panics() {
    // A deterministic generator: the same garbage on every run.
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for round in 0..64 {
        let len = (next() % 300) as usize;
        let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        // Some rounds start with a plausible header so lengths get exercised.
        if round % 2 == 0 && bytes.len() >= 32 {
            bytes[0] = FrameKind::Call as u8;
            bytes[20..24].fill(0);
        }
        let (_, err) = feed(&bytes, 4096).await;
        assert!(
            bytes.is_empty() || err.is_some() || bytes.len().is_multiple_of(16),
            "round {round}"
        );
    }
}
