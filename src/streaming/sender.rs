//! [`StreamSender<T>`]: the sending end of [`Streaming::channel`](super::Streaming::channel).

use core::fmt;
use core::task::Poll;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::stream::Stream;
use prism_core::Status;
use tokio::sync::mpsc;

/// Sends items into a [`Streaming`](super::Streaming).
///
/// `send().await` waits while the stream holds an item it has not passed
/// on; a stream that goes to the peer passes items on only as the peer
/// grants credit, so a sender never runs ahead of its reader by more than
/// one item. End the stream with [`StreamSender::finish`] (normally) or
/// [`StreamSender::fail`] (with a status); dropping the sender without
/// either ends it with `CANCELLED`, which the reader sees as an error.
pub struct StreamSender<T> {
    tx: mpsc::Sender<Result<T, Status>>,
    finished: Arc<AtomicBool>,
}

impl<T> fmt::Debug for StreamSender<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StreamSender")
            .field("closed", &self.tx.is_closed())
            .finish()
    }
}

/// The stream is gone (its reader dropped it, the call ended, or the
/// connection closed): the item comes back.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("the stream is gone")]
pub struct SendError<T>(pub T);

impl<T> fmt::Debug for SendError<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never the item: it may be anything.
        f.write_str("SendError(..)")
    }
}

impl<T> StreamSender<T> {
    /// Sends `item`, waiting while the stream holds one already.
    ///
    /// # Errors
    ///
    /// [`SendError`], with the item, when the stream is gone.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: the item is either in the stream or dropped with the
    /// future, never half-sent.
    pub async fn send(&self, item: T) -> Result<(), SendError<T>> {
        self.tx.send(Ok(item)).await.map_err(|e| match e.0 {
            Ok(item) => SendError(item),
            Err(_) => unreachable!("only items are sent here"),
        })
    }

    /// Ends the stream normally, after the items already sent.
    pub fn finish(self) {
        self.finished.store(true, Ordering::Release);
    }

    /// Ends the stream with `status`, after the items already sent: the
    /// reader gets the items, then the status as its error.
    pub async fn fail(self, status: Status) {
        // A stream already gone has nobody to tell.
        let _ = self.tx.send(Err(status)).await;
        self.finish();
    }

    /// Waits until the stream is gone: its reader dropped it, or the call
    /// or connection ended. Useful to stop producing for nobody.
    pub async fn closed(&self) {
        self.tx.closed().await;
    }

    /// Whether the stream is gone.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

/// A sender and the stream of what it sends.
pub(super) fn channel<T: Send + 'static>() -> (
    StreamSender<T>,
    impl Stream<Item = Result<T, Status>> + Send + 'static,
) {
    let (tx, mut rx) = mpsc::channel(1);
    let finished = Arc::new(AtomicBool::new(false));
    let done = Arc::clone(&finished);
    let mut ended = false;
    let stream = futures_util::stream::poll_fn(move |cx| {
        if ended {
            return Poll::Ready(None);
        }
        match rx.poll_recv(cx) {
            Poll::Ready(Some(Err(status))) => {
                ended = true;
                Poll::Ready(Some(Err(status)))
            }
            Poll::Ready(None) => {
                ended = true;
                if done.load(Ordering::Acquire) {
                    return Poll::Ready(None);
                }
                let status =
                    Status::cancelled("the stream's sender was dropped before it finished");
                Poll::Ready(Some(Err(status)))
            }
            other => other,
        }
    });
    (StreamSender { tx, finished }, stream)
}
