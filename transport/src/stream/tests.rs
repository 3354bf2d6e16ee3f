//! Deterministic tests of the stream link halves over scripted streams.

use core::pin::Pin;
use core::task::{Context, Poll, Waker};
use std::io::{self, IoSlice};

use bytes::{Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::read::Reader;
use super::write::Writer;
use super::*;
use prism_core::Payload;
use prism_core::aligned::is_aligned;
use prism_proto::frame::{
    DEFAULT_MAX_FRAME, FrameError, FrameHeader, FrameKind, HEADER_LEN, encode_frame,
};

/// Yields `data` at most `step` bytes per read, then end of stream.
struct Chunked {
    data: Vec<u8>,
    pos: usize,
    step: usize,
    reads: usize,
}

impl AsyncRead for Chunked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self
            .step
            .min(buf.remaining())
            .min(self.data.len() - self.pos);
        buf.put_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        self.reads += 1;
        Poll::Ready(Ok(()))
    }
}

/// Accepts at most `limit` bytes per write and records them.
#[derive(Default)]
struct Recorder {
    out: Vec<u8>,
    limit: usize,
    writes: usize,
}

impl AsyncWrite for Recorder {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.writes += 1;
        let mut budget = self.limit;
        for buf in bufs {
            let n = budget.min(buf.len());
            self.out.extend_from_slice(&buf[..n]);
            budget -= n;
        }
        Poll::Ready(Ok(self.limit - budget))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn frame(aux: u64, len: usize) -> Frame {
    let mut header = FrameHeader::new(FrameKind::Response);
    header.aux = aux;
    let body: Vec<u8> = (0..len).map(|i| (i as u64 ^ aux) as u8).collect();
    Frame::new(header, Bytes::from(body).into())
}

fn wire(frames: &[Frame]) -> Vec<u8> {
    let mut out = BytesMut::new();
    for frame in frames {
        encode_frame(frame, &mut out);
    }
    out.to_vec()
}

fn read_all(reader: &mut Reader, io: &mut Chunked) -> Result<Vec<Frame>, LinkError> {
    let mut cx = Context::from_waker(Waker::noop());
    let mut frames = Vec::new();
    loop {
        match reader.poll_recv(io, &mut cx) {
            Poll::Ready(Ok(Some(frame))) => frames.push(frame),
            Poll::Ready(Ok(None)) => return Ok(frames),
            Poll::Ready(Err(err)) => return Err(err),
            Poll::Pending => unreachable!("scripted streams are always ready"),
        }
    }
}

const SIZES: [usize; 14] = [
    0, 1, 15, 16, 17, 100, 4095, 4096, 60_000, 65_535, 65_536, 65_537, 200_000, 3,
];

#[test]
fn frames_straddling_reads_arrive_whole_and_aligned() {
    let sent: Vec<Frame> = SIZES
        .iter()
        .enumerate()
        .map(|(i, &len)| frame(i as u64, len))
        .collect();
    let bytes = wire(&sent);
    for step in [1, 7, 16, 33, 1000, 4096, 70_000, usize::MAX] {
        let mut io = Chunked {
            data: bytes.clone(),
            pos: 0,
            step,
            reads: 0,
        };
        let mut reader = Reader::new(DEFAULT_MAX_FRAME);
        let got = read_all(&mut reader, &mut io).unwrap();
        assert_eq!(got.len(), sent.len(), "step {step}");
        for (got, sent) in got.iter().zip(&sent) {
            assert_eq!(got, sent, "step {step}, aux {}", sent.header.aux);
            for segment in got.payload.segments() {
                assert!(
                    is_aligned(segment),
                    "step {step}, len {}",
                    got.payload.len()
                );
            }
        }
    }
}

#[test]
fn one_read_yields_many_small_frames() {
    let sent: Vec<Frame> = (0..1000).map(|i| frame(i, 8)).collect();
    let mut io = Chunked {
        data: wire(&sent),
        pos: 0,
        step: usize::MAX,
        reads: 0,
    };
    let got = read_all(&mut Reader::new(DEFAULT_MAX_FRAME), &mut io).unwrap();
    assert_eq!(got, sent);
    // 48 000 bytes in one read, then the read that sees the end.
    assert_eq!(io.reads, 2);
}

#[test]
fn closing_mid_frame_is_unexpected_eof_and_poisons_the_link() {
    for (len, cut) in [
        (100, 10),
        (100, 40),
        (200_000, 50),
        (200_000, 150_000),
        (200_000, 200_030),
        // Into the header after a large frame, which its last read brings.
        (200_000, 200_042),
    ] {
        for step in [8192, usize::MAX] {
            let mut data = wire(&[frame(1, 8), frame(2, len), frame(3, 8)]);
            data.truncate(48 + cut);
            let mut io = Chunked {
                data,
                pos: 0,
                step,
                reads: 0,
            };
            let mut reader = Reader::new(DEFAULT_MAX_FRAME);
            let err = read_all(&mut reader, &mut io).unwrap_err();
            assert!(
                matches!(&err, LinkError::Io(e) if e.kind() == io::ErrorKind::UnexpectedEof),
                "len {len}, cut {cut}, step {step}: {err:?}"
            );
            assert!(matches!(
                read_all(&mut reader, &mut io),
                Err(LinkError::Closed)
            ));
        }
    }
}

#[test]
fn a_header_over_the_limit_is_refused_before_its_payload() {
    let data = wire(&[frame(1, 1000)]);
    let mut io = Chunked {
        data: data[..32].to_vec(),
        pos: 0,
        step: 64,
        reads: 0,
    };
    let err = read_all(&mut Reader::new(999), &mut io).unwrap_err();
    assert!(matches!(
        err,
        LinkError::Frame(FrameError::TooLarge {
            len: 1000,
            max: 999,
            ..
        })
    ));
}

#[tokio::test]
async fn a_batch_of_small_frames_leaves_in_one_write() {
    let sent: Vec<Frame> = (0..100).map(|i| frame(i, 40)).collect();
    let mut writer = Writer::new();
    for frame in &sent {
        writer.queue(frame.clone()).unwrap();
    }
    assert_eq!(writer.queued_bytes(), 100 * (32 + 48));
    let mut io = Recorder {
        limit: usize::MAX,
        ..Recorder::default()
    };
    std::future::poll_fn(|cx| writer.poll_flush(&mut io, cx))
        .await
        .unwrap();
    assert_eq!(io.writes, 1);
    assert_eq!(io.out, wire(&sent));
    assert_eq!(writer.queued_bytes(), 0);
}

#[tokio::test]
async fn partial_vectored_writes_keep_every_byte_in_order() {
    let big = Bytes::from(vec![9u8; 100_000]);
    let multi = Payload::from_segments(
        Bytes::from_static(b"head"),
        vec![big.clone(), Bytes::from_static(b"tail")],
    );
    let sent = vec![
        frame(1, 10),
        Frame::new(FrameHeader::new(FrameKind::Call), multi),
        frame(2, 5000),
        frame(3, 0),
    ];
    for limit in [1, 13, 4096, 65_536] {
        let mut writer = Writer::new();
        for frame in &sent {
            writer.queue(frame.clone()).unwrap();
        }
        let mut io = Recorder {
            limit,
            ..Recorder::default()
        };
        std::future::poll_fn(|cx| writer.poll_flush(&mut io, cx))
            .await
            .unwrap();
        assert_eq!(io.out, wire(&sent), "limit {limit}");
        assert_eq!(writer.queued_bytes(), 0);
    }
}

#[tokio::test]
async fn queue_after_close_fails() {
    let mut writer = Writer::new();
    let mut io = Recorder {
        limit: usize::MAX,
        ..Recorder::default()
    };
    std::future::poll_fn(|cx| writer.poll_close(&mut io, cx))
        .await
        .unwrap();
    assert!(matches!(writer.queue(frame(1, 1)), Err(LinkError::Closed)));
}

#[tokio::test]
async fn a_dropped_receive_loses_nothing() {
    use tokio::io::AsyncWriteExt;

    let info = LinkInfo::new(crate::unix::KIND, crate::PeerAddr::Other("duplex".into()));
    for len in [100, 200_000] {
        let (mut raw, theirs) = tokio::io::duplex(1 << 20);
        let mut link = StreamLink::new(theirs, info.clone(), &crate::LinkConfig::default());
        let sent = frame(4, len);
        let bytes = wire(std::slice::from_ref(&sent));
        let (first, rest) = bytes.split_at(bytes.len() / 2);
        raw.write_all(first).await.unwrap();
        // Poll until the half frame is consumed, then give up on the receive.
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..4 {
            assert!(link.poll_recv(&mut cx).is_pending(), "len {len}");
        }
        raw.write_all(rest).await.unwrap();
        let got = std::future::poll_fn(|cx| link.poll_recv(cx)).await.unwrap();
        assert_eq!(got, Some(sent), "len {len}");
        assert!(is_aligned(&got.unwrap().payload.into_bytes()));
    }
}

/// Yields `data` up to `step` bytes per read, then stays pending: a peer
/// that sent this much and stopped.
struct Stalled {
    data: Vec<u8>,
    pos: usize,
}

impl AsyncRead for Stalled {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = buf.remaining().min(self.data.len() - self.pos);
        if n == 0 {
            return Poll::Pending;
        }
        buf.put_slice(&self.data[self.pos..self.pos + n]);
        self.pos += n;
        Poll::Ready(Ok(()))
    }
}

