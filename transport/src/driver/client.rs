//! The client side: [`connect`] spawns a connection's driver, [`Client`]
//! is the handle calls and streams go through, [`PendingCall`] one call's
//! future, an [`Inbound`] one stream's responses.

use crate::rt::Instant;
use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use futures_util::FutureExt;
use prism_core::{Code, CodecId, Metadata, Payload, Reply, Response, Status};
use prism_proto::int_map::IntMap;
use prism_proto::session::{
    ChannelId, Chunk, DatagramError, Event, Hello, Lifetime, Message, OpenError, OutgoingCall,
    OutgoingDatagram, OutgoingStream, Priority, Reassembler, ReauthError, Role, SessionError,
};
use tokio::sync::{mpsc, oneshot, watch};

use super::conn::{BUDGET, Conn, TURNS};
use super::pumps::{Ended, Pumps};
use super::queue::{Queue, Waiting};
use super::streams::{Control, ControlTx, Delivery, Feed, Inbound, Key, Outbound};
use super::{ConnectionError, ConnectionInfo, ConnectionStats, Setup};
use crate::Link;

/// Where the reason a connection ended is kept, for every handle.
type Exit = watch::Receiver<Option<ConnectionError>>;

/// Opens a client connection over `link`: spawns its driver task, waits
/// for the handshake, and returns a handle for calls.
///
/// # Errors
///
/// Fails, with the reason, when the handshake fails, is refused or times
/// out, or the link breaks first.
pub async fn connect<L: Link>(
    link: L,
    setup: Setup,
    hello: Hello,
) -> Result<Client, ConnectionError> {
    let (commands_tx, commands_rx) = mpsc::unbounded_channel();
    let (ready_tx, ready_rx) = oneshot::channel();
    let (exit_tx, exit_rx) = watch::channel(None);
    let (requests_tx, requests_rx) = watch::channel(Requested::default());
    let (draining_tx, draining_rx) = watch::channel(None);
    let max_message = setup.session.max_message;
    let mut driver = ClientDriver {
        conn: Conn::new(link, Role::Client, setup, hello),
        commands: Some(commands_rx),
        established: Some(ready_tx),
        pending: IntMap::with_capacity_and_hasher(64, Default::default()),
        tickets: IntMap::with_capacity_and_hasher(64, Default::default()),
        pumps: Pumps::default(),
        ended: Vec::new(),
        queue: Queue::default(),
        exit: exit_tx,
        reauth: None,
        requests: requests_tx,
        draining: draining_tx,
    };
    crate::rt::spawn(async move {
        let outcome = AssertUnwindSafe(poll_fn(|cx| driver.poll(cx)))
            .catch_unwind()
            .await;
        if let Err(panic) = outcome {
            // Every waiting call learns it was a panic.
            driver.end(ConnectionError::panicked(&*panic));
        }
    });
    match ready_rx.await {
        Ok(Ok(info)) => Ok(Client {
            shared: Arc::new(Shared {
                commands: commands_tx,
                next_ticket: AtomicU64::new(0),
                max_message,
                info,
                exit: exit_rx,
                requests: requests_rx,
                draining: draining_rx,
            }),
        }),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(wait_exit(exit_rx).await),
    }
}

/// A [`Client`] that does not keep its connection open (a background
/// task's handle), from [`Client::downgrade`].
#[derive(Clone)]
pub struct WeakClient {
    shared: Weak<Shared>,
}

impl WeakClient {
    /// The client, while some [`Client`] still holds the connection.
    pub fn upgrade(&self) -> Option<Client> {
        self.shared.upgrade().map(|shared| Client { shared })
    }
}

impl core::fmt::Debug for WeakClient {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WeakClient")
            .field("alive", &(self.shared.strong_count() > 0))
            .finish()
    }
}

/// The server's requests for a fresh proof on one connection, from
/// [`Client::reauth_requests`].
#[derive(Debug)]
pub struct ReauthRequests {
    requests: watch::Receiver<Requested>,
}

impl ReauthRequests {
    /// Waits for the next request; yields the time the server gives (if
    /// it said), or `None` once the connection ended. Requests that came
    /// while nobody waited count as one.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: a request is taken only when this returns it.
    pub async fn next(&mut self) -> Option<Option<Lifetime>> {
        self.requests.changed().await.ok()?;
        Some(self.requests.borrow_and_update().within)
    }
}

/// The reason the connection ended, once it is published.
async fn wait_exit(mut exit: Exit) -> ConnectionError {
    match exit.wait_for(Option::is_some).await {
        Ok(reason) => reason.clone().unwrap_or(ConnectionError::LocallyClosed),
        // The driver is gone without a word (it publishes a reason even
        // when dropped): only a panic while publishing could do that.
        Err(_) => ConnectionError::Stopped,
    }
}

/// What clients ask of the connection task.
pub(crate) enum Command {
    Call {
        ticket: u64,
        call: OutgoingCall,
        reply: oneshot::Sender<Reply>,
    },
    /// A call whose request or response (or both) is a stream.
    Open {
        ticket: u64,
        open: StreamOpen,
        sink: Sink,
    },
    /// The caller dropped its [`PendingCall`]: cancel the call on the server.
    Cancel { ticket: u64 },
    /// What a response stream's consumer did.
    Control(Control),
    /// Finish in-flight calls, refuse new ones, then close.
    GoAway,
    /// Present a fresh proof in band.
    Reauth {
        proof: Payload,
        answer: oneshot::Sender<Result<Option<Lifetime>, Status>>,
    },
    /// Send a datagram op's message.
    Datagram {
        datagram: OutgoingDatagram,
        fallback: DatagramFallback,
        sent: oneshot::Sender<Result<(), Status>>,
    },
}

