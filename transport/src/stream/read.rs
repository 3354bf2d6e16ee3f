//! The receive half of a stream link: aligned buffers, frames cut without copies.

use core::pin::pin;
use core::task::{Context, Poll, ready};
use std::io;

use bytes::{BufMut, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt};

use super::{LARGE_PAYLOAD, LARGE_RESERVE, MIN_READ, READ_CHUNK};
use prism_core::Payload;
use prism_core::aligned::{aligned_buffer, is_aligned};
use prism_proto::frame::{Frame, FrameDecoder, HEADER_LEN, padding, wire_len};

use crate::link::LinkError;

/// Where the receive side stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Open,
    /// The peer closed at a frame boundary.
    Eof,
    /// An error was returned; the byte stream cannot be trusted any more.
    Failed,
}

/// A large payload being read straight into buffers of its own.
#[derive(Debug)]
struct Large {
    /// The segments filled already, in order, each aligned and
    /// [`LARGE_RESERVE`] bytes long.
    filled: Vec<Bytes>,
    /// The segment being read into, aligned.
    buf: BytesMut,
    /// The bytes `buf` takes: [`LARGE_RESERVE`] of the payload, or the
    /// payload's rest (with its padding) and the next header.
    room: usize,
    /// Payload length without padding.
    len: usize,
}

impl Large {
    /// Bytes in the segments filled already.
    fn done(&self) -> usize {
        self.filled.len() * LARGE_RESERVE
    }

    /// Bytes of the payload (and its padding, and perhaps the next
    /// header) read so far.
    fn received(&self) -> usize {
        self.done() + self.buf.len()
    }
}

/// Receive state of a stream link. Everything lives here, so a dropped
/// `poll_recv` loses nothing.
#[derive(Debug)]
pub(super) struct Reader {
    /// Received, unconsumed bytes. Invariant: starts on a 16-byte boundary,
    /// because it starts at a frame boundary and frames are multiples of 16.
    buf: BytesMut,
    decoder: FrameDecoder,
    large: Option<Large>,
    state: State,
}

impl Reader {
    pub(super) fn new(max_frame: u32) -> Reader {
        Reader {
            buf: aligned_buffer(READ_CHUNK),
            decoder: FrameDecoder::new(max_frame),
            large: None,
            state: State::Open,
        }
    }

    pub(super) fn max_frame(&self) -> u32 {
        self.decoder.max_payload()
    }

    /// Bytes reserved for receiving: the receive buffer's and a large
    /// payload's.
    #[cfg(test)]
    pub(super) fn reserved(&self) -> usize {
        let large = self
            .large
            .as_ref()
            .map_or(0, |large| large.done() + large.buf.capacity());
        self.buf.capacity() + large
    }

    /// Bytes of a frame are in and the frame is not whole yet. (Asked after
    /// `poll_recv` returned `Pending`, which first cuts off every whole
    /// frame: what is left is part of one.)
    pub(super) fn has_partial_frame(&self) -> bool {
        self.state == State::Open && (self.large.is_some() || !self.buf.is_empty())
    }

    pub(super) fn poll_recv<S>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Frame>, LinkError>>
    where
        S: AsyncRead + Unpin,
    {
        match self.state {
            State::Open => {}
            State::Eof => return Poll::Ready(Ok(None)),
            State::Failed => return Poll::Ready(Err(LinkError::Closed)),
        }
        let result = ready!(self.poll_frame(io, cx));
        match &result {
            Ok(Some(_)) => {}
            Ok(None) => self.state = State::Eof,
            Err(_) => self.state = State::Failed,
        }
        Poll::Ready(result)
    }

