//! One unary call: build it, optionally set a timeout, await it.

use core::future::{Future, IntoFuture};
use core::marker::PhantomData;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use prism_codecs::{Codec, CodecId, CodecSet, EncodeAs, EncodeBuf, View};
use prism_core::{Metadata, Status};
use prism_reflect::OpDescriptor;
use prism_transport::driver::PendingCall;
use prism_transport::rt::Instant;

use super::Channel;
use super::connection::Connection;
use super::layer::{Attempt, Call, ReplyFuture};
use crate::response::{FromReply, Plain, Viewed};

/// A unary call, ready to send: `.await` it, or set a timeout first.
///
/// Generated clients return one from each method.
///
/// ```ignore
/// let sum = calc.add(2, 3).await?;
/// let slow = calc.add(2, 3).timeout(Duration::from_millis(50)).await; // DEADLINE_EXCEEDED if late
/// ```
///
/// Dropping the call (or the future it turns into) before it completes
/// cancels it: the server drops its handler.
#[must_use = "a call does nothing until it is awaited"]
pub struct UnaryCall<C, Req, R> {
    channel: Channel,
    op: &'static OpDescriptor,
    request: Req,
    timeout: Option<Duration>,
    metadata: Metadata,
    _codec: PhantomData<fn() -> (C, R)>,
}

impl<C, Req, R> UnaryCall<C, Req, R> {
    /// A call of `op` with `request` over `channel`.
    pub fn new(channel: Channel, op: &'static OpDescriptor, request: Req) -> Self {
        let timeout = channel.default_timeout();
        UnaryCall {
            channel,
            op,
            request,
            timeout,
            metadata: Metadata::new(),
            _codec: PhantomData,
        }
    }

    /// Gives up (with `DEADLINE_EXCEEDED`) after `timeout`; the server sees
    /// the same deadline and drops its handler when it passes.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends `metadata` with the call (the handler reads it from its
    /// [`Context::metadata`](crate::Context::metadata)).
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// The op this call invokes.
    pub fn op(&self) -> &'static OpDescriptor {
        self.op
    }
}

impl<C: Codec, Req, T: View<C>> UnaryCall<C, Req, Plain<T>> {
    /// Reads the response in place instead of decoding it: for rkyv, an
    /// [`Archived<T>`](crate::Archived) that owns the received buffer and
    /// derefs to the archived value, validated but never copied.
    pub fn view(self) -> UnaryCall<C, Req, Viewed<T>> {
        UnaryCall {
            channel: self.channel,
            op: self.op,
            request: self.request,
            timeout: self.timeout,
            metadata: self.metadata,
            _codec: PhantomData,
        }
    }
}

impl<C, Req, R> core::fmt::Debug for UnaryCall<C, Req, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("UnaryCall")
            .field("op", &self.op)
            .field("timeout", &self.timeout)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl<S, Req, R> IntoFuture for UnaryCall<S, Req, R>
where
    S: CodecSet + 'static,
    Req: EncodeAs<S> + Send + 'static,
    R: FromReply<S> + 'static,
{
    type Output = Result<R::Output, Status>;
    type IntoFuture = CallFuture<S, R>;

    fn into_future(self) -> CallFuture<S, R> {
        // Built only when someone listens: a disabled span still costs a
        // few hundred instructions when tracing's `log` feature is on.
        let span = if tracing::enabled!(tracing::Level::DEBUG) {
            tracing::debug_span!(
                "prism.call",
                service = self.op.service(),
                method = self.op.method()
            )
        } else {
            tracing::Span::none()
        };
        // Sent at once when the channel has a connection; otherwise once it
        // has one (a reconnecting channel), as its policy says.
        let op = self.op;
        let started = (self.channel).with_ready(|conn| self.start(conn, self.timeout));
        let (channel, started) = match started {
            Some(Ok(started)) => (self.channel, started),
            Some(Err(status)) => (self.channel, Started::failed(status)),
            None => {
                let channel = self.channel.clone();
                let waiting = Mutex::new(self.wait_then_start());
                (channel, Started::waiting(waiting))
            }
        };
        CallFuture {
            channel,
            op,
            codec: started.codec,
            state: started.state,
            retry: started.retry,
            span,
            _codec: PhantomData,
        }
    }
}

impl<S, Req, R> UnaryCall<S, Req, R>
where
    S: CodecSet + 'static,
    Req: EncodeAs<S> + Send + 'static,
    R: 'static,
{
    /// Waits for a connection, then starts the call on it with what is
    /// left of its timeout.
    fn wait_then_start(self) -> Waiting {
        Box::pin(async move {
            let (conn, left) = self.channel.ready(self.timeout).await?;
            self.start(&conn, left)
        })
    }

    fn start(&self, conn: &Connection, timeout: Option<Duration>) -> Result<Started, Status> {
        let codec = self.channel.check_op(conn, self.op, S::IDS)?;
        let mut buf = EncodeBuf::new();
        self.request
            .encode_as(codec, &mut buf, self.channel.limits())
            .map_err(|e| {
                Status::invalid_argument(format!(
                    "could not encode the request of {} with {codec}: {e}",
                    self.op.full_name()
                ))
            })?;
        let payload = buf.finish();
        let retry = self.channel.resends().then(|| Retry {
            payload: payload.clone(),
            metadata: self.metadata.clone(),
            deadline: super::deadline_after(timeout),
            // Only layers can change the timeout on its way down.
            layered: conn.stack.is_some().then(Arc::default),
        });
        let attempt = match retry.as_ref().and_then(|retry| retry.layered.as_ref()) {
            Some(layered) => Attempt::First(Arc::clone(layered)),
            None => Attempt::Only,
        };
        let call = Call {
            op: self.op,
            codec,
            timeout,
            payload,
            metadata: self.metadata.clone(),
            extensions: Default::default(),
            attempt,
        };
        Ok(Started {
            codec,
            state: send(conn, call),
            retry,
        })
    }
}

