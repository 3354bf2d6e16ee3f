//! The outgoing streams of a connection, pulled only while their channels
//! take messages.
//!
//! A stream whose channel is writable is polled in the connection task:
//! its ready items go to the session at once, until the channel is full
//! (the stream is parked until [`Event::Writable`]), the stream has nothing
//! ready (it waits among the pulls in flight, woken by its producer), or a
//! budget of items per stream and per turn is spent, so a turn of the
//! connection task stays short however many tiny items are ready. A
//! cancelled channel drops its stream, wherever it is.
//!
//! Small messages that are ready together share one DATA frame where the
//! peer unpacks ([`Session::send_packed`]): they are copied into a pack
//! until it would pass the session's pack limit or an item that is not a
//! small message comes. Nothing waits to fill a pack: it goes out as soon
//! as the stream has nothing more ready, and a lone small message goes as
//! it is.
//!
//! [`Event::Writable`]: prism_proto::session::Event::Writable

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::AssertUnwindSafe;

use futures_util::future::{AbortHandle, Abortable};
use futures_util::stream::{FuturesUnordered, StreamExt};
use prism_core::{Code, CodecId, Payload, Reply, Status};
use prism_proto::int_map::IntMap;
use prism_proto::session::{ChannelId, Packer, SendError, Session};

use super::streams::{Outbound, StreamItem};

/// Items taken from one stream in one go, so one fast producer cannot
/// starve the rest of the connection.
const ITEMS_PER_PULL: usize = 64;

/// Items taken from all streams in one turn of the connection task: a
/// turn stays short (frames get written and read between turns) however
/// small and ready the items are.
const ITEMS_PER_TURN: usize = 256;

/// Messages of at most this many bytes are packed (copied) with their
/// neighbours; larger ones go in frames of their own, by reference.
const PACK_BELOW: usize = 2 << 10;

/// How an outgoing stream ended, for the driver to act on.
#[derive(Debug)]
pub(crate) enum Ended {
    /// It yielded [`StreamItem::Close`].
    Closed(ChannelId, Reply),
}

/// One stream and where its items go.
struct Pump {
    channel: ChannelId,
    codec: CodecId,
    stream: Outbound,
    /// An item taken from the stream that waits behind a pack: delivered
    /// before the stream is polled again.
    held: Option<Option<StreamItem>>,
}

/// A pump waiting for its stream's next item.
struct Pull {
    pump: Option<Pump>,
}

impl Future for Pull {
    type Output = (Pump, Option<StreamItem>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let Some(pump) = self.pump.as_mut() else {
            return Poll::Pending; // never polled again after it finished
        };
        let item = match pump.held.take() {
            Some(item) => item,
            None => match poll_item(&mut pump.stream, cx) {
                Poll::Ready(item) => item,
                Poll::Pending => return Poll::Pending,
            },
        };
        match self.pump.take() {
            Some(pump) => Poll::Ready((pump, item)),
            None => Poll::Pending,
        }
    }
}

/// Every outgoing stream of a connection.
#[derive(Default)]
pub(crate) struct Pumps {
    pulling: FuturesUnordered<Abortable<Pull>>,
    /// Aborts of the pulls in flight.
    aborts: IntMap<ChannelId, AbortHandle>,
    /// Streams whose channel is full, until it is writable.
    parked: IntMap<ChannelId, Pump>,
    /// Small messages of the stream being advanced; empty between calls.
    packer: Packer,
}

impl Pumps {
    /// Starts pulling `stream` into `channel`, its items encoded with
    /// `codec`.
    pub(crate) fn start(
        &mut self,
        session: &mut Session,
        cx: &mut Context<'_>,
        channel: ChannelId,
        codec: CodecId,
        stream: Outbound,
        ended: &mut Vec<Ended>,
    ) {
        let pump = Pump {
            channel,
            codec,
            stream,
            held: None,
        };
        let mut budget = ITEMS_PER_PULL;
        self.advance(session, cx, pump, &mut budget, ended);
    }

    /// Step: streams whose next item came in.
    pub(crate) fn drive(
        &mut self,
        session: &mut Session,
        cx: &mut Context<'_>,
        ended: &mut Vec<Ended>,
    ) -> bool {
        let mut progressed = false;
        let mut budget = ITEMS_PER_TURN;
        while budget > 0 {
            let Poll::Ready(Some(pulled)) = self.pulling.poll_next_unpin(cx) else {
                break;
            };
            progressed = true;
            let Ok((pump, item)) = pulled else {
                continue; // cancelled
            };
            budget -= 1;
            self.aborts.remove(&pump.channel);
            if let Some(pump) = self.deliver(session, pump, item, ended) {
                self.advance(session, cx, pump, &mut budget, ended);
            }
        }
        progressed
    }

    /// The channel takes messages again.
    pub(crate) fn on_writable(
        &mut self,
        session: &mut Session,
        cx: &mut Context<'_>,
        channel: ChannelId,
        ended: &mut Vec<Ended>,
    ) {
        if let Some(pump) = self.parked.remove(&channel) {
            let mut budget = ITEMS_PER_PULL;
            self.advance(session, cx, pump, &mut budget, ended);
        }
    }

    /// Drops the stream of `channel`, wherever it is.
    pub(crate) fn cancel(&mut self, channel: ChannelId) {
        self.parked.remove(&channel);
        if let Some(abort) = self.aborts.remove(&channel) {
            abort.abort();
        }
    }

    /// Drops every stream.
    pub(crate) fn cancel_all(&mut self) {
        self.parked.clear();
        self.aborts.clear();
        self.pulling = FuturesUnordered::new();
    }

