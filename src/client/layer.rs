//! The client's middleware seam: every call, encoded and about to be sent,
//! passes a stack of [`Layer`]s on its [`Channel`](crate::Channel).
//!
//! The shape is tower's: a [`Handle`] sends a [`Call`] and yields its reply;
//! a [`Layer`] wraps a handle in another. Metrics, rate limits and retries
//! on the client are layers. A channel without layers sends directly, with
//! no boxing.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use prism_core::{CodecId, Extensions, Metadata, Payload, Reply};
use prism_proto::session::OutgoingCall;
use prism_reflect::OpDescriptor;
use prism_transport::driver::Client;

use crate::layer_fn::LayerFn;

/// The future of a call's reply, as a layer returns it.
pub type ReplyFuture = Pin<Box<dyn Future<Output = Reply> + Send + 'static>>;

/// One call on its way out: encoded, its codec chosen.
pub struct Call {
    pub(crate) op: &'static OpDescriptor,
    pub(crate) codec: CodecId,
    pub(crate) timeout: Option<Duration>,
    pub(crate) payload: Payload,
    pub(crate) metadata: Metadata,
    pub(crate) extensions: Extensions,
}

impl Call {
    /// The op being called.
    pub fn op(&self) -> &'static OpDescriptor {
        self.op
    }

    /// The codec the request is encoded with.
    pub fn codec(&self) -> CodecId {
        self.codec
    }

    /// How long the call may take, if limited.
    pub fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Limits (or lifts, with `None`) how long the call may take.
    pub fn set_timeout(&mut self, timeout: Option<Duration>) {
        self.timeout = timeout;
    }

    /// The encoded request.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    /// The metadata sent with the call.
    pub fn metadata(&self) -> &Metadata {
        &self.metadata
    }

    /// The metadata sent with the call, to add to (a trace context, a
    /// request id). It refuses credentials: see [`Metadata::insert`].
    pub fn metadata_mut(&mut self) -> &mut Metadata {
        &mut self.metadata
    }

    /// Values layers attached to this call, for layers below them.
    pub fn extensions(&self) -> &Extensions {
        &self.extensions
    }

    /// Attaches values to this call, for layers below.
    pub fn extensions_mut(&mut self) -> &mut Extensions {
        &mut self.extensions
    }

    pub(crate) fn into_outgoing(self) -> OutgoingCall {
        OutgoingCall {
            op: self.op.id().get(),
            codec: self.codec,
            deadline: self.timeout,
            payload: self.payload,
            priority: crate::op_table::op_priority(self.op),
            metadata: self.metadata,
        }
    }
}

impl fmt::Debug for Call {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Call")
            .field("op", &self.op.full_name())
            .field("codec", &self.codec)
            .field("timeout", &self.timeout)
            .field("len", &self.payload.len())
            .field("metadata", &self.metadata)
            .finish()
    }
}

/// Sends a [`Call`] and yields its reply: the connection at the bottom of
/// the stack, a layer's wrapper above it (tower's `Service`).
pub trait Handle: Send + Sync + 'static {
    /// Sends one call. Dropping the returned future cancels the call.
    fn handle(&self, call: Call) -> ReplyFuture;
}

/// Wraps a [`Handle`] in another (tower's `Layer`). Layers added first to
/// [`ChannelBuilder::layer`](crate::ChannelBuilder::layer) see calls first.
pub trait Layer: Send + Sync + 'static {
    /// Wraps `inner`.
    fn layer(&self, inner: Arc<dyn Handle>) -> Arc<dyn Handle>;
}

/// A [`Layer`] from a function of the call and the next handle.
///
/// # Examples
///
/// Counting calls per channel:
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use prism::client::layer_fn;
///
/// let calls = Arc::new(AtomicU64::new(0));
/// let counted = Arc::clone(&calls);
/// let layer = layer_fn(move |call, next| {
///     counted.fetch_add(1, Ordering::Relaxed);
///     next.handle(call)
/// });
/// let builder = prism::Channel::builder().layer(layer);
/// # drop(builder);
/// ```
pub fn layer_fn<F>(f: F) -> LayerFn<F>
where
    F: Fn(Call, &Arc<dyn Handle>) -> ReplyFuture + Send + Sync + 'static,
{
    LayerFn::new(f)
}

/// The bottom of the stack: the connection.
pub(crate) struct Connection(pub(crate) Client);

impl Handle for Connection {
    fn handle(&self, call: Call) -> ReplyFuture {
        Box::pin(self.0.call(call.into_outgoing()))
    }
}
