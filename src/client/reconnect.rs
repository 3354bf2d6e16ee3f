//! Channels that come back: the [`Reconnect`] policy, the
//! [`ChannelState`] a channel reports, and the supervisor task that keeps
//! a channel made from a connector connected.
//!
//! The supervisor holds the channel's current [`Connection`] and replaces
//! it when it ends. A connection closed for being idle is replaced on the
//! next call, whatever the policy. One that ended otherwise is replaced at
//! once under a [`Reconnect`] policy (else the channel shuts down), and
//! after each failed attempt the supervisor waits an exponentially
//! growing, jittered backoff. Every new
//! connection redoes the whole handshake (op table, codecs, credentials),
//! so a server that came back with another schema is judged per op on the
//! next call. The task holds the channel only weakly: dropping the last
//! [`Channel`](super::Channel) ends it, and the connection with it.

use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, PoisonError, RwLock, Weak};
use std::time::Duration;

use prism_core::{Code, Status};
use prism_transport::driver::ConnectionError;
use prism_transport::rt::{self, Instant};
use prism_transport::{Connector, LinkInfo};
use tokio::sync::{Notify, oneshot, watch};
use tokio_util::sync::CancellationToken;

use super::ChannelBuilder;
use super::connection::Connection;
use crate::ConnectError;

/// The default wait after the first failed attempt to reconnect.
pub const DEFAULT_FIRST_BACKOFF: Duration = Duration::from_millis(100);
/// The default longest wait between attempts to reconnect.
pub const DEFAULT_MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Each wait is this many times the one before, up to the maximum.
const MULTIPLIER: f64 = 1.6;
/// Each wait is moved by up to this share of itself, either way, so
/// clients that lost one server do not come back in step.
const JITTER: f64 = 0.2;
/// The bounds of a backoff setting: never a busy loop, never forever.
const MIN_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_secs(24 * 3600);

/// How a channel comes back after its connection ends: given to
/// [`ChannelBuilder::reconnect`], implied by
/// [`ChannelBuilder::connect_lazy`].
///
/// A reconnecting channel connects again as soon as its connection ends
/// or the server says it is going away (GOAWAY: the calls it took finish
/// on the old connection, new ones go to the next), except after an idle
/// close, when it waits for the next call. After each failed attempt it
/// waits (100 ms at first, 1.6 times longer after each further failure, at
/// most 30 s, each wait moved by up to 20% either way) and tries again,
/// until it is closed or dropped.
///
/// Calls follow gRPC's policy:
///
/// - while the channel is connecting, a call waits for the connection, for
///   at most its timeout (`DEADLINE_EXCEEDED` after it); the time it waited
///   counts against the deadline the server sees;
/// - once an attempt failed, until the next one succeeds, calls fail at
///   once with `UNAVAILABLE` naming why the attempt failed, unless the
///   policy [waits for ready](Reconnect::wait_for_ready): then they wait
///   through failed attempts too, for at most their timeout;
/// - calls in flight when a connection ends fail with `UNAVAILABLE` (they
///   may have run on the server: they are not sent again), but a unary
///   call or a server-stream open the server never processed (see
///   [`Status::is_unprocessed`](crate::Status::is_unprocessed)) is
///   sent once more on the next connection, within its deadline (the one
///   its first attempt went with, a client layer's timeout included);
/// - when the server sends GOAWAY, new calls wait for the next connection
///   rather than meet the old one's refusal;
/// - after [`Channel::close`](super::Channel::close), calls fail with
///   `UNAVAILABLE` at once.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
///
/// use prism::client::Reconnect;
///
/// let policy = Reconnect::default()
///     .backoff(Duration::from_millis(50), Duration::from_secs(5))
///     .wait_for_ready();
/// let builder = prism::Channel::builder().reconnect(policy);
/// # drop(builder);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Reconnect {
    first: Duration,
    max: Duration,
    wait_for_ready: bool,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            first: DEFAULT_FIRST_BACKOFF,
            max: DEFAULT_MAX_BACKOFF,
            wait_for_ready: false,
        }
    }
}

impl Reconnect {
    /// Waits `first` after the first failed attempt, growing to at most
    /// `max` (defaults [`DEFAULT_FIRST_BACKOFF`], [`DEFAULT_MAX_BACKOFF`]).
    /// Neither is taken below 1 ms nor above a day.
    #[must_use]
    pub fn backoff(mut self, first: Duration, max: Duration) -> Self {
        self.first = first.clamp(MIN_BACKOFF, MAX_BACKOFF);
        self.max = max.clamp(self.first, MAX_BACKOFF);
        self
    }

