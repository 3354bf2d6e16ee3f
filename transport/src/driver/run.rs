//! The connection task's loop.

use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Context, Poll};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use futures_util::future::{AbortHandle, Abortable};
use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Sleep;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::client::{Client, Command};
use super::{ConnectionInfo, Failure, Handler, HandlerFuture, IncomingCall, Outcome, Reply};
use crate::frame::Body;
use crate::int_map::IntMap;
use crate::session::{
    ChannelId, Event, Hello, OpenError, OutgoingCall, Role, Session, SessionConfig, SessionError,
};
use crate::{Code, Link, LinkError, LinkInfo};

/// Stop taking new work while this many bytes wait to be written.
const HIGH_WATER: usize = 4 << 20;
/// Frames, commands or finished handlers taken per source per turn, so one
/// busy source cannot starve the others.
const BUDGET: usize = 256;
/// Turns per wake-up before yielding to other tasks.
const TURNS: usize = 8;

/// The connection could not be established.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnectError {
    /// The handshake failed.
    #[error("handshake failed")]
    Session(#[from] SessionError),
    /// The link failed or closed during the handshake.
    #[error("link failed during the handshake")]
    Link(#[source] LinkError),
    /// The connection task stopped before the handshake finished.
    #[error("the connection closed during the handshake")]
    Closed,
}

/// Why a connection ended abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DriverError {
    /// The link failed: an i/o error or bytes that are not frames.
    #[error("link failed")]
    Link(#[from] LinkError),
    /// The peer broke the protocol or a session timer expired.
    #[error("session failed")]
    Session(#[from] SessionError),
}

/// The running connection task of a client; await it to learn how the
/// connection ended.
#[derive(Debug)]
pub struct Connection {
    task: tokio::task::JoinHandle<Result<(), DriverError>>,
}

impl Future for Connection {
    type Output = Result<(), DriverError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Pin::new(&mut self.task)
            .poll(cx)
            .map(|joined| match joined {
                Ok(result) => result,
                Err(_) => Err(DriverError::Link(LinkError::Closed)),
            })
    }
}

/// Opens a client connection over `link`: spawns its task, waits for the
/// handshake, and returns a handle for calls.
///
/// # Errors
///
/// Fails when the handshake fails or times out, or the link breaks first.
pub async fn connect<L: Link>(
    link: L,
    config: SessionConfig,
    hello: Hello,
) -> Result<(Client, Connection), ConnectError> {
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = oneshot::channel();
    let session = Session::new(Role::Client, config, hello, Instant::now());
    let mut driver = Driver::new(link, session, None);
    driver.commands = Some(commands_rx);
    driver.established = Some(ready_tx);
    let task = tokio::spawn(async move { poll_fn(|cx| driver.poll(cx)).await });
    match ready_rx.await {
        Ok(Ok(info)) => Ok((Client::new(commands_tx, info), Connection { task })),
        Ok(Err(error)) => Err(error),
        Err(_) => match task.await {
            Ok(Err(DriverError::Session(e))) => Err(ConnectError::Session(e)),
            Ok(Err(DriverError::Link(e))) => Err(ConnectError::Link(e)),
            _ => Err(ConnectError::Closed),
        },
    }
}

/// Serves one connection over `link` in the calling task until it closes.
/// When `shutdown` is cancelled the connection goes away gracefully:
/// in-flight calls finish, new ones are refused, then it closes.
///
/// # Errors
///
/// Fails when the link breaks or the peer breaks the protocol.
pub async fn serve<L: Link>(
    link: L,
    config: SessionConfig,
    hello: Hello,
    handler: Arc<dyn Handler>,
    shutdown: CancellationToken,
) -> Result<(), DriverError> {
    let session = Session::new(Role::Server, config, hello, Instant::now());
    let mut driver = Driver::new(link, session, Some(handler));
    driver.shutdown = Some(Box::pin(shutdown.cancelled_owned()));
    poll_fn(|cx| driver.poll(cx)).await
}

struct HandlerTask {
    channel: ChannelId,
    fut: Abortable<HandlerFuture>,
}

impl Future for HandlerTask {
    type Output = (ChannelId, Option<Outcome>);

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let channel = self.channel;
        poll_caught(&mut self.fut, cx).map(|done| match done {
            Ok(Ok(outcome)) => (channel, Some(outcome)),
            Ok(Err(_aborted)) => (channel, None),
            Err(panicked) => (channel, Some(panicked)),
        })
    }
}

