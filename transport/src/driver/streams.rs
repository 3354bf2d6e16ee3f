//! Streams through a connection task, as both drivers carry them.
//!
//! - **Out**: a producer hands the driver an [`Outbound`] stream of
//!   [`StreamItem`]s. The driver pulls it only while its channel takes
//!   another message (the session holds one per channel until credit lets
//!   it out), so backpressure reaches the producer without a queue to
//!   size (the runtime's `StreamSender` feeds one and so waits for credit).
//! - **In**: the driver delivers a channel's chunks to an [`Inbound`]
//!   queue; its consumer puts messages back together and gives their credit
//!   back as it reads them ([`Control::Release`]), so the peer sends only as
//!   fast as this side consumes, and what waits in the queue stays within
//!   the channel's window.

use core::fmt;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::stream::Stream;
use prism_core::{Code, Payload, Reply, Status};
use prism_proto::session::{ChannelId, Chunk, Message, Reassembler};
use tokio::sync::mpsc;

/// One item of an outgoing stream.
#[derive(Debug)]
pub enum StreamItem {
    /// A message, encoded with the channel's codec.
    Message(Payload),
    /// Ends the stream with an answer instead of a normal end: a status, or
    /// (from a callee) the op's application error. A caller's request
    /// stream that closes so cancels its call.
    Close(Reply),
    /// (From a callee) this many items were dropped here: the reader fell
    /// behind a push subscription. The reader counts them.
    Skipped(u64),
}

/// An outgoing stream: items until it ends (a normal end) or yields
/// [`StreamItem::Close`].
pub type Outbound = Pin<Box<dyn Stream<Item = StreamItem> + Send + 'static>>;

/// What the driver delivers to an [`Inbound`] queue.
#[derive(Debug)]
pub(crate) enum Delivery {
    /// The callee accepted the call: its response stream is open.
    Opened,
    /// The callee dropped this many items on `channel`; the marker holds
    /// its bytes of credit until it is taken.
    Skipped(ChannelId, u64, u64),
    /// A chunk of a message on `channel`.
    Chunk(ChannelId, Chunk),
    /// The peer ended its direction.
    End,
    /// The channel ended with an answer (a caller's stream) or failed.
    Closed(Reply),
}

/// The driver's end of an [`Inbound`] queue.
#[derive(Debug)]
pub(crate) struct Feed {
    tx: mpsc::UnboundedSender<Delivery>,
    /// Set when a failure must overtake what is queued.
    urgent: Arc<AtomicBool>,
}

impl Feed {
    /// Queues `delivery` behind what is queued; false when the consumer is
    /// gone (its chunk's credit is then the driver's to give back).
    pub(crate) fn send(&self, delivery: Delivery) -> bool {
        self.tx.send(delivery).is_ok()
    }

    /// Ends the stream with `reply`, behind what is queued: the items the
    /// peer sent before its answer stay delivered (a producer that failed
    /// or gave up, `CANCELLED`, included), and so do those before a lost
    /// connection's `UNAVAILABLE`. Only a passed deadline goes ahead of
    /// them: the call's time is up, and a consumer that stopped reading
    /// must not read a window of stale items before it learns. (A call
    /// this side cancels uses [`close_as`](Self::close_as).)
    pub(crate) fn close(&self, reply: Reply) {
        let urgent = matches!(&reply, Err(status) if status.code() == Code::DeadlineExceeded);
        self.close_as(reply, urgent);
    }

    /// Ends the stream with `reply`, ahead of what is queued if `urgent`.
    pub(crate) fn close_as(&self, reply: Reply, urgent: bool) {
        if self.tx.send(Delivery::Closed(reply)).is_ok() && urgent {
            self.urgent.store(true, Ordering::Release);
        }
    }
}

/// What consumers tell their connection's driver.
#[derive(Debug)]
pub(crate) enum Control {
    /// Bytes consumed on a channel: grant them back.
    Release { channel: ChannelId, bytes: u64 },
    /// The consumer is gone: a caller's cancels the call; a callee's stops
    /// the request direction.
    Dropped { key: Key },
}

