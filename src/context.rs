//! `Context`: what a handler knows about the call it is serving.

use std::sync::Arc;
use std::time::{Duration, Instant};

use prism_reflect::{CodecId, OpDescriptor};
use prism_transport::driver::ConnectionInfo;
use prism_transport::{LinkInfo, SecurityProperties};

tokio::task_local! {
    static CURRENT: Context;
}

/// The call a handler is serving: its op, its deadline and its peer.
///
/// Handlers read it with [`Context::current`]. Cancellation needs no
/// polling: when the caller cancels, or the deadline passes, the handler's
/// future is dropped.
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
}

impl Context {
    pub(crate) fn new(
        op: &'static OpDescriptor,
        codec: CodecId,
        deadline: Option<Instant>,
        connection: Arc<ConnectionInfo>,
    ) -> Self {
        Context {
            op,
            codec,
            deadline,
            connection,
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
            .map(|d| d.saturating_duration_since(Instant::now()))
    }

    /// The peer's address as the link reports it.
    pub fn peer(&self) -> &str {
        &self.connection.link.peer
    }

    /// The link the call arrived on.
    pub fn link(&self) -> &LinkInfo {
        &self.connection.link
    }

    /// What the link protects.
    pub fn security(&self) -> SecurityProperties {
        self.connection.link.security
    }
}

impl core::fmt::Debug for Context {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Context")
            .field("op", &self.op)
            .field("codec", &self.codec)
            .field("deadline", &self.deadline)
            .field("peer", &self.connection.link.peer)
            .finish()
    }
}
