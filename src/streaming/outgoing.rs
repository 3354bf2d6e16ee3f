//! A [`Streaming<T>`](super::Streaming) on its way to the peer: each item
//! encoded with the call's codec as the driver pulls it.

use core::pin::Pin;
use core::task::Poll;

use futures_util::stream::Stream;
use prism_codecs::{CodecId, CodecSet, EncodeAs, EncodeBuf, Limits};
use prism_core::aligned::aligned_buffer;
use prism_core::{Reply, Status};
use prism_reflect::OpDescriptor;
use prism_transport::driver::{Outbound, StreamItem};

use super::Streaming;

/// The block small items of a stream are encoded into.
const BLOCK: usize = 4 << 10;

/// How an error that ends a stream goes to the peer: as its status, or
/// (for an op that declares an error type) as that application error.
pub(crate) type Close = fn(Status, CodecId, &'static OpDescriptor, &Limits) -> Reply;

/// An error ends the stream with its status ([`Close`] for ops without a
/// typed error, and for request streams).
pub(crate) fn with_status(
    status: Status,
    _: CodecId,
    _: &'static OpDescriptor,
    _: &Limits,
) -> Reply {
    Err(status)
}

/// `stream` as the driver pulls it: items encoded with `codec`, an error
/// as the stream's close (as `close` makes it), an encoding failure as
/// `INTERNAL`.
pub(crate) fn outbound<S, T>(
    mut stream: Streaming<T>,
    codec: CodecId,
    op: &'static OpDescriptor,
    limits: Limits,
    close: Close,
) -> Outbound
where
    S: CodecSet,
    T: EncodeAs<S> + Send + 'static,
{
    let mut done = false;
    // Items ready in a run are encoded into one block; it is let go
    // whenever the stream waits, so an idle stream holds none.
    let mut buf = EncodeBuf::new();
    Box::pin(futures_util::stream::poll_fn(move |cx| {
        if done {
            return Poll::Ready(None);
        }
        let item = match Pin::new(&mut stream).poll_next(cx) {
            Poll::Pending => {
                buf = EncodeBuf::new();
                return Poll::Pending;
            }
            Poll::Ready(item) => item,
        };
        let out = match item {
            None => {
                done = true;
                return Poll::Ready(None);
            }
            Some(Err(status)) => StreamItem::Close(close(status, codec, op, &limits)),
            Some(Ok(value)) => {
                if buf.spare_capacity() < BLOCK / 8 {
                    // Aligned, like every message split from it after.
                    buf = EncodeBuf::from_bytes_mut(aligned_buffer(BLOCK));
                }
                match value.encode_as(codec, &mut buf, &limits) {
                    Ok(()) => return Poll::Ready(Some(StreamItem::Message(buf.split()))),
                    Err(e) => StreamItem::Close(Err(Status::internal(format!(
                        "could not encode a message of {} with {codec}: {e}",
                        op.full_name()
                    )))),
                }
            }
        };
        done = true;
        Poll::Ready(Some(out))
    }))
}
