//! The client side: [`connect`] spawns a connection's driver, [`Client`]
//! is the handle calls go through, [`PendingCall`] one call's future.

use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use futures_util::FutureExt;
use prism_core::{Code, Reply, Status};
use prism_proto::int_map::IntMap;
use prism_proto::session::{ChannelId, Event, Hello, OpenError, OutgoingCall, Role, Session};
use tokio::sync::{mpsc, oneshot, watch};

use super::conn::{BUDGET, Conn, TURNS};
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
    let exit_tx = Arc::new(exit_tx);
    let session = Session::new(Role::Client, setup.session.clone(), hello, Instant::now());
    let mut driver = ClientDriver {
        conn: Conn::new(link, session, setup),
        commands: Some(commands_rx),
        established: Some(ready_tx),
        pending: IntMap::with_capacity_and_hasher(64, Default::default()),
        tickets: IntMap::with_capacity_and_hasher(64, Default::default()),
        exit: Arc::clone(&exit_tx),
    };
    tokio::spawn(async move {
        let outcome = AssertUnwindSafe(poll_fn(|cx| driver.poll(cx)))
            .catch_unwind()
            .await;
        if let Err(panic) = outcome {
            // A normal end publishes its reason itself; a panic cannot.
            let reason = ConnectionError::panicked(&*panic);
            let status = reason.status();
            exit_tx.send_if_modified(|exit| {
                let first = exit.is_none();
                if first {
                    *exit = Some(reason);
                }
                first
            });
            // Every waiting call learns it was a panic.
            driver.fail_waiting(&status);
        }
    });
    match ready_rx.await {
        Ok(Ok(info)) => Ok(Client {
            shared: Arc::new(Shared {
                commands: commands_tx,
                next_ticket: AtomicU64::new(0),
                info,
                exit: exit_rx,
            }),
        }),
        Ok(Err(error)) => Err(error),
        Err(_) => Err(wait_exit(exit_rx).await),
    }
}

/// The reason the connection ended, once it is published.
async fn wait_exit(mut exit: Exit) -> ConnectionError {
    match exit.wait_for(Option::is_some).await {
        Ok(reason) => reason.clone().unwrap_or(ConnectionError::LocallyClosed),
        // The driver and its wrapper are gone without a word: only a
        // panic while publishing could do that.
        Err(_) => ConnectionError::Panicked {
            message: String::from("the connection task stopped without a reason"),
        },
    }
}

/// What clients ask of the connection task.
enum Command {
    Call {
        ticket: u64,
        call: OutgoingCall,
        reply: oneshot::Sender<Reply>,
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
    exit: Exit,
}

/// A cheap, cloneable handle for making calls on one connection.
///
/// Calls go to the connection task through an unbounded queue. The number
/// on the wire is bounded by the peer's channel limit, which the session
/// enforces (a call above it fails with `RESOURCE_EXHAUSTED`); while the
/// link is backpressured, calls wait in the queue, one entry per call
/// future the caller holds, so the caller's own concurrency bounds it.
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

