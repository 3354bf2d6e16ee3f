//! The server side's driver: serves one connection's calls with a
//! [`Handler`], inline or in spawned tasks, until the connection ends.

use crate::rt::Instant;
use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures_util::FutureExt;
use futures_util::future::{AbortHandle, Abortable, Aborted};
use futures_util::stream::{FuturesUnordered, StreamExt};
use prism_core::{Code, CodecId, Metadata, Payload, Reply, Status};
use prism_proto::int_map::IntMap;
use prism_proto::session::{Answered, ChannelId, Event, Hello, Priority, Role};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::conn::{BUDGET, Conn, TURNS, take_ready};
use super::datagrams::{DatagramHandlers, Served};
use super::pumps::{Ended, Pumps};
use super::streams::{Control, ControlTx, Delivery, Feed, Inbound, Key};
use super::{
    Answer, ConnectionError, Directive, Dispatched, Execution, Guard, Handler, HandlerFuture,
    IncomingCall, ReauthFuture, Setup,
};
use crate::Link;

/// Serves one connection over `link` in the calling task until it ends.
/// When `shutdown` is cancelled the connection goes away gracefully:
/// in-flight calls finish (within the session's drain timeout), new ones
/// are refused, then it closes.
///
/// # Errors
///
/// Fails, with the reason, when the connection did not end gracefully
/// ([`ConnectionError::is_graceful`]): the link broke, the peer broke the
/// protocol or was refused, a timer expired, or the driver panicked.
pub async fn serve<L: Link>(
    link: L,
    setup: Setup,
    hello: Hello,
    handler: Arc<dyn Handler>,
    shutdown: CancellationToken,
) -> Result<(), ConnectionError> {
    let (control, controls) = mpsc::unbounded_channel();
    // As many datagram handlers as calls may run at once.
    let setup_limit = setup.session.max_channels as usize;
    let mut driver = ServerDriver {
        conn: Conn::new(link, Role::Server, setup, hello),
        handler,
        running: FuturesUnordered::new(),
        cancels: IntMap::with_capacity_and_hasher(64, Default::default()),
        inbound: IntMap::default(),
        pumps: Pumps::default(),
        ended: Vec::new(),
        control,
        controls,
        shutdown: Some(Box::pin(shutdown.cancelled_owned())),
        guard: None,
        guarded: false,
        reauthing: None,
        ops: IntMap::default(),
        datagrams: DatagramHandlers::new(setup_limit),
    };
    let exit = match AssertUnwindSafe(poll_fn(|cx| driver.poll(cx)))
        .catch_unwind()
        .await
    {
        Ok(exit) => exit,
        Err(panic) => ConnectionError::panicked(&*panic),
    };
    if exit.is_graceful() {
        Ok(())
    } else {
        Err(exit)
    }
}

/// How to stop a running handler.
enum Cancel {
    Inline(AbortHandle),
    Spawned(tokio::task::AbortHandle),
}

impl Cancel {
    fn cancel(&self) {
        match self {
            Cancel::Inline(handle) => handle.abort(),
            Cancel::Spawned(handle) => handle.abort(),
        }
    }
}

/// A running handler: polled in the connection task, or a spawned task's
/// handle.
enum Task {
    Inline(Abortable<HandlerFuture>),
    Spawned(JoinHandle<Answer>),
}

struct Running {
    channel: ChannelId,
    codec: CodecId,
    task: Task,
}

impl Future for Running {
    /// The call's answer; `None` when it was cancelled.
    type Output = (ChannelId, CodecId, Option<Answer>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let (channel, codec) = (self.channel, self.codec);
        let reply = match &mut self.task {
            Task::Inline(future) => match poll_caught(future, cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(Ok(reply))) => Some(reply),
                Poll::Ready(Ok(Err(Aborted))) => None,
                Poll::Ready(Err(panicked)) => Some(panicked),
            },
            Task::Spawned(handle) => match Pin::new(handle).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Ok(reply)) => Some(reply),
                Poll::Ready(Err(error)) if error.is_cancelled() => None,
                Poll::Ready(Err(_panicked)) => Some(handler_panicked()),
            },
        };
        Poll::Ready((channel, codec, reply))
    }
}

fn handler_panicked() -> Answer {
    Answer::Reply(Err(Status::internal("the handler panicked")))
}

