//! The client side: a [`Channel`] to a server, and the calls made over it.

mod call;
mod connection;
mod datagram;
mod layer;
mod reauth;
mod reconnect;
mod stream_call;

use std::sync::Arc;
use std::time::Duration;

use prism_codecs::Limits;
use prism_core::{CodecId, Status};
use prism_proto::session::{Extension, Hello, SessionConfig};
use prism_reflect::{OpDescriptor, ServiceDescriptor};
use prism_transport::driver::{self, ConnectionError, ConnectionStats, Setup};
use prism_transport::rt::{self, Instant};
use prism_transport::{Connector, Link, LinkConfig, LinkInfo, LinkKind, PeerAddr, SecurityPolicy};
use tokio::sync::watch;

pub use crate::layer_fn::LayerFn;
#[doc(inline)]
pub use crate::response::{Fallible, FromReply, Plain, Viewed};
#[doc(inline)]
pub use crate::stream_response::{FallibleStreamed, FromStream, Streamed, ViewedStream};
pub use call::{CallFuture, UnaryCall};
pub use datagram::DatagramCall;
pub use layer::{Call, Handle, Layer, Open, OpenFn, ReplyFuture, layer_fn, open_fn};
pub use reconnect::{ChannelState, DEFAULT_FIRST_BACKOFF, DEFAULT_MAX_BACKOFF, Reconnect};
pub use stream_call::{ClientStreamCall, Single, StreamCall, StreamFuture, StreamRequest};

use crate::ConnectError;
use crate::auth::{AuthError, CredentialSource, MAX_PROOF_LEN, PROOF_EXTENSION};
use crate::op_table::op_entry;
use connection::Connection;
use reconnect::{Start, Supervisor};

/// A connection to a server, shared by every client made from it.
///
/// Cloning is cheap (a reference count); calls from all clones are
/// multiplexed over one connection. The connection closes when the last
/// clone is dropped (after in-flight calls finish), or when
/// [`Channel::close`] is called; [`Channel::closed`] says why it ended.
///
/// By default a channel connects again only after its connection was
/// closed for being idle (no call open for the
/// [idle timeout](crate::transport::SessionConfig::idle_timeout) of either
/// side), on its next call; once a connection ends otherwise, every call
/// fails with `UNAVAILABLE` naming why. A channel built with
/// [`ChannelBuilder::reconnect`] or [`ChannelBuilder::connect_lazy`]
/// connects again whenever its connection ends (see [`Reconnect`] for the
/// policy); one made by [`ChannelBuilder::connect_link`] never does.
/// [`Channel::state`] and [`Channel::state_watch`] say where it stands.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), prism::ConnectError> {
/// let channel = prism::Channel::builder()
///     .allow_plaintext() // TCP without TLS must be allowed explicitly
///     .connect(prism::tcp::TcpConnector::new("127.0.0.1:7000"))
///     .await?;
/// # let _ = channel; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Channel {
    inner: Arc<Inner>,
}

struct Inner {
    conn: Conn,
    states: watch::Receiver<ChannelState>,
    limits: Limits,
    timeout: Option<Duration>,
    /// The only codecs this channel may use, if restricted.
    codecs: Option<Vec<CodecId>>,
}

/// The connections of a channel.
enum Conn {
    /// One connection, for the channel's life.
    Single(Arc<Connection>),
    /// Connections a supervisor replaces as they end.
    Supervised(Arc<Supervisor>),
}

impl core::fmt::Debug for Channel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let link = self.link();
        f.debug_struct("Channel")
            .field("peer", &link.peer)
            .field("transport", &link.kind.transport)
            .field("state", &self.state())
            .finish()
    }
}

impl Channel {
    /// Starts configuring a channel.
    pub fn builder() -> ChannelBuilder {
        ChannelBuilder::default()
    }

    /// The link this channel runs over: its connection's, or, while a
    /// reconnecting channel has none, the connector's kind and target.
    pub fn link(&self) -> LinkInfo {
        match &self.inner.conn {
            Conn::Single(conn) => conn.client.info().link.clone(),
            Conn::Supervised(supervisor) => supervisor.link(),
        }
    }

    /// Where the channel stands: connecting, ready, failing to connect, or
    /// shut down.
    pub fn state(&self) -> ChannelState {
        self.inner.states.borrow().clone()
    }