    /// Hands ready items to the session while the channel takes them, at
    /// most `budget` of them (and [`ITEMS_PER_PULL`]), counting them off;
    /// small messages ready together go packed.
    fn advance(
        &mut self,
        session: &mut Session,
        cx: &mut Context<'_>,
        mut pump: Pump,
        budget: &mut usize,
        ended: &mut Vec<Ended>,
    ) {
        let limit = session.pack_limit();
        // The first small message, not copied until a second one comes.
        let mut lone: Option<Payload> = None;
        for _ in 0..ITEMS_PER_PULL.min(*budget) {
            let packing = lone.is_some() || !self.packer.is_empty();
            // A pack starts only on a writable channel and nothing is sent
            // while it grows.
            if !packing && !session.is_writable(pump.channel) {
                // Full (or gone: then a finish or cancel drops it later).
                self.parked.insert(pump.channel, pump);
                return;
            }
            let item = match pump.held.take() {
                Some(item) => item,
                None => match poll_item(&mut pump.stream, cx) {
                    Poll::Ready(item) => {
                        *budget -= 1;
                        item
                    }
                    Poll::Pending => break,
                },
            };
            let packs = |len: usize| len <= PACK_BELOW && Packer::entry_len(len) <= limit;
            let item = match item {
                Some(StreamItem::Message(payload)) if packs(payload.len()) => {
                    let packed = self.packer.len()
                        + lone.as_ref().map_or(0, |p| Packer::entry_len(p.len()))
                        + Packer::entry_len(payload.len());
                    if packed <= limit {
                        match lone.take() {
                            Some(first) => {
                                self.packer.push(&first);
                                self.packer.push(&payload);
                            }
                            None if self.packer.is_empty() => lone = Some(payload),
                            None => self.packer.push(&payload),
                        }
                        continue;
                    }
                    Some(StreamItem::Message(payload))
                }
                item => item,
            };
            if packing {
                // The pack goes first; this item waits its turn.
                pump.held = Some(item);
                if !self.flush(session, &pump, &mut lone, ended) {
                    return;
                }
                continue;
            }
            match self.deliver(session, pump, item, ended) {
                Some(next) => pump = next,
                None => return,
            }
        }
        if !self.flush(session, &pump, &mut lone, ended) {
            return;
        }
        if !session.is_writable(pump.channel) {
            self.parked.insert(pump.channel, pump);
            return;
        }
        // Nothing ready (or the budget is spent): wait among the pulls.
        let (abort, registration) = AbortHandle::new_pair();
        self.aborts.insert(pump.channel, abort);
        self.pulling
            .push(Abortable::new(Pull { pump: Some(pump) }, registration));
    }

    /// Sends what is packed for `pump` (a lone message as it is); false
    /// when its stream is over: the channel is gone or stopped.
    fn flush(
        &mut self,
        session: &mut Session,
        pump: &Pump,
        lone: &mut Option<Payload>,
        ended: &mut Vec<Ended>,
    ) -> bool {
        let sent = match lone.take() {
            Some(payload) => session.send(pump.channel, pump.codec, payload),
            None if self.packer.is_empty() => return true,
            None => session.send_packed(pump.channel, pump.codec, &mut self.packer),
        };
        match sent {
            Ok(_) => true,
            Err(error) => {
                let _ = self.packer.take();
                refused(pump.channel, error, ended);
                false
            }
        }
    }

    /// Gives one item to the session; `None` once the stream is over.
    fn deliver(
        &mut self,
        session: &mut Session,
        pump: Pump,
        item: Option<StreamItem>,
        ended: &mut Vec<Ended>,
    ) -> Option<Pump> {
        match item {
            Some(StreamItem::Message(payload)) => {
                match session.send(pump.channel, pump.codec, payload) {
                    Ok(true) => Some(pump),
                    Ok(false) => {
                        // Full: parked until `Writable`.
                        self.parked.insert(pump.channel, pump);
                        None
                    }
                    Err(error) => {
                        refused(pump.channel, error, ended);
                        None
                    }
                }
            }
            Some(StreamItem::Skipped(count)) => match session.skip(pump.channel, count) {
                Ok(true) => Some(pump),
                Ok(false) => {
                    self.parked.insert(pump.channel, pump);
                    None
                }
                Err(_) => None,
            },
            Some(StreamItem::Close(reply)) => {
                ended.push(Ended::Closed(pump.channel, reply));
                None
            }
            None => {
                // A normal end; fails only when the channel is gone.
                let _ = session.finish(pump.channel);
                None
            }
        }
    }
}

/// Polls a producer's stream, turning a panic into an `INTERNAL` close: a
/// panicking stream fails its own call, not the connection. A close ends
/// the stream, which is then dropped and never polled again, so no broken
/// state is observed: that is why the assertion of unwind safety holds.
fn poll_item(stream: &mut Outbound, cx: &mut Context<'_>) -> Poll<Option<StreamItem>> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| stream.as_mut().poll_next(cx))) {
        Ok(poll) => poll,
        Err(_) => {
            let status = Status::internal("the stream's producer panicked");
            Poll::Ready(Some(StreamItem::Close(Err(status))))
        }
    }
}

/// The session refused a message of `channel`'s stream, which ends there.
/// One larger than the peer takes ends it with `RESOURCE_EXHAUSTED`, so
/// the peer learns (a callee's call is answered so, a caller's is
/// cancelled) instead of waiting for an item that never comes. Otherwise
/// the channel is gone, ended or stopped by the peer: nobody reads on.
fn refused(channel: ChannelId, error: SendError, ended: &mut Vec<Ended>) {
    if let SendError::TooLarge { .. } = error {
        let status = Status::new(Code::ResourceExhausted, error.to_string());
        ended.push(Ended::Closed(channel, Err(status)));
    }
}
