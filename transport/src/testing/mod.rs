//! The link conformance suite: what every [`Link`] adapter must do,
//! checked over a pair of connected links the adapter provides.
//!
//! An adapter runs it with a few lines:
//!
//! ```
//! use prism_transport::testing::{self, LinkPair};
//!
//! async fn mem_pair(_max_frame: u32) -> LinkPair {
//!     let (a, b) = prism_transport::mem::pair();
//!     (Box::new(a), Box::new(b))
//! }
//!
//! # tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap().block_on(async {
//! testing::check_links(mem_pair).await; // panics, naming the case, on a failure
//! # });
//! ```
//!
//! The cases, each on a fresh pair: payloads of many sizes round trip both
//! ways; payloads of several segments arrive whole; ten thousand frames
//! keep their order while the sender runs on another task; a hundred
//! queued frames leave in one flush; a closed sender is a clean end of
//! stream (sticky, and the other direction still works); payloads sent in
//! 16-byte aligned buffers arrive aligned whatever came before them (byte
//! streams re-align them; in-process links keep the sender's buffers); a
//! 20 MiB payload arrives intact and aligned. The suite needs a multi-thread tokio runtime with time
//! enabled; each case fails after 60 seconds rather than hang.
//!
//! A link that carries each channel on a stream of its own (QUIC) keeps
//! order only within a channel: it runs [`check_multiplexed_links`]
//! instead.

use core::future::{Future, poll_fn};
use std::time::Duration;

use bytes::Bytes;
use prism_core::Payload;
use prism_core::aligned::{aligned_copy, is_aligned};
use prism_proto::frame::{Flags, Frame, FrameHeader, FrameKind};

use crate::{Link, LinkError};

mod multiplexed;

pub use multiplexed::check_multiplexed_links;

/// Two connected links, type-erased so one suite serves every adapter.
pub type LinkPair = (Box<dyn Link>, Box<dyn Link>);

/// The largest payload a case sends (the `large` case): `make_pair` is
/// asked for links that accept at least this.
pub const LARGE: usize = 20 << 20;

/// Runs every case on a fresh pair from `make_pair(max_frame)`, where
/// `max_frame` is the largest payload the links must accept.
///
/// # Panics
///
/// Panics on the first case that fails, naming it.
pub async fn check_links<F, Fut>(make_pair: F)
where
    F: Fn(u32) -> Fut,
    Fut: Future<Output = LinkPair>,
{
    let default = prism_proto::frame::DEFAULT_MAX_FRAME;
    bounded("round_trip", round_trip(make_pair(default).await)).await;
    bounded("multi_segment", multi_segment(make_pair(default).await)).await;
    bounded("ordering", ordering(make_pair(default).await)).await;
    bounded("batching", batching(make_pair(default).await)).await;
    bounded("peer_close", peer_close(make_pair(default).await)).await;
    bounded("alignment", alignment(make_pair(default).await)).await;
    let large = u32::try_from(LARGE + (1 << 20)).unwrap_or(u32::MAX);
    bounded("large", large_payload(make_pair(large).await)).await;
}

/// Fails the case instead of hanging when it deadlocks.
async fn bounded<F: Future<Output = ()>>(name: &str, case: F) {
    if tokio::time::timeout(Duration::from_secs(60), case)
        .await
        .is_err()
    {
        panic!("link conformance case `{name}` timed out");
    }
}

async fn recv(link: &mut dyn Link) -> Option<Frame> {
    match poll_fn(|cx| link.poll_recv(cx)).await {
        Ok(frame) => frame,
        Err(error) => panic!("receiving failed: {error}"),
    }
}

async fn flush(link: &mut dyn Link) {
    if let Err(error) = poll_fn(|cx| link.poll_flush(cx)).await {
        panic!("flushing failed: {error}");
    }
}

async fn close(link: &mut dyn Link) {
    if let Err(error) = poll_fn(|cx| link.poll_close(cx)).await {
        panic!("closing failed: {error}");
    }
}

fn queue(link: &mut dyn Link, frame: Frame) {
    if let Err(error) = link.queue(frame) {
        panic!("queueing failed: {error}");
    }
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
    Frame::new(header, Payload::new(aligned_copy(&body).freeze()))
}

/// Sends `frames` from `a` while `b` receives as many; returns what arrived.
async fn transfer(a: &mut dyn Link, b: &mut dyn Link, frames: Vec<Frame>) -> Vec<Frame> {
    let count = frames.len();
    let send = async {
        for frame in frames {
            queue(a, frame);
        }
        flush(a).await;
    };
    let receive = async {
        let mut got = Vec::with_capacity(count);
        for _ in 0..count {
            got.push(recv(b).await.expect("the peer closed early"));
        }
        got
    };
    tokio::join!(send, receive).1
}

