//! The client's middleware seam: every call, encoded and about to be sent,
//! passes a stack of [`Layer`]s on its [`Channel`](crate::Channel), and
//! every stream open passes each layer's [`Layer::open`].
//!
//! The shape is tower's: a [`Handle`] sends a [`Call`] and yields its reply;
//! a [`Layer`] wraps a handle in another. Metrics, rate limits and retries
//! on the client are layers. A channel whose layers wrap nothing (none, or
//! only [`open_fn`] ones) sends unary calls directly, with no boxing. A stream has no single reply to wrap, so a layer sees its
//! open as an interceptor does (tonic's shape): an [`Open`] it may read,
//! add metadata to, bound with a timeout or refuse, before anything is
//! sent.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prism_core::{CodecId, Extensions, Metadata, Payload, Reply, Status};
use prism_proto::session::OutgoingCall;
use prism_reflect::OpDescriptor;
use prism_transport::driver::Client;
use prism_transport::rt::Instant;

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
    pub(crate) attempt: Attempt,
}

/// Which attempt of its call a [`Call`] is, for the bottom of the stack: a
/// reconnecting channel sends a call its connection never processed once
/// more, and the deadline the layers gave the first attempt bounds both.
pub(crate) enum Attempt {
    /// The only one, or a first one no layer can change (the channel
    /// knows its deadline already).
    Only,
    /// The first of possibly two: its deadline, as the layers left it, is
    /// kept here for the second.
    First(Arc<OnceLock<Option<Instant>>>),
    /// The second: the first's deadline still bounds it, whatever timeout
    /// the layers set afresh.
    Again(Option<Instant>),
}

/// The accessors a [`Call`] and an [`Open`] share, `$what` naming it in
/// their docs: op, codec, timeout, metadata and extensions.
macro_rules! head_accessors {
    ($what:literal) => {
        #[doc = concat!("The op of this ", $what, " (its [`kind`](OpDescriptor::kind) says which kind of call).")]
        pub fn op(&self) -> &'static OpDescriptor {
            self.op
        }

        #[doc = concat!("The codec this ", $what, "'s messages are encoded with.")]
        pub fn codec(&self) -> CodecId {
            self.codec
        }

        #[doc = concat!("How long the ", $what, " may take, if limited (a stream's: the whole stream).")]
        pub fn timeout(&self) -> Option<Duration> {
            self.timeout
        }

        #[doc = concat!("Limits (or lifts, with `None`) how long the ", $what, " may take.")]
        pub fn set_timeout(&mut self, timeout: Option<Duration>) {
            self.timeout = timeout;
        }

        #[doc = concat!("The metadata sent with the ", $what, ".")]
        pub fn metadata(&self) -> &Metadata {
            &self.metadata
        }

        #[doc = concat!("The metadata sent with the ", $what, ", to add to (a trace context, a")]
        /// request id). It refuses credentials: see [`Metadata::insert`].
        pub fn metadata_mut(&mut self) -> &mut Metadata {
            &mut self.metadata
        }

        #[doc = concat!("Values earlier layers attached to this ", $what, ".")]
        pub fn extensions(&self) -> &Extensions {
            &self.extensions
        }

        #[doc = concat!("Attaches values to this ", $what, ", for the layers after this one.")]
        pub fn extensions_mut(&mut self) -> &mut Extensions {
            &mut self.extensions
        }
    };
}

impl Call {
    head_accessors!("call");

    /// The encoded request.
    pub fn payload(&self) -> &Payload {
        &self.payload
    }