/// Polls a handler's future, turning a panic into a failed call: a
/// panicking handler fails its own call, not the connection. The future is
/// never polled again after a panic (its task completes and is dropped), so
/// no broken state is observed: that is why the assertion of unwind safety
/// holds.
fn poll_caught<F: Future + Unpin>(
    fut: &mut F,
    cx: &mut Context<'_>,
) -> Poll<Result<F::Output, Outcome>> {
    match std::panic::catch_unwind(AssertUnwindSafe(|| Pin::new(fut).poll(cx))) {
        Ok(poll) => poll.map(Ok),
        Err(_) => Poll::Ready(Err(Outcome::Fail {
            code: Code::Internal,
            message: String::from("the handler panicked"),
        })),
    }
}

type ReplySlot = oneshot::Sender<Result<Reply, Failure>>;

struct Driver<L> {
    link: L,
    link_info: LinkInfo,
    session: Session,
    handler: Option<Arc<dyn Handler>>,
    info: Option<Arc<ConnectionInfo>>,
    commands: Option<mpsc::UnboundedReceiver<Command>>,
    established: Option<oneshot::Sender<Result<Arc<ConnectionInfo>, ConnectError>>>,
    shutdown: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
    /// Client calls awaiting replies, by channel, with their tickets.
    pending: IntMap<ChannelId, (u64, ReplySlot)>,
    /// Channel of each client ticket, so a dropped call can be cancelled.
    tickets: IntMap<u64, ChannelId>,
    /// Running handlers and the handles that drop them.
    running: FuturesUnordered<HandlerTask>,
    aborts: IntMap<ChannelId, AbortHandle>,
    timer: Pin<Box<Sleep>>,
    error: Option<DriverError>,
    /// Nothing more will arrive: the peer closed, or sent bytes that are not frames.
    recv_done: bool,
    /// Nothing more can be sent: the link failed or is closed.
    link_done: bool,
}

