//! A server connection's running datagram handlers: fire-and-forget, so
//! nothing is answered, and bounded, so a flood of datagrams holds no more
//! than a channel limit's worth of handlers. A datagram that finds the
//! limit reached is dropped and counted: it is at-most-once by nature. A
//! datagram has no deadline from its sender, so a handler that has not
//! finished after [`DATAGRAM_TIMEOUT`] is stopped (and counted as
//! dropped): a hung handler cannot hold its slot for ever.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::task::JoinHandle;

use super::server::poll_caught;
use super::{Answer, Dispatched, Execution, HandlerFuture};

/// The longest a datagram op's handler runs: a datagram has no deadline of
/// its own.
pub const DATAGRAM_TIMEOUT: Duration = Duration::from_secs(30);

/// `future`, given up (as failed) after [`DATAGRAM_TIMEOUT`].
fn bounded(future: HandlerFuture) -> HandlerFuture {
    Box::pin(async move {
        match tokio::time::timeout(DATAGRAM_TIMEOUT, future).await {
            Ok(answer) => answer,
            Err(_) => Answer::Reply(Err(prism_core::Status::deadline_exceeded(
                "the datagram's handler ran past its time",
            ))),
        }
    })
}

/// What became of one datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Served {
    /// Its handler ran and succeeded.
    Ok,
    /// It was refused, its handler failed or panicked, or no room was left.
    Dropped,
}

/// Running datagram handlers.
pub(super) struct DatagramHandlers {
    running: FuturesUnordered<Running>,
    limit: usize,
}

/// One running handler; a spawned one is stopped when this is dropped.
enum Running {
    Inline(HandlerFuture),
    Spawned(JoinHandle<Answer>),
}

impl Drop for Running {
    fn drop(&mut self) {
        if let Running::Spawned(handle) = self {
            handle.abort();
        }
    }
}

impl Future for Running {
    type Output = Served;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Served> {
        let answer = match self.get_mut() {
            Running::Inline(future) => match poll_caught(future, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(answer)) => Some(answer),
                Poll::Ready(Err(_panicked)) => None,
            },
            Running::Spawned(handle) => match Pin::new(handle).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(answer)) => Some(answer),
                Poll::Ready(Err(_)) => None,
            },
        };
        Poll::Ready(served(answer))
    }
}

/// A handler's answer to a datagram: its result is all that counts.
fn served(answer: Option<Answer>) -> Served {
    match answer {
        Some(Answer::Reply(Ok(response))) if !response.app_error => Served::Ok,
        Some(Answer::Reply(_) | Answer::Stream(_)) | None => Served::Dropped,
    }
}

impl DatagramHandlers {
    /// At most `limit` handlers running at once.
    pub(super) fn new(limit: usize) -> DatagramHandlers {
        DatagramHandlers {
            running: FuturesUnordered::new(),
            limit: limit.max(1),
        }
    }

    /// Runs a dispatched datagram where it asked to run; one that
    /// finishes at once is done at once.
    pub(super) fn start(&mut self, cx: &mut Context<'_>, dispatched: Dispatched) -> Served {
        let (mut future, execution) = match dispatched {
            Dispatched::Ready(reply) => return served(Some(Answer::Reply(reply))),
            Dispatched::Run { future, execution } => (future, execution),
        };
        if self.running.len() >= self.limit {
            return Served::Dropped;
        }
        let running = match execution {
            // Bounded only once it waits: one that finishes at once costs
            // no timer.
            Execution::Inline => match poll_caught(&mut future, cx) {
                Poll::Ready(Ok(answer)) => return served(Some(answer)),
                Poll::Ready(Err(_panicked)) => return Served::Dropped,
                Poll::Pending => Running::Inline(bounded(future)),
            },
            Execution::Spawn => Running::Spawned(tokio::spawn(bounded(future))),
        };
        self.running.push(running);
        Served::Ok
    }

    /// Whether another datagram finds room to run.
    pub(super) fn has_room(&self) -> bool {
        self.running.len() < self.limit
    }

    /// Step: handlers that finished, with how many of them failed.
    pub(super) fn drive(&mut self, cx: &mut Context<'_>, budget: usize) -> (bool, u64) {
        let (mut progressed, mut failed) = (false, 0);
        for _ in 0..budget {
            let Poll::Ready(Some(served)) = self.running.poll_next_unpin(cx) else {
                break;
            };
            progressed = true;
            if served == Served::Dropped {
                failed += 1;
            }
        }
        (progressed, failed)
    }

    /// Stops every running handler (the connection ended); returns how
    /// many were stopped.
    pub(super) fn cancel_all(&mut self) -> u64 {
        let stopped = self.running.len() as u64;
        self.running = FuturesUnordered::new();
        stopped
    }
}
