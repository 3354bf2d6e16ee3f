//! The byte-stream link that TCP and Unix sockets (and any other
//! `AsyncRead + AsyncWrite` stream) share.
//!
//! # Receiving: aligned, and copied at most once
//!
//! Every frame on a stream is a multiple of 16 bytes (header 32, payload
//! padded to 16), so a receive buffer whose first byte is 16-byte aligned
//! yields payloads that are aligned too, and [`FrameDecoder::decode`] cuts
//! them off with `split_to` instead of copying. The link therefore:
//!
//! - reads into an aligned buffer ([`prism_core::aligned::aligned_buffer`]) in
//!   chunks of up to [`READ_CHUNK`] bytes, into spare capacity that is not
//!   zeroed first, so one syscall often yields many frames;
//! - never lets that `BytesMut` grow by itself (a reallocation lands
//!   anywhere): when a frame does not fit or the buffer is nearly used up,
//!   it makes a fresh aligned buffer and moves the unconsumed tail, a
//!   partial frame, into it;
//! - reads a payload of [`LARGE_PAYLOAD`] bytes or more straight into an
//!   aligned buffer of its own once the header is in
//!   ([`FrameDecoder::peek_header`]); only the prefix that arrived with the
//!   header is copied. The read that ends such a payload takes the next
//!   frame's header along (and no more), so in a run of large frames (a
//!   message's chunks) each payload after the first lands in place, one
//!   read each, with nothing copied. The padding is read into the same
//!   buffer, checked to be zero and cut off. A payload longer than
//!   [`LARGE_RESERVE`] is read into segments of that size, each opened
//!   when the one before is full and none copied, so a bare header cannot
//!   make the link reserve the whole announced length; it arrives as a
//!   [`Payload`](prism_core::Payload) of several segments, which a
//!   zero-copy codec joins once (messages travel in chunks of 64 KiB by
//!   default, so their frames are one segment).
//!
//! A received payload shares the receive buffer it was read into, so a
//! small payload kept alive keeps up to [`READ_CHUNK`] bytes alive. Decoded
//! values do not keep it: the postcard codec copies `Bytes` fields below
//! `prism_codecs::postcard::SHARE_BYTES_AT` (32 KiB), and the segments
//! codec small segments; a kept `Payload` or view does, so copy it out if
//! it must live long.
//!
//! # Sending: batched and vectored
//!
//! [`Link::queue`] does no I/O. It copies headers, padding and payload
//! segments under [`COPY_BELOW`] bytes into one contiguous buffer and keeps
//! larger segments by reference. [`Link::poll_flush`] writes everything with
//! `poll_write_vectored`, up to [`MAX_IOVECS`] segments per call, so a batch
//! of small frames usually leaves in one syscall and a large payload is
//! never copied.
//!
//! # Errors
//!
//! A header with an unknown kind, reserved bytes set or a length above
//! `max_frame` is a [`LinkError::Frame`]; the peer closing mid-frame is an
//! [`std::io::ErrorKind::UnexpectedEof`] [`LinkError::Io`]; closing at a
//! frame boundary is `Ok(None)`. After an error the link returns
//! [`LinkError::Closed`].
//!
//! [`FrameDecoder::decode`]: prism_proto::frame::FrameDecoder::decode
//! [`FrameDecoder::peek_header`]: prism_proto::frame::FrameDecoder::peek_header

mod read;
mod write;

use core::fmt;
use core::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite};

use prism_proto::frame::Frame;

use crate::link::{Link, LinkConfig, LinkError, LinkInfo};

/// Bytes the receive buffer offers one read.
pub const READ_CHUNK: usize = 64 * 1024;

/// Payloads this long or longer are read into a buffer of their own.
pub const LARGE_PAYLOAD: usize = 64 * 1024;

/// Most bytes a large payload's header reserves before any of the payload
/// arrives, and the size of each further segment it is read into (one is
/// opened when the one before is full, and nothing is copied), so memory
/// follows what the peer sent, not what it announced.
pub const LARGE_RESERVE: usize = 256 * 1024;

/// A receive buffer with less room than this is replaced before reading,
/// unless the partial frame in it is longer than this.
pub const MIN_READ: usize = 4 * 1024;

/// Payload segments shorter than this are copied into the write buffer;
/// longer ones are written from where they are.
pub const COPY_BELOW: usize = 4 * 1024;

/// Most segments handed to one vectored write.
pub const MAX_IOVECS: usize = 64;

