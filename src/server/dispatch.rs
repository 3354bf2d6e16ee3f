//! What generated servers implement ([`Dispatch`]), and the helpers their
//! code calls to serve one op of each kind: [`unary`] (and [`unary_view`]),
//! [`server_stream`], [`client_stream`] and [`bidi`].

use core::future::Future;

use prism_codecs::{Codec, CodecId, CodecSet, DecodeAs, DecodeError, Limits, Payload, View};
use prism_core::Status;
use prism_reflect::{OpDescriptor, ServiceDescriptor};
use prism_transport::driver::{Answer, Dispatched, Execution};
use tracing::Instrument;

use super::Call;
use crate::Context;
use crate::response::IntoReply;
use crate::stream_response::IntoStream;
use crate::streaming::{Decoder, Lag, Streaming};
use prism_codecs::codec_names as names;

/// A service the server can route calls to. `#[prism::service]` implements
/// it for the generated `FooServer<S>`.
pub trait Dispatch: Send + Sync + 'static {
    /// The service's ops, in declaration order.
    fn descriptor(&self) -> &'static ServiceDescriptor;

    /// Where the op at `method` (its index in the descriptor) asked to run
    /// (`#[prism(spawn)]`, `#[prism(inline)]`); `None` leaves it to the
    /// server's default.
    fn execution(&self, method: usize) -> Option<Execution>;

    /// Starts serving one call of the op at `method`.
    fn dispatch(&self, method: usize, call: Call) -> Dispatched;
}

/// Serves a unary op: checks the call's codec is one the op accepts,
/// decodes the request with it (a failure is `INVALID_ARGUMENT`, never a
/// timeout), runs `handler` inside the call's [`Context`] and a tracing span,
/// and encodes its result with the same codec. Decoding happens where the
/// handler runs: inline, or in the spawned task of an op that runs spawned.
pub fn unary<S, Req, R, F, Fut>(call: Call, handler: F) -> Dispatched
where
    S: CodecSet,
    Req: DecodeAs<S>,
    R: IntoReply<S>,
    F: FnOnce(Req, &Context) -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let start = decoding::<S, Req, F, Fut>(handler);
    serve::<S, R, Fut>(call, start, |r, codec, op, limits| {
        Answer::Reply(r.into_reply(codec, op, limits))
    })
}

/// Serves a unary op whose handler reads its request in place: the payload
/// is validated and handed over as `C`'s view of `T` (for rkyv, an
/// [`Archived<T>`](crate::Archived)), never decoded or copied.
pub fn unary_view<C, T, R, F, Fut>(call: Call, handler: F) -> Dispatched
where
    C: Codec,
    T: View<C>,
    R: IntoReply<C>,
    F: FnOnce(T::View, &Context) -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let start = move |payload: &Payload, _codec, limits: &Limits, context: &Context| {
        T::view(payload.clone(), limits).map(|view| handler(view, context))
    };
    serve::<C, R, Fut>(call, start, |r, codec, op, limits| {
        Answer::Reply(r.into_reply(codec, op, limits))
    })
}

/// Serves a server-stream op: the request as a unary op's, the handler's
/// stream pulled as the caller grants credit (or its application error
/// sent instead of it).
pub fn server_stream<S, Req, R, F, Fut>(call: Call, handler: F) -> Dispatched
where
    S: CodecSet,
    Req: DecodeAs<S>,
    R: IntoStream<S>,
    F: FnOnce(Req, &Context) -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let start = decoding::<S, Req, F, Fut>(handler);
    serve::<S, R, Fut>(call, start, |r, codec, op, limits| {
        r.into_answer(codec, op, limits)
    })
}

/// Serves a push subscription: a server stream whose reader, when it
/// falls behind, is treated as `lag` says.
pub fn subscription<S, Req, R, F, Fut>(call: Call, lag: Lag, handler: F) -> Dispatched
where
    S: CodecSet,
    Req: DecodeAs<S>,
    R: IntoStream<S>,
    F: FnOnce(Req, &Context) -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let start = decoding::<S, Req, F, Fut>(handler);
    serve::<S, R, Fut>(call, start, move |r, codec, op, limits| {
        match r.into_answer(codec, op, limits) {
            Answer::Stream(stream) => Answer::Stream(lag.apply(stream)),
            reply @ Answer::Reply(_) => reply,
        }
    })
}

/// Serves a client-stream op: the handler reads the caller's messages,
/// each read with `decode` (a decode, or a zero-copy view) as the handler
/// reads it, and answers once.
pub fn client_stream<S, T, R, F, Fut>(call: Call, decode: Decoder<T>, handler: F) -> Dispatched
where
    S: CodecSet,
    T: Send + 'static,
    R: IntoReply<S>,
    F: FnOnce(Streaming<T>, &Context) -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    serve_stream::<S, T, R, F, Fut>(call, decode, handler, |r, codec, op, limits| {
        Answer::Reply(r.into_reply(codec, op, limits))
    })
}

/// Serves a bidirectional-stream op: the handler reads the caller's
/// messages (each read with `decode`) and answers with a stream of its own.
pub fn bidi<S, T, R, F, Fut>(call: Call, decode: Decoder<T>, handler: F) -> Dispatched
where
    S: CodecSet,
    T: Send + 'static,
    R: IntoStream<S>,
    F: FnOnce(Streaming<T>, &Context) -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    serve_stream::<S, T, R, F, Fut>(call, decode, handler, |r, codec, op, limits| {
        r.into_answer(codec, op, limits)
    })
}