/// What a datagram op's message does on a link without unreliable
/// datagrams (where the link has them, it travels in one whenever it can).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DatagramFallback {
    /// It is refused (`FAILED_PRECONDITION`).
    Refuse,
    /// It travels in band with the other frames, reliably.
    InBand,
}

/// The server's last request for a fresh proof: the time it gave. Each
/// request notifies the handles, whatever it says.
#[derive(Clone, Copy, Debug, Default)]
struct Requested {
    within: Option<Lifetime>,
}

/// A call to open whose request, response or both are streams.
pub struct StreamOpen {
    /// The op to invoke.
    pub op: u64,
    /// The codec of the request and response messages.
    pub codec: CodecId,
    /// How long the whole call may take, from when the connection takes
    /// it (time spent waiting for a free channel counts).
    pub deadline: Option<core::time::Duration>,
    /// The request: one message, or a stream the driver pulls as credit
    /// allows.
    pub request: Request,
    /// How urgently the channel's chunks leave, beside other channels'.
    pub priority: Priority,
    /// The call's metadata; empty for none.
    pub metadata: Metadata,
}

impl core::fmt::Debug for StreamOpen {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("StreamOpen")
            .field("op", &self.op)
            .field("codec", &self.codec)
            .field("deadline", &self.deadline)
            .field("priority", &self.priority)
            .field("metadata", &self.metadata)
            .finish_non_exhaustive()
    }
}

/// The request of a [`StreamOpen`].
pub enum Request {
    /// One message (a server stream's request).
    Whole(Payload),
    /// A stream of messages (a client or bidirectional stream's).
    Stream(Outbound),
}

impl core::fmt::Debug for Request {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Request::Whole(payload) => f.debug_tuple("Whole").field(payload).finish(),
            Request::Stream(_) => f.write_str("Stream"),
        }
    }
}

/// A call or stream open as the caller made it, until it has a channel.
pub(crate) enum Start {
    Call {
        call: OutgoingCall,
        reply: oneshot::Sender<Reply>,
    },
    Open {
        open: StreamOpen,
        sink: Sink,
    },
}

impl core::fmt::Debug for Start {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Start::Call { call, .. } => f.debug_tuple("Call").field(&call.op).finish(),
            Start::Open { open, .. } => f.debug_tuple("Open").field(&open.op).finish(),
        }
    }
}

/// Where a call's answer goes.
pub(crate) enum Sink {
    /// One reply, to a [`PendingCall`]; a response that arrives in chunks
    /// is put together here.
    Reply {
        tx: oneshot::Sender<Reply>,
        assembly: Option<Box<Assembly>>,
    },
    /// Every message, to an [`Inbound`].
    Stream(Feed),
}

impl Sink {
    /// The credit a reply's messages that nobody read still hold, taken
    /// from it: what to release when the call ends without handing them
    /// over.
    fn unread(&mut self) -> u64 {
        match self {
            Sink::Reply {
                assembly: Some(assembly),
                ..
            } => assembly.message.take().map_or(0, |m| m.held) + assembly.messages.clear(),
            Sink::Reply { assembly: None, .. } | Sink::Stream(_) => 0,
        }
    }
}

/// A unary response arriving in chunks.
#[derive(Default)]
pub(crate) struct Assembly {
    messages: Reassembler,
    message: Option<Message>,
    extra: bool,
}

struct Shared {
    commands: mpsc::UnboundedSender<Command>,
    next_ticket: AtomicU64,
    /// The largest response message this side accepts.
    max_message: u64,
    info: Arc<ConnectionInfo>,
    exit: Exit,
    requests: watch::Receiver<Requested>,
    /// The code of the server's GOAWAY, once it sent one.
    draining: watch::Receiver<Option<Code>>,
}

