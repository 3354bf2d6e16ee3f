//! Calls with streams: [`StreamCall`] (the response is a stream: a server
//! or bidirectional stream) and [`ClientStreamCall`] (the request is a
//! stream, the response one message).

use core::future::{Future, IntoFuture};
use core::marker::PhantomData;
use core::pin::Pin;
use std::time::Duration;

use prism_codecs::{CodecId, CodecSet, EncodeAs, EncodeBuf, Limits};
use prism_core::{Extensions, Metadata, Status};
use prism_reflect::OpDescriptor;
use prism_transport::driver::{Inbound, Request, StreamOpen};

use super::Channel;
use super::connection::Connection;
use super::layer::Open;
use crate::response::FromReply;
use crate::stream_response::FromStream;
use crate::streaming::{Streaming, outbound, with_status};

/// What a stream call sends: one message ([`Single`]) or a
/// [`Streaming`].
pub trait StreamRequest<S: CodecSet>: Send + 'static {
    /// The request as the connection sends it, encoded with `codec`.
    ///
    /// # Errors
    ///
    /// `INVALID_ARGUMENT` when a single message does not encode.
    fn into_request(
        self,
        codec: CodecId,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<Request, Status>;
}

/// The one request message of a server-stream op.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Single<T>(pub T);

impl<S: CodecSet, T: EncodeAs<S> + Send + 'static> StreamRequest<S> for Single<T> {
    fn into_request(
        self,
        codec: CodecId,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<Request, Status> {
        let mut buf = EncodeBuf::new();
        self.0.encode_as(codec, &mut buf, limits).map_err(|e| {
            Status::invalid_argument(format!(
                "could not encode the request of {} with {codec}: {e}",
                op.full_name()
            ))
        })?;
        Ok(Request::Whole(buf.finish()))
    }
}

impl<S: CodecSet, T: EncodeAs<S> + Send + 'static> StreamRequest<S> for Streaming<T> {
    fn into_request(
        self,
        codec: CodecId,
        op: &'static OpDescriptor,
        limits: &Limits,
    ) -> Result<Request, Status> {
        Ok(Request::Stream(outbound::<S, T>(
            self,
            codec,
            op,
            *limits,
            with_status,
        )))
    }
}

/// A call whose response is a stream: `.await` it for the stream (once
/// the server accepted the call), or set a timeout first.
///
/// Generated clients return one from each server-stream and
/// bidirectional-stream method.
///
/// ```ignore
/// let mut events = feed.watch(filter).await?;            // Streaming<Event>
/// while let Some(event) = events.message().await? { .. }
/// let chat = feed.chat(Streaming::iter(lines)).timeout(Duration::from_secs(30)).await?;
/// ```
///
/// The timeout covers the whole stream: when it passes, both directions
/// end with `DEADLINE_EXCEEDED` and the server drops its handler. A
/// channel's default timeout does not apply to streams. Dropping the
/// returned [`Streaming`] cancels the call. The open passes each client
/// layer's [`Layer::open`](super::Layer::open) first.
#[must_use = "a call does nothing until it is awaited"]
pub struct StreamCall<S, Req, R> {
    channel: Channel,
    op: &'static OpDescriptor,
    request: Req,
    timeout: Option<Duration>,
    metadata: Metadata,
    _codec: PhantomData<fn() -> (S, R)>,
}

impl<S, Req, R> StreamCall<S, Req, R> {
    /// A call of `op` with `request` over `channel`.
    pub fn new(channel: Channel, op: &'static OpDescriptor, request: Req) -> Self {
        StreamCall {
            channel,
            op,
            request,
            timeout: None,
            metadata: Metadata::new(),
            _codec: PhantomData,
        }
    }

    /// Ends the whole stream with `DEADLINE_EXCEEDED` after `timeout`; the
    /// server drops its handler then too.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends `metadata` with the stream's open (the handler reads it from
    /// its [`Context::metadata`](crate::Context::metadata)).
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// The op this call invokes.
    pub fn op(&self) -> &'static OpDescriptor {
        self.op
    }
}

impl<S, Req, R> core::fmt::Debug for StreamCall<S, Req, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamCall")
            .field("op", &self.op)
            .field("timeout", &self.timeout)
            .field("metadata", &self.metadata)
            .finish()
    }
}

/// The future of a [`StreamCall`] or a [`ClientStreamCall`].
pub type StreamFuture<T> = Pin<Box<dyn Future<Output = Result<T, Status>> + Send + 'static>>;

