//! The conformance suite for links that carry each channel on a stream of
//! its own ([`LinkKind::independent_channels`](crate::LinkKind)): frames of
//! one channel keep their order, and channel 0 frames sent before a channel
//! opened arrive before it; the order across channels is free.

use core::future::Future;

use prism_core::Payload;
use prism_core::aligned::aligned_copy;
use prism_proto::frame::{Flags, Frame, FrameHeader, FrameKind};

use super::{LARGE, LinkPair, assert_aligned, bounded, close, flush, queue, recv, transfer};
use crate::{Link, LinkError};

/// Runs every case of the multiplexed-link suite on a fresh pair from
/// `make_pair(max_frame)`.
///
/// The cases: control frames (channel 0) of many sizes round trip both
/// ways and keep their order, ten thousand of them from another task; a
/// call's CALL, DATA and RESPONSE travel on its channel both ways; frames
/// of sixteen channels interleaved keep each channel's order; control
/// frames queued before a CALL arrive before it; two thousand calls, at
/// most 64 open at once, open and finish their channels; a hundred queued
/// frames leave in one flush; a closed sender is a clean end after every
/// channel's frames arrived (sticky; the other direction still works; a
/// dropped peer reads as a clean close); payloads arrive 16-byte aligned; a
/// 20 MiB CALL arrives intact.
///
/// # Panics
///
/// Panics on the first case that fails, naming it.
pub async fn check_multiplexed_links<F, Fut>(make_pair: F)
where
    F: Fn(u32) -> Fut,
    Fut: Future<Output = LinkPair>,
{
    let default = prism_proto::frame::DEFAULT_MAX_FRAME;
    bounded(
        "control_round_trip",
        control_round_trip(make_pair(default).await),
    )
    .await;
    bounded(
        "control_ordering",
        control_ordering(make_pair(default).await),
    )
    .await;
    bounded("call_round_trip", call_round_trip(make_pair(default).await)).await;
    bounded(
        "channel_ordering",
        channel_ordering(make_pair(default).await),
    )
    .await;
    bounded("control_first", control_first(make_pair(default).await)).await;
    bounded("many_channels", many_channels(make_pair(default).await)).await;
    bounded("batching", batching(make_pair(default).await)).await;
    bounded("peer_close", peer_close(make_pair(default).await)).await;
    let large = u32::try_from(LARGE + (1 << 20)).unwrap_or(u32::MAX);
    bounded("large", large_call(make_pair(large).await)).await;
}

/// A frame of `kind` on `channel` with a recognizable, aligned payload.
fn on(kind: FrameKind, flags: Flags, channel: u32, n: u64, len: usize) -> Frame {
    let header = FrameHeader {
        kind,
        flags,
        codec: 0xC0DE,
        channel,
        op: if kind == FrameKind::Call {
            0x0123_4567_89AB_CDEF ^ n
        } else {
            0
        },
        aux: n,
    };
    let body: Vec<u8> = (0..len)
        .map(|i| (i as u64).wrapping_mul(31).wrapping_add(n) as u8)
        .collect();
    Frame::new(header, Payload::new(aligned_copy(&body).freeze()))
}

fn control(n: u64, len: usize) -> Frame {
    on(FrameKind::Ping, Flags::NONE, 0, n, len)
}

fn call(channel: u32, len: usize) -> Frame {
    on(
        FrameKind::Call,
        Flags::OPEN,
        channel,
        u64::from(channel),
        len,
    )
}

fn data(channel: u32, n: u64, len: usize) -> Frame {
    on(FrameKind::Data, Flags::NONE, channel, n, len)
}

fn response(channel: u32, len: usize) -> Frame {
    on(FrameKind::Response, Flags::NONE, channel, 0, len)
}