/// A cheap, cloneable handle for making calls on one connection.
///
/// Calls go to the connection task through an unbounded queue. The number
/// on the wire is bounded by the peer's channel limit, which the session
/// enforces (a call above it fails with `RESOURCE_EXHAUSTED`). While the
/// link is backpressured the queue is not drained: each call made waits
/// there, and a call dropped meanwhile adds a cancel beside it. Nothing
/// bounds it but the caller's own rate.
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
    /// Starts a call. Nothing is sent until the connection task runs, which
    /// happens without this future being polled.
    ///
    /// # Cancel safety
    ///
    /// Dropping the returned future before it completes cancels the call:
    /// the server drops its handler.
    pub fn call(&self, call: OutgoingCall) -> PendingCall {
        let ticket = self.shared.next_ticket.fetch_add(1, Ordering::Relaxed);
        let (reply, rx) = oneshot::channel();
        let command = Command::Call {
            ticket,
            call,
            reply,
        };
        let state = match self.shared.commands.send(command) {
            Ok(()) => State::Waiting(rx),
            Err(_) => self.ended(),
        };
        PendingCall {
            client: self.clone(),
            ticket,
            state,
        }
    }

    /// Starts a call whose request is a stream (a client stream): one
    /// reply ends it. Dropping the future cancels the call.
    pub fn call_streaming(&self, open: StreamOpen) -> PendingCall {
        let ticket = self.shared.next_ticket.fetch_add(1, Ordering::Relaxed);
        let (reply, rx) = oneshot::channel();
        let sink = Sink::Reply {
            tx: reply,
            assembly: None,
        };
        let state = match self
            .shared
            .commands
            .send(Command::Open { ticket, open, sink })
        {
            Ok(()) => State::Waiting(rx),
            Err(_) => self.ended(),
        };
        PendingCall {
            client: self.clone(),
            ticket,
            state,
        }
    }

    /// Opens a call whose response is a stream (a server or bidirectional
    /// stream): its messages arrive on the returned [`Inbound`], which
    /// gives credit back as they are read. Dropping it cancels the call.
    pub fn open_stream(&self, open: StreamOpen) -> Inbound {
        let ticket = self.shared.next_ticket.fetch_add(1, Ordering::Relaxed);
        let control = ControlTx::Commands(self.shared.commands.clone());
        let max = self.shared.max_message;
        let (feed, inbound) = Inbound::new(Key::Ticket(ticket), control, max);
        let sink = Sink::Stream(feed);
        match self
            .shared
            .commands
            .send(Command::Open { ticket, open, sink })
        {
            Ok(()) => inbound,
            Err(_) => {
                let State::Failed(status) = self.ended() else {
                    unreachable!("ended() is a failure")
                };
                Inbound::failed(status.unwrap_or_else(stopped))
            }
        }
    }

    /// A call on a connection that ended: it fails with the reason, once
    /// the reason is known, never having left.
    fn ended(&self) -> State {
        let status = match self.close_reason() {
            Some(reason) => reason.status(),
            None => stopped(),
        };
        State::Failed(Some(status.unprocessed()))
    }

    /// Facts about the connection: link, peer address, the peer's handshake.
    pub fn info(&self) -> &Arc<ConnectionInfo> {
        &self.shared.info
    }

    /// What the connection moved so far.
    pub fn stats(&self) -> ConnectionStats {
        self.shared.info.stats()
    }

    /// Whether the connection task has stopped.
    pub fn is_closed(&self) -> bool {
        self.shared.commands.is_closed()
    }

    /// Whether the server sent GOAWAY (the connection takes no new calls;
    /// it finishes those it has), or the connection task is gone.
    pub fn is_draining(&self) -> bool {
        // The value changes once, from none to the GOAWAY's code, and this
        // receiver never marks a value seen: it has changed exactly when
        // the server sent GOAWAY. (An atomic load, not the watch's lock:
        // a reconnecting channel asks on every call.) Once the driver is
        // gone, the connection takes no calls either.
        self.shared.draining.has_changed().unwrap_or(true)
    }

    /// The code of the server's GOAWAY (`OK`: the connection was idle),
    /// once it sent one.
    pub fn draining_code(&self) -> Option<Code> {
        *self.shared.draining.borrow()
    }

    /// Why the connection ended, if it has.
    pub fn close_reason(&self) -> Option<ConnectionError> {
        self.shared.exit.borrow().clone()
    }

    /// Presents a fresh proof to the server in band (re-authentication),
    /// without disturbing open calls; resolves to the lifetime of the new
    /// authentication (`None`: it does not expire). One proof at a time.
    ///
    /// The proof is sent at once; the future only waits for the answer
    /// and holds no handle, so it never keeps the connection open.
    ///
    /// # Errors
    ///
    /// `FAILED_PRECONDITION` when the server does not re-authenticate in
    /// band, a proof already waits for its answer, or the proof is too
    /// large. A refused proof closes the connection: the error is then the
    /// server's code and reason; a connection that ended otherwise gives
    /// its [`ConnectionError::status`].
    pub fn reauthenticate(
        &self,
        proof: Payload,
    ) -> impl Future<Output = Result<Option<Lifetime>, Status>> + Send + 'static {
        let (answer, rx) = oneshot::channel();
        let sent = (self.shared.commands)
            .send(Command::Reauth { proof, answer })
            .is_ok();
        let exit = self.shared.exit.clone();
        async move {
            if sent && let Ok(answer) = rx.await {
                return answer;
            }
            Err(match wait_exit(exit).await {
                ConnectionError::Session(SessionError::PeerClosed { code, reason }) => {
                    Status::new(code, reason)
                }
                other => other.status(),
            })
        }
    }

    /// Sends a datagram op's message: fire-and-forget, nothing answers it.
    /// Resolves once the connection took it (while the link is
    /// backpressured, that waits), not when it arrived, which nobody
    /// learns: an unreliable datagram may be lost.
    ///
    /// # Errors
    ///
    /// `FAILED_PRECONDITION` when the link has no unreliable datagrams
    /// and `fallback` refuses, or the server does not take datagram ops;
    /// `RESOURCE_EXHAUSTED` when the message does not fit the link's
    /// datagram size (or, in band, one chunk); `UNAVAILABLE` (never sent)
    /// when the connection is going away or gone.
    pub fn send_datagram(
        &self,
        datagram: OutgoingDatagram,
        fallback: DatagramFallback,
    ) -> impl Future<Output = Result<(), Status>> + Send + 'static {
        let (sent, rx) = oneshot::channel();
        let command = Command::Datagram {
            datagram,
            fallback,
            sent,
        };
        let queued = self.shared.commands.send(command).is_ok();
        let exit = self.shared.exit.clone();
        async move {
            if queued && let Ok(sent) = rx.await {
                return sent;
            }
            Err(wait_exit(exit).await.status().unprocessed())
        }
    }

    /// A handle that does not keep the connection open: once every
    /// [`Client`] is gone the connection says goodbye, whatever weak
    /// handles remain.
    pub fn downgrade(&self) -> WeakClient {
        WeakClient {
            shared: Arc::downgrade(&self.shared),
        }
    }

    /// The server's requests for a fresh proof, from now on.
    pub fn reauth_requests(&self) -> ReauthRequests {
        let mut requests = self.shared.requests.clone();
        requests.mark_unchanged();
        ReauthRequests { requests }
    }

    /// Waits until the connection ends, and says why.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches.
    pub async fn closed(&self) -> ConnectionError {
        wait_exit(self.shared.exit.clone()).await
    }

    /// Resolves once the server sent GOAWAY, with its code (`OK`: the
    /// connection was idle), or once the connection ended (`None`),
    /// whichever first, without keeping it open.
    pub fn on_draining(&self) -> impl Future<Output = Option<Code>> + Send + 'static {
        let mut draining = self.shared.draining.clone();
        async move {
            let code = draining.wait_for(Option::is_some).await.ok()?;
            *code
        }
    }

    /// Resolves when the connection ends, with why, without keeping it
    /// open (unlike [`closed`](Self::closed), it holds no handle).
    pub fn on_close(&self) -> impl Future<Output = ConnectionError> + Send + 'static {
        wait_exit(self.shared.exit.clone())
    }

    /// Asks the connection to finish in-flight calls and close.
    pub fn go_away(&self) {
        let _ = self.shared.commands.send(Command::GoAway);
    }
}