    /// Calls wait for a connection through failed attempts too (up to
    /// their timeout), instead of failing at once with `UNAVAILABLE`.
    #[must_use]
    pub fn wait_for_ready(mut self) -> Self {
        self.wait_for_ready = true;
        self
    }

    /// The wait after `failures` failed attempts in a row (from 1).
    fn delay(&self, failures: u32) -> Duration {
        let exponent = i32::try_from(failures.saturating_sub(1)).unwrap_or(i32::MAX);
        let grown = self.first.as_secs_f64() * MULTIPLIER.powi(exponent);
        let capped = grown.min(self.max.as_secs_f64());
        let jittered = capped * (1.0 + JITTER * (2.0 * unit() - 1.0));
        Duration::try_from_secs_f64(jittered).unwrap_or(self.max)
    }
}

/// A number in `[0, 1)`, drawn anew each time: jitter, not a secret.
fn unit() -> f64 {
    let bits = RandomState::new().hash_one(rt::now());
    (bits >> 11) as f64 / (1u64 << 53) as f64
}

/// Where a channel stands, as [`Channel::state`](super::Channel::state)
/// reports it and [`Channel::state_watch`](super::Channel::state_watch)
/// follows it.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ChannelState {
    /// No connection, and none is made until the next call: made by
    /// [`ChannelBuilder::connect_lazy`] and not used yet, or the last
    /// connection was closed for being idle (see
    /// [`SessionConfig::idle_timeout`](crate::transport::SessionConfig::idle_timeout)).
    Idle,
    /// Connecting: the first time, or again after the connection ended.
    Connecting,
    /// Connected: calls go out at once.
    Ready,
    /// The last attempt to connect failed, for this reason; the next one
    /// comes after a backoff (with a [`Reconnect`] policy), or on the
    /// first call after it (without one: the channel goes [`Idle`]).
    ///
    /// [`Idle`]: ChannelState::Idle
    TransientFailure(Arc<ConnectError>),
    /// Closed for good: [`Channel::close`](super::Channel::close) was
    /// called, or the connection of a channel without a [`Reconnect`]
    /// policy ended otherwise than for being idle.
    Shutdown,
}

/// The state a reconnecting channel shares with its supervisor task.
pub(crate) struct Supervisor {
    /// The connection calls use; `None` while there is none.
    current: RwLock<Option<Arc<Connection>>>,
    state: watch::Sender<ChannelState>,
    /// `None`: connect again only after an idle close, on the next call.
    policy: Option<Reconnect>,
    /// Cancelled by `close`: no connection after the current one, and an
    /// attempt under way is dropped. (Shared, so the task can wait on it
    /// without holding the channel.)
    closing: CancellationToken,
    /// Wakes the task of an idle channel: a call wants a connection.
    wake: Arc<Notify>,
    /// Why the last connection ended.
    last_exit: Mutex<Option<ConnectionError>>,
    /// What the channel says of its link while it has no connection.
    target: LinkInfo,
    /// Dropped with the channel: tells the task to stop.
    _dropped: oneshot::Sender<()>,
}

/// How the supervisor starts.
pub(crate) enum Start {
    /// Connected already (the channel's first connection).
    Connected(Connection),
    /// Not connected: on the first call.
    Lazy,
}

impl Supervisor {
    /// Spawns the supervisor of a channel built by `builder`, connecting
    /// with `connector`.
    pub(crate) fn spawn<C: Connector>(
        builder: ChannelBuilder,
        connector: C,
        policy: Option<Reconnect>,
        start: Start,
        target: LinkInfo,
    ) -> Arc<Supervisor> {
        let (dropped, on_drop) = oneshot::channel();
        let (current, state) = match start {
            Start::Connected(conn) => (Some(Arc::new(conn)), ChannelState::Ready),
            Start::Lazy => (None, ChannelState::Idle),
        };
        let supervisor = Arc::new(Supervisor {
            current: RwLock::new(current),
            state: watch::Sender::new(state),
            policy,
            closing: CancellationToken::new(),
            wake: Arc::default(),
            last_exit: Mutex::new(None),
            target,
            _dropped: dropped,
        });
        let task = Task {
            supervisor: Arc::downgrade(&supervisor),
            builder,
            connector,
            failures: 0,
        };
        rt::spawn(task.run(on_drop));
        supervisor
    }