async fn control_round_trip((mut a, mut b): LinkPair) {
    for len in [0, 1, 5, 15, 16, 17, 4095, 4096, 65_535, 65_536, 1 << 20] {
        let sent = control(len as u64, len);
        let got = transfer(&mut *a, &mut *b, vec![sent.clone()]).await;
        assert_eq!(got, std::slice::from_ref(&sent), "a -> b, len {len}");
        let got = transfer(&mut *b, &mut *a, vec![sent.clone()]).await;
        assert_eq!(got, [sent], "b -> a, len {len}");
    }
    let odd: Vec<Frame> = [1, 3, 17, 33, 1000, 4097, 70_000, 5]
        .iter()
        .enumerate()
        .map(|(n, &len)| control(n as u64, len))
        .collect();
    let got = transfer(&mut *a, &mut *b, odd.clone()).await;
    assert_eq!(got, odd);
    got.iter().for_each(assert_aligned);
}

async fn control_ordering((a, mut b): LinkPair) {
    const N: u64 = 10_000;
    let sender = tokio::spawn(async move {
        let mut a = a;
        for n in 0..N {
            queue(&mut *a, control(n, (n % 97) as usize));
            if n % 64 == 63 {
                flush(&mut *a).await;
            }
        }
        flush(&mut *a).await;
        a
    });
    for n in 0..N {
        let got = recv(&mut *b).await.expect("the peer closed early");
        assert_eq!(
            got,
            control(n, (n % 97) as usize),
            "control frames arrive in order"
        );
    }
    if sender.await.is_err() {
        panic!("the sending task failed");
    }
}

async fn call_round_trip((mut a, mut b): LinkPair) {
    let request = vec![call(1, 100), data(1, 1, 5000), data(1, 2, 0)];
    let got = transfer(&mut *a, &mut *b, request.clone()).await;
    assert_eq!(got, request, "the caller's frames arrive in order");
    got.iter().for_each(assert_aligned);
    let answer = vec![data(1, 7, 70_000), response(1, 33)];
    let got = transfer(&mut *b, &mut *a, answer.clone()).await;
    assert_eq!(got, answer, "the callee's frames arrive on the channel");
    got.iter().for_each(assert_aligned);
    // The channel is over; another one works the same.
    let got = transfer(&mut *a, &mut *b, vec![call(3, 1)]).await;
    assert_eq!(got, [call(3, 1)]);
    let got = transfer(&mut *b, &mut *a, vec![response(3, 0)]).await;
    assert_eq!(got, [response(3, 0)]);
}

async fn channel_ordering((mut a, mut b): LinkPair) {
    const CHANNELS: u32 = 16;
    const PER_CHANNEL: u64 = 300;
    let mut frames = Vec::new();
    for c in 0..CHANNELS {
        frames.push(call(2 * c + 1, 8));
    }
    for n in 0..PER_CHANNEL {
        for c in 0..CHANNELS {
            frames.push(data(2 * c + 1, n, (n % 61) as usize));
        }
    }
    let got = transfer(&mut *a, &mut *b, frames).await;
    let mut next = vec![0u64; CHANNELS as usize];
    let mut opened = vec![false; CHANNELS as usize];
    for frame in got {
        let c = (frame.header.channel / 2) as usize;
        match frame.header.kind {
            FrameKind::Call => opened[c] = true,
            _ => {
                assert!(
                    opened[c],
                    "channel {} sent DATA before its CALL",
                    frame.header.channel
                );
                assert_eq!(
                    frame,
                    data(frame.header.channel, next[c], (next[c] % 61) as usize)
                );
                next[c] += 1;
            }
        }
    }
    assert!(
        next.iter().all(|&n| n == PER_CHANNEL),
        "every frame arrived: {next:?}"
    );
    let answers: Vec<Frame> = (0..CHANNELS).map(|c| response(2 * c + 1, 4)).collect();
    let mut got = transfer(&mut *b, &mut *a, answers.clone()).await;
    got.sort_by_key(|f| f.header.channel);
    assert_eq!(got, answers);
}