/// The status of a call whose connection task stopped without publishing
/// why: it panicked, or its runtime shut down.
fn stopped() -> Status {
    Status::unavailable(
        "the connection task stopped unexpectedly (it panicked or its runtime shut down)",
    )
}

enum State {
    Waiting(oneshot::Receiver<Reply>),
    Failed(Option<Status>),
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
    type Output = Reply;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Reply> {
        let this = &mut *self;
        let reply = match &mut this.state {
            // The driver answers every call it took, even as it ends; a
            // reply dropped unanswered means it stopped without a word.
            State::Waiting(rx) => ready!(Pin::new(rx).poll(cx)).unwrap_or_else(|_| Err(stopped())),
            State::Failed(status) => Err(status
                .take()
                .unwrap_or_else(|| Status::internal("call polled after it completed"))),
            State::Done => Err(Status::internal("call polled after it completed")),
        };
        this.state = State::Done;
        Poll::Ready(reply)
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

struct ClientDriver<L: Link> {
    conn: Conn<L>,
    commands: Option<mpsc::UnboundedReceiver<Command>>,
    established: Option<oneshot::Sender<Result<Arc<ConnectionInfo>, ConnectionError>>>,
    /// Calls awaiting answers, by channel, with their tickets.
    pending: IntMap<ChannelId, (u64, Sink)>,
    /// Channel of each ticket, so a dropped call can be cancelled.
    tickets: IntMap<u64, ChannelId>,
    /// Request streams, pulled while their channels take messages.
    pumps: Pumps,
    /// Request streams that closed with an answer: their calls are cancelled.
    ended: Vec<Ended>,
    /// Calls and stream opens past the server's channel limit, in order.
    queue: Queue<Start>,
    exit: watch::Sender<Option<ConnectionError>>,
    /// Where the answer to the proof in flight goes.
    reauth: Option<oneshot::Sender<Result<Option<Lifetime>, Status>>>,
    /// The server's requests for a fresh proof, to the handles.
    requests: watch::Sender<Requested>,
    /// Tells the handles the server sent GOAWAY, with its code.
    draining: watch::Sender<Option<Code>>,
}

impl<L: Link> ClientDriver<L> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // One clock read per wake: a wake's turns take microseconds.
        let now = super::now();
        for _ in 0..TURNS {
            // Replies are always read (they add nothing to write); new
            // calls wait while earlier frames wait to be written. Commands
            // (cancels and credit among them) come first: tokio's
            // cooperative budget is shared by every source of a wake, and
            // a peer that keeps frames coming must not spend it all.
            // (Reading queues nothing on the link, so one look serves the
            // turn.)
            let backpressured = self.conn.backpressured();
            let mut keep_going = false;
            if !backpressured {
                keep_going |= self.drive_commands(cx, now);
            }
            keep_going |= self.conn.drive_recv(cx, now);
            if !backpressured {
                keep_going |= self.drive_pumps(cx);
            }
            keep_going |= self.conn.drive_admission(cx, now);
            keep_going |= self.conn.drive_timer(now);
            keep_going |= self.drive_events(cx);
            // Queued calls whose deadline passed fail even while
            // backpressured; the others take free channels only when not.
            keep_going |= self.drive_queue(cx, now, !backpressured);
            keep_going |= self.conn.drive_transmit(cx, now);
            if self.conn.finished(now) {
                return self.finish(cx);
            }
            // The link drained this turn: what waited for it (commands,
            // queued calls) goes on at once, not at the next wake.
            keep_going |= backpressured && !self.conn.backpressured();
            if !keep_going {
                let wake = (!self.queue.is_empty())
                    .then(|| self.queue.next_expiry())
                    .flatten();
                return self.conn.park(cx, wake).map(|_| ());
            }
        }
        // Still busy: let other tasks run, then come back.
        cx.waker().wake_by_ref();
        self.conn.publish();
        Poll::Pending
    }

