//! A [`Streaming<T>`](super::Streaming) on its way to the peer: each item
//! encoded with the call's codec as the driver pulls it.

use core::pin::Pin;
use core::task::Poll;

use futures_util::stream::Stream;
use prism_codecs::{CodecId, CodecSet, EncodeAs, EncodeBuf, Limits};
use prism_core::Status;
use prism_reflect::OpDescriptor;
use prism_transport::driver::{Outbound, StreamItem};

use super::Streaming;

/// `stream` as the driver pulls it: items encoded with `codec`, an error
/// as the stream's close, an encoding failure as `INTERNAL`.
pub(crate) fn outbound<S, T>(
    mut stream: Streaming<T>,
    codec: CodecId,
    op: &'static OpDescriptor,
    limits: Limits,
) -> Outbound
where
    S: CodecSet,
    T: EncodeAs<S> + Send + 'static,
{
    let mut done = false;
    Box::pin(futures_util::stream::poll_fn(move |cx| {
        if done {
            return Poll::Ready(None);
        }
        let item = match Pin::new(&mut stream).poll_next(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(item) => item,
        };
        let out = match item {
            None => {
                done = true;
                return Poll::Ready(None);
            }
            Some(Err(status)) => StreamItem::Close(Err(status)),
            Some(Ok(value)) => {
                let mut buf = EncodeBuf::new();
                match value.encode_as(codec, &mut buf, &limits) {
                    Ok(()) => return Poll::Ready(Some(StreamItem::Message(buf.finish()))),
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
