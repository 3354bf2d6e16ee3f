//! Push subscriptions: server streams with a stated policy for readers
//! that fall behind ([`Lag`]).
//!
//! A plain server stream already paces its producer by the reader: the
//! handler's stream is pulled only as the reader grants credit. That is
//! [`Lag::Wait`]. A feed that must not wait for anyone (market ticks,
//! telemetry, presence) instead takes [`Lag::DropOldest`]: a task pulls the
//! handler's stream as fast as it produces into a ring of `buffer` items,
//! which the connection empties while the reader's window has credit; when
//! the ring is full the oldest item is dropped and counted, and the reader
//! is told how many it missed before its next item
//! ([`Streaming::missed`](super::Streaming::missed) on the client). So a
//! reader falls behind by what its stream window holds (256 KiB by
//! default: thousands of small items) plus `buffer` items before it
//! misses any.

use core::future::Future;
use core::task::Poll;
use std::collections::VecDeque;
use std::panic::AssertUnwindSafe;
use std::sync::{Arc, Mutex, PoisonError};

use futures_util::FutureExt;
use futures_util::stream::StreamExt;
use prism_core::Status;
use prism_transport::driver::{Outbound, StreamItem};
use tokio::sync::Notify;

/// What a push subscription does when its reader falls behind.
///
/// Written on the op: `#[prism(subscription)]` (drop oldest, 64 items),
/// `#[prism(subscription = "drop_oldest", buffer = 256)]`, or
/// `#[prism(subscription = "wait")]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lag {
    /// The producer waits for the reader: nothing is lost, and a slow
    /// reader slows its own stream (as any stream does).
    Wait,
    /// The producer never waits: beyond what the reader's stream window
    /// holds, up to `buffer` items wait for it; past that the oldest are
    /// dropped, and the reader learns how many before its next item.
    DropOldest {
        /// Items held for a slow reader (at least 1).
        buffer: usize,
    },
}

impl Lag {
    /// `#[prism(subscription)]`: drop the oldest of 64 items.
    pub const DEFAULT: Lag = Lag::DropOldest { buffer: 64 };

    /// `stream` under this policy.
    pub(crate) fn apply(self, stream: Outbound) -> Outbound {
        match self {
            Lag::Wait => stream,
            Lag::DropOldest { buffer } => drop_oldest(stream, buffer.max(1)),
        }
    }
}

/// The ring between the producer's task and the connection.
#[derive(Default)]
struct Ring {
    items: VecDeque<StreamItem>,
    /// Dropped since the reader last heard of it.
    missed: u64,
    /// The producer's stream ended (its last item, if any, is queued).
    ended: bool,
}

struct Shared {
    ring: Mutex<Ring>,
    /// Wakes the connection's side when an item or the end arrives.
    ready: Arc<Notify>,
}

/// Stops the producer's task when the connection's side is dropped (the
/// call was cancelled, or the connection closed).
struct AbortOnDrop(tokio::task::AbortHandle);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

fn drop_oldest(mut stream: Outbound, buffer: usize) -> Outbound {
    let shared = Arc::new(Shared {
        ring: Mutex::new(Ring::default()),
        ready: Arc::new(Notify::new()),
    });
    let producer = Arc::clone(&shared);
    let task = tokio::spawn(async move {
        loop {
            // A producer that panics ends its stream with `INTERNAL`, as
            // one pulled by the connection does; it is not polled again.
            let item = match AssertUnwindSafe(stream.next()).catch_unwind().await {
                Ok(item) => item,
                Err(_) => {
                    let status = Status::internal("the stream's producer panicked");
                    Some(StreamItem::Close(Err(status)))
                }
            };
            let mut ring = producer.ring.lock().unwrap_or_else(PoisonError::into_inner);
            match item {
                Some(StreamItem::Message(payload)) => {
                    if ring.items.len() >= buffer {
                        // A close (never dropped) only comes last.
                        ring.items.pop_front();
                        ring.missed += 1;
                    }
                    ring.items.push_back(StreamItem::Message(payload));
                }
                Some(StreamItem::Skipped(count)) => ring.missed += count,
                Some(close @ StreamItem::Close(_)) => {
                    ring.items.push_back(close);
                    ring.ended = true;
                }
                None => ring.ended = true,
            }
            let ended = ring.ended;
            drop(ring);
            producer.ready.notify_one();
            if ended {
                return;
            }
        }
    });
    let guard = AbortOnDrop(task.abort_handle());
    let mut waiting = Box::pin(Arc::clone(&shared.ready).notified_owned());
    Box::pin(futures_util::stream::poll_fn(move |cx| {
        let _alive = &guard;
        loop {
            {
                let mut ring = shared.ring.lock().unwrap_or_else(PoisonError::into_inner);
                if ring.missed > 0 {
                    let count = core::mem::take(&mut ring.missed);
                    return Poll::Ready(Some(StreamItem::Skipped(count)));
                }
                if let Some(item) = ring.items.pop_front() {
                    return Poll::Ready(Some(item));
                }
                if ring.ended {
                    return Poll::Ready(None);
                }
            }
            // Nothing yet: wait for the producer (a notification that came
            // meanwhile is kept by `Notify` and wakes the next poll).
            if waiting.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            waiting.set(Arc::clone(&shared.ready).notified_owned());
        }
    }))
}