    /// Step: calls, cancels and goodbyes from the handles.
    fn drive_commands(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progressed = false;
        for _ in 0..BUDGET {
            let Some(commands) = &mut self.commands else {
                break;
            };
            match commands.poll_recv(cx) {
                Poll::Ready(Some(command)) => self.on_command(cx, now, command),
                Poll::Ready(None) => {
                    // Every handle is gone: finish what is in flight and close.
                    self.commands = None;
                    self.conn
                        .session
                        .go_away(now, Code::Ok, "the client is done");
                }
                Poll::Pending => break,
            }
            progressed = true;
        }
        progressed
    }

    fn on_command(&mut self, cx: &mut Context<'_>, now: Instant, command: Command) {
        match command {
            // A deadline counts from a fresh clock read: the wake's may
            // predate the call, and a deadline must never pass early.
            Command::Call {
                ticket,
                call,
                reply,
            } => {
                let now = call.deadline.map_or(now, |_| super::now());
                let expires = call.deadline.and_then(|d| now.checked_add(d));
                self.start(cx, now, ticket, Start::Call { call, reply }, expires);
            }
            Command::Open { ticket, open, sink } => {
                let now = open.deadline.map_or(now, |_| super::now());
                let expires = open.deadline.and_then(|d| now.checked_add(d));
                self.start(cx, now, ticket, Start::Open { open, sink }, expires);
            }
            Command::Cancel { ticket } => self.cancel(ticket),
            Command::Control(Control::Release { channel, bytes }) => {
                self.conn.session.release(channel, bytes);
            }
            Command::Control(Control::Dropped { key }) => {
                if let Key::Ticket(ticket) = key {
                    self.cancel(ticket);
                }
            }
            Command::GoAway => self
                .conn
                .session
                .go_away(now, Code::Ok, "the client is done"),
            Command::Reauth { proof, answer } => {
                match self.conn.session.reauthenticate(now, proof) {
                    Ok(()) => self.reauth = Some(answer),
                    // The answer is dropped: the caller reads why the
                    // connection ended.
                    Err(ReauthError::Closed) => {}
                    Err(error) => {
                        let _ = answer.send(Err(Status::failed_precondition(error.to_string())));
                    }
                }
            }
            Command::Datagram {
                datagram,
                fallback,
                sent,
            } => {
                let _ = sent.send(self.send_datagram(now, datagram, fallback));
            }
        }
    }

    /// Hands a datagram op's message to the session, where the link can
    /// carry it as `fallback` allows and it fits.
    fn send_datagram(
        &mut self,
        now: Instant,
        datagram: OutgoingDatagram,
        fallback: DatagramFallback,
    ) -> Result<(), Status> {
        let len = datagram.payload.len();
        match (self.conn.link.max_datagram_size(), fallback) {
            (Some(max), _) if len > max => {
                return Err(Status::resource_exhausted(format!(
                    "a datagram of {len} bytes exceeds this link's datagram size of {max} bytes"
                )));
            }
            (Some(_), _) | (None, DatagramFallback::InBand) => {}
            (None, DatagramFallback::Refuse) => {
                return Err(Status::failed_precondition(format!(
                    "the op needs unreliable datagrams and this {} link has none",
                    self.conn.link.info().kind
                )));
            }
        }
        match self.conn.session.send_datagram(now, datagram) {
            Ok(()) => {
                self.conn.stats.datagrams_sent += 1;
                Ok(())
            }
            Err(error) => Err(datagram_status(&error)),
        }
    }

    /// Opens a call or stream the caller made, or queues it behind those
    /// already waiting when the server has as many of this connection's
    /// channels open as it accepts.
    fn start(
        &mut self,
        cx: &mut Context<'_>,
        now: Instant,
        ticket: u64,
        start: Start,
        expires: Option<Instant>,
    ) {
        if !self.queue.is_empty() || self.channels_full() {
            self.queue.push(Waiting {
                ticket,
                item: start,
                expires,
            });
            return;
        }
        self.open(cx, now, ticket, start, expires);
    }

    /// The server has as many of this connection's channels open as it
    /// accepts: a new call must wait.
    fn channels_full(&self) -> bool {
        matches!(
            self.conn.session.check_open(),
            Err(OpenError::TooManyChannels { .. })
        )
    }