#[test]
fn a_bare_header_reserves_little_and_the_buffer_follows_what_arrives() {
    let len = 8 << 20;
    let sent = frame(9, len);
    let bytes = wire(std::slice::from_ref(&sent));
    let mut reader = Reader::new(DEFAULT_MAX_FRAME);
    let mut cx = Context::from_waker(Waker::noop());
    let mut io = Stalled {
        data: bytes[..HEADER_LEN].to_vec(),
        pos: 0,
    };
    assert!(reader.poll_recv(&mut io, &mut cx).is_pending());
    assert!(reader.has_partial_frame());
    let bare = reader.reserved();
    assert!(
        bare <= READ_CHUNK + LARGE_RESERVE + 64,
        "a header announcing 8 MiB reserved {bare} bytes"
    );
    // A little over a quarter of the payload: that and at most one more
    // segment is reserved.
    let arrived = len / 4 + 4096;
    io.data = bytes[..HEADER_LEN + arrived].to_vec();
    assert!(reader.poll_recv(&mut io, &mut cx).is_pending());
    let quarter = reader.reserved();
    assert!(
        quarter <= READ_CHUNK + arrived + LARGE_RESERVE + 64,
        "{arrived} bytes arrived, {quarter} reserved"
    );
    // The rest: the frame arrives whole and aligned.
    io.data = bytes.clone();
    let Poll::Ready(Ok(Some(got))) = reader.poll_recv(&mut io, &mut cx) else {
        panic!("the whole frame arrives");
    };
    assert_eq!(got, sent);
    assert!(got.payload.segments().all(|s| is_aligned(s)));
    assert!(!reader.has_partial_frame());
}