    /// Follows the channel's state as it changes (a `tokio` watch: call
    /// `changed().await`, then `borrow()`).
    pub fn state_watch(&self) -> watch::Receiver<ChannelState> {
        self.inner.states.clone()
    }

    /// Whether the channel is shut down: closed, or (for one without a
    /// reconnect policy) its connection ended otherwise than for being
    /// idle.
    pub fn is_closed(&self) -> bool {
        match &self.inner.conn {
            Conn::Single(conn) => conn.client.is_closed(),
            Conn::Supervised(_) => matches!(self.state(), ChannelState::Shutdown),
        }
    }

    /// Asks the server to finish in-flight calls and close the connection;
    /// a reconnecting channel makes no other.
    pub fn close(&self) {
        match &self.inner.conn {
            Conn::Single(conn) => conn.client.go_away(),
            Conn::Supervised(supervisor) => supervisor.close(),
        }
    }

    /// Waits until the channel shuts down, and says why its (last)
    /// connection ended: this side closed it, the server went away, the
    /// link failed, a timer expired. A reconnecting channel shuts down only
    /// when closed.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches.
    pub async fn closed(&self) -> ConnectionError {
        match &self.inner.conn {
            Conn::Single(conn) => conn.client.closed().await,
            Conn::Supervised(supervisor) => {
                let mut states = supervisor.states();
                let _ = states
                    .wait_for(|state| matches!(state, ChannelState::Shutdown))
                    .await;
                supervisor
                    .close_reason()
                    .unwrap_or(ConnectionError::LocallyClosed)
            }
        }
    }

    /// Why the channel shut down, if it has. Calls made after that fail
    /// with `UNAVAILABLE` naming this reason.
    pub fn close_reason(&self) -> Option<ConnectionError> {
        match &self.inner.conn {
            Conn::Single(conn) => conn.client.close_reason(),
            Conn::Supervised(supervisor) => supervisor.close_reason(),
        }
    }

    /// What the current connection moved so far: frames, bytes, calls,
    /// failures, alignment copies (zero while there is none).
    pub fn stats(&self) -> ConnectionStats {
        match &self.inner.conn {
            Conn::Single(conn) => conn.client.stats(),
            Conn::Supervised(supervisor) => (supervisor.held())
                .map(|conn| conn.client.stats())
                .unwrap_or_default(),
        }
    }

    /// Runs `f` on the connection, if there is one now.
    pub(crate) fn with_ready<T>(&self, f: impl FnOnce(&Connection) -> T) -> Option<T> {
        match &self.inner.conn {
            Conn::Single(conn) => Some(f(conn)),
            // The lock is let go before `f` runs (it may encode a request).
            Conn::Supervised(supervisor) => supervisor.current().map(|conn| f(&conn)),
        }
    }

    /// A connection for a call that may take `timeout`, waiting for one as
    /// the reconnect policy says, and what is left of the timeout then.
    /// A timeout that runs out while waiting is `DEADLINE_EXCEEDED`, here.
    pub(crate) async fn ready(
        &self,
        timeout: Option<Duration>,
    ) -> Result<(Arc<Connection>, Option<Duration>), Status> {
        let supervisor = match &self.inner.conn {
            Conn::Single(conn) => return Ok((Arc::clone(conn), timeout)),
            Conn::Supervised(supervisor) => supervisor,
        };
        if let Some(conn) = supervisor.current() {
            return Ok((conn, timeout));
        }
        let deadline = deadline_after(timeout);
        let conn = supervisor.ready(deadline).await?;
        let left = time_left(deadline);
        if left.is_some_and(|left| left.is_zero()) {
            return Err(Status::deadline_exceeded(
                "the deadline passed while waiting for a connection",
            )
            .unprocessed());
        }
        Ok((conn, left.or(timeout)))
    }