/// How a handler whose request is decoded with `S` starts: decode, then
/// call it.
fn decoding<S, Req, F, Fut>(
    handler: F,
) -> impl FnOnce(&Payload, CodecId, &Limits, &Context) -> Result<Fut, DecodeError> + Send + 'static
where
    S: CodecSet,
    Req: DecodeAs<S>,
    F: FnOnce(Req, &Context) -> Fut + Send + 'static,
{
    move |payload, codec, limits, context| {
        Req::decode_as(codec, payload, limits).map(|req| handler(req, context))
    }
}

/// Whether `codec` is one of `S`'s; the refusal names the op and the
/// codecs it takes.
fn check_codec<S: CodecSet>(op: &'static OpDescriptor, codec: CodecId) -> Result<(), Dispatched> {
    if S::IDS.contains(&codec) {
        return Ok(());
    }
    Err(Dispatched::fail(Status::invalid_argument(format!(
        "{} does not accept codec {codec}; it takes {}",
        op.full_name(),
        names::<S>()
    ))))
}

fn serve<S, R, Fut>(
    call: Call,
    start: impl FnOnce(&Payload, CodecId, &Limits, &Context) -> Result<Fut, DecodeError>
    + Send
    + 'static,
    finish: impl FnOnce(R, CodecId, &'static OpDescriptor, &Limits) -> Answer + Send + 'static,
) -> Dispatched
where
    S: CodecSet,
    R: Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let op = call.op();
    let codec = call.codec;
    if let Err(refused) = check_codec::<S>(op, codec) {
        return refused;
    }
    let limits = call.route.limits;
    let execution = call.route.execution;
    let max_message = call.route.max_message;
    let (context, payload, request) = call.into_parts();
    let serve = async move {
        // A request too large for one frame arrives in chunks: one message,
        // put together (within the op's limit) where the handler runs.
        let payload = match request {
            None if payload.len() as u64 > max_message => {
                return Answer::Reply(Err(Status::resource_exhausted(format!(
                    "the request of {} is {} bytes, more than its limit of {max_message}",
                    op.full_name(),
                    payload.len()
                ))));
            }
            None => payload,
            Some(mut request) => {
                request.set_max_message(max_message);
                match request.into_reply().await {
                    Ok(message) => message.payload,
                    Err(status) => {
                        let message =
                            format!("the request of {}: {}", op.full_name(), status.message());
                        return Answer::Reply(Err(Status::new(status.code(), message)));
                    }
                }
            }
        };
        // The task-local scope owns the call's context; the handler borrows
        // it to start, and only one that names `cx` keeps a clone.
        let handler = match start(&payload, codec, &limits, &context) {
            Ok(handler) => handler,
            Err(e) => {
                return Answer::Reply(Err(Status::invalid_argument(format!(
                    "could not decode the request of {} with {codec}: {e}",
                    op.full_name()
                ))));
            }
        };
        drop(payload);
        finish(context.scope(handler).await, codec, op, &limits)
    };
    run(op, execution, serve)
}

/// Serves an op whose request is a stream of `T`.
fn serve_stream<S, T, R, F, Fut>(
    call: Call,
    decode: Decoder<T>,
    handler: F,
    finish: fn(R, CodecId, &'static OpDescriptor, &Limits) -> Answer,
) -> Dispatched
where
    S: CodecSet,
    T: Send + 'static,
    R: Send + 'static,
    F: FnOnce(Streaming<T>, &Context) -> Fut + Send + 'static,
    Fut: Future<Output = R> + Send + 'static,
{
    let op = call.op();
    let codec = call.codec;
    if let Err(refused) = check_codec::<S>(op, codec) {
        return refused;
    }
    let limits = call.route.limits;
    let execution = call.route.execution;
    let max_message = call.route.max_message;
    let (context, _, request) = call.into_parts();
    let Some(mut request) = request else {
        return Dispatched::fail(Status::invalid_argument(format!(
            "{} takes a stream of requests; the call sent one message",
            op.full_name()
        )));
    };
    request.set_max_message(max_message);
    let messages = Streaming::remote(request, decode, op, codec, limits);
    let serve = async move {
        let handler = handler(messages, &context);
        finish(context.scope(handler).await, codec, op, &limits)
    };
    run(op, execution, serve)
}

/// The handler's future, in a tracing span when someone listens (a
/// disabled span still costs a few hundred instructions when tracing's
/// `log` feature is on).
fn run(
    op: &'static OpDescriptor,
    execution: Execution,
    serve: impl Future<Output = Answer> + Send + 'static,
) -> Dispatched {
    let future = if tracing::enabled!(tracing::Level::DEBUG) {
        let span =
            tracing::debug_span!("prism.serve", service = op.service(), method = op.method());
        Box::pin(serve.instrument(span)) as prism_transport::driver::HandlerFuture
    } else {
        Box::pin(serve)
    };
    Dispatched::Run { future, execution }
}

/// The answer for a method index a service does not have (never reached
/// through the router, which only routes ops the service declared).
pub fn unknown_method(call: Call) -> Dispatched {
    Dispatched::fail(Status::not_found(format!(
        "{} is not served here",
        call.op().full_name()
    )))
}