    /// The connection, if there is one that takes calls now. One that
    /// ended counts as none, though the task may not have let go of it
    /// yet: a call then waits for the next instead of failing on it. So
    /// does one whose server sent GOAWAY when the next will come: under a
    /// policy (the task lets go of it at once), or after an idle close
    /// (the next call connects again). A call the GOAWAY refused
    /// (unprocessed) is then sent again on the next, not on the same one.
    /// Without a policy a server going away for another reason ends the
    /// channel: calls meet the refusal at once.
    pub(crate) fn current(&self) -> Option<Arc<Connection>> {
        self.held().filter(|conn| {
            !conn.client.is_draining()
                || (self.policy.is_none() && conn.client.draining_code() != Some(Code::Ok))
        })
    }

    /// The connection the channel holds, draining or not, unless it ended:
    /// what the channel reports (its link, its statistics).
    pub(crate) fn held(&self) -> Option<Arc<Connection>> {
        let current = self.current.read().unwrap_or_else(PoisonError::into_inner);
        current
            .as_ref()
            .filter(|conn| !conn.client.is_closed())
            .cloned()
    }

    /// Whether the channel has a [`Reconnect`] policy.
    pub(crate) fn has_policy(&self) -> bool {
        self.policy.is_some()
    }

    pub(crate) fn states(&self) -> watch::Receiver<ChannelState> {
        self.state.subscribe()
    }

    /// What the channel says of its link: the connection's, or the
    /// connector's kind and target while there is none.
    pub(crate) fn link(&self) -> LinkInfo {
        self.held().map_or_else(
            || self.target.clone(),
            |conn| conn.client.info().link.clone(),
        )
    }

    /// A connection for a call, waiting for one as the policy says, until
    /// `deadline`.
    pub(crate) async fn ready(&self, deadline: Option<Instant>) -> Result<Arc<Connection>, Status> {
        let wait_for_ready = self.policy.is_some_and(|policy| policy.wait_for_ready);
        let mut states = self.state.subscribe();
        loop {
            if self.closing.is_cancelled() {
                return Err(self.closed_status());
            }
            // The state first: a connection installed after this read
            // changes the state again, so the wait below cannot miss it.
            let state = states.borrow_and_update().clone();
            if let Some(conn) = self.current() {
                return Ok(conn);
            }
            match state {
                ChannelState::Idle => self.wake.notify_one(),
                ChannelState::Connecting | ChannelState::Ready => {}
                ChannelState::TransientFailure(error) => {
                    if !wait_for_ready {
                        let status = Status::unavailable(format!("not connected: {error}"));
                        return Err(status.unprocessed());
                    }
                }
                ChannelState::Shutdown => return Err(self.closed_status()),
            }
            let changed = states.changed();
            let changed = match deadline {
                Some(at) => match rt::timeout_at(at, changed).await {
                    Ok(changed) => changed,
                    Err(_) => {
                        return Err(Status::deadline_exceeded(
                            "the deadline passed while waiting for a connection",
                        )
                        .unprocessed());
                    }
                },
                None => changed.await,
            };
            if changed.is_err() {
                return Err(self.closed_status());
            }
        }
    }

    /// Why a call fails on a shut-down channel (it never left).
    fn closed_status(&self) -> Status {
        let status = match self.close_reason() {
            Some(reason) => reason.status(),
            None => Status::unavailable("the channel was closed"),
        };
        status.unprocessed()
    }

    /// Why the last connection ended, once the channel is shut down.
    pub(crate) fn close_reason(&self) -> Option<ConnectionError> {
        if !matches!(*self.state.borrow(), ChannelState::Shutdown) {
            return None;
        }
        let last = self
            .last_exit
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        Some(last.clone().unwrap_or(ConnectionError::LocallyClosed))
    }

    /// Closes the channel: the current connection finishes its calls and
    /// closes, an attempt under way is dropped, and no other is made.
    pub(crate) fn close(&self) {
        self.closing.cancel();
        let held = (self.current.read())
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(conn) = held {
            conn.client.go_away();
        }
    }

    fn set(&self, state: ChannelState) {
        self.state.send_replace(state);
    }

    /// Makes `conn` the current connection, unless the channel was closed
    /// meanwhile (then it only says goodbye on it).
    fn install(&self, conn: Connection) {
        let conn = Arc::new(conn);
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = Some(Arc::clone(&conn));
        if self.closing.is_cancelled() {
            conn.client.go_away();
        } else {
            self.set(ChannelState::Ready);
        }
    }

