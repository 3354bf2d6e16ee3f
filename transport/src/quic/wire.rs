//! What travels on the QUIC streams of a link: frames (a 32-byte header,
//! then the payload, no padding: each payload is read into a buffer of its
//! own), the 16-byte preamble of a channel stream and the 16-byte trailer
//! of a control stream; and the one frame a datagram carries. A stream
//! that brings nothing for the link's frame timeout once part of a frame
//! arrived on it fails the link.

use core::future::{Future, poll_fn};
use core::pin::pin;
use core::task::Poll;
use core::time::Duration;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use prism_core::Payload;
use prism_core::aligned::aligned_buffer;
use prism_proto::frame::{Frame, FrameHeader, FrameKind, HEADER_LEN};
use quinn::{ConnectionError, ReadError, RecvStream, WriteError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::link::LinkError;
use crate::stream::LARGE_RESERVE;

/// Length of a channel stream's preamble and of a control stream's trailer.
pub(super) const MARK_LEN: usize = 16;

/// A count in the 16-byte form of a preamble or trailer.
pub(super) fn mark(count: u64) -> Bytes {
    let mut bytes = [0u8; MARK_LEN];
    bytes[..8].copy_from_slice(&count.to_le_bytes());
    Bytes::copy_from_slice(&bytes)
}

fn read_mark(bytes: &[u8]) -> Result<u64, LinkError> {
    let (count, reserved) = bytes.split_at(8);
    if reserved.iter().any(|&b| b != 0) {
        return Err(protocol("a stream mark has reserved bytes set"));
    }
    let mut word = [0u8; 8];
    word.copy_from_slice(count);
    Ok(u64::from_le_bytes(word))
}

pub(super) fn protocol(reason: &str) -> LinkError {
    LinkError::Protocol {
        transport: "quic",
        reason: reason.to_owned(),
    }
}

/// What reading a stream found next.
pub(super) enum Read {
    /// A frame, holding its share of the link's receive budget.
    Frame(Frame, OwnedSemaphorePermit),
    /// The stream ended at a frame boundary; with a trailer's count when
    /// one came last.
    End(Option<u64>),
}

/// The connection ended: cleanly (`None`: the peer's link closed it with
/// code 0, or this side closed it) or with an error.
pub(super) fn connection_end(error: &ConnectionError) -> Option<LinkError> {
    match error {
        ConnectionError::ApplicationClosed(close) if close.error_code.into_inner() == 0 => None,
        ConnectionError::LocallyClosed => None,
        ConnectionError::TimedOut => Some(LinkError::Io(io::Error::new(
            io::ErrorKind::TimedOut,
            "the QUIC connection timed out",
        ))),
        other => Some(LinkError::Io(io::Error::new(
            io::ErrorKind::ConnectionAborted,
            format!("the QUIC connection ended: {other}"),
        ))),
    }
}

/// A read error: the end of the stream only when this side stopped it;
/// otherwise the peer broke the stream off (quinn hands out everything that
/// arrived, and the stream's end, before it reports a lost connection), so
/// frames may be missing.
fn read_failed(error: ReadError) -> Result<Read, LinkError> {
    match error {
        ReadError::ClosedStream => Ok(Read::End(None)),
        ReadError::Reset(code) => Err(protocol(&format!(
            "the peer abandoned a stream (reset, code {code})"
        ))),
        ReadError::ConnectionLost(e) => Err(connection_end(&e).unwrap_or_else(|| {
            LinkError::Io(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the QUIC connection closed before a stream ended",
            ))
        })),
        other => Err(LinkError::Io(io::Error::other(other))),
    }
}

/// What a stream's reader holds its peer's frames to.
#[derive(Clone, Copy, Debug)]
pub(super) struct FrameLimits {
    /// The largest payload.
    pub(super) max_frame: u32,
    /// How long a stream may bring nothing once part of a frame arrived
    /// on it ([`LinkConfig::frame_timeout`](crate::LinkConfig::frame_timeout));
    /// `None` waits for ever.
    pub(super) timeout: Option<Duration>,
}

/// `read` of the rest of a frame: [`LinkError::ReadTimeout`] when it
/// brings nothing within `timeout`. Each read is timed on its own, so a
/// frame that keeps coming, however slowly (many streams share the
/// connection, and the peer may put others first), is never cut off;
/// one the peer stopped sending is.
async fn rest<T>(timeout: Option<Duration>, read: impl Future<Output = T>) -> Result<T, LinkError> {
    timed(timeout, read).await.map_err(LinkError::ReadTimeout)
}