async fn round_trip((mut a, mut b): LinkPair) {
    for len in [0, 1, 5, 15, 16, 17, 4095, 4096, 65_535, 65_536, 1 << 20] {
        let sent = frame(len as u64, len);
        let got = transfer(&mut *a, &mut *b, vec![sent.clone()]).await;
        assert_eq!(got, std::slice::from_ref(&sent), "a -> b, len {len}");
        let got = transfer(&mut *b, &mut *a, vec![sent.clone()]).await;
        assert_eq!(got, [sent], "b -> a, len {len}");
    }
}

async fn multi_segment((mut a, mut b): LinkPair) {
    let segments = vec![
        Bytes::from(vec![2u8; 100_000]),
        Bytes::new(),
        Bytes::from_static(b"tail"),
    ];
    let payload = Payload::from_segments(Bytes::from_static(b"head"), segments);
    let sent = Frame::new(FrameHeader::new(FrameKind::Response), payload);
    let got = transfer(&mut *a, &mut *b, vec![sent.clone(), frame(1, 3)]).await;
    assert_eq!(got[0].header, sent.header);
    assert_eq!(got[0].payload, sent.payload, "segments arrive whole");
    assert_eq!(got[1], frame(1, 3));
}

async fn ordering((a, mut b): LinkPair) {
    const N: u64 = 10_000;
    // The sender runs on its own task: links move across tasks.
    let sender = tokio::spawn(async move {
        let mut a = a;
        for n in 0..N {
            queue(&mut *a, frame(n, (n % 97) as usize));
            if n % 64 == 63 {
                flush(&mut *a).await;
            }
        }
        flush(&mut *a).await;
        a
    });
    for n in 0..N {
        let got = recv(&mut *b).await.expect("the peer closed early");
        assert_eq!(got.header.aux, n, "frames arrive in order");
        assert_eq!(got, frame(n, (n % 97) as usize));
    }
    if sender.await.is_err() {
        panic!("the sending task failed");
    }
}

async fn batching((mut a, mut b): LinkPair) {
    let frames: Vec<Frame> = (0..100).map(|n| frame(n, 40)).collect();
    for frame in &frames {
        queue(&mut *a, frame.clone());
    }
    assert!(
        a.queued_bytes() >= 100 * (32 + 40),
        "queued_bytes counts what waits: {}",
        a.queued_bytes()
    );
    flush(&mut *a).await;
    assert_eq!(a.queued_bytes(), 0, "a flush writes everything");
    for sent in &frames {
        assert_eq!(recv(&mut *b).await.as_ref(), Some(sent));
    }
}

async fn peer_close((mut a, mut b): LinkPair) {
    for n in 0..3 {
        queue(&mut *a, frame(n, 10));
    }
    close(&mut *a).await;
    assert!(
        matches!(a.queue(frame(9, 1)), Err(LinkError::Closed)),
        "a closed link refuses frames"
    );
    for n in 0..3 {
        assert_eq!(recv(&mut *b).await, Some(frame(n, 10)));
    }
    assert_eq!(recv(&mut *b).await, None, "a close is a clean end");
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

async fn alignment((mut a, mut b): LinkPair) {
    // Odd sizes make later frames start at every offset of a read.
    let frames: Vec<Frame> = [1, 3, 17, 33, 1000, 4097, 70_000, 5, 131_071, 9]
        .iter()
        .enumerate()
        .map(|(n, &len)| frame(n as u64, len))
        .collect();
    let got = transfer(&mut *a, &mut *b, frames.clone()).await;
    assert_eq!(got, frames);
    got.iter().for_each(assert_aligned);
}

async fn large_payload((mut a, mut b): LinkPair) {
    let sent = frame(3, LARGE);
    let got = transfer(&mut *a, &mut *b, vec![sent.clone()]).await;
    assert_eq!(got[0].payload.len(), LARGE);
    assert_aligned(&got[0]);
    assert!(got[0] == sent, "the 20 MiB payload differs");
}

/// Every segment of `frame`'s payload starts 16-byte aligned.
fn assert_aligned(frame: &Frame) {
    for segment in frame.payload.segments().filter(|s| !s.is_empty()) {
        assert!(
            is_aligned(segment),
            "a payload of {} bytes arrived unaligned",
            frame.payload.len()
        );
    }
}
