//! The client side's handle on a connection, and the future of one call.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::{ConnectionInfo, Failure, Reply};
use crate::Code;
use crate::frame::Body;

/// What clients ask of the connection task.
pub(crate) enum Command {
    Call {
        ticket: u64,
        op: u64,
        codec: u16,
        deadline: Option<Duration>,
        body: Body,
        reply: oneshot::Sender<Result<Reply, Failure>>,
    },
    /// The caller dropped its [`PendingCall`]: cancel the call on the server.
    Cancel { ticket: u64 },
    /// Finish in-flight calls, refuse new ones, then close.
    GoAway,
}

struct Shared {
    commands: mpsc::UnboundedSender<Command>,
    next_ticket: AtomicU64,
    info: Arc<ConnectionInfo>,
}

/// A cheap, cloneable handle for making calls on one connection.
///
/// Calls go to the connection task through an unbounded queue; the number in
/// flight is bounded by the peer's channel limit, which the session enforces
/// (a call above it fails with `RESOURCE_EXHAUSTED`).
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl core::fmt::Debug for Client {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Client")
            .field("peer", &self.shared.info.link.peer)
            .field("closed", &self.is_closed())
            .finish()
    }
}

impl Client {
    pub(crate) fn new(
        commands: mpsc::UnboundedSender<Command>,
        info: Arc<ConnectionInfo>,
    ) -> Client {
        Client {
            shared: Arc::new(Shared {
                commands,
                next_ticket: AtomicU64::new(0),
                info,
            }),
        }
    }

    /// Starts a call. Nothing is sent until the connection task runs, which
    /// happens without this future being polled.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future before it completes cancels the call:
    /// the server drops its handler.
    pub fn call(&self, op: u64, codec: u16, deadline: Option<Duration>, body: Body) -> PendingCall {
        let ticket = self.shared.next_ticket.fetch_add(1, Ordering::Relaxed);
        let (reply, rx) = oneshot::channel();
        let command = Command::Call {
            ticket,
            op,
            codec,
            deadline,
            body,
            reply,
        };
        match self.shared.commands.send(command) {
            Ok(()) => PendingCall {
                client: self.clone(),
                ticket,
                state: State::Waiting(rx),
            },
            Err(_) => PendingCall {
                client: self.clone(),
                ticket,
                state: State::Failed(Some(closed())),
            },
        }
    }

    /// Facts about the connection: link, peer address, the peer's handshake.
    pub fn info(&self) -> &ConnectionInfo {
        &self.shared.info
    }

    /// Whether the connection task has stopped.
    pub fn is_closed(&self) -> bool {
        self.shared.commands.is_closed()
    }

    /// Asks the connection to finish in-flight calls and close.
    pub fn go_away(&self) {
        let _ = self.shared.commands.send(Command::GoAway);
    }
}

fn closed() -> Failure {
    Failure::new(Code::Unavailable, "the connection is closed")
}

enum State {
    Waiting(oneshot::Receiver<Result<Reply, Failure>>),
    Failed(Option<Failure>),
    Done,
}

/// The reply to one call, still encoded.
pub struct PendingCall {
    client: Client,
    ticket: u64,
    state: State,
}

impl core::fmt::Debug for PendingCall {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PendingCall")
            .field("ticket", &self.ticket)
            .finish()
    }
}

impl Future for PendingCall {
    type Output = Result<Reply, Failure>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let result = match &mut this.state {
            State::Waiting(rx) => match ready!(Pin::new(rx).poll(cx)) {
                Ok(result) => result,
                Err(_) => Err(Failure::new(
                    Code::Unavailable,
                    "the connection closed before the reply arrived",
                )),
            },
            State::Failed(failure) => Err(failure.take().unwrap_or_else(closed)),
            State::Done => Err(Failure::new(
                Code::Internal,
                "call polled after it completed",
            )),
        };
        this.state = State::Done;
        Poll::Ready(result)
    }
}

impl Drop for PendingCall {
    fn drop(&mut self) {
        if matches!(self.state, State::Waiting(_)) {
            let _ = self.client.shared.commands.send(Command::Cancel {
                ticket: self.ticket,
            });
        }
    }
}