    /// Step: queued calls whose deadline passed fail with
    /// `DEADLINE_EXCEEDED`; then, when `open`, queued calls go into
    /// channels that came free, in order.
    fn drive_queue(&mut self, cx: &mut Context<'_>, now: Instant, open: bool) -> bool {
        if self.queue.is_empty() {
            return false;
        }
        let mut progressed = false;
        for waiting in self.queue.take_expired(now) {
            progressed = true;
            let status = Status::deadline_exceeded(format!(
                "deadline exceeded while waiting for a free channel (the server accepts {} at once)",
                self.conn
                    .session
                    .peer_hello()
                    .map_or(0, |hello| hello.max_channels)
            ));
            self.fail_queued(waiting.item, status);
        }
        while open && !self.queue.is_empty() && !self.channels_full() {
            let Some(waiting) = self.queue.pop() else {
                break;
            };
            progressed = true;
            self.open(cx, now, waiting.ticket, waiting.item, waiting.expires);
        }
        progressed
    }

    /// Opens a call or stream in the session now, its deadline what is
    /// left of the one it was made with; a refusal fails it at once.
    fn open(
        &mut self,
        cx: &mut Context<'_>,
        now: Instant,
        ticket: u64,
        start: Start,
        expires: Option<Instant>,
    ) {
        let deadline = expires.map(|at| at.saturating_duration_since(now));
        let (open, sink) = match start {
            Start::Call { mut call, reply } => {
                call.deadline = deadline;
                let sink = Sink::Reply {
                    tx: reply,
                    assembly: None,
                };
                let priority = call.priority;
                let opened = self.conn.session.open_call(now, call);
                self.opened(ticket, opened, sink, priority);
                return;
            }
            Start::Open { open, sink } => (open, sink),
        };
        let StreamOpen {
            op,
            codec,
            request,
            priority,
            metadata,
            ..
        } = open;
        match request {
            Request::Whole(payload) => {
                let call = OutgoingCall {
                    op,
                    codec,
                    deadline,
                    payload,
                    priority,
                    metadata,
                };
                let opened = self.conn.session.open_call(now, call);
                self.opened(ticket, opened, sink, priority);
            }
            Request::Stream(stream) => {
                let opening = OutgoingStream {
                    op,
                    codec,
                    deadline,
                    priority,
                    metadata,
                };
                let opened = self.conn.session.open_stream(now, opening);
                if let Some(channel) = self.opened(ticket, opened, sink, priority) {
                    let session = &mut self.conn.session;
                    (self.pumps).start(session, cx, channel, codec, stream, &mut self.ended);
                    self.cancel_ended();
                }
            }
        }
    }

    /// Fails a call that never left the queue.
    fn fail_queued(&mut self, start: Start, status: Status) {
        self.conn.stats.calls_sent += 1;
        self.conn.stats.calls_failed += 1;
        match start {
            Start::Call { reply, .. } => {
                let _ = reply.send(Err(status));
            }
            Start::Open { sink, .. } => sink.deliver(Err(status)),
        }
    }

    /// Records a call the session opened (or fails it at once); returns
    /// its channel.
    fn opened(
        &mut self,
        ticket: u64,
        opened: Result<ChannelId, OpenError>,
        sink: Sink,
        priority: Priority,
    ) -> Option<ChannelId> {
        self.conn.stats.calls_sent += 1;
        match opened {
            Ok(channel) => {
                if priority != Priority::DEFAULT {
                    self.conn.link.set_priority(channel.get(), priority);
                }
                self.pending.insert(channel, (ticket, sink));
                self.tickets.insert(ticket, channel);
                Some(channel)
            }
            Err(error) => {
                // Made, and failed before it left.
                self.conn.stats.calls_failed += 1;
                let status = Status::new(open_error_code(&error), error.to_string()).unprocessed();
                sink.deliver(Err(status));
                None
            }
        }
    }

    /// The caller gave up on a call: cancel it on the server (or take it
    /// out of the queue, when it never left).
    fn cancel(&mut self, ticket: u64) {
        if let Some(waiting) = self.queue.remove(ticket) {
            let status = Status::cancelled("the caller gave up on the call");
            return self.fail_queued(waiting.item, status);
        }
        if let Some(channel) = self.tickets.remove(&ticket) {
            self.conn.stats.calls_failed += 1;
            if let Some((_, mut sink)) = self.pending.remove(&channel) {
                self.release(channel, sink.unread());
            }
            self.pumps.cancel(channel);
            self.conn.session.cancel(channel);
        }
    }

    /// Step: request streams whose next item came in.
    fn drive_pumps(&mut self, cx: &mut Context<'_>) -> bool {
        let progressed = (self.pumps).drive(&mut self.conn.session, cx, &mut self.ended);
        self.cancel_ended();
        progressed
    }

    /// A request stream that closed with an answer cancels its call; the
    /// caller gets the status it closed with.
    fn cancel_ended(&mut self) {
        while let Some(Ended::Closed(channel, reply)) = self.ended.pop() {
            if let Some((_, sink)) = self.pending.get_mut(&channel) {
                let held = sink.unread();
                self.release(channel, held);
            }
            self.conn.session.cancel(channel);
            if let Some((ticket, sink)) = self.pending.remove(&channel) {
                self.tickets.remove(&ticket);
                self.conn.stats.calls_failed += 1;
                let status = match reply {
                    Err(status) => status,
                    Ok(_) => Status::invalid_argument("a request stream cannot answer its call"),
                };
                // Cancelled here: a response stream's reader learns at
                // once, ahead of items still queued.
                match sink {
                    Sink::Stream(feed) => feed.close_as(Err(status), true),
                    sink => sink.deliver(Err(status)),
                }
            }
        }
    }