#[test]
fn payloads_longer_than_the_first_reservation_arrive_whole_at_any_read_size() {
    let sent: Vec<Frame> = [LARGE_RESERVE + 1, 1_000_000, 2_500_001, 17]
        .iter()
        .enumerate()
        .map(|(i, &len)| frame(i as u64, len))
        .collect();
    let bytes = wire(&sent);
    for step in [4096, 70_000, 1 << 20, usize::MAX] {
        let mut io = Chunked {
            data: bytes.clone(),
            pos: 0,
            step,
            reads: 0,
        };
        let mut reader = Reader::new(DEFAULT_MAX_FRAME);
        let got = read_all(&mut reader, &mut io).unwrap();
        assert_eq!(got, sent, "step {step}");
        assert!(
            got.iter()
                .all(|frame| frame.payload.segments().all(|s| is_aligned(s))),
            "step {step}"
        );
        // Read in segments of `LARGE_RESERVE`, each left where it was read.
        assert!(
            got.iter().all(|frame| frame.payload.segment_count()
                == frame.payload.len().div_ceil(LARGE_RESERVE)),
            "step {step}"
        );
    }
}

#[test]
fn a_run_of_large_frames_is_read_in_place_one_read_each() {
    // Sixteen 64 KiB chunks, a small frame among them, then two more.
    let mut lens = vec![LARGE_PAYLOAD; 16];
    lens.extend([40, LARGE_PAYLOAD + 100, LARGE_PAYLOAD]);
    let sent: Vec<Frame> = lens
        .iter()
        .enumerate()
        .map(|(i, &len)| frame(i as u64, len))
        .collect();
    let mut io = Chunked {
        data: wire(&sent),
        pos: 0,
        step: usize::MAX,
        reads: 0,
    };
    let mut reader = Reader::new(DEFAULT_MAX_FRAME);
    let got = read_all(&mut reader, &mut io).unwrap();
    assert_eq!(got, sent);
    assert!(
        got.iter()
            .all(|frame| frame.payload.segments().all(|s| is_aligned(s)))
    );
    // Each large payload's read brings the next header along, so the
    // next payload is read straight into its own buffer: one read per
    // frame (and the first and the small frame's, and the end), where
    // reading a header with a receive buffer's worth of the payload
    // behind it takes a copy of that prefix and a second read.
    assert!(io.reads <= lens.len() + 2, "{} reads", io.reads);
}

#[test]
fn padding_that_is_not_zero_is_refused_in_small_and_large_frames() {
    for len in [5, 100_001, LARGE_RESERVE + 1] {
        let mut bytes = wire(&[frame(1, len)]);
        let last = bytes.len() - 1;
        bytes[last] = 0x80;
        let mut io = Chunked {
            data: bytes,
            pos: 0,
            step: usize::MAX,
            reads: 0,
        };
        let mut reader = Reader::new(DEFAULT_MAX_FRAME);
        let err = read_all(&mut reader, &mut io).expect_err("non-zero padding");
        assert!(
            matches!(
                err,
                LinkError::Frame(FrameError::PaddingNotZero {
                    kind: FrameKind::Response
                })
            ),
            "len {len}: {err:?}"
        );
    }
}