    /// A call on a connection that ended: it fails with the reason, once
    /// the reason is known.
    fn ended(&self) -> State {
        let status = match self.close_reason() {
            Some(reason) => reason.status(),
            None => stopped(),
        };
        State::Failed(Some(status))
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

    /// Why the connection ended, if it has.
    pub fn close_reason(&self) -> Option<ConnectionError> {
        self.shared.exit.borrow().clone()
    }

    /// Waits until the connection ends, and says why.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches.
    pub async fn closed(&self) -> ConnectionError {
        wait_exit(self.shared.exit.clone()).await
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
            // A slot dropped unanswered says why itself (see `ReplySlot`).
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

/// Where one call's reply goes. A slot dropped without an answer (the
/// driver unwinding from a panic, or dropped with its runtime) answers
/// anyway, so no caller waits on nothing.
struct ReplySlot(Option<oneshot::Sender<Reply>>);

impl ReplySlot {
    fn send(mut self, reply: Reply) {
        if let Some(slot) = self.0.take() {
            // The caller may have gone; then nobody needs the reply.
            let _ = slot.send(reply);
        }
    }
}

impl Drop for ReplySlot {
    fn drop(&mut self) {
        if let Some(slot) = self.0.take() {
            let _ = slot.send(Err(stopped()));
        }
    }
}

struct ClientDriver<L> {
    conn: Conn<L>,
    commands: Option<mpsc::UnboundedReceiver<Command>>,
    established: Option<oneshot::Sender<Result<Arc<ConnectionInfo>, ConnectionError>>>,
    /// Calls awaiting replies, by channel, with their tickets.
    pending: IntMap<ChannelId, (u64, ReplySlot)>,
    /// Channel of each ticket, so a dropped call can be cancelled.
    tickets: IntMap<u64, ChannelId>,
    exit: Arc<watch::Sender<Option<ConnectionError>>>,
}

impl<L: Link> ClientDriver<L> {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        // One clock read per wake: a wake's turns take microseconds.
        let now = Instant::now();
        for _ in 0..TURNS {
            let mut keep_going = self.conn.drive_recv(cx, now);
            keep_going |= self.drive_commands(cx, now);
            keep_going |= self.conn.drive_admission(cx, now);
            keep_going |= self.conn.drive_timer(now);
            keep_going |= self.drive_events();
            keep_going |= self.conn.drive_transmit(cx, now);
            if self.conn.finished(now) {
                return self.finish(cx);
            }
            if !keep_going {
                return self.conn.park(cx).map(|_| ());
            }
        }
        // Still busy: let other tasks run, then come back.
        cx.waker().wake_by_ref();
        self.conn.publish();
        Poll::Pending
    }

    /// Step: calls, cancels and goodbyes from the handles.
    fn drive_commands(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        if self.conn.backpressured() {
            return false;
        }
        let mut progressed = false;
        for _ in 0..BUDGET {
            let Some(commands) = &mut self.commands else {
                break;
            };
            match commands.poll_recv(cx) {
                Poll::Ready(Some(command)) => self.on_command(now, command),
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

    fn on_command(&mut self, now: Instant, command: Command) {
        match command {
            Command::Call {
                ticket,
                call,
                reply,
            } => match self.conn.session.open_call(now, call) {
                Ok(channel) => {
                    self.conn.stats.calls_sent += 1;
                    self.pending
                        .insert(channel, (ticket, ReplySlot(Some(reply))));
                    self.tickets.insert(ticket, channel);
                }
                Err(error) => {
                    // Made, and failed before it left.
                    self.conn.stats.calls_sent += 1;
                    self.conn.stats.calls_failed += 1;
                    let _ =
                        reply.send(Err(Status::new(open_error_code(&error), error.to_string())));
                }
            },
            Command::Cancel { ticket } => {
                if let Some(channel) = self.tickets.remove(&ticket) {
                    self.conn.stats.calls_failed += 1;
                    self.pending.remove(&channel);
                    self.conn.session.cancel(channel);
                }
            }
            Command::GoAway => self
                .conn
                .session
                .go_away(now, Code::Ok, "the client is done"),
        }
    }

    /// Step: everything the session reported.
    fn drive_events(&mut self) -> bool {
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
                    if let Some((ticket, slot)) = self.pending.remove(&channel) {
                        self.tickets.remove(&ticket);
                        slot.send(reply);
                    }
                }
                // Only servers' handlers are cancelled.
                Event::Cancelled { .. } => {}
                // The session already failed the calls the peer did not take.
                Event::GoAway { .. } => {}
                Event::Pong { .. } => {}
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
        self.drive_events();
        if self.conn.poll_close(cx).is_pending() {
            return Poll::Pending;
        }
        let reason = self.conn.exit();
        // Published before the command queue closes, so a call that finds
        // the queue closed finds the reason too.
        self.exit.send_replace(Some(reason.clone()));
        self.fail_waiting(&reason.status());
        if let Some(ready) = self.established.take() {
            let _ = ready.send(Err(reason));
        }
        self.conn.publish();
        Poll::Ready(())
    }

    /// Fails every call still waiting, in flight or queued, with `status`,
    /// and takes no more.
    fn fail_waiting(&mut self, status: &Status) {
        for (_, (_, slot)) in self.pending.drain() {
            self.conn.stats.calls_failed += 1;
            slot.send(Err(status.clone()));
        }
        self.tickets.clear();
        if let Some(mut commands) = self.commands.take() {
            commands.close();
            while let Ok(command) = commands.try_recv() {
                match command {
                    // Made, and failed before the connection took it.
                    Command::Call { reply, .. } => {
                        self.conn.stats.calls_sent += 1;
                        self.conn.stats.calls_failed += 1;
                        let _ = reply.send(Err(status.clone()));
                    }
                    Command::Cancel { .. } | Command::GoAway => {}
                }
            }
        }
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