/// `op`, or `Err(timeout)` once it has been pending that long. One that is
/// ready at once (most reads and writes: quinn buffers both) costs no
/// timer, nor a clock read.
pub(super) async fn timed<T>(
    timeout: Option<Duration>,
    op: impl Future<Output = T>,
) -> Result<T, Duration> {
    let mut op = pin!(op);
    if let Poll::Ready(out) = poll_fn(|cx| Poll::Ready(op.as_mut().poll(cx))).await {
        return Ok(out);
    }
    match timeout {
        Some(timeout) => tokio::time::timeout(timeout, op).await.map_err(|_| timeout),
        None => Ok(op.await),
    }
}

/// Reads into `buf` until it is full or the stream ends; returns how much
/// arrived. The first bytes may take as long as the peer likes; once some
/// came, each further read is timed ([`rest`]).
async fn fill(
    recv: &mut RecvStream,
    buf: &mut [u8],
    timeout: Option<Duration>,
) -> Result<Result<usize, Read>, LinkError> {
    let mut filled = 0;
    while filled < buf.len() {
        let read = recv.read(&mut buf[filled..]);
        let read = if filled == 0 {
            read.await
        } else {
            rest(timeout, read).await?
        };
        match read {
            Ok(Some(n)) => filled += n,
            Ok(None) => break,
            Err(e) => return read_failed(e).map(Err),
        }
    }
    Ok(Ok(filled))
}

/// Reads a channel stream's preamble; `None` when the stream ended first.
pub(super) async fn read_preamble(
    recv: &mut RecvStream,
    timeout: Option<Duration>,
) -> Result<Option<u64>, LinkError> {
    let mut bytes = [0u8; MARK_LEN];
    match fill(recv, &mut bytes, timeout).await? {
        Ok(MARK_LEN) => read_mark(&bytes).map(Some),
        Ok(0) | Err(_) => Ok(None),
        Ok(_) => Err(protocol("a stream ended inside its preamble")),
    }
}

/// Reads the next frame (or, on a control stream, the trailer) from
/// `recv`. The payload's buffer is allocated only once `budget` grants its
/// size, so frames read ahead of the session stay bounded. Once part of
/// the frame arrived, each read must bring more within the timeout of
/// `limits` (the wait for the budget is this side's and is not timed),
/// else [`LinkError::ReadTimeout`].
pub(super) async fn read_frame(
    recv: &mut RecvStream,
    limits: &FrameLimits,
    budget: &Arc<Semaphore>,
    trailer_allowed: bool,
) -> Result<Read, LinkError> {
    let mut bytes = [0u8; HEADER_LEN];
    let header = match fill(recv, &mut bytes, limits.timeout).await? {
        Err(end) => return Ok(end),
        Ok(0) => return Ok(Read::End(None)),
        Ok(MARK_LEN) if trailer_allowed => {
            return read_mark(&bytes[..MARK_LEN]).map(|n| Read::End(Some(n)));
        }
        Ok(HEADER_LEN) => bytes,
        Ok(_) => return Err(protocol("a stream ended inside a frame")),
    };
    let (header, len) = FrameHeader::decode(&header, limits.max_frame)?;
    let len = len as usize;
    let cost = u32::try_from(HEADER_LEN + len).unwrap_or(u32::MAX);
    let permit = Arc::clone(budget)
        .acquire_many_owned(cost)
        .await
        .map_err(|_| LinkError::Closed)?;
    let payload = if len == 0 {
        Payload::empty()
    } else {
        read_payload(recv, len, limits.timeout).await?
    };
    Ok(Read::Frame(Frame::new(header, payload), permit))
}

/// Reads a payload of `len` bytes (more than zero) into aligned segments of
/// at most [`LARGE_RESERVE`] bytes, each made when the one before is full,
/// so a header that names a large length and is followed by nothing holds
/// little memory, and nothing that arrived is copied twice. Each read is
/// timed ([`rest`]).
async fn read_payload(
    recv: &mut RecvStream,
    len: usize,
    timeout: Option<Duration>,
) -> Result<Payload, LinkError> {
    let mut segments = Vec::new();
    let mut got = 0;
    while got < len {
        let room = (len - got).min(LARGE_RESERVE);
        let mut buf = aligned_buffer(room);
        while buf.len() < room {
            match rest(timeout, recv.read_chunk(room - buf.len(), true)).await? {
                Ok(Some(chunk)) => buf.extend_from_slice(&chunk.bytes),
                Ok(None) => return Err(protocol("a stream ended inside a frame")),
                Err(e) => {
                    read_failed(e)?;
                    return Err(protocol("a stream ended inside a frame"));
                }
            }
        }
        got += room;
        segments.push(buf.freeze());
    }
    let mut segments = segments.into_iter();
    let first = segments.next().unwrap_or_default();
    Ok(Payload::from_segments(first, segments.collect()))
}