    /// A call ended: its sink gets `reply`, its request stream stops.
    fn finish_call(&mut self, channel: ChannelId, reply: Reply) {
        self.pumps.cancel(channel);
        if let Some((ticket, mut sink)) = self.pending.remove(&channel) {
            self.release(channel, sink.unread());
            self.tickets.remove(&ticket);
            // The caller may have gone; then nobody needs it.
            sink.deliver(reply);
        }
    }

    /// Returns `held` bytes of credit to the session.
    fn release(&mut self, channel: ChannelId, held: u64) {
        if held > 0 {
            self.conn.session.release(channel, held);
        }
    }

    /// A chunk of a response.
    fn on_data(&mut self, channel: ChannelId, mut chunk: Chunk) {
        if chunk.is_whole() {
            self.conn.align(&mut chunk.payload);
        }
        let cost = chunk.cost();
        let max = self.conn.session.config().max_message;
        let release = match self.pending.get_mut(&channel) {
            None => cost,
            Some((_, Sink::Stream(feed))) => match feed.send(Delivery::Chunk(channel, chunk)) {
                true => 0,
                false => cost, // its reader is gone
            },
            Some((_, Sink::Reply { assembly, .. })) => {
                let assembly = assembly.get_or_insert_with(Box::default);
                match assembly.messages.push(chunk, max) {
                    Ok(pushed) => {
                        let mut release = pushed.release;
                        if let Some(message) = pushed.message {
                            if assembly.message.is_some() {
                                // One answer too many: not kept.
                                assembly.extra = true;
                                release += message.held;
                            } else {
                                assembly.message = Some(message);
                            }
                        }
                        // More messages packed in: one answer too many.
                        while let Some(extra) = assembly.messages.pop() {
                            assembly.extra = true;
                            release += extra.held;
                        }
                        release
                    }
                    Err(_) => cost, // too large: dropped unread
                }
            }
        };
        if release > 0 {
            self.conn.session.release(channel, release);
        }
    }

    /// The server's stream ended normally.
    fn on_end(&mut self, channel: ChannelId) {
        self.pumps.cancel(channel);
        let Some((ticket, sink)) = self.pending.remove(&channel) else {
            return;
        };
        self.tickets.remove(&ticket);
        match sink {
            Sink::Stream(feed) => {
                feed.send(Delivery::End);
            }
            Sink::Reply { tx, assembly } => {
                let reply = match assembly.map(|a| *a) {
                    Some(Assembly {
                        message: Some(message),
                        extra: false,
                        ..
                    }) => {
                        // Handed over: consumed.
                        self.conn.session.release(channel, message.held);
                        let mut response = Response::new(message.codec, message.payload);
                        response.app_error = message.app_error;
                        Ok(response)
                    }
                    Some(Assembly {
                        message,
                        extra: true,
                        ..
                    }) => {
                        self.release(channel, message.map_or(0, |m| m.held));
                        Err(Status::internal(
                            "the server sent several messages for one answer",
                        ))
                    }
                    _ => Err(Status::internal(
                        "the server ended the call without an answer",
                    )),
                };
                if reply.is_err() {
                    self.conn.stats.calls_failed += 1;
                }
                let _ = tx.send(reply);
            }
        }
    }

    /// Step: everything the session reported.
    fn drive_events(&mut self, cx: &mut Context<'_>) -> bool {
        let mut progressed = false;
        while let Some(event) = self.conn.session.poll_event() {
            progressed = true;
            match event {
                Event::Hello => self.conn.start_admission(),
                Event::Established => {
                    let info = self.conn.establish();
                    if let Some(ready) = self.established.take() {
                        let _ = ready.send(Ok(info));
                    }
                }
                // A client serves no calls; its session refuses CALL frames
                // before they become events.
                Event::Call { channel, .. } => {
                    let status = Status::unimplemented("this peer serves no ops");
                    self.conn.session.respond(channel, Err(status));
                }
                Event::Reply { channel, mut reply } => {
                    match &mut reply {
                        Ok(response) => self.conn.align(&mut response.payload),
                        Err(_) => self.conn.stats.calls_failed += 1,
                    }
                    self.finish_call(channel, reply);
                }
                Event::Opened { channel } => {
                    if let Some((_, Sink::Stream(feed))) = self.pending.get(&channel) {
                        feed.send(Delivery::Opened);
                    }
                }
                Event::Skipped {
                    channel,
                    count,
                    held,
                } => {
                    // Its credit comes back as the reader takes it, like a
                    // message's; at once when nobody reads.
                    let delivered = match self.pending.get(&channel) {
                        Some((_, Sink::Stream(feed))) => {
                            feed.send(Delivery::Skipped(channel, count, held))
                        }
                        _ => false,
                    };
                    if !delivered {
                        self.conn.session.release(channel, held);
                    }
                }
                Event::Data { channel, chunk } => self.on_data(channel, chunk),
                Event::End { channel } => self.on_end(channel),
                // The server reads the request stream no more: stop
                // pulling it; the response goes on.
                Event::StopSending { channel, .. } => self.pumps.cancel(channel),
                Event::Writable { channel } => {
                    let session = &mut self.conn.session;
                    (self.pumps).on_writable(session, cx, channel, &mut self.ended);
                    self.cancel_ended();
                }
                // Only servers' handlers are cancelled.
                Event::Cancelled { .. } => {}
                // The session already failed the calls the peer did not take.
                Event::GoAway { code, .. } => {
                    self.draining.send_replace(Some(code));
                }
                Event::Pong { .. } => {}
                Event::Reauthenticated { lifetime } => {
                    if let Some(answer) = self.reauth.take() {
                        let _ = answer.send(Ok(lifetime));
                    }
                }
                Event::ReauthRequested { within } => {
                    self.requests
                        .send_modify(|requested| requested.within = within);
                }
                // Only servers check proofs, or take datagrams.
                Event::Reauthenticate { .. } | Event::Datagram { .. } => {}
                Event::Closed { error } => self.conn.on_closed(error),
            }
        }
        progressed
    }