/// Polls an inline handler, turning a panic into a failed call: a
/// panicking handler fails its own call, not the connection. The future is
/// never polled again after a panic (it is dropped at once), so no broken
/// state is observed: that is why the assertion of unwind safety holds.
pub(super) fn poll_caught<F: Future + Unpin>(
    fut: &mut F,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, Answer>> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(fut).poll(cx))) {
        Ok(poll) => poll.map(Ok),
        Err(_) => Poll::Ready(Err(handler_panicked())),
    }
}

struct ServerDriver<L> {
    conn: Conn<L>,
    handler: Arc<dyn Handler>,
    running: FuturesUnordered<Running>,
    cancels: IntMap<ChannelId, Cancel>,
    /// Request streams of open calls, to their handlers.
    inbound: IntMap<ChannelId, Feed>,
    /// Response streams, pulled while their channels take messages.
    pumps: Pumps,
    /// Response streams that ended with an answer, to send.
    ended: Vec<Ended>,
    control: mpsc::UnboundedSender<Control>,
    /// Credit released and request streams dropped by handlers.
    controls: mpsc::UnboundedReceiver<Control>,
    shutdown: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
    /// The admission's watch over what the connection may do, once
    /// established.
    guard: Option<Guard>,
    /// The connection was given a guard (which may have ended since):
    /// its calls' ops are tracked.
    guarded: bool,
    /// The verdict on the client's fresh proof.
    reauthing: Option<ReauthFuture>,
    /// The op of each call that may be open, on a guarded connection: what
    /// a recheck asks about. Pruned of ended calls as it grows.
    ops: IntMap<ChannelId, u64>,
    /// Handlers of datagram ops' messages.
    datagrams: DatagramHandlers,
}