/// A [`Link`] over any byte stream.
///
/// [`TcpLink`](crate::tcp::TcpLink) and [`UnixLink`](crate::unix::UnixLink)
/// wrap this; other streams can use it directly.
///
/// # Examples
///
/// ```
/// use std::future::poll_fn;
/// use prism_proto::frame::{Frame, FrameHeader, FrameKind};
/// use prism_transport::stream::StreamLink;
/// use prism_transport::{Link, LinkConfig, LinkInfo, PeerAddr, unix};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (left, right) = tokio::io::duplex(1024);
/// let info = LinkInfo::new(unix::KIND, PeerAddr::Other("duplex".into()));
/// let mut a = StreamLink::new(left, info.clone(), &LinkConfig::default());
/// let mut b = StreamLink::new(right, info, &LinkConfig::default());
/// a.queue(Frame::new(FrameHeader::new(FrameKind::Ping), b"hi"[..].into())).unwrap();
/// poll_fn(|cx| a.poll_flush(cx)).await.unwrap();
/// let frame = poll_fn(|cx| b.poll_recv(cx)).await.unwrap().unwrap();
/// assert_eq!(frame.payload.into_bytes(), &b"hi"[..]);
/// # });
/// ```
pub struct StreamLink<S> {
    io: S,
    info: LinkInfo,
    reader: read::Reader,
    writer: write::Writer,
}

impl<S> StreamLink<S> {
    /// A link over `io` refusing frames whose payload exceeds
    /// `config.max_frame` bytes.
    pub fn new(io: S, info: LinkInfo, config: &LinkConfig) -> StreamLink<S> {
        StreamLink {
            io,
            info,
            reader: read::Reader::new(config.max_frame),
            writer: write::Writer::new(),
        }
    }

    /// The largest payload this link accepts.
    pub fn max_frame(&self) -> u32 {
        self.reader.max_frame()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.io
    }
}

impl<S> Link for StreamLink<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    fn info(&self) -> &LinkInfo {
        &self.info
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, LinkError>> {
        self.reader.poll_recv(&mut self.io, cx)
    }

    fn queue(&mut self, frame: Frame) -> Result<(), LinkError> {
        self.writer.queue(frame)
    }

    fn queued_bytes(&self) -> usize {
        self.writer.queued_bytes()
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        self.writer.poll_flush(&mut self.io, cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        self.writer.poll_close(&mut self.io, cx)
    }

    fn has_partial_frame(&self) -> bool {
        self.reader.has_partial_frame()
    }
}

impl<S> fmt::Debug for StreamLink<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamLink")
            .field("info", &self.info)
            .field("max_frame", &self.max_frame())
            .field("queued_bytes", &self.writer.queued_bytes())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests;

/// Implements [`Link`](crate::Link) for a newtype whose field `inner` is a
/// [`StreamLink`], by delegation: the TCP, TLS and Unix links differ only
/// in how they are built and in their [`Link::abort`](crate::Link::abort),
/// given as `abort(link) { .. }` (with `link: &Self`) where it is not the
/// trait's default.
#[cfg(feature = "native")]
macro_rules! delegate_link {
    ($link:ty) => {
        $crate::stream::delegate_link!(@impl $link {});
    };
    ($link:ty, abort($this:ident) $abort:block) => {
        $crate::stream::delegate_link!(@impl $link {
            fn abort(&mut self) {
                let $this: &$link = self;
                $abort
            }
        });
    };
    (@impl $link:ty { $($abort:tt)* }) => {
        impl $crate::Link for $link {
            fn info(&self) -> &$crate::LinkInfo {
                self.inner.info()
            }

            fn poll_recv(
                &mut self,
                cx: &mut ::core::task::Context<'_>,
            ) -> ::core::task::Poll<Result<Option<::prism_proto::frame::Frame>, $crate::LinkError>>
            {
                self.inner.poll_recv(cx)
            }

            fn queue(
                &mut self,
                frame: ::prism_proto::frame::Frame,
            ) -> Result<(), $crate::LinkError> {
                self.inner.queue(frame)
            }

            fn queued_bytes(&self) -> usize {
                self.inner.queued_bytes()
            }

            fn poll_flush(
                &mut self,
                cx: &mut ::core::task::Context<'_>,
            ) -> ::core::task::Poll<Result<(), $crate::LinkError>> {
                self.inner.poll_flush(cx)
            }

            fn poll_close(
                &mut self,
                cx: &mut ::core::task::Context<'_>,
            ) -> ::core::task::Poll<Result<(), $crate::LinkError>> {
                self.inner.poll_close(cx)
            }

            fn has_partial_frame(&self) -> bool {
                self.inner.has_partial_frame()
            }

            $($abort)*
        }
    };
}

#[cfg(feature = "native")]
pub(crate) use delegate_link;