    /// Lets go of the current connection: it ended (for `reason`), or its
    /// server is going away (`None`: its calls finish on their own).
    fn lost(&self, reason: Option<ConnectionError>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = None;
        if let Some(reason) = reason {
            *self
                .last_exit
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(reason);
        }
    }
}

/// The supervisor task.
struct Task<C> {
    supervisor: Weak<Supervisor>,
    builder: ChannelBuilder,
    connector: C,
    /// Failed attempts in a row.
    failures: u32,
}

impl<C: Connector> Task<C> {
    async fn run(mut self, mut dropped: oneshot::Receiver<()>) {
        tokio::select! {
            () = self.supervise() => {}
            _ = &mut dropped => {}
        }
    }

    async fn supervise(&mut self) {
        loop {
            let Some(supervisor) = self.supervisor.upgrade() else {
                return;
            };
            let closing = supervisor.closing.clone();
            let held = (supervisor.current.read())
                .unwrap_or_else(PoisonError::into_inner)
                .clone();
            if let Some(conn) = held {
                // Watch the connection (without holding it) until it ends,
                // or, under a policy, until its server is going away.
                let ended = conn.client.on_close();
                let draining = conn.client.on_draining();
                let policy = supervisor.policy.is_some();
                drop((conn, supervisor));
                let reason = if policy {
                    tokio::pin!(ended);
                    tokio::select! {
                        reason = &mut ended => Some(reason),
                        code = draining => match code {
                            // An idle close: nothing is open, and the next
                            // connection waits for the next call.
                            Some(Code::Ok) | None => Some(ended.await),
                            Some(_) => None,
                        },
                    }
                } else {
                    Some(ended.await)
                };
                let Some(supervisor) = self.supervisor.upgrade() else {
                    return;
                };
                let idle = reason.as_ref().is_some_and(ConnectionError::is_idle);
                match &reason {
                    Some(reason) => tracing::info!(%reason, "a channel's connection ended"),
                    None => tracing::info!("a channel's server is going away; connecting again"),
                }
                supervisor.lost(reason);
                if idle {
                    supervisor.set(ChannelState::Idle);
                } else if supervisor.policy.is_none() && !closing.is_cancelled() {
                    supervisor.set(ChannelState::Shutdown);
                    return;
                }
                continue;
            }
            if closing.is_cancelled() {
                supervisor.set(ChannelState::Shutdown);
                return;
            }
            if matches!(*supervisor.state.borrow(), ChannelState::Idle) {
                // Not before a call wants a connection (or a close).
                let wake = Arc::clone(&supervisor.wake);
                drop(supervisor);
                tokio::select! {
                    () = wake.notified() => {}
                    () = closing.cancelled() => continue,
                }
                if let Some(supervisor) = self.supervisor.upgrade() {
                    supervisor.set(ChannelState::Connecting);
                }
                continue;
            }
            supervisor.set(ChannelState::Connecting);
            let policy = supervisor.policy;
            drop(supervisor);
            let attempt = tokio::select! {
                attempt = self.builder.open(&self.connector) => attempt,
                () = closing.cancelled() => continue,
            };
            let Some(supervisor) = self.supervisor.upgrade() else {
                return;
            };
            match attempt {
                Ok(conn) => {
                    self.failures = 0;
                    supervisor.install(conn);
                }
                Err(error) => {
                    self.failures = self.failures.saturating_add(1);
                    let delay = policy.unwrap_or_default().delay(self.failures);
                    tracing::warn!(%error, ?delay, "connecting failed; retrying after a backoff");
                    supervisor.set(ChannelState::TransientFailure(Arc::new(error)));
                    drop(supervisor);
                    tokio::select! {
                        () = rt::sleep(delay) => {}
                        () = closing.cancelled() => continue,
                    }
                    if policy.is_none()
                        && let Some(supervisor) = self.supervisor.upgrade()
                    {
                        // Without a policy, only a call makes another attempt.
                        supervisor.set(ChannelState::Idle);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_its_cap_with_jitter() {
        let policy =
            Reconnect::default().backoff(Duration::from_millis(100), Duration::from_secs(1));
        for failures in 1..20 {
            let nominal = (0.1 * MULTIPLIER.powi(failures - 1)).min(1.0);
            let delay = policy.delay(failures as u32).as_secs_f64();
            assert!(
                delay >= nominal * (1.0 - JITTER) - 1e-9
                    && delay <= nominal * (1.0 + JITTER) + 1e-9,
                "{failures}: {delay} vs {nominal}"
            );
        }
    }
}