impl<S, Req, R> IntoFuture for StreamCall<S, Req, R>
where
    S: CodecSet,
    Req: StreamRequest<S>,
    R: FromStream<S>,
{
    type Output = Result<R::Output, Status>;
    type IntoFuture = StreamFuture<R::Output>;

    fn into_future(self) -> StreamFuture<R::Output> {
        let StreamCall {
            channel,
            op,
            request,
            timeout,
            metadata,
            ..
        } = self;
        Box::pin(async move {
            let (conn, timeout) = channel.ready(timeout).await?;
            let codec = channel.check_op(&conn, op, S::IDS)?;
            // A server stream's one message is kept for a second attempt
            // on a reconnecting channel, as a unary call's request is, and
            // the metadata as the caller gave it, for the layers again.
            let kept = channel.resends().then(|| metadata.clone());
            let (left, sent) = through_layers(&conn, op, codec, timeout, metadata)?;
            // The whole stream's time, as the layers left it.
            let deadline = super::deadline_after(left);
            let limits = *channel.limits();
            let request = request.into_request(codec, op, &limits)?;
            let again = match (&request, kept) {
                (Request::Whole(payload), Some(metadata)) => Some((payload.clone(), metadata)),
                _ => None,
            };
            let mut inbound = open_on(&conn, op, stream_open(op, codec, left, request, sent));
            let mut opened = inbound.opened().await;
            if let (Err(Err(failed)), Some((payload, metadata))) = (&opened, again)
                && failed.is_unprocessed()
                // The connection never processed the open (it never left,
                // or the server refused it going away): once more on the
                // next connection, within what is left of the deadline.
                && let Some((conn, left)) =
                    channel.ready_again(deadline, op, S::IDS, codec).await?
            {
                let (left, sent) = through_layers(&conn, op, codec, left, metadata)?;
                // A layer may set its timeout afresh: the first one still
                // bounds the whole call.
                let left = super::within(left, deadline);
                let open = stream_open(op, codec, left, Request::Whole(payload), sent);
                inbound = open_on(&conn, op, open);
                opened = inbound.opened().await;
            }
            R::from_open(opened, inbound, codec, op, &limits)
        })
    }
}

/// A call whose request is a stream and whose response is one message:
/// `.await` it for the response, or set a timeout first.
///
/// Generated clients return one from each client-stream method. The
/// request stream is pulled as the server grants credit; the call ends
/// with the server's answer, which may come before the stream ends.
/// Dropping the future cancels the call. The open passes each client
/// layer's [`Layer::open`](super::Layer::open) first.
#[must_use = "a call does nothing until it is awaited"]
pub struct ClientStreamCall<S, T, R> {
    channel: Channel,
    op: &'static OpDescriptor,
    request: Streaming<T>,
    timeout: Option<Duration>,
    metadata: Metadata,
    _codec: PhantomData<fn() -> (S, R)>,
}

impl<S, T, R> ClientStreamCall<S, T, R> {
    /// A call of `op` sending `request` over `channel`.
    pub fn new(channel: Channel, op: &'static OpDescriptor, request: Streaming<T>) -> Self {
        ClientStreamCall {
            channel,
            op,
            request,
            timeout: None,
            metadata: Metadata::new(),
            _codec: PhantomData,
        }
    }

    /// Gives up (with `DEADLINE_EXCEEDED`) after `timeout`; the server
    /// drops its handler then too.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Sends `metadata` with the stream's open (the handler reads it from
    /// its [`Context::metadata`](crate::Context::metadata)).
    pub fn metadata(mut self, metadata: Metadata) -> Self {
        self.metadata = metadata;
        self
    }

    /// The op this call invokes.
    pub fn op(&self) -> &'static OpDescriptor {
        self.op
    }
}

impl<S, T, R> core::fmt::Debug for ClientStreamCall<S, T, R> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientStreamCall")
            .field("op", &self.op)
            .field("timeout", &self.timeout)
            .field("metadata", &self.metadata)
            .finish()
    }
}

impl<S, T, R> IntoFuture for ClientStreamCall<S, T, R>
where
    S: CodecSet,
    T: EncodeAs<S> + Send + 'static,
    R: FromReply<S>,
{
    type Output = Result<R::Output, Status>;
    type IntoFuture = StreamFuture<R::Output>;

    fn into_future(self) -> StreamFuture<R::Output> {
        let ClientStreamCall {
            channel,
            op,
            request,
            timeout,
            metadata,
            ..
        } = self;
        Box::pin(async move {
            let (conn, timeout) = channel.ready(timeout).await?;
            let codec = channel.check_op(&conn, op, S::IDS)?;
            let (timeout, metadata) = through_layers(&conn, op, codec, timeout, metadata)?;
            let limits = *channel.limits();
            let request =
                Request::Stream(outbound::<S, T>(request, codec, op, limits, with_status));
            let open = stream_open(op, codec, timeout, request, metadata);
            let reply = conn.client.call_streaming(open).await;
            R::from_reply(reply?, codec, op, &limits)
        })
    }
}

/// The open of a call of `op`: its request, codec, timeout and metadata.
fn stream_open(
    op: &'static OpDescriptor,
    codec: CodecId,
    timeout: Option<Duration>,
    request: Request,
    metadata: Metadata,
) -> StreamOpen {
    StreamOpen {
        op: op.id().get(),
        codec,
        deadline: timeout,
        request,
        priority: crate::op_table::op_priority(op),
        metadata,
    }
}

/// Opens a stream of `op` on `conn`, its messages held to the op's limit
/// from the first.
fn open_on(conn: &Connection, op: &'static OpDescriptor, open: StreamOpen) -> Inbound {
    let mut inbound = conn.client.open_stream(open);
    if let Some(max) = op.max_message() {
        inbound.set_max_message(max);
    }
    inbound
}

/// Passes a stream's open through the connection's layers (which may
/// refuse it, before anything is encoded or sent): its timeout and
/// metadata as they left the last layer.
fn through_layers(
    conn: &Connection,
    op: &'static OpDescriptor,
    codec: CodecId,
    timeout: Option<Duration>,
    metadata: Metadata,
) -> Result<(Option<Duration>, Metadata), Status> {
    let mut open = Open {
        op,
        codec,
        timeout,
        metadata,
        extensions: Extensions::default(),
    };
    conn.open(&mut open)?;
    Ok((open.timeout, open.metadata))
}
