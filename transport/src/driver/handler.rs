//! The server side's hook: what the driver calls for each incoming call.

use core::future::Future;
use core::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use crate::frame::Body;
use crate::session::{ChannelId, Hello};
use crate::{Code, LinkInfo};

/// The future a handler returns. The driver polls it inside the connection
/// task and drops it when the caller cancels or the deadline passes: that
/// drop is how cancellation reaches the handler.
pub type HandlerFuture = Pin<Box<dyn Future<Output = Outcome> + Send + 'static>>;

/// Serves calls arriving on a connection. The runtime's router implements
/// it; the driver knows nothing of ops or codecs beyond their numbers.
pub trait Handler: Send + Sync + 'static {
    /// Starts handling one call.
    fn call(&self, call: IncomingCall) -> HandlerFuture;
}

/// One call, as the driver hands it to a [`Handler`].
#[derive(Debug)]
pub struct IncomingCall {
    /// The channel the call arrived on.
    pub channel: ChannelId,
    /// The op id from the call frame.
    pub op: u64,
    /// The codec id from the call frame.
    pub codec: u16,
    /// When the caller stops waiting.
    pub deadline: Option<Instant>,
    /// The encoded request; its first segment is 16-byte aligned when the
    /// link could arrange it.
    pub body: Body,
    /// The connection the call arrived on.
    pub connection: Arc<ConnectionInfo>,
}

/// Facts about a connection, shared by every call on it.
#[derive(Debug)]
pub struct ConnectionInfo {
    /// The link's kind, peer address and security properties.
    pub link: LinkInfo,
    /// What the peer said in its handshake.
    pub peer_hello: Hello,
}

/// How a handler finished.
#[derive(Debug)]
pub enum Outcome {
    /// A response (or the op's application error, with `app_error`).
    Reply {
        /// The codec the body is encoded with.
        codec: u16,
        /// The encoded body, possibly several segments.
        body: Body,
        /// Whether `body` is the op's application error.
        app_error: bool,
    },
    /// A status error.
    Fail {
        /// The status code.
        code: Code,
        /// A human-readable reason; never payload bytes.
        message: String,
    },
}