/// Names an [`Inbound`] to its driver.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Key {
    /// A caller's stream, by its call's ticket (its channel is known to
    /// the driver only).
    Ticket(u64),
    /// A callee's request stream, by channel.
    Channel(ChannelId),
    /// Nobody: a stream that failed before it began.
    None,
}

/// Where an [`Inbound`] sends its [`Control`]s: a server's control queue,
/// or a client's command queue (so a drop never overtakes its own open).
#[derive(Clone, Debug)]
pub(crate) enum ControlTx {
    Queue(mpsc::UnboundedSender<Control>),
    Commands(mpsc::UnboundedSender<super::client::Command>),
}

impl ControlTx {
    fn send(&self, control: Control) {
        // A closed queue means the connection is gone: nothing to tell.
        let _ = match self {
            ControlTx::Queue(tx) => tx.send(control).map_err(drop),
            ControlTx::Commands(tx) => tx
                .send(super::client::Command::Control(control))
                .map_err(drop),
        };
    }
}

/// What an [`Inbound`] stream yields.
#[derive(Debug)]
pub enum Received {
    /// A whole message, its first segment 16-byte aligned.
    Message(Message),
    /// The peer ended its direction normally.
    End,
    /// The channel ended with an answer (for a caller: the callee's
    /// response, application error or status), or failed: the connection
    /// closed, a message was too large, or the call was cancelled.
    Closed(Reply),
}

/// Release credit once this many consumed bytes gathered, or before
/// waiting for more.
const RELEASE_BATCH: u64 = 16 << 10;

/// The receiving end of one direction of a channel: the peer's messages,
/// in order, then how the direction ended.
///
/// Credit goes back to the peer as messages are taken (not as they
/// arrive), in batches, and always before the consumer waits; a message of
/// several chunks is copied into one aligned buffer as its chunks are
/// taken. Dropping it gives back the credit of whatever is still queued and
/// tells the peer: a caller's drop cancels the call; a callee's stops the
/// request direction (the caller's sends then fail). A message over its
/// limit ends it and tells the peer the same way, at once.
pub struct Inbound {
    key: Key,
    rx: mpsc::UnboundedReceiver<Delivery>,
    control: ControlTx,
    messages: Reassembler,
    max_message: u64,
    /// The channel, once a chunk named it; consumed bytes not yet released.
    unreleased: Option<(ChannelId, u64)>,
    /// The callee's stream is known to be open (or over).
    opened: bool,
    /// Items the callee dropped because this side read too slowly.
    missed: u64,
    /// The driver's mark that a failure waits in the queue.
    urgent: Arc<AtomicBool>,
    /// What [`Inbound::poll_opened`] took before the open was known.
    peeked: Option<Received>,
    done: bool,
}

impl fmt::Debug for Inbound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbound")
            .field("key", &self.key)
            .field("done", &self.done)
            .finish_non_exhaustive()
    }
}

impl Inbound {
    /// A queue and its consumer; `key` names it in [`Control::Dropped`].
    pub(crate) fn new(key: Key, control: ControlTx, max_message: u64) -> (Feed, Inbound) {
        let (tx, rx) = mpsc::unbounded_channel();
        let urgent = Arc::new(AtomicBool::new(false));
        let feed = Feed {
            tx,
            urgent: Arc::clone(&urgent),
        };
        let inbound = Inbound {
            urgent,
            key,
            rx,
            control,
            messages: Reassembler::default(),
            max_message,
            unreleased: None,
            opened: false,
            missed: 0,
            peeked: None,
            done: false,
        };
        (feed, inbound)
    }

    /// An inbound stream that failed before it began.
    pub(crate) fn failed(status: Status) -> Inbound {
        let (control, _) = mpsc::unbounded_channel();
        let (feed, inbound) = Inbound::new(Key::None, ControlTx::Queue(control), 0);
        feed.close_as(Err(status), false);
        inbound
    }

