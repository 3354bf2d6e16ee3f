//! `Context`: what a handler knows about the call it is serving.

use std::sync::Arc;
use std::time::Duration;

use prism_transport::rt::{self, Instant};

use prism_core::{CodecId, Extensions, Metadata};
use prism_reflect::OpDescriptor;
use prism_transport::driver::{ConnectionInfo, ConnectionStats};
use prism_transport::{LinkInfo, PeerAddr, SecurityProperties};

use crate::ConnectionState;
use crate::auth::ChannelIdentity;

tokio::task_local! {
    static CURRENT: Context;
}

/// The call a handler is serving: its op, deadline, peer, and what layers
/// learned about it.
///
/// A handler reads it in one of two ways: by naming a `cx: &prism::Context`
/// argument in the service trait (it is not part of the request; clients
/// never pass it), or from anywhere in the handler's task with
/// [`Context::current`]. Cancellation needs no polling: when the caller
/// cancels, or the deadline passes, the handler's future is dropped.
///
/// The caller's [`Metadata`] is [`Context::metadata`]; values server
/// layers attach to the call before the handler runs travel in its
/// extensions.
///
/// # Examples
///
/// ```
/// // Outside a call there is no context.
/// assert!(prism::Context::current().is_none());
/// ```
#[derive(Clone)]
pub struct Context {
    op: &'static OpDescriptor,
    codec: CodecId,
    deadline: Option<Instant>,
    connection: Arc<ConnectionInfo>,
    /// Who the connection was authenticated as when the call was routed.
    identity: Option<Arc<ChannelIdentity>>,
    /// The caller's metadata; `None` when it sent none.
    metadata: Option<Arc<Metadata>>,
    /// The call's own extensions; `None` when no layer added any.
    extensions: Option<Arc<Extensions>>,
}

/// An empty map for calls without extensions of their own.
static NO_EXTENSIONS: Extensions = Extensions::new();

/// Empty metadata for calls that came without.
static NO_METADATA: Metadata = Metadata::new();

impl Context {
    pub(crate) fn new(
        op: &'static OpDescriptor,
        codec: CodecId,
        deadline: Option<Instant>,
        connection: Arc<ConnectionInfo>,
        identity: Option<Arc<ChannelIdentity>>,
        metadata: Metadata,
        extensions: Extensions,
    ) -> Self {
        Context {
            op,
            codec,
            deadline,
            connection,
            identity,
            metadata: (!metadata.is_empty()).then(|| Arc::new(metadata)),
            extensions: (!extensions.is_empty()).then(|| Arc::new(extensions)),
        }
    }

    /// The context of the call the current task is serving, if any.
    pub fn current() -> Option<Context> {
        CURRENT.try_with(Context::clone).ok()
    }

    pub(crate) fn scope<F: Future>(self, fut: F) -> impl Future<Output = F::Output> {
        CURRENT.scope(self, fut)
    }

    /// The op being served.
    pub fn op(&self) -> &'static OpDescriptor {
        self.op
    }

    /// The codec the request came with (the response goes back in it).
    pub fn codec(&self) -> CodecId {
        self.codec
    }

    /// When the caller stops waiting, if it set a deadline.
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// Time left before the deadline: `None` without a deadline, zero once it passed.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline
            .map(|d| d.saturating_duration_since(rt::now()))
    }

    /// The peer's address as the link reports it.
    pub fn peer(&self) -> &PeerAddr {
        &self.connection.link.peer
    }

    /// The link the call arrived on.
    pub fn link(&self) -> &LinkInfo {
        &self.connection.link
    }

    /// What the link protects.
    pub fn security(&self) -> SecurityProperties {
        self.connection.link.kind.security
    }

    /// Who the call's connection is authenticated as, as of when the call
    /// was authorized (a re-authentication later does not change it for
    /// this call); `None` on a connection without identity (only public
    /// ops run there).
    pub fn identity(&self) -> Option<&ChannelIdentity> {
        self.identity.as_deref()
    }

    /// The values calls on this connection leave for later calls on it
    /// (a login op's session).
    /// It is a handle: clones share the map.
    pub fn connection_state(&self) -> ConnectionState {
        // Every connection a server admits has one; a fresh one otherwise,
        // so nothing is ever shared across connections.
        self.connection
            .extensions
            .get::<ConnectionState>()
            .cloned()
            .unwrap_or_default()
    }

    /// The metadata the caller sent with the call (empty if none): a
    /// request id, a trace context. Never a credential: the session
    /// refuses calls whose metadata carries one, before they reach a
    /// handler.
    pub fn metadata(&self) -> &Metadata {
        self.metadata.as_deref().unwrap_or(&NO_METADATA)
    }

    /// The value of type `T` a layer attached to this call, if any.
    pub fn extension<T: Send + Sync + 'static>(&self) -> Option<&T> {
        self.extensions().get::<T>()
    }

    /// The values server layers attached to this call.
    pub fn extensions(&self) -> &Extensions {
        self.extensions.as_deref().unwrap_or(&NO_EXTENSIONS)
    }

    /// What the call's connection moved so far.
    pub fn connection_stats(&self) -> ConnectionStats {
        self.connection.stats()
    }
}

impl core::fmt::Debug for Context {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Context")
            .field("op", &self.op.full_name())
            .field("codec", &self.codec)
            .field("deadline", &self.deadline)
            .field("peer", &self.connection.link.peer)
            .field("identity", &self.identity().map(ChannelIdentity::subject))
            .field("metadata", self.metadata())
            .field("extensions", &self.extensions().len())
            .finish()
    }
}