async fn control_first((mut a, mut b): LinkPair) {
    for round in 0..50u32 {
        let mut frames: Vec<Frame> = (0..3)
            .map(|n| control(u64::from(round) * 3 + n, 40))
            .collect();
        frames.push(call(2 * round + 1, 16));
        let got = transfer(&mut *a, &mut *b, frames.clone()).await;
        assert_eq!(
            got, frames,
            "control frames queued before a CALL arrive before it"
        );
        let got = transfer(&mut *b, &mut *a, vec![response(2 * round + 1, 0)]).await;
        assert_eq!(got, [response(2 * round + 1, 0)]);
    }
}

async fn many_channels((mut a, mut b): LinkPair) {
    const CALLS: u32 = 2_000;
    const WINDOW: u32 = 64;
    let mut next = 0u32;
    while next < CALLS {
        let batch: Vec<Frame> = (next..(next + WINDOW).min(CALLS))
            .map(|i| call(2 * i + 1, 24))
            .collect();
        next += batch.len() as u32;
        let mut got = transfer(&mut *a, &mut *b, batch.clone()).await;
        got.sort_by_key(|f| f.header.channel);
        assert_eq!(got, batch, "every CALL arrives");
        let answers: Vec<Frame> = batch
            .iter()
            .map(|f| response(f.header.channel, 8))
            .collect();
        let mut got = transfer(&mut *b, &mut *a, answers.clone()).await;
        got.sort_by_key(|f| f.header.channel);
        assert_eq!(got, answers, "every RESPONSE arrives");
    }
}

async fn batching((mut a, mut b): LinkPair) {
    let mut frames: Vec<Frame> = (0..50).map(|n| control(n, 40)).collect();
    frames.push(call(1, 40));
    frames.extend((0..49).map(|n| data(1, n, 40)));
    for frame in &frames {
        queue(&mut *a, frame.clone());
    }
    // A link whose streams have writers of their own may have written
    // some already: what waits is at most what was queued.
    let total: usize = frames.iter().map(Frame::size).sum();
    assert!(
        a.queued_bytes() <= total,
        "queued_bytes counts what waits, never more: {} of {total}",
        a.queued_bytes()
    );
    flush(&mut *a).await;
    assert_eq!(a.queued_bytes(), 0, "a flush writes everything");
    for sent in &frames {
        assert_eq!(recv(&mut *b).await.as_ref(), Some(sent));
    }
}

async fn peer_close((mut a, mut b): LinkPair) {
    let frames = vec![
        control(0, 10),
        call(1, 10),
        data(1, 1, 10),
        call(3, 10),
        control(1, 10),
        data(3, 1, 100_000),
    ];
    for frame in &frames {
        queue(&mut *a, frame.clone());
    }
    close(&mut *a).await;
    assert!(
        matches!(a.queue(control(9, 1)), Err(LinkError::Closed)),
        "a closed link refuses frames"
    );
    let mut got = Vec::new();
    for _ in 0..frames.len() {
        got.push(
            recv(&mut *b)
                .await
                .expect("the peer closed before its frames arrived"),
        );
    }
    assert_eq!(recv(&mut *b).await, None, "a close is a clean end");
    assert_eq!(recv(&mut *b).await, None, "end of stream is sticky");
    got.sort_by_key(|f| {
        (
            f.header.channel,
            f.header.kind == FrameKind::Data,
            f.header.aux,
        )
    });
    let mut expected = frames;
    expected.sort_by_key(|f| {
        (
            f.header.channel,
            f.header.kind == FrameKind::Data,
            f.header.aux,
        )
    });
    assert_eq!(got, expected, "everything queued before the close arrives");
    // The other direction still works after a half close.
    let got = transfer(&mut *b, &mut *a, vec![control(7, 7)]).await;
    assert_eq!(got, [control(7, 7)]);
    drop(b);
    assert_eq!(
        recv(&mut *a).await,
        None,
        "a dropped peer reads as a clean close"
    );
}

async fn large_call((mut a, mut b): LinkPair) {
    let sent = call(1, LARGE);
    let got = transfer(&mut *a, &mut *b, vec![sent.clone()]).await;
    assert_eq!(got[0].payload.len(), LARGE);
    assert_aligned(&got[0]);
    assert!(got[0] == sent, "the 20 MiB payload differs");
}