    /// The connection ended: publishes why, then fails whatever is still
    /// waiting with that reason.
    fn finish(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // What the session said as it closed (a link that failed in the
        // last step leaves its events unread).
        self.drive_events(cx);
        if self.conn.poll_close(cx).is_pending() {
            return Poll::Pending;
        }
        self.end(self.conn.exit());
        Poll::Ready(())
    }

    /// The one end of a client connection, however it ends (finished,
    /// panicked, or dropped with its runtime): publishes `reason` unless a
    /// reason is already out, fails every call still waiting with the
    /// published one, and publishes the statistics. Doing it again does
    /// nothing more.
    fn end(&mut self, reason: ConnectionError) {
        // Published before the command queue closes, so a call that finds
        // the queue closed finds the reason too.
        self.exit.send_if_modified(|exit| {
            let first = exit.is_none();
            if first {
                *exit = Some(reason);
            }
            first
        });
        let reason = self
            .exit
            .borrow()
            .clone()
            .unwrap_or(ConnectionError::Stopped);
        self.fail_waiting(&reason.status());
        if let Some(ready) = self.established.take() {
            let _ = ready.send(Err(reason));
        }
        self.conn.publish();
    }

    /// Fails every call still waiting, in flight or queued, with `status`,
    /// and takes no more.
    fn fail_waiting(&mut self, status: &Status) {
        for (_, (_, sink)) in self.pending.drain() {
            self.conn.stats.calls_failed += 1;
            // The caller may have gone; then nobody needs the reply. A
            // stream's reader learns at once, ahead of stale items.
            match sink {
                Sink::Stream(feed) => feed.close_as(Err(status.clone()), true),
                sink => sink.deliver(Err(status.clone())),
            }
        }
        self.tickets.clear();
        // Queued and still in the command queue: they never left.
        let unsent = status.clone().unprocessed();
        let queued: Vec<Start> = self.queue.drain().map(|waiting| waiting.item).collect();
        for start in queued {
            self.fail_queued(start, unsent.clone());
        }
        self.pumps.cancel_all();
        // Its caller reads the reason the connection ended.
        self.reauth = None;
        if let Some(mut commands) = self.commands.take() {
            commands.close();
            while let Ok(command) = commands.try_recv() {
                match command {
                    // Made, and failed before the connection took it.
                    Command::Call { reply, .. } => {
                        self.conn.stats.calls_sent += 1;
                        self.conn.stats.calls_failed += 1;
                        let _ = reply.send(Err(unsent.clone()));
                    }
                    Command::Open { sink, .. } => {
                        self.conn.stats.calls_sent += 1;
                        self.conn.stats.calls_failed += 1;
                        sink.deliver(Err(unsent.clone()));
                    }
                    // Dropping its answer tells the caller the reason.
                    Command::Cancel { .. }
                    | Command::Control(_)
                    | Command::GoAway
                    | Command::Reauth { .. }
                    | Command::Datagram { .. } => {}
                }
            }
        }
    }
}

impl<L: Link> Drop for ClientDriver<L> {
    /// A driver dropped before it ended (its runtime shut down) still
    /// says so, to every waiting call and every handle.
    fn drop(&mut self) {
        self.end(ConnectionError::Stopped);
    }
}

impl Sink {
    /// Delivers how the call ended; the caller may have gone.
    fn deliver(self, reply: Reply) {
        match self {
            Sink::Reply { tx, .. } => {
                let _ = tx.send(reply);
            }
            Sink::Stream(feed) => feed.close(reply),
        }
    }
}

/// The status a caller sees when its datagram could not be sent.
fn datagram_status(error: &DatagramError) -> Status {
    let message = error.to_string();
    match error {
        DatagramError::TooLarge { .. } => Status::resource_exhausted(message),
        DatagramError::NotNegotiated => Status::failed_precondition(message),
        DatagramError::WrongRole => Status::internal(message),
        _ => Status::unavailable(message).unprocessed(),
    }
}

/// The status a caller sees when its call could not be opened.
fn open_error_code(error: &OpenError) -> Code {
    match error {
        OpenError::TooManyChannels { .. }
        | OpenError::TooLarge { .. }
        | OpenError::MetadataTooLarge { .. } => Code::ResourceExhausted,
        OpenError::NoMetadata => Code::FailedPrecondition,
        OpenError::WrongRole => Code::Internal,
        _ => Code::Unavailable,
    }
}