    pub(crate) fn into_outgoing(self) -> OutgoingCall {
        let timeout = match self.attempt {
            Attempt::Only => self.timeout,
            Attempt::First(deadline) => {
                deadline.get_or_init(|| super::deadline_after(self.timeout));
                self.timeout
            }
            Attempt::Again(deadline) => super::within(self.timeout, deadline),
        };
        OutgoingCall {
            op: self.op.id().get(),
            codec: self.codec,
            deadline: timeout,
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

/// A stream about to be opened (a server, client or bidirectional stream
/// call), as [`Layer::open`] sees it: its op, codec, timeout, metadata and
/// the values earlier layers attached. Its request is not here: it may be a
/// stream not sent yet.
pub struct Open {
    pub(crate) op: &'static OpDescriptor,
    pub(crate) codec: CodecId,
    pub(crate) timeout: Option<Duration>,
    pub(crate) metadata: Metadata,
    pub(crate) extensions: Extensions,
}

impl Open {
    head_accessors!("open");
}

impl fmt::Debug for Open {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Open")
            .field("op", &self.op.full_name())
            .field("codec", &self.codec)
            .field("timeout", &self.timeout)
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

/// Wraps a [`Handle`] in another (tower's `Layer`), and sees each stream
/// open. Layers added first to
/// [`ChannelBuilder::layer`](crate::ChannelBuilder::layer) see calls and
/// opens first.
///
/// # Examples
///
/// A request id on every call and every stream:
///
/// ```
/// use std::sync::Arc;
/// use prism::client::{Call, Handle, Layer, Open, ReplyFuture};
/// use prism::Status;
///
/// struct RequestIds;
///
/// struct Tagged(Arc<dyn Handle>);
///
/// impl Handle for Tagged {
///     fn handle(&self, mut call: Call) -> ReplyFuture {
///         if let Err(e) = call.metadata_mut().insert("request-id", "r-1") {
///             return Box::pin(async move { Err(Status::invalid_argument(e.to_string())) });
///         }
///         self.0.handle(call)
///     }
/// }
///
/// impl Layer for RequestIds {
///     fn layer(&self, inner: Arc<dyn Handle>) -> Arc<dyn Handle> {
///         Arc::new(Tagged(inner))
///     }
///
///     fn open(&self, open: &mut Open) -> Result<(), Status> {
///         match open.metadata_mut().insert("request-id", "r-1") {
///             Ok(_) => Ok(()),
///             Err(e) => Err(Status::invalid_argument(e.to_string())),
///         }
///     }
/// }
///
/// let builder = prism::Channel::builder().layer(RequestIds);
/// # drop(builder);
/// ```
pub trait Layer: Send + Sync + 'static {
    /// Wraps `inner`: the handle unary calls pass.
    fn layer(&self, inner: Arc<dyn Handle>) -> Arc<dyn Handle>;

    /// Sees a stream open before it is sent, after the layers added before
    /// this one and before those added after it. An error refuses the
    /// open: the stream call fails with that status and nothing is sent.
    /// By default the open passes unchanged.
    ///
    /// Layers run once the channel has a connection, so a timeout set here
    /// bounds the stream, not the wait for a connection. A server-stream
    /// open that a reconnecting channel sends again (its first connection
    /// never processed it) passes the layers again, with the caller's
    /// metadata, within what was left of its first timeout. A layer sees
    /// the open, not the stream's end: it can bound a stream's time but not
    /// count the streams running.
    fn open(&self, open: &mut Open) -> Result<(), Status> {
        let _ = open;
        Ok(())
    }
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

/// A [`Layer`] that passes unary calls unchanged and calls `f` with each
/// stream open: the closure form of [`Layer::open`].
///
/// # Examples
///
/// Streams of one op get at most a minute:
///
/// ```
/// use std::time::Duration;
/// use prism::client::open_fn;
///
/// let layer = open_fn(|open| {
///     if open.op().method() == "watch" {
///         let limit = Duration::from_secs(60);
///         open.set_timeout(Some(open.timeout().map_or(limit, |t| t.min(limit))));
///     }
///     Ok(())
/// });
/// let builder = prism::Channel::builder().layer(layer);
/// # drop(builder);
/// ```
pub fn open_fn<F>(f: F) -> OpenFn<F>
where
    F: Fn(&mut Open) -> Result<(), Status> + Send + Sync + 'static,
{
    OpenFn(f)
}

/// The layer of [`open_fn`].
pub struct OpenFn<F>(F);

impl<F> fmt::Debug for OpenFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OpenFn")
    }
}

impl<F> Layer for OpenFn<F>
where
    F: Fn(&mut Open) -> Result<(), Status> + Send + Sync + 'static,
{
    fn layer(&self, inner: Arc<dyn Handle>) -> Arc<dyn Handle> {
        inner
    }

    fn open(&self, open: &mut Open) -> Result<(), Status> {
        (self.0)(open)
    }
}

/// The bottom of the stack: the connection.
pub(crate) struct Connection(pub(crate) Client);

impl Handle for Connection {
    fn handle(&self, call: Call) -> ReplyFuture {
        Box::pin(self.0.call(call.into_outgoing()))
    }
}
