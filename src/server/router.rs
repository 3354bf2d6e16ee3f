//! Routing: each call is looked up once, by op id, to its service and
//! method, authorized against the op's declared access and the
//! connection's identity, then passes the server's layer stack down to the
//! dispatcher.

use std::sync::Arc;

use prism_codecs::Limits;
use prism_core::Status;
use prism_proto::int_map::IntMap;
use prism_proto::session::Priority;
use prism_reflect::{OpDescriptor, OpId, OpKind};
use prism_transport::driver::{ConnectionInfo, Dispatched, Execution, Handler, IncomingCall};

use super::dispatch::Dispatch;
use super::layer::{Call, Handle, Layer};
use crate::auth::authority::identity_of;
use crate::auth::{Authorizer, authorize};
use crate::op_table::op_priority;

/// Where one op's calls go. Plain data, copied into each call: routing
/// touches no reference count.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Route {
    pub(crate) op: &'static OpDescriptor,
    /// The op's service: its index among the dispatcher's services.
    pub(crate) service: usize,
    /// The op's index in its service's descriptor.
    pub(crate) method: usize,
    pub(crate) execution: Execution,
    pub(crate) limits: Limits,
    /// The largest request message the op takes.
    pub(crate) max_message: u64,
}

/// An immutable table from op id to route, shared by every connection: a
/// lookup takes no lock.
pub(crate) struct Router {
    routes: IntMap<u64, Route>,
    /// Whether any op sets a priority other than the default: when none
    /// does, calls skip the lookup.
    prioritized: bool,
    /// Decides calls of ops that need a permission.
    authorizer: Arc<dyn Authorizer>,
    /// The layers, wrapped around the dispatcher.
    stack: Arc<dyn Handle>,
}

impl Router {
    pub(crate) fn new(
        services: &[Arc<dyn Dispatch>],
        layers: &[Arc<dyn Layer>],
        execution: Execution,
        limits: Limits,
        max_message: u64,
        authorizer: Arc<dyn Authorizer>,
    ) -> Router {
        let mut routes = IntMap::default();
        for (index, service) in services.iter().enumerate() {
            for (method, op) in service.descriptor().ops().iter().enumerate() {
                let route = Route {
                    op,
                    service: index,
                    method,
                    execution: service.execution(method).unwrap_or(execution),
                    limits,
                    max_message: op.max_message().unwrap_or(max_message),
                };
                routes.insert(op.id().get(), route);
            }
        }
        // The first layer added sees calls first: it wraps all the others.
        let mut stack: Arc<dyn Handle> = Arc::new(Dispatcher {
            services: services.into(),
        });
        for layer in layers.iter().rev() {
            stack = layer.layer(stack);
        }
        let prioritized =
            (routes.values()).any(|route| route.op.priority() != OpDescriptor::DEFAULT_PRIORITY);
        Router {
            routes,
            prioritized,
            authorizer,
            stack,
        }
    }

    /// How many ops are routed.
    pub(crate) fn op_count(&self) -> usize {
        self.routes.len()
    }
}

impl Handler for Router {
    fn call(&self, call: IncomingCall) -> Dispatched {
        let Some(route) = self.routes.get(&call.op) else {
            return Dispatched::fail(Status::not_found(format!(
                "no op with id {} is served here",
                OpId::new(call.op)
            )));
        };
        // A datagram op's message comes as a datagram, everything else on
        // a channel.
        let datagram = route.op.kind() == OpKind::Datagram;
        if datagram != call.channel.is_none() {
            let name = route.op.full_name();
            return Dispatched::fail(Status::failed_precondition(if datagram {
                format!("{name} is a datagram op: it is sent as a datagram, not called")
            } else {
                format!("{name} is not a datagram op")
            }));
        }
        // As the op declared: it does not travel in band.
        if route.op.needs_datagrams() && !call.connection.link.kind.datagrams {
            return Dispatched::fail(Status::failed_precondition(format!(
                "{} needs unreliable datagrams, and this link has none",
                route.op.full_name()
            )));
        }
        // Before any layer or codec sees the payload: a refused call or
        // stream open is never decoded, its handler never runs.
        let identity = identity_of(&call.connection);
        if let Err(status) = authorize(route.op, identity.as_deref(), &*self.authorizer) {
            return Dispatched::fail(status);
        }
        let call = Call {
            route: *route,
            identity,
            codec: call.codec,
            deadline: call.deadline,
            payload: call.payload,
            request: call.request,
            metadata: call.metadata,
            connection: call.connection,
            extensions: Default::default(),
        };
        self.stack.handle(call)
    }

    fn priority(&self, op: u64) -> Priority {
        if !self.prioritized {
            return Priority::DEFAULT;
        }
        self.routes
            .get(&op)
            .map_or(Priority::DEFAULT, |route| op_priority(route.op))
    }

    fn recheck(&self, op: u64, connection: &ConnectionInfo) -> Result<(), Status> {
        // An op that is open was routed; one that is not has nothing to end.
        let Some(route) = self.routes.get(&op) else {
            return Ok(());
        };
        let identity = identity_of(connection);
        authorize(route.op, identity.as_deref(), &*self.authorizer)
    }
}

/// The bottom of the stack: the services' generated dispatchers.
struct Dispatcher {
    services: Box<[Arc<dyn Dispatch>]>,
}

impl Handle for Dispatcher {
    fn handle(&self, call: Call) -> Dispatched {
        let Route {
            service, method, ..
        } = call.route;
        // Routes are built from these very services.
        self.services[service].dispatch(method, call)
    }
}
