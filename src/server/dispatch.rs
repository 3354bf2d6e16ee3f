//! What generated servers implement, and the helpers their code calls.

use core::future::Future;
use std::sync::Arc;
use std::time::Instant;

use prism_codecs::{Codec, CodecId, Limits, Payload, View};
use prism_reflect::{OpDescriptor, OpId, ServiceDescriptor};
use prism_transport::Code;
use prism_transport::driver::{ConnectionInfo, HandlerFuture, Outcome};
use prism_transport::frame::Body;
use tracing::Instrument;

use crate::Context;
use crate::response::IntoReply;
use prism_codecs::{CodecSet, DecodeAs, codec_names as names};

/// The future of one dispatched call.
pub type Dispatched = HandlerFuture;

/// A service the server can route calls to. `#[prism::service]` implements
/// it for the generated `FooServer<S>`.
pub trait Dispatch: Send + Sync + 'static {
    /// The service's ops.
    fn descriptor(&self) -> &'static ServiceDescriptor;

    /// Starts serving one call of one of the service's ops.
    fn dispatch(&self, call: Incoming) -> Dispatched;
}

/// One call routed to a service: still encoded.
#[derive(Debug)]
pub struct Incoming {
    pub(crate) op: OpId,
    pub(crate) codec: u16,
    pub(crate) body: Body,
    pub(crate) deadline: Option<Instant>,
    pub(crate) connection: Arc<ConnectionInfo>,
    pub(crate) limits: Limits,
}

impl Incoming {
    /// The op the caller invoked.
    pub fn op(&self) -> OpId {
        self.op
    }
}

fn ready(code: Code, message: String) -> Dispatched {
    Box::pin(core::future::ready(Outcome::Fail { code, message }))
}

/// Serves a unary op: checks the call's codec is one the op accepts,
/// decodes the request with it (a failure is `INVALID_ARGUMENT`, never a
/// timeout), runs `handler` inside the call's [`Context`] and a tracing span,
/// and encodes its result with the same codec.
pub fn unary<S, Req, R, F, Fut>(call: Incoming, op: &'static OpDescriptor, handler: F) -> Dispatched
where
    S: CodecSet,
    Req: DecodeAs<S>,
    R: IntoReply<S>,
    F: FnOnce(Req) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
{
    serve::<S, R, Fut>(call, op, |payload, codec, limits| {
        Req::decode_as(codec, payload, limits).map(handler)
    })
}

/// Serves a unary op whose handler reads its request in place: the payload
/// is validated and handed over as `C`'s view of `T` (for rkyv, an
/// [`Archived<T>`](crate::Archived)), never decoded or copied.
pub fn unary_view<C, T, R, F, Fut>(
    call: Incoming,
    op: &'static OpDescriptor,
    handler: F,
) -> Dispatched
where
    C: Codec,
    T: View<C>,
    R: IntoReply<C>,
    F: FnOnce(T::View) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
{
    serve::<C, R, Fut>(call, op, |payload, _codec, limits| {
        T::view(payload.clone(), limits).map(handler)
    })
}

fn serve<S, R, Fut>(
    call: Incoming,
    op: &'static OpDescriptor,
    start: impl FnOnce(&Payload, CodecId, &Limits) -> Result<Fut, prism_codecs::DecodeError>,
) -> Dispatched
where
    S: CodecSet,
    R: IntoReply<S>,
    Fut: Future<Output = R> + Send + 'static,
{
    let codec = CodecId::new(call.codec);
    if !S::IDS.contains(&codec) {
        return ready(
            Code::InvalidArgument,
            format!(
                "{} does not accept codec {codec}; it takes {}",
                op.full_name(),
                names::<S>()
            ),
        );
    }
    let (first, rest) = call.body.into_parts();
    let payload = Payload::from_segments(first, rest);
    let limits = call.limits;
    let fut = match start(&payload, codec, &limits) {
        Ok(fut) => fut,
        Err(e) => {
            return ready(
                Code::InvalidArgument,
                format!("could not decode the request of {}: {e}", op.full_name()),
            );
        }
    };
    drop(payload);
    let context = Context::new(op, codec, call.deadline, call.connection);
    let serve = context.scope(async move { fut.await.into_outcome(codec, op, &limits) });
    // A span only when someone listens: a disabled one still costs a few
    // hundred instructions when tracing's `log` feature is on.
    if tracing::enabled!(tracing::Level::DEBUG) {
        let span =
            tracing::debug_span!("prism.serve", service = op.service(), method = op.method());
        Box::pin(serve.instrument(span))
    } else {
        Box::pin(serve)
    }
}

/// The answer for an op id a service does not know.
pub fn unknown_op(call: Incoming) -> Dispatched {
    ready(
        Code::NotFound,
        format!("no op with id {} is served here", call.op),
    )
}
