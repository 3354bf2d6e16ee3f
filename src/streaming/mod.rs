//! [`Streaming<T>`]: a stream of an op's messages, whichever way it flows,
//! and [`StreamSender<T>`], the sending end of one made by
//! [`Streaming::channel`].
//!
//! One type serves both ends, as in the trait: a handler of
//! `async fn chat(&self, inbox: Streaming<Msg>) -> Streaming<Reply>` reads
//! the caller's messages from `inbox` and returns the stream it answers
//! with; a caller builds the `Streaming<Msg>` it sends and reads the
//! `Streaming<Reply>` it gets back. A stream received from the peer
//! decodes each message as it is read and gives its credit back then, so a
//! slow reader slows the sender and nothing piles up; a stream sent to the
//! peer is pulled only while the peer grants credit.

mod outgoing;
mod sender;
mod subscription;

use core::fmt;
use core::future::poll_fn;
use core::pin::Pin;
use core::task::{Context, Poll};

use futures_util::stream::{self, Stream, StreamExt};
use prism_codecs::{Codec, CodecId, CodecSet, DecodeAs, DecodeError, Limits, Payload, View};
use prism_core::Status;
use prism_reflect::OpDescriptor;
use prism_transport::driver::{Inbound, Received};

pub(crate) use outgoing::{outbound, with_status};
pub use sender::{SendError, StreamSender};
pub use subscription::Lag;

/// Reads one message of a stream: a decode or a zero-copy view.
pub type Decoder<T> = fn(Payload, CodecId, &Limits) -> Result<T, DecodeError>;

/// Reads a stream's messages by decoding them with the codec set `S`.
pub fn decoder<S: CodecSet, T: DecodeAs<S>>() -> Decoder<T> {
    |payload, codec, limits| T::decode_as(codec, &payload, limits)
}

/// Reads a stream's messages in place, as `C`'s view of `T` (for rkyv,
/// `Archived<T>`).
pub fn view_decoder<C: Codec, T: View<C>>() -> Decoder<T::View> {
    |payload, _codec, limits| T::view(payload, limits)
}

/// A stream of an op's messages, in either direction.
///
/// Read it with [`Streaming::message`] (`Ok(None)` at a normal end) or as a
/// [`futures::Stream`](Stream) of `Result<T, Status>`: an error ends it.
/// Build one to send from any stream ([`Streaming::from_stream`],
/// [`Streaming::from_try_stream`]), from items ([`Streaming::iter`]), or
/// with a sender ([`Streaming::channel`]).
///
/// # Examples
///
/// ```
/// use futures_util::StreamExt;
/// use prism::Streaming;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), prism::Status> {
/// let mut numbers = Streaming::iter([1, 2, 3]);
/// assert_eq!(numbers.message().await?, Some(1));
/// let rest: Vec<Result<i32, prism::Status>> = numbers.collect().await;
/// assert_eq!(rest.into_iter().collect::<Result<Vec<_>, _>>()?, [2, 3]);
///
/// let (sender, mut ticks) = Streaming::channel();
/// tokio::spawn(async move {
///     for tick in 0..3u64 {
///         if sender.send(tick).await.is_err() {
///             return; // the reader is gone
///         }
///     }
///     sender.finish();
/// });
/// let mut seen = Vec::new();
/// while let Some(tick) = ticks.message().await? {
///     seen.push(tick);
/// }
/// assert_eq!(seen, [0, 1, 2]);
/// # Ok(())
/// # }
/// ```
#[must_use = "a stream does nothing unless read or sent"]
pub struct Streaming<T> {
    source: Source<T>,
}

enum Source<T> {
    /// Items made on this side.
    Local(Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>),
    /// Messages from the peer, decoded as they are read.
    Remote(Box<Remote<T>>),
    /// Ended: by its end, an error, or a message that did not decode;
    /// with how many items the sender dropped.
    Done { missed: u64 },
}

/// Reads the application error a stream ended with into the status the
/// reader gets.
pub(crate) type ApplicationDecoder = fn(Payload, CodecId, &'static OpDescriptor, &Limits) -> Status;

/// The reader's status for an application error of an op that declares
/// none (or a request stream, which has none).
fn undeclared(_: Payload, _: CodecId, op: &'static OpDescriptor, _: &Limits) -> Status {
    Status::unknown(format!(
        "{} ended its stream with an application error",
        op.full_name()
    ))
}

/// A stream the peer sends.
struct Remote<T> {
    inbound: Inbound,
    decode: Decoder<T>,
    application: ApplicationDecoder,
    op: &'static OpDescriptor,
    codec: CodecId,
    limits: Limits,
}

impl<T> fmt::Debug for Streaming<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Local(_) => "local",
            Source::Remote(_) => "remote",
            Source::Done { .. } => "done",
        };
        f.debug_struct("Streaming")
            .field("source", &source)
            .finish_non_exhaustive()
    }
}