    /// A connection for the second attempt of a call of `op` with `codec`
    /// that its first connection never processed, within what is left
    /// until `deadline`. `None` when nothing is left, or when the server
    /// there takes the op with another codec: the first failure stands.
    pub(crate) async fn ready_again(
        &self,
        deadline: Option<Instant>,
        op: &'static OpDescriptor,
        ours: &[CodecId],
        codec: CodecId,
    ) -> Result<Option<(Arc<Connection>, Option<Duration>)>, Status> {
        let left = time_left(deadline);
        if left.is_some_and(|left| left.is_zero()) {
            return Ok(None);
        }
        let (conn, left) = self.ready(left).await?;
        Ok((self.check_op(&conn, op, ours)? == codec).then_some((conn, left)))
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Whether the channel has a [`Reconnect`] policy: then a unary call
    /// or a server-stream open its connection never processed is sent once
    /// more, on the next (the request is kept for it, which costs a little
    /// on every call).
    pub(crate) fn resends(&self) -> bool {
        match &self.inner.conn {
            Conn::Single(_) => false,
            Conn::Supervised(supervisor) => supervisor.has_policy(),
        }
    }

    pub(crate) fn default_timeout(&self) -> Option<Duration> {
        self.inner.timeout
    }

    /// [`Connection::check_op`] with this channel's codec restriction.
    pub(crate) fn check_op(
        &self,
        conn: &Connection,
        op: &'static OpDescriptor,
        ours: &[CodecId],
    ) -> Result<CodecId, Status> {
        conn.check_op(op, ours, self.inner.codecs.as_deref())
    }
}

/// Configures and opens a [`Channel`].
#[derive(Clone, Default)]
pub struct ChannelBuilder {
    policy: SecurityPolicy,
    limits: Limits,
    timeout: Option<Duration>,
    codecs: Option<Vec<CodecId>>,
    session: SessionConfig,
    services: Vec<&'static ServiceDescriptor>,
    layers: Vec<Arc<dyn Layer>>,
    credentials: Option<Arc<dyn CredentialSource>>,
    audience: Option<String>,
    reconnect: Option<Reconnect>,
}

impl core::fmt::Debug for ChannelBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ChannelBuilder")
            .field("policy", &self.policy)
            .field("timeout", &self.timeout)
            .field("codecs", &self.codecs)
            .field("services", &self.services.len())
            .field("layers", &self.layers.len())
            .field("credentials", &self.credentials.is_some())
            .field("audience", &self.audience)
            .field("reconnect", &self.reconnect)
            .finish_non_exhaustive()
    }
}

impl ChannelBuilder {
    /// Allows links that cross a network without encryption (plain TCP).
    /// Without it, such links are refused before connecting.
    pub fn allow_plaintext(mut self) -> Self {
        self.policy = self.policy.allow_plaintext();
        self
    }

