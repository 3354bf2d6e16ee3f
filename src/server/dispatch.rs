//! What generated servers implement, and the helpers their code calls.

use core::future::Future;
use std::sync::Arc;
use std::time::Instant;

use prism_codecs::{Codec, Decode, Limits, Payload};
use prism_reflect::{OpDescriptor, OpId, ServiceDescriptor};
use prism_transport::Code;
use prism_transport::driver::{ConnectionInfo, HandlerFuture, Outcome};
use prism_transport::frame::Body;
use tracing::Instrument;

use crate::Context;
use crate::response::IntoReply;

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

/// Serves a unary op: checks the codec, decodes the request (a failure is
/// `INVALID_ARGUMENT`, never a timeout), runs `handler` inside the call's
/// [`Context`] and a tracing span, and encodes its result.
pub fn unary<C, Req, R, F, Fut>(call: Incoming, op: &'static OpDescriptor, handler: F) -> Dispatched
where
    C: Codec,
    Req: Decode<C>,
    R: IntoReply<C>,
    F: FnOnce(Req) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
{
    if call.codec != C::ID.get() {
        return ready(
            Code::InvalidArgument,
            format!(
                "{} does not accept codec {:#06x}; it takes {} ({})",
                op.full_name(),
                call.codec,
                C::NAME,
                C::ID
            ),
        );
    }
    let (first, rest) = call.body.into_parts();
    let request = match Req::decode(&Payload::from_segments(first, rest), &call.limits) {
        Ok(request) => request,
        Err(e) => {
            return ready(
                Code::InvalidArgument,
                format!("could not decode the request of {}: {e}", op.full_name()),
            );
        }
    };
    let limits = call.limits;
    let span = tracing::debug_span!("prism.serve", service = op.service(), method = op.method());
    let context = Context::new(op, call.deadline, call.connection);
    let fut = handler(request);
    Box::pin(
        context
            .scope(async move { fut.await.into_outcome(op, &limits) })
            .instrument(span),
    )
}

/// The answer for an op id a service does not know.
pub fn unknown_op(call: Incoming) -> Dispatched {
    ready(
        Code::NotFound,
        format!("no op with id {} is served here", call.op),
    )
}
