//! The async driver: one task per connection that moves frames between a
//! [`Link`](crate::Link) and a [`Session`](crate::session::Session).
//!
//! The driver is thin and codec-blind. Each time it wakes it drains
//! everything that is ready — frames from the link, calls from clients,
//! finished handlers, due timers — feeds it to the session, queues every
//! frame the session produced, and flushes the link once, so a burst of
//! calls leaves in one vectored write. Handlers run inside the connection
//! task (no task is spawned per call), and client calls reach it through a
//! channel (no task is spawned per call on that side either).

mod client;
mod handler;
mod run;

pub use client::{Client, PendingCall};
pub use handler::{ConnectionInfo, Handler, HandlerFuture, IncomingCall, Outcome};
pub use run::{ConnectError, Connection, DriverError, connect, serve};

use crate::Code;

/// A successful reply to a client call, still encoded.
#[derive(Debug)]
pub struct Reply {
    /// The codec the server encoded the body with.
    pub codec: u16,
    /// The response, or the op's application error when `app_error` is set.
    pub body: crate::frame::Body,
    /// Whether `body` holds the op's application error.
    pub app_error: bool,
}

/// Why a client call ended without a reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The status code.
    pub code: Code,
    /// A human-readable reason; never payload bytes.
    pub message: String,
}

impl Failure {
    pub(crate) fn new(code: Code, message: impl Into<String>) -> Self {
        Failure {
            code,
            message: message.into(),
        }
    }
}
