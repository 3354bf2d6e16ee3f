//! The send half of a stream link: batched, vectored writes.

use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::collections::VecDeque;
use std::io::{self, IoSlice};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncWrite;

use prism_proto::frame::{FRAME_ALIGN, Frame, padding, wire_len};

use super::{COPY_BELOW, MAX_IOVECS};
use crate::link::LinkError;

/// Zeros to pad payloads with.
const ZEROS: [u8; FRAME_ALIGN] = [0; FRAME_ALIGN];

/// Send state of a stream link.
///
/// Queued bytes are a sequence of segments: frozen [`Bytes`] in `segments`,
/// followed by whatever `tail` holds. Headers, padding and small payloads
/// are copied into `tail` (one contiguous run for many frames); a large
/// payload segment freezes the tail and joins the sequence by reference.
#[derive(Debug)]
pub(super) struct Writer {
    segments: VecDeque<Bytes>,
    tail: BytesMut,
    /// Bytes in `segments` and `tail`.
    queued: usize,
    closed: bool,
}

impl Writer {
    pub(super) fn new() -> Writer {
        Writer {
            segments: VecDeque::new(),
            tail: BytesMut::with_capacity(COPY_BELOW * 4),
            queued: 0,
            closed: false,
        }
    }

    pub(super) fn queued_bytes(&self) -> usize {
        self.queued
    }

    pub(super) fn queue(&mut self, frame: Frame) -> Result<(), LinkError> {
        if self.closed {
            return Err(LinkError::Closed);
        }
        let len = frame.payload.len();
        let Ok(wire_length) = u32::try_from(len) else {
            // Our own frame, not the peer's: the session never makes one
            // this large (frames are bounded by a u32 max_frame).
            return Err(LinkError::Io(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("a {len}-byte frame does not fit a frame header"),
            )));
        };
        self.tail
            .extend_from_slice(&frame.header.encode(wire_length));
        for segment in frame.payload.segments() {
            if segment.len() < COPY_BELOW {
                self.tail.extend_from_slice(segment);
            } else {
                self.freeze_tail();
                self.segments.push_back(segment.clone());
            }
        }
        self.tail.extend_from_slice(&ZEROS[..padding(len)]);
        self.queued += wire_len(len);
        Ok(())
    }

    /// Moves the tail into the segment queue, keeping its spare capacity
    /// for the next frames.
    fn freeze_tail(&mut self) {
        if !self.tail.is_empty() {
            self.segments.push_back(self.tail.split().freeze());
        }
    }

    pub(super) fn poll_flush<S>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), LinkError>>
    where
        S: AsyncWrite + Unpin,
    {
        self.freeze_tail();
        while !self.segments.is_empty() {
            let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
            let mut count = 0;
            for (slice, segment) in slices.iter_mut().zip(&self.segments) {
                *slice = IoSlice::new(segment);
                count += 1;
            }
            let written = ready!(Pin::new(&mut *io).poll_write_vectored(cx, &slices[..count]))?;
            if written == 0 {
                return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()));
            }
            self.advance(written);
        }
        ready!(Pin::new(&mut *io).poll_flush(cx))?;
        Poll::Ready(Ok(()))
    }

    /// Drops `written` bytes off the front of the queue; a segment written
    /// in part keeps its unwritten rest.
    fn advance(&mut self, mut written: usize) {
        self.queued -= written;
        while written > 0 {
            let Some(front) = self.segments.front_mut() else {
                return;
            };
            if front.len() <= written {
                written -= front.len();
                self.segments.pop_front();
            } else {
                front.advance(written);
                written = 0;
            }
        }
    }

    pub(super) fn poll_close<S>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<Result<(), LinkError>>
    where
        S: AsyncWrite + Unpin,
    {
        ready!(self.poll_flush(io, cx))?;
        self.closed = true;
        ready!(Pin::new(&mut *io).poll_shutdown(cx))?;
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use prism_core::Payload;
    use prism_proto::frame::{FrameHeader, FrameKind, HEADER_LEN};

    fn frame(body: Payload) -> Frame {
        Frame::new(FrameHeader::new(FrameKind::Call), body)
    }

    #[test]
    fn small_payloads_share_one_run_and_large_ones_stay_by_reference() {
        let mut writer = Writer::new();
        let large = Bytes::from(vec![7u8; COPY_BELOW + 1]);
        writer
            .queue(frame(Bytes::from_static(b"abc").into()))
            .unwrap();
        writer.queue(frame(large.clone().into())).unwrap();
        writer.queue(frame(Payload::empty())).unwrap();
        writer.freeze_tail();
        let segments: Vec<&Bytes> = writer.segments.iter().collect();
        assert_eq!(segments.len(), 3);
        // Header + "abc" + 13 padding bytes, then the next header.
        assert_eq!(segments[0].len(), HEADER_LEN + 16 + HEADER_LEN);
        assert_eq!(
            segments[1].as_ptr(),
            large.as_ptr(),
            "large payloads are not copied"
        );
        // Padding of the large payload, then the empty frame's header.
        assert_eq!(segments[2].len(), padding(large.len()) + HEADER_LEN);
        assert_eq!(
            writer.queued_bytes(),
            segments.iter().map(|s| s.len()).sum::<usize>()
        );
    }

    #[test]
    fn partial_writes_keep_the_rest() {
        let mut writer = Writer::new();
        writer
            .queue(frame(Bytes::from(vec![1u8; COPY_BELOW * 2]).into()))
            .unwrap();
        writer.freeze_tail();
        let total = writer.queued_bytes();
        writer.advance(HEADER_LEN + 10);
        assert_eq!(writer.queued_bytes(), total - HEADER_LEN - 10);
        assert_eq!(
            writer.segments.front().map(Bytes::len),
            Some(COPY_BELOW * 2 - 10)
        );
        writer.advance(writer.queued_bytes());
        assert!(writer.segments.is_empty());
    }
}
