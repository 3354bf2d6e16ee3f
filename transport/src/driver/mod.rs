//! The async drivers: one task per connection moves frames between a
//! [`Link`](crate::Link) and a [`Session`](prism_proto::session::Session).
//!
//! Each role has its own driver, in quinn's `ConnectionDriver` shape: every
//! wake-up runs named steps (`drive_recv`, `drive_commands` or
//! `drive_handlers`, `drive_admission`, `drive_timer`, `drive_events`,
//! `drive_transmit`) that each report whether they made progress; one
//! `keep_going` flag decides whether to run another turn or to park until
//! the next timer. A burst of calls therefore leaves in one vectored write.
//!
//! - [`connect`] spawns a client connection's driver and returns a
//!   [`Client`] handle; calls reach the task through a queue, so no task is
//!   spawned per call.
//! - [`serve`] runs a server connection in the calling task; a [`Handler`]
//!   turns each call into a [`Dispatched`] answer, run inline (the fast
//!   path) or in a spawned task ([`Execution`]).
//! - Streams cross the task as [`Outbound`] streams the driver pulls while
//!   their channel takes messages, and [`Inbound`] queues whose consumers
//!   give credit back as they read (`streams.rs`, `pumps.rs`).
//! - An [`Admission`] judges each peer's handshake, asynchronously.
//! - Every session event is matched exhaustively; every link failure goes
//!   one way; the reason a connection ended is kept as a
//!   [`ConnectionError`] (a panic in the driver is reported as a panic).
//! - [`ConnectionStats`] count frames, bytes, calls, failures and
//!   alignment copies per connection.

mod client;
mod conn;
mod datagrams;
mod error;
mod handler;
mod pumps;
mod queue;
mod server;
mod stats;
mod streams;

use std::sync::Arc;

pub use client::{
    Client, DatagramFallback, PendingCall, ReauthRequests, Request, StreamOpen, WeakClient, connect,
};
pub use datagrams::DATAGRAM_TIMEOUT;
pub use error::ConnectionError;
pub use handler::{
    AcceptAll, Admission, AdmitFuture, Admitted, Answer, ConnectionInfo, Directive, Dispatched,
    Execution, Guard, Handler, HandlerFuture, IncomingCall, ReauthFuture,
};
pub use server::serve;
pub use stats::{ConnectionStats, StatsCell};
pub use streams::{Inbound, Outbound, Received, StreamItem};

use prism_proto::session::SessionConfig;

/// What a connection needs besides its link: its session's settings, the
/// judge of the peer's handshake, and where its statistics go.
#[derive(Clone)]
pub struct Setup {
    /// Limits, timers and features of the session.
    pub session: SessionConfig,
    /// Judges the peer's HELLO.
    pub admission: Arc<dyn Admission>,
    /// Where the connection publishes its statistics.
    pub stats: Arc<StatsCell>,
}

impl Setup {
    /// A setup with `session`'s settings, accepting every peer with an
    /// empty ACCEPT, and fresh statistics.
    pub fn new(session: SessionConfig) -> Setup {
        Setup {
            session,
            admission: Arc::new(AcceptAll::default()),
            stats: Arc::default(),
        }
    }

    /// Judges the peer's HELLO with `admission`.
    #[must_use]
    pub fn with_admission(mut self, admission: Arc<dyn Admission>) -> Setup {
        self.admission = admission;
        self
    }

    /// Publishes statistics to `stats`.
    #[must_use]
    pub fn with_stats(mut self, stats: Arc<StatsCell>) -> Setup {
        self.stats = stats;
        self
    }
}

impl core::fmt::Debug for Setup {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Setup")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

/// The time the drivers give their sessions: the runtime's clock (tokio's
/// on native targets, so a test that pauses it with `tokio::time::pause`
/// moves keepalives, deadlines and frame timeouts with the timers that
/// wake the drivers for them).
fn now() -> crate::rt::Instant {
    crate::rt::now()
}