/// The DATAGRAM frame one received datagram carries: a header naming
/// exactly the rest as its payload, which is copied to start aligned.
pub(super) fn datagram_frame(datagram: &[u8], max_frame: u32) -> Result<Frame, LinkError> {
    let not_a_frame = || protocol("a datagram that is not one DATAGRAM frame");
    let Some((header, payload)) = datagram.split_first_chunk::<HEADER_LEN>() else {
        return Err(not_a_frame());
    };
    let (header, len) = FrameHeader::decode(header, max_frame)?;
    if header.kind != FrameKind::Datagram || len as usize != payload.len() {
        return Err(not_a_frame());
    }
    let payload = if payload.is_empty() {
        Payload::empty()
    } else {
        let mut buf = aligned_buffer(payload.len());
        buf.extend_from_slice(payload);
        Payload::new(buf.freeze())
    };
    Ok(Frame::new(header, payload))
}

/// Something for a stream's writer to do.
pub(super) enum Out {
    Frame(Frame),
    /// The stream's QUIC priority from now on.
    Priority(i32),
    /// Finish the stream, after a trailer with this count (control).
    Finish(Option<u64>),
}

/// The pieces of `frame` for one vectored write.
pub(super) fn push_frame(frame: Frame, chunks: &mut Vec<Bytes>) {
    let len = u32::try_from(frame.payload.len()).unwrap_or(u32::MAX);
    chunks.push(Bytes::copy_from_slice(&frame.header.encode(len)));
    let (first, rest) = frame.payload.into_parts();
    chunks.extend(
        core::iter::once(first)
            .chain(rest)
            .filter(|s| !s.is_empty()),
    );
}

/// Whether a write failure is worth reporting: a stream the peer stopped
/// reading (it dropped the channel or its link) only makes the frames moot.
pub(super) fn write_failure(error: WriteError) -> Option<LinkError> {
    match error {
        WriteError::Stopped(_) | WriteError::ClosedStream => None,
        WriteError::ConnectionLost(e) => connection_end(&e).or(Some(LinkError::Closed)),
        other => Some(LinkError::Io(io::Error::other(other))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(kind: FrameKind, len_in_header: u32, payload: &[u8]) -> Vec<u8> {
        let mut header = FrameHeader::new(kind);
        header.op = 7;
        let mut bytes = header.encode(len_in_header).to_vec();
        bytes.extend_from_slice(payload);
        bytes
    }

    #[test]
    fn a_datagram_is_exactly_one_datagram_frame() {
        let frame = datagram_frame(&datagram(FrameKind::Datagram, 3, b"abc"), 1024)
            .expect("a datagram frame");
        assert_eq!(frame.header.op, 7);
        assert_eq!(&frame.payload[..], b"abc");
        assert!(frame.payload.is_contiguous_aligned());
        let empty = datagram_frame(&datagram(FrameKind::Datagram, 0, b""), 1024).expect("empty");
        assert!(empty.payload.is_empty());
    }

    #[test]
    fn anything_else_in_a_datagram_is_refused() {
        let cases: [(&str, Vec<u8>); 6] = [
            ("empty", Vec::new()),
            (
                "short header",
                datagram(FrameKind::Datagram, 0, b"")[..31].to_vec(),
            ),
            ("another kind", datagram(FrameKind::Call, 3, b"abc")),
            (
                "payload shorter than said",
                datagram(FrameKind::Datagram, 4, b"abc"),
            ),
            (
                "payload longer than said",
                datagram(FrameKind::Datagram, 2, b"abc"),
            ),
            (
                "over the frame limit",
                datagram(FrameKind::Datagram, 2048, &[0; 2048]),
            ),
        ];
        for (what, bytes) in cases {
            assert!(datagram_frame(&bytes, 1024).is_err(), "{what}");
        }
        let mut bad_kind = datagram(FrameKind::Datagram, 0, b"");
        bad_kind[0] = 0xEE;
        assert!(datagram_frame(&bad_kind, 1024).is_err(), "unknown kind");
    }
}
