//! What generated servers implement ([`Dispatch`]), and the helpers their
//! code calls to serve one op.

use core::future::Future;

use prism_codecs::{Codec, CodecId, CodecSet, DecodeAs, DecodeError, Limits, Payload, View};
use prism_core::Status;
use prism_reflect::ServiceDescriptor;
use prism_transport::driver::{Answer, Dispatched, Execution};
use tracing::Instrument;

use super::Call;
use crate::Context;
use crate::response::IntoReply;
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
    serve::<S, R, Fut>(call, move |payload, codec, limits, context| {
        Req::decode_as(codec, payload, limits).map(|req| handler(req, context))
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
    serve::<C, R, Fut>(call, move |payload, _codec, limits, context| {
        T::view(payload.clone(), limits).map(|view| handler(view, context))
    })
}

fn serve<S, R, Fut>(
    call: Call,
    start: impl FnOnce(&Payload, CodecId, &Limits, &Context) -> Result<Fut, DecodeError>
    + Send
    + 'static,
) -> Dispatched
where
    S: CodecSet,
    R: IntoReply<S>,
    Fut: Future<Output = R> + Send + 'static,
{
    let op = call.op();
    let codec = call.codec;
    if !S::IDS.contains(&codec) {
        return Dispatched::fail(Status::invalid_argument(format!(
            "{} does not accept codec {codec}; it takes {}",
            op.full_name(),
            names::<S>()
        )));
    }
    let limits = call.route.limits;
    let execution = call.route.execution;
    let max_message = call.route.max_message;
    let (context, payload, request) = call.into_parts();
    let serve = async move {
        // A request too large for one frame arrives in chunks: one message,
        // put together (within the op's limit) where the handler runs.
        let payload = match request {
            None => payload,
            Some(mut request) => {
                request.set_max_message(max_message);
                let message = request.into_reply().await.map_err(|status| {
                    Status::new(
                        status.code(),
                        format!("the request of {}: {}", op.full_name(), status.message()),
                    )
                })?;
                message.payload
            }
        };
        // The task-local scope owns the call's context; the handler borrows
        // it to start, and only one that names `cx` keeps a clone.
        let handler = match start(&payload, codec, &limits, &context) {
            Ok(handler) => handler,
            Err(e) => {
                return Err(Status::invalid_argument(format!(
                    "could not decode the request of {} with {codec}: {e}",
                    op.full_name()
                )));
            }
        };
        drop(payload);
        context.scope(handler).await.into_reply(codec, op, &limits)
    };
    let serve = async move { Answer::Reply(serve.await) };
    // A span only when someone listens: a disabled one still costs a few
    // hundred instructions when tracing's `log` feature is on.
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
