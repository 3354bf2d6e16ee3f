//! The server's middleware seam: every call, routed but not yet decoded,
//! passes a stack of [`Layer`]s before it reaches its op.
//!
//! The shape is tower's: a [`Handle`] serves a [`Call`]; a [`Layer`] wraps
//! a handle in another. Layers see the op (with its descriptor: name,
//! permission, codecs), the peer, the deadline and the still-encoded
//! payload, so authentication, authorization, metrics and rate limits are
//! layers, and a refusal happens before any codec reads a byte.

use core::fmt;
use prism_transport::rt::Instant;
use std::sync::Arc;

use prism_core::{CodecId, Extensions, Metadata, Payload};
use prism_reflect::OpDescriptor;
use prism_transport::driver::{ConnectionInfo, Dispatched, Execution, Inbound};
use prism_transport::{LinkInfo, PeerAddr};

use super::router::Route;
use crate::Context;
use crate::auth::ChannelIdentity;
use crate::layer_fn::LayerFn;

/// One call on its way to its op: routed by op id, not yet decoded.
pub struct Call {
    pub(crate) route: Route,
    /// Who the connection was authenticated as when the call was routed.
    pub(crate) identity: Option<Arc<ChannelIdentity>>,
    pub(crate) codec: CodecId,
    pub(crate) deadline: Option<Instant>,
    pub(crate) payload: Payload,
    /// The request's messages, when the caller streams them (or sends one
    /// too large for a single frame).
    pub(crate) request: Option<Inbound>,
    pub(crate) metadata: Metadata,
    pub(crate) connection: Arc<ConnectionInfo>,
    pub(crate) extensions: Extensions,
}

impl Call {
    /// The op the caller invoked.
    pub fn op(&self) -> &'static OpDescriptor {
        self.route.op
    }

    /// Where the op's handler runs (`#[prism(spawn)]`/`#[prism(inline)]`,
    /// else the server's default). A layer that wraps the future below it
    /// in a [`Dispatched::Run`] of its own says where that runs: this is
    /// the op's choice.
    pub fn execution(&self) -> Execution {
        self.route.execution
    }

    /// The codec the request is encoded with.
    pub fn codec(&self) -> CodecId {
        self.codec
    }

    /// When the caller stops waiting, if it set a deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The encoded request. Layers may look; reading it is a decode of
    /// its own. Empty when the request is a stream, or one message too
    /// large for a single frame (it arrives in chunks, read by the op).
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The caller's metadata (the session refused credentials in it).
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// Whether the request arrives as messages after the call opened (a
    /// client or bidirectional stream, or a request sent in chunks).
    pub fn is_streamed(&self) -> bool {
        self.request.is_some()
    }

    /// Who the call's connection is authenticated as (the identity the
    /// call was authorized against); `None` on a connection without
    /// identity.
    pub fn identity(&self) -> Option<&ChannelIdentity> {
        self.identity.as_deref()
    }

    /// The peer's address.
    pub fn peer(&self) -> &PeerAddr {
        &self.connection.link.peer
    }

    /// The link the call arrived on.
    pub fn link(&self) -> &LinkInfo {
        &self.connection.link
    }

    /// What the connection's handshake established: the link, the peer's
    /// HELLO, and the connection's statistics.
    pub fn connection(&self) -> &ConnectionInfo {
        &self.connection
    }

    /// Values attached to this call so far; the handler reads them from
    /// its [`Context`].
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Attaches values to this call, for later layers and the handler.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    /// The handler's view of this call, its payload and its request
    /// stream.
    pub(crate) fn into_parts(self) -> (Context, Payload, Option<Inbound>) {
        let context = Context::new(
            self.route.op,
            self.codec,
            self.deadline,
            self.connection,
            self.identity,
            self.metadata,
            self.extensions,
        );
        (context, self.payload, self.request)
    }
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("op", &self.route.op.full_name())
            .field("codec", &self.codec)
            .field("deadline", &self.deadline)
            .field("len", &self.payload.len())
            .field("metadata", &self.metadata)
            .field("peer", &self.connection.link.peer)
            .finish()
    }
}

/// Serves a [`Call`]: the op's dispatcher at the bottom of the stack, a
/// layer's wrapper above it (tower's `Service`, without readiness: a layer
/// that must wait returns a future in its [`Dispatched`]).
pub trait Handle: Send + Sync + 'static {
    /// Serves one call.
    fn handle(&self, call: Call) -> Dispatched;
}

/// Wraps a [`Handle`] in another (tower's `Layer`). Layers added first to
/// [`ServerBuilder::layer`](crate::ServerBuilder::layer) see calls first.
///
/// # Examples
///
/// A layer that refuses one op before its request is decoded:
///
/// ```
/// use std::sync::Arc;
/// use prism::Status;
/// use prism::server::{Call, Dispatched, Handle, Layer};
///
/// struct Deny(&'static str);
///
/// struct DenyHandle {
///     method: &'static str,
///     inner: Arc<dyn Handle>,
/// }
///
/// impl Handle for DenyHandle {
///     fn handle(&self, call: Call) -> Dispatched {
///         if call.op().method() == self.method {
///             return Dispatched::fail(Status::permission_denied("not today"));
///         }
///         self.inner.handle(call)
///     }
/// }
///
/// impl Layer for Deny {
///     fn layer(&self, inner: Arc<dyn Handle>) -> Arc<dyn Handle> {
///         Arc::new(DenyHandle { method: self.0, inner })
///     }
/// }
///
/// let server = prism::Server::builder()
///     .allow_unauthenticated()
///     .layer(Deny("delete"))
///     .build();
/// # drop(server);
/// ```
pub trait Layer: Send + Sync + 'static {
    /// Wraps `inner`.
    fn layer(&self, inner: Arc<dyn Handle>) -> Arc<dyn Handle>;
}

/// A [`Layer`] from a function of the call and the next handle: the
/// simplest way to write one.
///
/// # Examples
///
/// ```
/// use prism::server::{Dispatched, layer_fn};
///
/// #[derive(Debug)]
/// struct Tenant(String);
///
/// let tag = layer_fn(|mut call, next| {
///     call.extensions_mut().insert(Tenant("acme".into()));
///     next.handle(call)
/// });
/// let server = prism::Server::builder()
///     .allow_unauthenticated()
///     .layer(tag)
///     .build();
/// # drop(server);
/// ```
pub fn layer_fn<F>(f: F) -> LayerFn<F>
where
    F: Fn(Call, &Arc<dyn Handle>) -> Dispatched + Send + Sync + 'static,
{
    LayerFn::new(f)
}
