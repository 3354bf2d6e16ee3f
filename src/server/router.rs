//! Routing calls by op id to the service that serves them.

use std::sync::Arc;

use prism_codecs::Limits;
use prism_reflect::{OpDescriptor, OpId};
use prism_transport::Code;
use prism_transport::driver::{Handler, HandlerFuture, IncomingCall, Outcome};
use prism_transport::int_map::IntMap;
use prism_transport::session::OpEntry;

use super::dispatch::{Dispatch, Incoming};

/// An immutable table from op id to service, shared by every connection:
/// a lookup takes no lock.
pub(crate) struct Router {
    routes: IntMap<u64, Route>,
    limits: Limits,
}

struct Route {
    service: Arc<dyn Dispatch>,
}

impl Router {
    pub(crate) fn new(services: &[Arc<dyn Dispatch>], limits: Limits) -> Self {
        let mut routes = IntMap::default();
        for service in services {
            for op in service.descriptor().ops() {
                routes.insert(
                    op.id().get(),
                    Route {
                        service: Arc::clone(service),
                    },
                );
            }
        }
        Router { routes, limits }
    }
}

impl Handler for Router {
    fn call(&self, call: IncomingCall) -> HandlerFuture {
        let Some(route) = self.routes.get(&call.op) else {
            let message = format!("no op with id {} is served here", OpId::new(call.op));
            return Box::pin(core::future::ready(Outcome::Fail {
                code: Code::NotFound,
                message,
            }));
        };
        route.service.dispatch(Incoming {
            op: OpId::new(call.op),
            codec: call.codec,
            body: call.body,
            deadline: call.deadline,
            connection: call.connection,
            limits: self.limits,
        })
    }
}

/// The op table a server advertises in its handshake.
pub(crate) fn op_entry(op: &'static OpDescriptor) -> Result<OpEntry, prism_reflect::ReflectError> {
    Ok(OpEntry {
        op: op.id().get(),
        fingerprint: op.fingerprint()?,
        codecs: op.codecs().iter().map(|c| c.get()).collect(),
    })
}