impl<L: Link> Driver<L> {
    fn new(link: L, session: Session, handler: Option<Arc<dyn Handler>>) -> Self {
        let link_info = link.info().clone();
        Driver {
            link,
            link_info,
            session,
            handler,
            info: None,
            commands: None,
            established: None,
            shutdown: None,
            pending: IntMap::with_capacity_and_hasher(64, Default::default()),
            tickets: IntMap::with_capacity_and_hasher(64, Default::default()),
            running: FuturesUnordered::new(),
            aborts: IntMap::with_capacity_and_hasher(64, Default::default()),
            timer: Box::pin(tokio::time::sleep_until(tokio::time::Instant::now())),
            error: None,
            recv_done: false,
            link_done: false,
        }
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), DriverError>> {
        // One clock read per wake: a wake's turns take microseconds.
        let now = Instant::now();
        for _ in 0..TURNS {
            let mut progressed = self.poll_inputs(cx, now);
            if let Some(at) = self.session.poll_timeout()
                && at <= now
            {
                self.session.handle_timeout(now);
                progressed = true;
            }
            while let Some(event) = self.session.poll_event() {
                self.on_event(event, cx);
                progressed = true;
            }
            while let Some(frame) = self.session.poll_transmit() {
                if self.link.queue(frame).is_err() {
                    self.link_done = true;
                }
            }
            if !self.link_done
                && let Poll::Ready(Err(e)) = self.link.poll_flush(cx)
            {
                self.fail_link(now, e);
                progressed = true;
            }
            if self.session.is_closed() && (self.link_done || self.link.queued_bytes() == 0) {
                return self.finish(cx);
            }
            if !progressed {
                return self.arm_timer(cx);
            }
        }
        // Still busy: let other tasks run, then come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    /// Takes what is ready from the link, clients, handlers and the shutdown signal.
    fn poll_inputs(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progressed = false;
        if let Some(shutdown) = &mut self.shutdown
            && shutdown.as_mut().poll(cx).is_ready()
        {
            self.shutdown = None;
            self.session
                .go_away(now, Code::Unavailable, "the server is shutting down");
            progressed = true;
        }
        if self.link.queued_bytes() > HIGH_WATER {
            // Backpressure: take nothing new until the peer reads what we wrote.
            return progressed;
        }
        for _ in 0..BUDGET {
            if self.recv_done || self.link_done {
                break;
            }
            match self.link.poll_recv(cx) {
                Poll::Ready(Ok(Some(frame))) => self.session.handle_frame(now, frame),
                Poll::Ready(Ok(None)) => {
                    self.recv_done = true;
                    self.link_done = true;
                    self.session.handle_link_closed(now);
                }
                Poll::Ready(Err(LinkError::Frame(e))) => {
                    // The stream cannot be resynchronized, but the sending
                    // side still works: tell the peer why before closing.
                    self.recv_done = true;
                    self.session
                        .close(now, Code::Internal, "the peer sent a malformed frame");
                    self.error
                        .get_or_insert(DriverError::Link(LinkError::Frame(e)));
                }
                Poll::Ready(Err(e)) => self.fail_link(now, e),
                Poll::Pending => break,
            }
            progressed = true;
        }
        for _ in 0..BUDGET {
            let Some(commands) = &mut self.commands else {
                break;
            };
            match commands.poll_recv(cx) {
                Poll::Ready(Some(command)) => self.on_command(now, command),
                Poll::Ready(None) => {
                    // Every client handle is gone: finish what is in flight and close.
                    self.commands = None;
                    self.session.go_away(now, Code::Ok, "the client is done");
                }
                Poll::Pending => break,
            }
            progressed = true;
        }
        for _ in 0..BUDGET {
            match self.running.poll_next_unpin(cx) {
                Poll::Ready(Some((channel, outcome))) => {
                    self.aborts.remove(&channel);
                    self.finish_handler(channel, outcome);
                    progressed = true;
                }
                _ => break,
            }
        }
        progressed
    }

    fn fail_link(&mut self, now: Instant, error: LinkError) {
        self.link_done = true;
        if self.session.is_closed() {
            // The session had already ended; the peer went away before our
            // last frames reached it. Nothing was lost that it still wanted.
            return;
        }
        self.session.handle_link_closed(now);
        self.error.get_or_insert(DriverError::Link(error));
    }

    fn on_command(&mut self, now: Instant, command: Command) {
        match command {
            Command::Call {
                ticket,
                op,
                codec,
                deadline,
                body,
                reply,
            } => {
                let call = OutgoingCall {
                    op,
                    codec,
                    deadline,
                    body,
                };
                match self.session.open_call(now, call) {
                    Ok(channel) => {
                        self.pending.insert(channel, (ticket, reply));
                        self.tickets.insert(ticket, channel);
                    }
                    Err(e) => {
                        let _ = reply.send(Err(Failure::new(open_error_code(&e), e.to_string())));
                    }
                }
            }
            Command::Cancel { ticket } => {
                if let Some(channel) = self.tickets.remove(&ticket) {
                    self.pending.remove(&channel);
                    self.session.cancel(channel);
                }
            }
            Command::GoAway => self.session.go_away(now, Code::Ok, "the client is done"),
        }
    }

    fn on_event(&mut self, event: Event, cx: &mut Context<'_>) {
        match event {
            Event::Established => {
                let info = Arc::new(ConnectionInfo {
                    link: self.link_info.clone(),
                    peer_hello: self.session.peer_hello().cloned().unwrap_or_default(),
                });
                self.info = Some(Arc::clone(&info));
                if let Some(ready) = self.established.take() {
                    let _ = ready.send(Ok(info));
                }
            }
            Event::IncomingCall {
                channel,
                op,
                codec,
                deadline,
                body,
            } => self.start_handler(cx, channel, op, codec, deadline, body),
            Event::Response {
                channel,
                codec,
                body,
                app_error,
            } => self.complete(
                channel,
                Ok(Reply {
                    codec,
                    body,
                    app_error,
                }),
            ),
            Event::Failed {
                channel,
                code,
                message,
            } => self.complete(channel, Err(Failure { code, message })),
            Event::Cancelled { channel, .. } => {
                if let Some(abort) = self.aborts.remove(&channel) {
                    abort.abort();
                }
            }
            Event::Closed { error } => {
                match error {
                    // The peer finished its work and said goodbye: a clean end.
                    Some(SessionError::PeerGoneAway { code: Code::Ok, .. }) | None => {}
                    Some(error) => {
                        self.error.get_or_insert(DriverError::Session(error));
                    }
                }
                self.shut_down_calls();
            }
            _ => {}
        }
    }

    fn start_handler(
        &mut self,
        cx: &mut Context<'_>,
        channel: ChannelId,
        op: u64,
        codec: u16,
        deadline: Option<Instant>,
        body: Body,
    ) {
        let (Some(handler), Some(info)) = (&self.handler, &self.info) else {
            self.session
                .fail(channel, Code::Unimplemented, "this peer serves no ops");
            return;
        };
        let call = IncomingCall {
            channel,
            op,
            codec,
            deadline,
            body,
            connection: Arc::clone(info),
        };
        let mut fut = handler.call(call);
        // Most handlers finish without waiting: answer those at once, with
        // no cancellation handle and no slot among the running handlers.
        match poll_caught(&mut fut, cx) {
            Poll::Ready(Ok(outcome) | Err(outcome)) => self.finish_handler(channel, Some(outcome)),
            Poll::Pending => {
                let (abort, registration) = AbortHandle::new_pair();
                let fut = Abortable::new(fut, registration);
                self.aborts.insert(channel, abort);
                self.running.push(HandlerTask { channel, fut });
            }
        }
    }

    /// Sends a finished handler's answer; `None` when it was cancelled.
    fn finish_handler(&mut self, channel: ChannelId, outcome: Option<Outcome>) {
        match outcome {
            Some(Outcome::Reply {
                codec,
                body,
                app_error,
            }) => {
                self.session.respond(channel, codec, body, app_error);
            }
            Some(Outcome::Fail { code, message }) => {
                self.session.fail(channel, code, &message);
            }
            None => {}
        }
    }

    fn complete(&mut self, channel: ChannelId, result: Result<Reply, Failure>) {
        if let Some((ticket, reply)) = self.pending.remove(&channel) {
            self.tickets.remove(&ticket);
            // The caller may have gone; then nobody needs the reply.
            let _ = reply.send(result);
        }
    }

    /// The session closed: every caller learns why, every handler is dropped.
    fn shut_down_calls(&mut self) {
        let message = match &self.error {
            Some(DriverError::Session(e)) => format!("the connection closed: {e}"),
            Some(DriverError::Link(e)) => format!("the connection closed: {e}"),
            None => String::from("the connection closed"),
        };
        for (_, (_, reply)) in self.pending.drain() {
            let _ = reply.send(Err(Failure::new(Code::Unavailable, message.clone())));
        }
        self.tickets.clear();
        self.aborts.clear();
        self.running = FuturesUnordered::new();
        self.commands = None;
        if let Some(ready) = self.established.take() {
            let error = match self.error.take() {
                Some(DriverError::Session(e)) => ConnectError::Session(e),
                Some(DriverError::Link(e)) => ConnectError::Link(e),
                None => ConnectError::Closed,
            };
            let _ = ready.send(Err(error));
        }
    }

    fn finish(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), DriverError>> {
        if !self.link_done && self.link.poll_close(cx).is_pending() {
            return Poll::Pending;
        }
        self.shut_down_calls();
        Poll::Ready(match self.error.take() {
            Some(error) => Err(error),
            None => Ok(()),
        })
    }

    fn arm_timer(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), DriverError>> {
        if let Some(at) = self.session.poll_timeout() {
            let at = tokio::time::Instant::from_std(at);
            if self.timer.deadline() != at {
                self.timer.as_mut().reset(at);
            }
            if self.timer.as_mut().poll(cx).is_ready() {
                cx.waker().wake_by_ref();
            }
        }
        Poll::Pending
    }
}

/// The status a caller sees when its call could not be opened.
fn open_error_code(error: &OpenError) -> Code {
    match error {
        OpenError::TooManyChannels { .. } | OpenError::TooLarge { .. } => Code::ResourceExhausted,
        OpenError::WrongRole => Code::Internal,
        _ => Code::Unavailable,
    }
}