    /// How many items the callee dropped so far because this side read too
    /// slowly (a push subscription that drops its oldest items).
    pub fn missed(&self) -> u64 {
        self.missed
    }

    /// Holds messages to `max` bytes (checked on a message's first chunk,
    /// before anything is allocated): an op's own limit, tighter than the
    /// connection's.
    pub fn set_max_message(&mut self, max: u64) {
        self.max_message = max;
    }

    /// The next message, or how the direction ended (then `End` again).
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a message is taken only when it is returned.
    pub async fn recv(&mut self) -> Received {
        core::future::poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Waits until the callee accepted the call: its stream opened, or a
    /// message or its end arrived. A call that failed instead yields its
    /// answer (then every later read yields `End`).
    ///
    /// # Errors
    ///
    /// The channel's answer when it closed before the stream opened.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: what arrives meanwhile is kept for the next read.
    pub async fn opened(&mut self) -> Result<(), Reply> {
        core::future::poll_fn(|cx| self.poll_opened(cx)).await
    }

    /// Polls until the callee's stream is open; see [`Inbound::opened`].
    pub fn poll_opened(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Reply>> {
        if self.opened || self.peeked.is_some() {
            return Poll::Ready(Ok(()));
        }
        match self.poll_recv(cx) {
            Poll::Pending if self.opened => Poll::Ready(Ok(())),
            Poll::Pending => Poll::Pending,
            Poll::Ready(Received::Closed(reply)) => Poll::Ready(Err(reply)),
            Poll::Ready(received) => {
                self.peeked = Some(received);
                Poll::Ready(Ok(()))
            }
        }
    }

    /// Polls for the next message, or how the direction ended.
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Received> {
        if let Some(received) = self.peeked.take() {
            return Poll::Ready(received);
        }
        if self.done {
            return Poll::Ready(Received::End);
        }
        if self.urgent.load(Ordering::Acquire) {
            return Poll::Ready(self.skip_to_close());
        }
        loop {
            if let Some(message) = self.messages.pop() {
                return Poll::Ready(self.take(message));
            }
            let delivery = match self.rx.poll_recv(cx) {
                Poll::Ready(delivery) => delivery,
                Poll::Pending => {
                    // About to wait: whatever was consumed goes back now,
                    // so a peer waiting on this window can go on.
                    self.flush();
                    return Poll::Pending;
                }
            };
            match delivery {
                Some(Delivery::Opened) => self.opened = true,
                Some(Delivery::Skipped(channel, count, held)) => {
                    self.missed = self.missed.saturating_add(count);
                    self.consumed(channel, held);
                }
                Some(Delivery::Chunk(channel, chunk)) => {
                    let cost = chunk.cost();
                    match self.messages.push(chunk, self.max_message) {
                        Ok(pushed) => {
                            self.consumed(channel, pushed.release);
                            if let Some(message) = pushed.message {
                                return Poll::Ready(self.take(message));
                            }
                        }
                        Err(too_large) => {
                            self.consumed(channel, cost);
                            // The peer is told at once, as when this end
                            // is dropped: it would send on for nothing.
                            self.tell_dropped();
                            return Poll::Ready(self.end(Received::Closed(Err(Status::new(
                                Code::ResourceExhausted,
                                too_large.to_string(),
                            )))));
                        }
                    }
                }
                Some(Delivery::End) => return Poll::Ready(self.end(Received::End)),
                Some(Delivery::Closed(reply)) => {
                    return Poll::Ready(self.end(Received::Closed(reply)));
                }
                None => {
                    let status = Status::unavailable("the connection closed");
                    return Poll::Ready(self.end(Received::Closed(Err(status))));
                }
            }
        }
    }

    /// Collects a single answer, as a unary call's: one message and a
    /// normal end, or an answer.
    ///
    /// # Errors
    ///
    /// `INTERNAL` when the peer sent no message or more than one before
    /// its end; otherwise what the channel ended with.
    pub async fn into_reply(mut self) -> Reply {
        let mut message = None;
        loop {
            match self.recv().await {
                Received::Message(m) if message.is_none() => message = Some(m),
                Received::Message(_) => {
                    return Err(Status::internal(
                        "the peer sent several messages for one answer",
                    ));
                }
                Received::Closed(reply) => return reply,
                Received::End => {
                    let message = message
                        .ok_or_else(|| Status::internal("the peer ended without an answer"))?;
                    let mut response = prism_core::Response::new(message.codec, message.payload);
                    response.app_error = message.app_error;
                    return Ok(response);
                }
            }
        }
    }

    /// A failure overtakes what is queued: the stale chunks are dropped
    /// (their credit given back) and the failure returned.
    fn skip_to_close(&mut self) -> Received {
        self.clear_messages();
        while let Ok(delivery) = self.rx.try_recv() {
            match delivery {
                Delivery::Chunk(channel, chunk) => self.consumed(channel, chunk.cost()),
                Delivery::Skipped(channel, _, held) => self.consumed(channel, held),
                Delivery::Closed(reply) => return self.end(Received::Closed(reply)),
                Delivery::Opened | Delivery::End => {}
            }
        }
        let status = Status::unavailable("the stream failed");
        self.end(Received::Closed(Err(status)))
    }

    /// Hands `message` to the consumer: the credit it held is consumed.
    fn take(&mut self, mut message: Message) -> Received {
        let held = core::mem::take(&mut message.held);
        if let Some((_, pending)) = self.unreleased.as_mut() {
            // The channel is known: a message comes only after a chunk.
            *pending += held;
            if *pending >= RELEASE_BATCH {
                self.flush();
            }
        }
        Received::Message(message)
    }

    /// Drops the rest of a packed chunk: its credit goes back.
    fn clear_messages(&mut self) {
        let held = self.messages.clear();
        if let Some((channel, _)) = self.unreleased {
            self.consumed(channel, held);
        }
    }

    fn consumed(&mut self, channel: ChannelId, bytes: u64) {
        let (_, pending) = self.unreleased.get_or_insert((channel, 0));
        *pending += bytes;
        if *pending >= RELEASE_BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if let Some((channel, bytes)) = self.unreleased.as_mut().filter(|(_, b)| *b > 0) {
            let bytes = core::mem::take(bytes);
            let channel = *channel;
            self.control.send(Control::Release { channel, bytes });
        }
    }

    /// Tells the driver this end reads no more: a caller's call is
    /// cancelled, a callee's request direction stopped.
    fn tell_dropped(&self) {
        if self.key != Key::None {
            self.control.send(Control::Dropped { key: self.key });
        }
    }

    /// The direction ended: nothing more will be read.
    fn end(&mut self, received: Received) -> Received {
        self.done = true;
        self.opened = true;
        self.flush();
        received
    }
}

impl Stream for Inbound {
    type Item = Result<Message, Reply>;

    /// Messages, then `None` after a normal end; a channel that ends with
    /// an answer yields it as an `Err` item first.
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        self.poll_recv(cx).map(|received| match received {
            Received::Message(message) => Some(Ok(message)),
            Received::End => None,
            Received::Closed(reply) => Some(Err(reply)),
        })
    }
}

impl Drop for Inbound {
    fn drop(&mut self) {
        // Chunks still queued were never consumed: their credit goes back.
        self.clear_messages();
        self.rx.close();
        while let Ok(delivery) = self.rx.try_recv() {
            match delivery {
                Delivery::Chunk(channel, chunk) => self.consumed(channel, chunk.cost()),
                Delivery::Skipped(channel, _, held) => self.consumed(channel, held),
                Delivery::Opened | Delivery::End | Delivery::Closed(_) => {}
            }
        }
        self.flush();
        if !self.done {
            self.tell_dropped();
        }
    }
}