/// Hands `call` to the connection: through its layers, or straight
/// (unboxed) when it has none.
fn send(conn: &Connection, call: Call) -> State {
    match &conn.stack {
        None => State::Pending(conn.client.call(call.into_outgoing())),
        Some(stack) => State::Layered(Mutex::new(stack.handle(call))),
    }
}

/// A call as it starts: its codec, its state, and what a second attempt
/// needs.
struct Started {
    codec: CodecId,
    state: State,
    retry: Option<Retry>,
}

impl Started {
    fn failed(status: Status) -> Started {
        Started {
            codec: CodecId::new(0),
            state: State::Failed(Some(status)),
            retry: None,
        }
    }

    fn waiting(waiting: Mutex<Waiting>) -> Started {
        Started {
            codec: CodecId::new(0),
            state: State::Waiting(waiting),
            retry: None,
        }
    }
}

/// A request kept for one more attempt, on a channel with a reconnect
/// policy: a call its connection never processed (it never left, or the
/// server refused it going away) is sent once more, on the next
/// connection.
struct Retry {
    payload: prism_core::Payload,
    metadata: Metadata,
    /// The caller's deadline: the first attempt's, unless layers changed
    /// its timeout.
    deadline: Option<Instant>,
    /// On a connection with layers: the deadline the first attempt went
    /// with, as they left it (they may set their own timeout); it bounds
    /// the second.
    layered: Option<Arc<OnceLock<Option<Instant>>>>,
}

impl Retry {
    /// The same request of `op` with `codec` on the channel's next
    /// connection, within what is left of the deadline; `failed` if that
    /// connection's server takes the op with another codec.
    fn resend<S: CodecSet>(
        self,
        channel: Channel,
        op: &'static OpDescriptor,
        codec: CodecId,
        failed: Status,
    ) -> Waiting {
        // A first attempt the layers refused before it was sent has no
        // deadline of theirs: the caller's holds.
        let layered = self.layered.as_ref().and_then(|sent| sent.get().copied());
        let deadline = layered.unwrap_or(self.deadline);
        Box::pin(async move {
            let again = channel.ready_again(deadline, op, S::IDS, codec);
            let Some((conn, left)) = again.await? else {
                return Err(failed);
            };
            let call = Call {
                op,
                codec,
                timeout: left,
                payload: self.payload,
                metadata: self.metadata,
                extensions: Default::default(),
                attempt: Attempt::Again(deadline),
            };
            Ok(Started {
                codec,
                state: send(&conn, call),
                retry: None,
            })
        })
    }
}

/// A call waiting for a connection, then started on it.
type Waiting = Pin<Box<dyn Future<Output = Result<Started, Status>> + Send>>;

enum State {
    /// Waiting for a reconnecting channel's connection; in a mutex for the
    /// same reason as `Layered`.
    Waiting(Mutex<Waiting>),
    Pending(PendingCall),
    /// A layer's future. It is only `Send`; the mutex makes the call
    /// future `Sync` too, and is never locked: polling has `&mut` access
    /// ([`Mutex::get_mut`]).
    Layered(Mutex<ReplyFuture>),
    Failed(Option<Status>),
}

/// The future of a [`UnaryCall`].
///
/// # Cancel safety
///
/// Dropping it before it completes cancels the call on the server.
pub struct CallFuture<C, R> {
    channel: Channel,
    op: &'static OpDescriptor,
    /// The codec the request went with; the reply must use it too.
    codec: CodecId,
    state: State,
    /// The request again, for one more attempt (reconnecting channels).
    retry: Option<Retry>,
    span: tracing::Span,
    _codec: PhantomData<fn() -> (C, R)>,
}

impl<C, R> core::fmt::Debug for CallFuture<C, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("CallFuture").field("op", &self.op).finish()
    }
}

impl<S: CodecSet, R: FromReply<S>> Future for CallFuture<S, R> {
    type Output = Result<R::Output, Status>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let _entered = this.span.enter();
        let reply = loop {
            let reply = match &mut this.state {
                State::Failed(status) => Err(status
                    .take()
                    .unwrap_or_else(|| Status::internal("call polled after it completed"))),
                State::Waiting(waiting) => {
                    let waiting = waiting.get_mut().unwrap_or_else(PoisonError::into_inner);
                    match ready!(waiting.as_mut().poll(cx)) {
                        Ok(started) => {
                            this.codec = started.codec;
                            this.state = started.state;
                            this.retry = this.retry.take().or(started.retry);
                            continue;
                        }
                        // A failure while waiting is final.
                        Err(status) => break Err(status),
                    }
                }
                State::Pending(pending) => ready!(Pin::new(pending).poll(cx)),
                State::Layered(reply) => {
                    let reply = reply.get_mut().unwrap_or_else(PoisonError::into_inner);
                    ready!(reply.as_mut().poll(cx))
                }
            };
            match reply {
                Err(status) if status.is_unprocessed() && this.retry.is_some() => {
                    let retry = this.retry.take().map(|retry| {
                        retry.resend::<S>(this.channel.clone(), this.op, this.codec, status)
                    });
                    if let Some(waiting) = retry {
                        this.state = State::Waiting(Mutex::new(waiting));
                    }
                }
                reply => break reply,
            }
        };
        Poll::Ready(R::from_reply(
            reply?,
            this.codec,
            this.op,
            this.channel.limits(),
        ))
    }
}