    /// The links this channel connects over (default: links that keep
    /// bytes confidential and intact: in-memory, Unix, TLS). Checked
    /// against the connector's kind before connecting.
    pub fn security_policy(mut self, policy: SecurityPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Restricts the codecs this channel may use. An op is then called with
    /// the first codec of its own list that is both here and accepted by
    /// the server; with none in common, the call fails with
    /// `FAILED_PRECONDITION` before anything is sent.
    pub fn codecs(mut self, codecs: &[CodecId]) -> Self {
        self.codecs = Some(codecs.to_vec());
        self
    }

    /// A timeout applied to every call that does not set its own.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Codec limits for encoding requests and decoding responses.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Session settings: frame size, channel limits, handshake and drain
    /// timeouts, keepalive, features.
    pub fn session_config(mut self, config: SessionConfig) -> Self {
        self.session = config;
        self
    }

    /// Declares that this channel calls `service`'s ops (a generated
    /// `calc::SERVICE`): they are listed in the handshake, and a server that
    /// does not serve one of them with the same schema refuses the
    /// connection ([`ConnectError::Rejected`], naming each op). Without it,
    /// the same check happens per op, on its first call.
    pub fn service(mut self, service: &'static ServiceDescriptor) -> Self {
        self.services.push(service);
        self
    }

    /// Authenticates the channel: `source` gives the proof presented in
    /// the handshake (a [`Proof`](crate::auth::Proof) is a source of
    /// itself), and a fresh one in band before the lifetime the server
    /// announced runs out (at a random point between 85% and 95% of it), or
    /// when the server asks for one after a revocation
    /// ([`CredentialSource::refresh`]). A proof travels only over a link
    /// that keeps it confidential (in-process, Unix sockets, TLS); over
    /// plaintext TCP the connection is refused before anything is sent.
    pub fn credentials(mut self, source: impl CredentialSource) -> Self {
        self.credentials = Some(Arc::new(source));
        self
    }

    /// The audience this channel's credentials are for: the service it
    /// reaches, as the credential source and the server name it.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Adds a layer every call and every stream open passes before it is
    /// sent. The first layer added sees them first.
    pub fn layer(mut self, layer: impl Layer) -> Self {
        self.layers.push(Arc::new(layer));
        self
    }

    /// Makes the channel connect again whenever its connection ends, as
    /// `policy` says (see [`Reconnect`]): backoff between failed attempts,
    /// and whether calls wait for a connection or fail at once while
    /// attempts fail.
    pub fn reconnect(mut self, policy: Reconnect) -> Self {
        self.reconnect = Some(policy);
        self
    }

    /// Connects with `connector`:
    /// [`tcp::TcpConnector`](crate::tcp::TcpConnector),
    /// [`unix::UnixConnector`](crate::unix::UnixConnector),
    /// [`mem::MemConnector`](crate::mem::MemConnector), or any other
    /// [`Connector`]. The first connection is made here; later ones by the
    /// channel itself, after an idle close or, with
    /// [`reconnect`](Self::reconnect), whenever a connection ends.
    ///
    /// # Errors
    ///
    /// Fails when plaintext was not allowed for a network link (before
    /// connecting), the peer cannot be reached (naming the target and the
    /// OS error), the versions do not match, the server refuses the
    /// connection, or the handshake fails otherwise.
    pub async fn connect<C: Connector>(self, connector: C) -> Result<Channel, ConnectError> {
        let conn = self.open(&connector).await?;
        let (policy, target) = (self.reconnect, target_of(&connector));
        Ok(self.supervised(connector, policy, Start::Connected(conn), target))
    }

    /// A channel that connects on its first call, not now, and connects
    /// again whenever its connection ends (with the [`reconnect`]
    /// policy, or the default one), like tonic's `connect_lazy`. Its state
    /// is [`ChannelState::Idle`] until the first call. Must be called
    /// within a tokio runtime.
    ///
    /// # Errors
    ///
    /// Fails at once only for what no attempt can change: plaintext that
    /// was not allowed for a network link, or credentials that would
    /// cross one. Everything else is reported by calls (and
    /// [`Channel::state`]) as attempts fail.
    ///
    /// [`reconnect`]: Self::reconnect
    pub fn connect_lazy<C: Connector>(self, connector: C) -> Result<Channel, ConnectError> {
        self.check_kind(&connector.kind())?;
        let policy = Some(self.reconnect.unwrap_or_default());
        let target = target_of(&connector);
        Ok(self.supervised(connector, policy, Start::Lazy, target))
    }

    /// Connects over a link that is already open, such as one end of
    /// [`mem::pair`](crate::mem::pair). Such a channel cannot connect
    /// again: it ends with its connection, an idle close included.
    ///
    /// # Errors
    ///
    /// Fails when the link is a plaintext network link that was not
    /// allowed, or the handshake fails.
    pub async fn connect_link(self, link: impl Link) -> Result<Channel, ConnectError> {
        let conn = self.handshake(link).await?;
        Ok(self.single(conn))
    }

    /// One connection made with `connector`.
    pub(crate) async fn open<C: Connector>(
        &self,
        connector: &C,
    ) -> Result<Connection, ConnectError> {
        self.check_kind(&connector.kind())?;
        let config = LinkConfig::for_session(&self.session);
        // A peer that drops the connect (a blackholed address) would hold
        // it for the OS's retries, minutes: the handshake timeout bounds it.
        let limit = self.session.handshake_timeout;
        let connected = match rt::timeout(limit, connector.connect(&config)).await {
            Ok(connected) => connected,
            Err(_) => Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no connection within the handshake timeout ({limit:?})"),
            )),
        };
        let link = connected.map_err(|source| ConnectError::Connect {
            target: connector.target(),
            source,
        })?;
        self.handshake(link).await
    }

    fn single(self, conn: Connection) -> Channel {
        let (state, states) = watch::channel(ChannelState::Ready);
        let ended = conn.client.on_close();
        rt::spawn(async move {
            ended.await;
            state.send_replace(ChannelState::Shutdown);
        });
        self.channel(Conn::Single(Arc::new(conn)), states)
    }

    fn supervised<C: Connector>(
        self,
        connector: C,
        policy: Option<Reconnect>,
        start: Start,
        target: LinkInfo,
    ) -> Channel {
        let supervisor = Supervisor::spawn(self.clone(), connector, policy, start, target);
        let states = supervisor.states();
        self.channel(Conn::Supervised(supervisor), states)
    }

    fn channel(self, conn: Conn, states: watch::Receiver<ChannelState>) -> Channel {
        Channel {
            inner: Arc::new(Inner {
                conn,
                states,
                limits: self.limits,
                timeout: self.timeout,
                codecs: self.codecs,
            }),
        }
    }

    /// Refuses a kind of link this channel may not use: plaintext over a
    /// network that was not allowed, or any link that does not keep a
    /// proof confidential when the channel presents one (whatever the
    /// channel allows, a proof needs what the default policy accepts).
    fn check_kind(&self, kind: &LinkKind) -> Result<(), ConnectError> {
        self.policy.check(kind)?;
        if self.credentials.is_some() && SecurityPolicy::default().check(kind).is_err() {
            return Err(ConnectError::ProofOverPlaintext);
        }
        Ok(())
    }

    async fn handshake(&self, link: impl Link) -> Result<Connection, ConnectError> {
        let mut ops = Vec::new();
        for service in &self.services {
            for op in service.ops() {
                ops.push(op_entry(op).map_err(ConnectError::Schema)?);
            }
        }
        let mut hello = Hello::new(ops);
        // The link itself, which may say more than its connector did.
        let kind = link.info().kind;
        self.check_kind(&kind)?;
        if !kind.datagrams
            && let Some(op) = (self.services.iter())
                .flat_map(|service| service.ops())
                .find(|op| op.needs_datagrams())
        {
            return Err(ConnectError::NoDatagrams {
                op: op.full_name(),
                transport: kind.transport,
            });
        }
        if let Some(source) = &self.credentials {
            let proof = source
                .credential(self.audience.as_deref())
                .await
                .map_err(ConnectError::Credentials)?;
            if proof.len() > MAX_PROOF_LEN {
                let len = proof.len();
                return Err(ConnectError::Credentials(AuthError::new(format!(
                    "the proof is {len} bytes, more than the {MAX_PROOF_LEN} a server reads"
                ))));
            }
            hello.extensions.push(Extension {
                kind: PROOF_EXTENSION,
                data: proof.into_bytes(),
            });
        }
        let ours = self.session.offered_features();
        let setup = Setup::new(self.session.clone());
        let client = driver::connect(link, setup, hello).await?;
        if let Some(source) = &self.credentials {
            reauth::spawn(&client, ours, Arc::clone(source), self.audience.clone());
        }
        let bottom: Arc<dyn Handle> = Arc::new(layer::Connection(client.clone()));
        let mut stack = Arc::clone(&bottom);
        for layer in self.layers.iter().rev() {
            stack = layer.layer(stack);
        }
        // No layer wrapped it (none, or only ones that watch stream
        // opens): unary calls go straight to the connection, unboxed.
        let stack = (!Arc::ptr_eq(&stack, &bottom)).then_some(stack);
        Ok(Connection::new(
            client,
            stack,
            self.layers.iter().cloned().collect(),
        ))
    }
}

/// When a call that may take `timeout` from now must end; a timeout too
/// long for the clock is none.
pub(crate) fn deadline_after(timeout: Option<Duration>) -> Option<Instant> {
    timeout.and_then(|timeout| rt::now().checked_add(timeout))
}

/// What is left until `deadline` (zero once it passed).
fn time_left(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|at| at.saturating_duration_since(rt::now()))
}

/// The shorter of `timeout` and the time left until `deadline` (a
/// deadline already passed leaves none).
pub(crate) fn within(timeout: Option<Duration>, deadline: Option<Instant>) -> Option<Duration> {
    match (timeout, time_left(deadline)) {
        (Some(timeout), Some(until)) => Some(timeout.min(until)),
        (timeout, until) => timeout.or(until),
    }
}

/// What a channel says of its link before it has a connection.
fn target_of<C: Connector>(connector: &C) -> LinkInfo {
    LinkInfo::new(connector.kind(), PeerAddr::Other(connector.target()))
}