    fn poll_frame<S>(
        &mut self,
        io: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Option<Frame>, LinkError>>
    where
        S: AsyncRead + Unpin,
    {
        loop {
            if self.large.is_some() {
                return self.poll_large(io, cx).map(|frame| frame.map(Some));
            }
            if let Some(frame) = self.decoder.decode(&mut self.buf)? {
                debug_assert!(
                    frame.payload.is_empty() || frame.payload.segments().all(|s| is_aligned(s))
                );
                return Poll::Ready(Ok(Some(frame)));
            }
            // Not a whole frame yet: how many bytes does the front one need?
            let needed = match self.decoder.peek_header(&self.buf)? {
                Some((_, len)) if len as usize >= LARGE_PAYLOAD => {
                    self.start_large(len as usize);
                    continue;
                }
                Some((_, len)) => wire_len(len as usize),
                None => HEADER_LEN,
            };
            self.make_room(needed);
            let read = match ready!(poll_read_buf(io, &mut self.buf, cx)) {
                Ok(read) => read,
                // TLS reports a peer gone without close_notify (a killed
                // process, a dropped link) as this error. At a frame
                // boundary it is the same end as a TCP close there: frames
                // are whole or absent, and the session knows whether
                // anything was outstanding. Mid-frame it stays an error.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof && self.buf.is_empty() => 0,
                Err(e) => return Poll::Ready(Err(e.into())),
            };
            if read == 0 {
                if self.buf.is_empty() {
                    return Poll::Ready(Ok(None));
                }
                return Poll::Ready(Err(truncated(self.buf.len(), needed)));
            }
        }
    }

    /// Moves the start of a large payload out of the receive buffer into a
    /// buffer of its own; the rest is then read straight into that buffer
    /// and, once it is full, into further ones.
    fn start_large(&mut self, len: usize) {
        let wire = len + padding(len);
        // A header alone reserves at most `LARGE_RESERVE` bytes, and so
        // does each further segment, opened only when the one before is
        // full: memory follows what the peer sent, not what it announced,
        // and nothing that arrived is copied again. The segment that will
        // take the payload's end also has room for the next header.
        let room = large_room(wire);
        let mut payload = aligned_buffer(room);
        // The frame is incomplete, so everything after the header is a
        // prefix of its payload and padding: at most one read's worth.
        payload.extend_from_slice(&self.buf[HEADER_LEN..]);
        // `clear` keeps the buffer's (aligned) start, so the next frame is
        // read to the very place this one began.
        self.buf.clear();
        self.large = Some(Large {
            filled: Vec::new(),
            buf: payload,
            room,
            len,
        });
    }

    fn poll_large<S>(&mut self, io: &mut S, cx: &mut Context<'_>) -> Poll<Result<Frame, LinkError>>
    where
        S: AsyncRead + Unpin,
    {
        let Some(large) = self.large.as_mut() else {
            return Poll::Ready(Err(LinkError::Closed));
        };
        let wire = large.len + padding(large.len);
        while large.received() < wire {
            if large.buf.len() == large.room {
                // Full and the payload is longer: the next segment, in a
                // fresh aligned buffer.
                large.room = large_room(wire - large.received());
                let next = aligned_buffer(large.room);
                large
                    .filled
                    .push(core::mem::replace(&mut large.buf, next).freeze());
            }
            // The rest of the payload, and the next frame's header with it
            // when there is room: a large frame after this one then starts
            // in a buffer of its own with nothing of its payload to copy,
            // and a run of large frames costs one read each.
            let missing = large.room - large.buf.len();
            let read = ready!(poll_read_buf(io, &mut (&mut large.buf).limit(missing), cx))?;
            if read == 0 {
                return Poll::Ready(Err(truncated(
                    HEADER_LEN + large.received(),
                    HEADER_LEN + wire,
                )));
            }
        }
        let end = wire - large.done();
        let Some(Large {
            filled, mut buf, ..
        }) = self.large.take()
        else {
            return Poll::Ready(Err(LinkError::Closed));
        };
        // The next header, or the part of it that came: the start of the
        // receive buffer, which `start_large` emptied.
        if buf.len() > end {
            self.make_room(HEADER_LEN);
            self.buf.extend_from_slice(&buf[end..]);
            buf.truncate(end);
        }
        debug_assert!(is_aligned(&buf) && filled.iter().all(|s| is_aligned(s)));
        let padded = if filled.is_empty() {
            Payload::new(buf.freeze())
        } else {
            let mut rest = filled;
            rest.push(buf.freeze());
            let first = rest.remove(0);
            Payload::from_segments(first, rest)
        };
        // `peek_header` stored the header when this payload started, so
        // `finish_with_payload` always has one to pair it with.
        match self.decoder.finish_with_payload(padded)? {
            Some(frame) => Poll::Ready(Ok(frame)),
            None => Poll::Ready(Err(LinkError::Closed)),
        }
    }

    /// Makes sure the buffer can hold `needed` bytes from its start and has
    /// room for a big read, without ever letting `BytesMut` reallocate: a
    /// reallocation would lose the alignment. Instead the unconsumed tail (a
    /// partial frame, below [`LARGE_PAYLOAD`]) moves to a fresh aligned
    /// buffer.
    ///
    /// A buffer nearly used up is swapped for a fresh one only while its
    /// tail is at most [`MIN_READ`] bytes; a longer partial frame that fits
    /// finishes in place, so no frame is copied more than once and copies
    /// stay under [`MIN_READ`] per [`READ_CHUNK`] read.
    fn make_room(&mut self, needed: usize) {
        let spare = self.buf.capacity() - self.buf.len();
        if self.buf.capacity() >= needed && (spare >= MIN_READ || self.buf.len() > MIN_READ) {
            return;
        }
        let mut fresh = aligned_buffer(READ_CHUNK.max(needed));
        fresh.extend_from_slice(&self.buf);
        self.buf = fresh;
    }
}

/// The bytes a large payload's next segment takes, with `left` bytes of
/// the payload and its padding still to come: [`LARGE_RESERVE`], or all
/// of them and the next frame's header.
fn large_room(left: usize) -> usize {
    if left > LARGE_RESERVE {
        LARGE_RESERVE
    } else {
        left + HEADER_LEN
    }
}

/// Reads into the spare capacity of `buf` without zeroing it first.
///
/// The `read_buf` future keeps no state of its own, so making one per poll
/// and dropping it when pending is cancel safe.
fn poll_read_buf<S, B>(io: &mut S, buf: &mut B, cx: &mut Context<'_>) -> Poll<io::Result<usize>>
where
    S: AsyncRead + Unpin,
    B: BufMut,
{
    let read = pin!(io.read_buf(buf));
    Future::poll(read, cx)
}

fn truncated(have: usize, needed: usize) -> LinkError {
    LinkError::Io(io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("connection closed mid-frame: {have} of {needed} bytes received"),
    ))
}