impl<T: Send + 'static> Streaming<T> {
    /// A stream of `stream`'s items.
    pub fn from_stream<S>(stream: S) -> Streaming<T>
    where
        S: Stream<Item = T> + Send + 'static,
    {
        Streaming::from_try_stream(stream.map(Ok))
    }

    /// A stream of `stream`'s items; an `Err` ends it with that status
    /// (the items before it are delivered).
    pub fn from_try_stream<S>(stream: S) -> Streaming<T>
    where
        S: Stream<Item = Result<T, Status>> + Send + 'static,
    {
        Streaming {
            source: Source::Local(Box::pin(stream)),
        }
    }

    /// A stream of `items`.
    pub fn iter<I>(items: I) -> Streaming<T>
    where
        I: IntoIterator<Item = T>,
        I::IntoIter: Send + 'static,
    {
        Streaming::from_stream(stream::iter(items))
    }

    /// A stream with no items.
    pub fn empty() -> Streaming<T> {
        Streaming::iter(core::iter::empty())
    }

    /// A sender and the stream it feeds. `send().await` waits while the
    /// stream holds an unsent item, so when the stream goes to the peer it
    /// waits for credit. [`StreamSender::finish`] ends the stream; a sender
    /// dropped without finishing ends it with `CANCELLED`, and
    /// [`StreamSender::fail`] with a status of your choosing.
    pub fn channel() -> (StreamSender<T>, Streaming<T>) {
        let (sender, stream) = sender::channel();
        (sender, Streaming::from_try_stream(stream))
    }
}

impl<T> Streaming<T> {
    /// Messages from the peer on `inbound`, read with `decode`.
    pub(crate) fn remote(
        inbound: Inbound,
        decode: Decoder<T>,
        op: &'static OpDescriptor,
        codec: CodecId,
        limits: Limits,
    ) -> Streaming<T> {
        let remote = Remote {
            inbound,
            decode,
            application: undeclared,
            op,
            codec,
            limits,
        };
        Streaming {
            source: Source::Remote(Box::new(remote)),
        }
    }

    /// A remote stream whose application errors `application` reads (the
    /// op declares a typed error).
    pub(crate) fn with_application_errors(mut self, application: ApplicationDecoder) -> Self {
        if let Source::Remote(remote) = &mut self.source {
            remote.application = application;
        }
        self
    }

    /// How many items the sender dropped so far because this side read too
    /// slowly: a push subscription that drops its oldest items
    /// ([`Lag::DropOldest`]) says so before the next item it delivers.
    /// Always 0 for other streams.
    pub fn missed(&self) -> u64 {
        match &self.source {
            Source::Remote(remote) => remote.inbound.missed(),
            Source::Done { missed } => *missed,
            Source::Local(_) => 0,
        }
    }

    /// The next message; `Ok(None)` once the stream ended normally.
    ///
    /// # Errors
    ///
    /// How the stream failed: the peer's status, a message that did not
    /// decode (`INVALID_ARGUMENT`), the op's application error ([`Status::application_error`]),
    /// `CANCELLED` or `DEADLINE_EXCEEDED`, `UNAVAILABLE` when the
    /// connection closed. The stream is over after an error.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a message is taken only when it is returned.
    pub async fn message(&mut self) -> Result<Option<T>, Status> {
        poll_fn(|cx| self.poll_message(cx)).await
    }

    fn poll_message(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<T>, Status>> {
        let polled = match &mut self.source {
            Source::Done { .. } => return Poll::Ready(Ok(None)),
            Source::Local(stream) => match stream.as_mut().poll_next(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Ok(item))) => return Poll::Ready(Ok(Some(item))),
                Poll::Ready(Some(Err(status))) => Err(status),
                Poll::Ready(None) => Ok(None),
            },
            Source::Remote(remote) => match remote.inbound.poll_recv(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(received) => match remote.read(received) {
                    Ok(Some(item)) => return Poll::Ready(Ok(Some(item))),
                    other => other,
                },
            },
        };
        // Ended one way or another: a remote stream's inbound is dropped
        // here, which tells the peer when the end was not its own.
        self.source = Source::Done {
            missed: self.missed(),
        };
        Poll::Ready(polled)
    }
}

impl<T> Remote<T> {
    /// What one received event means for the reader.
    fn read(&mut self, received: Received) -> Result<Option<T>, Status> {
        // Named only on a failure: the name is formatted.
        let op = || self.op.full_name();
        match received {
            Received::Message(message) => {
                if message.codec != self.codec {
                    return Err(Status::invalid_argument(format!(
                        "a message of {} came with codec {}, not {}",
                        op(),
                        message.codec,
                        self.codec
                    )));
                }
                let codec = self.codec;
                if message.app_error {
                    return Err((self.application)(
                        message.payload,
                        codec,
                        self.op,
                        &self.limits,
                    ));
                }
                (self.decode)(message.payload, codec, &self.limits)
                    .map(Some)
                    .map_err(|e| {
                        Status::invalid_argument(format!(
                            "could not decode a message of {} with {codec}: {e}",
                            op()
                        ))
                    })
            }
            Received::End => Ok(None),
            Received::Closed(Err(status)) => Err(status),
            Received::Closed(Ok(response)) if response.app_error => {
                if response.codec != self.codec {
                    return Err(Status::invalid_argument(format!(
                        "the application error of {} came with codec {}, not {}",
                        op(),
                        response.codec,
                        self.codec
                    )));
                }
                Err((self.application)(
                    response.payload,
                    self.codec,
                    self.op,
                    &self.limits,
                ))
            }
            Received::Closed(Ok(_)) => Err(Status::internal(format!(
                "{} answered a stream with a single response",
                op()
            ))),
        }
    }
}

impl<T> Stream for Streaming<T> {
    type Item = Result<T, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = Pin::into_inner(self);
        if matches!(this.source, Source::Done { .. }) {
            return Poll::Ready(None);
        }
        this.poll_message(cx).map(Result::transpose)
    }
}

// `Streaming` holds no self-references: its sources are boxed.
impl<T> Unpin for Streaming<T> {}