impl<L: Link> ServerDriver<L> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<ConnectionError> {
        // One clock read per wake: a wake's turns take microseconds.
        let now = super::now();
        for _ in 0..TURNS {
            let mut keep_going = self.drive_shutdown(cx, now);
            // What handlers did to their request streams (credit, drops)
            // comes first: tokio's cooperative budget is shared by every
            // source of a wake, and a peer that keeps frames coming must
            // not spend it all.
            keep_going |= self.drive_controls(cx);
            // No new calls, and no new answers, while earlier answers wait
            // to be written: the peer's reading paces this side.
            let backpressured = self.conn.backpressured();
            if backpressured {
                // Unread frames are this side's doing, not the peer's.
                self.conn.session.handle_read_paused(now);
            } else {
                keep_going |= self.conn.drive_recv(cx, now);
            }
            keep_going |= self.conn.drive_admission(cx, now);
            // A verdict on a fresh proof first: a proof that came in time
            // must not lose to the expiry it was meant to prevent.
            keep_going |= self.drive_reauth(cx, now);
            keep_going |= self.drive_guard(cx, now);
            if !backpressured {
                keep_going |= self.drive_handlers(cx);
                keep_going |= self.drive_pumps(cx);
            }
            keep_going |= self.drive_datagrams(cx);
            keep_going |= self.conn.drive_timer(now);
            keep_going |= self.drive_events(cx, now);
            keep_going |= self.conn.drive_transmit(cx, now);
            if self.conn.finished(now) {
                return self.finish(cx);
            }
            if !keep_going {
                return self.conn.park(cx, None);
            }
        }
        // Still busy: let other tasks run, then come back.
        cx.waker().wake_by_ref();
        self.conn.publish();
        Poll::Pending
    }

    /// Step: the server's shutdown signal starts a graceful goodbye.
    fn drive_shutdown(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let Some(shutdown) = &mut self.shutdown else {
            return false;
        };
        if shutdown.as_mut().poll(cx).is_pending() {
            return false;
        }
        self.shutdown = None;
        self.conn
            .session
            .go_away(now, Code::Unavailable, "the server is shutting down");
        true
    }

    /// Step: what the guard asks (a recheck of every open call, a request
    /// for a fresh proof).
    fn drive_guard(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progressed = false;
        for _ in 0..BUDGET {
            let Some(guard) = &mut self.guard else {
                break;
            };
            match guard.as_mut().poll_next(cx) {
                Poll::Ready(Some(Directive::Recheck)) => self.recheck(),
                Poll::Ready(Some(Directive::RequestReauth(within))) => {
                    self.conn.session.request_reauth(now, within);
                }
                Poll::Ready(None) => self.guard = None,
                Poll::Pending => break,
            }
            progressed = true;
        }
        progressed
    }

    /// Step: the verdict on the client's fresh proof: the new lifetime
    /// goes back and every open call is asked about again, or the
    /// connection closes with the refusal.
    fn drive_reauth(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let Some(verdict) = take_ready(&mut self.reauthing, cx) else {
            return false;
        };
        match verdict {
            Ok(lifetime) => {
                self.conn.session.confirm_reauth(now, lifetime);
                self.recheck();
            }
            Err(status) => {
                (self.conn.session).close(now, status.code(), status.message());
            }
        }
        true
    }

    /// The client presented a fresh proof: asks the admission about it.
    fn reauthenticate(&mut self, now: Instant, proof: Payload) {
        match &self.conn.info {
            Some(info) => {
                self.reauthing = Some(self.conn.admission().reauthenticate(proof, info));
            }
            // The session raises proofs only once established.
            None => (self.conn.session).close(now, Code::Internal, "a proof before the handshake"),
        }
    }

    /// Asks the handler about every open call of a guarded connection;
    /// those it refuses end with its status.
    fn recheck(&mut self) {
        let Some(info) = self.conn.info.clone() else {
            return;
        };
        let session = &self.conn.session;
        self.ops.retain(|channel, _| session.is_open(*channel));
        let refused: Vec<(ChannelId, Status)> = (self.ops.iter())
            .filter_map(|(channel, op)| {
                let verdict = self.handler.recheck(*op, &info);
                verdict.err().map(|status| (*channel, status))
            })
            .collect();
        for (channel, status) in refused {
            self.fail(channel, status);
        }
    }

    /// Ends an open call with `status`: its handler stopped, its stream
    /// dropped, the caller told.
    fn fail(&mut self, channel: ChannelId, status: Status) {
        if let Some(cancel) = self.cancels.remove(&channel) {
            cancel.cancel();
        }
        self.pumps.cancel(channel);
        self.respond(channel, Err(status));
    }

    /// Notes the op of a call on a guarded connection, for rechecks; ended
    /// calls are pruned once they could outnumber the open ones.
    fn track(&mut self, channel: ChannelId, op: u64) {
        if !self.guarded {
            return;
        }
        if self.ops.len() >= 2 * self.conn.session.open_channels() + 64 {
            let session = &self.conn.session;
            self.ops.retain(|channel, _| session.is_open(*channel));
        }
        self.ops.insert(channel, op);
    }

    /// Step: answers of handlers that finished.
    fn drive_handlers(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progressed = false;
        for _ in 0..BUDGET {
            let Poll::Ready(Some((channel, codec, answer))) = self.running.poll_next_unpin(cx)
            else {
                break;
            };
            self.cancels.remove(&channel);
            if let Some(answer) = answer {
                self.answer(cx, channel, codec, answer);
            }
            progressed = true;
        }
        progressed
    }

    /// Step: datagram handlers that finished (nothing to answer).
    fn drive_datagrams(&mut self, cx: &mut Context<'_>) -> bool {
        let (progressed, failed) = self.datagrams.drive(cx, BUDGET);
        self.conn.stats.datagrams_dropped += failed;
        progressed
    }

    /// A datagram op's message arrived: it passes the handler's checks
    /// like a call, and runs where there is room; nothing is answered.
    fn on_datagram(&mut self, cx: &mut Context<'_>, op: u64, codec: CodecId, mut payload: Payload) {
        let Some(connection) = self.conn.info.clone() else {
            // The session raises datagrams only once established.
            self.conn.stats.datagrams_dropped += 1;
            return;
        };
        if !self.datagrams.has_room() {
            // Not even routed: a flood costs no decoding.
            self.conn.stats.datagrams_dropped += 1;
            return;
        }
        self.conn.stats.datagrams_received += 1;
        self.conn.align(&mut payload);
        let call = IncomingCall {
            channel: None,
            op,
            codec,
            deadline: None,
            payload,
            request: None,
            metadata: Metadata::new(),
            connection,
        };
        let handler = &self.handler;
        let served = match std::panic::catch_unwind(AssertUnwindSafe(|| handler.call(call))) {
            Ok(dispatched) => self.datagrams.start(cx, dispatched),
            Err(_) => Served::Dropped,
        };
        if served == Served::Dropped {
            self.conn.stats.datagrams_dropped += 1;
        }
    }

    /// Step: response streams whose next item came in.
    fn drive_pumps(&mut self, cx: &mut Context<'_>) -> bool {
        let progressed = (self.pumps).drive(&mut self.conn.session, cx, &mut self.ended);
        self.answer_ended();
        progressed
    }

    /// Step: what handlers did to request streams: credit released, a
    /// stream dropped.
    fn drive_controls(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progressed = false;
        for _ in 0..BUDGET {
            let Poll::Ready(Some(control)) = self.controls.poll_recv(cx) else {
                break;
            };
            progressed = true;
            match control {
                Control::Release { channel, bytes } => self.conn.session.release(channel, bytes),
                Control::Dropped { key } => {
                    if let Key::Channel(channel) = key {
                        self.inbound.remove(&channel);
                        self.conn.session.stop_receiving(channel, Code::Cancelled);
                    }
                }
            }
        }
        progressed
    }

    /// Sends what a handler answered: a reply, or a stream to pull.
    fn answer(&mut self, cx: &mut Context<'_>, channel: ChannelId, codec: CodecId, answer: Answer) {
        match answer {
            // The session drops a reply nobody waits for.
            Answer::Reply(reply) => self.respond(channel, reply),
            Answer::Stream(_) if !self.conn.session.awaits_answer(channel) => {
                // Ended meanwhile (a spawned handler that finished as it
                // was stopped, a call failed by a recheck): a stream
                // started now would never be pulled.
            }
            Answer::Stream(stream) => {
                // The caller learns at once that its call was accepted.
                self.conn.session.open_response(channel);
                let session = &mut self.conn.session;
                (self.pumps).start(session, cx, channel, codec, stream, &mut self.ended);
                self.answer_ended();
            }
        }
    }

    /// Answers the streams that ended with an answer.
    fn answer_ended(&mut self) {
        while let Some(Ended::Closed(channel, reply)) = self.ended.pop() {
            self.respond(channel, reply);
        }
    }

    /// Step: everything the session reported.
    fn drive_events(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progressed = false;
        while let Some(event) = self.conn.session.poll_event() {
            progressed = true;
            match event {
                Event::Hello => self.conn.start_admission(),
                Event::Established => {
                    self.conn.establish();
                    self.guard = self.conn.guard.take();
                    self.guarded = self.guard.is_some();
                }
                Event::Reauthenticate { proof } => self.reauthenticate(now, proof),
                // A server presents no proofs.
                Event::Reauthenticated { .. } | Event::ReauthRequested { .. } => {}
                Event::Call {
                    channel,
                    op,
                    codec,
                    deadline,
                    mut payload,
                    open,
                    metadata,
                } => {
                    self.conn.stats.calls_received += 1;
                    self.conn.align(&mut payload);
                    let Some(connection) = self.conn.info.clone() else {
                        // The session raises calls only once established.
                        self.respond(channel, Err(Status::internal("call before the handshake")));
                        continue;
                    };
                    let request = open.then(|| {
                        let key = Key::Channel(channel);
                        let max = self.conn.session.config().max_message;
                        let control = ControlTx::Queue(self.control.clone());
                        let (feed, inbound) = Inbound::new(key, control, max);
                        self.inbound.insert(channel, feed);
                        inbound
                    });
                    self.track(channel, op);
                    let priority = self.handler.priority(op);
                    if priority != Priority::DEFAULT {
                        self.conn.session.set_priority(channel, priority);
                        self.conn.link.set_priority(channel.get(), priority);
                    }
                    let call = IncomingCall {
                        channel: Some(channel),
                        op,
                        codec,
                        deadline,
                        payload,
                        request,
                        metadata,
                        connection,
                    };
                    // Layers run here, in the connection task: one that
                    // panics fails its call, as a panicking handler does.
                    let handler = &self.handler;
                    match std::panic::catch_unwind(AssertUnwindSafe(|| handler.call(call))) {
                        Ok(dispatched) => self.start(cx, channel, codec, dispatched),
                        Err(_) => self.answer(cx, channel, codec, handler_panicked()),
                    }
                }
                Event::Data { channel, mut chunk } => {
                    if chunk.is_whole() {
                        self.conn.align(&mut chunk.payload);
                    }
                    let cost = chunk.cost();
                    let delivered = (self.inbound.get(&channel))
                        .is_some_and(|feed| feed.send(Delivery::Chunk(channel, chunk)));
                    if !delivered {
                        // Its reader is gone: the bytes go back at once.
                        self.conn.session.release(channel, cost);
                    }
                }
                Event::End { channel } => {
                    if let Some(feed) = self.inbound.remove(&channel) {
                        feed.send(Delivery::End);
                    }
                }
                Event::Writable { channel } => {
                    let session = &mut self.conn.session;
                    (self.pumps).on_writable(session, cx, channel, &mut self.ended);
                    self.answer_ended();
                }
                Event::Datagram { op, codec, payload } => self.on_datagram(cx, op, codec, payload),
                // A server opens no calls.
                Event::StopSending { .. } | Event::Opened { .. } => {}
                // Only a callee skips (the session refuses a caller's).
                Event::Skipped { channel, held, .. } => self.conn.session.release(channel, held),
                // A server opens no calls, so none is answered.
                Event::Reply { .. } => {}
                Event::Cancelled { channel, code } => {
                    // The call ended without an answer from its handler.
                    self.conn.stats.calls_failed += 1;
                    if let Some(cancel) = self.cancels.remove(&channel) {
                        cancel.cancel();
                    }
                    self.pumps.cancel(channel);
                    if let Some(feed) = self.inbound.remove(&channel) {
                        let status = Status::new(code, "the call was cancelled");
                        feed.close_as(Err(status), true);
                    }
                }
                // The peer's goodbye: its open calls finish; the session
                // closes when they have.
                Event::GoAway { .. } => {}
                Event::Pong { .. } => {}
                Event::Closed { error } => {
                    self.conn.on_closed(error);
                    self.cancel_all();
                }
            }
        }
        progressed
    }

    /// Runs a dispatched call where it asked to run; a handler that
    /// finishes at once is answered at once, with no cancellation handle
    /// and no slot among the running handlers.
    fn start(
        &mut self,
        cx: &mut Context<'_>,
        channel: ChannelId,
        codec: CodecId,
        dispatched: Dispatched,
    ) {
        match dispatched {
            Dispatched::Ready(reply) => self.respond(channel, reply),
            Dispatched::Run {
                mut future,
                execution: Execution::Inline,
            } => match poll_caught(&mut future, cx) {
                Poll::Ready(Ok(answer) | Err(answer)) => self.answer(cx, channel, codec, answer),
                Poll::Pending => {
                    let (handle, registration) = AbortHandle::new_pair();
                    self.cancels.insert(channel, Cancel::Inline(handle));
                    let task = Task::Inline(Abortable::new(future, registration));
                    self.running.push(Running {
                        channel,
                        codec,
                        task,
                    });
                }
            },
            Dispatched::Run {
                future,
                execution: Execution::Spawn,
            } => {
                let handle = tokio::spawn(future);
                self.cancels
                    .insert(channel, Cancel::Spawned(handle.abort_handle()));
                let task = Task::Spawned(handle);
                self.running.push(Running {
                    channel,
                    codec,
                    task,
                });
            }
        }
    }

    fn respond(&mut self, channel: ChannelId, reply: Reply) {
        // The call is over: nobody reads its request stream on.
        if let Some(feed) = self.inbound.remove(&channel) {
            feed.close_as(Err(Status::cancelled("the call was answered")), true);
        }
        match self.conn.session.respond(channel, reply) {
            Answered::Status => self.conn.stats.calls_failed += 1,
            // Counted when the call ended: cancelled, past its deadline,
            // cut by the closing session.
            Answered::Response | Answered::Gone => {}
        }
    }

    /// Stops every running handler, inline or spawned, and every stream.
    fn cancel_all(&mut self) {
        for (_, cancel) in self.cancels.drain() {
            cancel.cancel();
        }
        self.running = FuturesUnordered::new();
        self.conn.stats.datagrams_dropped += self.datagrams.cancel_all();
        self.pumps.cancel_all();
        self.inbound.clear();
    }

    fn finish(&mut self, cx: &mut Context<'_>) -> Poll<ConnectionError> {
        // What the session said as it closed (a link that failed in the
        // last step leaves its events unread).
        self.drive_events(cx, super::now());
        if self.conn.poll_close(cx).is_pending() {
            return Poll::Pending;
        }
        // (The `Closed` event stopped the handlers.)
        self.conn.publish();
        Poll::Ready(self.conn.exit())
    }
}

impl<L> Drop for ServerDriver<L> {
    /// A spawned handler outlives a dropped handle, so a driver that ends
    /// any way (a panic included) stops its handlers itself.
    fn drop(&mut self) {
        for cancel in self.cancels.values() {
            cancel.cancel();
        }
    }
}
