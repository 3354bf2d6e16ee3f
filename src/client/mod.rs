//! The client side: a [`Channel`] to a server, and the calls made over it.

mod call;

use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prism_codecs::Limits;
use prism_reflect::{CodecId, OpDescriptor};
use prism_transport::driver::{self, Client};
use prism_transport::int_map::IntMap;
use prism_transport::session::{Hello, SessionConfig};
use prism_transport::{Link, LinkInfo, tcp, unix};
use tokio::net::ToSocketAddrs;

pub use call::{CallFuture, UnaryCall};

use crate::{ConnectError, Status};

/// A connection to a server, shared by every client made from it.
///
/// Cloning is cheap (a reference count); calls from all clones are
/// multiplexed over one connection. The connection closes when the last
/// clone is dropped (after in-flight calls finish).
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), prism::ConnectError> {
/// let channel = prism::Channel::builder()
///     .allow_plaintext() // TCP without TLS must be allowed explicitly
///     .connect_tcp("127.0.0.1:7000")
///     .await?;
/// # let _ = channel; Ok(()) }
/// ```
#[derive(Clone)]
pub struct Channel {
    inner: Arc<Inner>,
}

struct Inner {
    client: Client,
    limits: Limits,
    timeout: Option<Duration>,
    /// The only codecs this channel may use, if restricted.
    codecs: Option<Vec<CodecId>>,
    /// The server's op table from its handshake, each entry with a verdict
    /// on schema compatibility computed on first use.
    peer_ops: IntMap<u64, PeerOp>,
}

struct PeerOp {
    fingerprint: u64,
    codecs: Vec<u16>,
    /// The verdict for the first local descriptor of this op that was used
    /// (keyed by its address): computed once, then read without a lock.
    /// Other descriptors of the same op id (another client type built
    /// against a different schema) are checked on every call.
    verdict: OnceLock<(usize, Result<(), Status>)>,
}

impl core::fmt::Debug for Channel {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Channel")
            .field("peer", &self.inner.client.info().link.peer)
            .field("kind", &self.inner.client.info().link.kind)
            .finish()
    }
}

impl Channel {
    /// Starts configuring a channel.
    pub fn builder() -> ChannelBuilder {
        ChannelBuilder::default()
    }

    /// The link this channel runs over.
    pub fn link(&self) -> &LinkInfo {
        &self.inner.client.info().link
    }

    /// Whether the connection has closed.
    pub fn is_closed(&self) -> bool {
        self.inner.client.is_closed()
    }

    /// Asks the server to finish in-flight calls and close the connection.
    pub fn close(&self) {
        self.inner.client.go_away();
    }

    pub(crate) fn client(&self) -> &Client {
        &self.inner.client
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    pub(crate) fn default_timeout(&self) -> Option<Duration> {
        self.inner.timeout
    }

    /// Refuses, before anything is sent, an op the server does not serve or
    /// serves with a different schema; otherwise picks the codec: the first
    /// of `ours` (the op's codecs, in preference order) that the server
    /// accepts for the op and this channel allows.
    pub(crate) fn check_op(
        &self,
        op: &'static OpDescriptor,
        ours: &[CodecId],
    ) -> Result<CodecId, Status> {
        let Some(peer) = self.inner.peer_ops.get(&op.id().get()) else {
            return Err(Status::not_found(format!(
                "the server does not serve {} (op id {})",
                op.full_name(),
                op.id()
            )));
        };
        let key = core::ptr::from_ref(op) as usize;
        let (first, verdict) = peer.verdict.get_or_init(|| (key, peer.compatible(op)));
        if *first == key {
            verdict.clone()?;
        } else {
            peer.compatible(op)?;
        }
        let allowed = |codec: &&CodecId| {
            peer.codecs.contains(&codec.get())
                && self
                    .inner
                    .codecs
                    .as_ref()
                    .is_none_or(|only| only.contains(codec))
        };
        match ours.iter().find(allowed) {
            Some(codec) => Ok(*codec),
            None => Err(Status::failed_precondition(format!(
                "no codec in common for {}: this client offers {}, the server accepts {}",
                op.full_name(),
                list(
                    ours.iter()
                        .filter(|c| self
                            .inner
                            .codecs
                            .as_ref()
                            .is_none_or(|only| only.contains(c)))
                        .map(|c| c.get())
                ),
                list(peer.codecs.iter().copied()),
            ))),
        }
    }
}

fn list(ids: impl Iterator<Item = u16>) -> String {
    let names: Vec<String> = ids.map(|id| format!("{}", CodecId::new(id))).collect();
    if names.is_empty() {
        String::from("none")
    } else {
        names.join(", ")
    }
}

impl PeerOp {
    fn compatible(&self, op: &'static OpDescriptor) -> Result<(), Status> {
        match op.fingerprint() {
            Ok(ours) if ours == self.fingerprint => Ok(()),
            Ok(ours) => Err(Status::failed_precondition(format!(
                "{} has a different schema on the server (fingerprint {:#018x} here, {:#018x} there)",
                op.full_name(),
                ours,
                self.fingerprint
            ))),
            Err(e) => Err(Status::internal(format!(
                "cannot fingerprint {}: {e}",
                op.full_name()
            ))),
        }
    }
}

/// Configures and opens a [`Channel`].
#[derive(Debug, Clone, Default)]
pub struct ChannelBuilder {
    allow_plaintext: bool,
    limits: Limits,
    timeout: Option<Duration>,
    codecs: Option<Vec<CodecId>>,
    session: SessionConfig,
}

impl ChannelBuilder {
    /// Allows links that cross a network without encryption (plain TCP).
    /// Without it, such links are refused.
    pub fn allow_plaintext(mut self) -> Self {
        self.allow_plaintext = true;
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

    /// Session settings: frame size, channel limits, handshake timeout, keepalive.
    pub fn session_config(mut self, config: SessionConfig) -> Self {
        self.session = config;
        self
    }

    /// Connects over TCP.
    ///
    /// # Errors
    ///
    /// Fails when plaintext was not allowed, the socket cannot connect, or
    /// the handshake fails.
    pub async fn connect_tcp(self, addr: impl ToSocketAddrs) -> Result<Channel, ConnectError> {
        if !self.allow_plaintext {
            return Err(ConnectError::PlaintextRefused { kind: "tcp" });
        }
        let stream = tokio::net::TcpStream::connect(addr).await?;
        let link = tcp::TcpLink::with_max_frame(stream, self.session.link_max_frame())?;
        self.connect_link(link).await
    }

    /// Connects over a Unix domain socket.
    ///
    /// # Errors
    ///
    /// Fails when the socket cannot connect or the handshake fails.
    pub async fn connect_unix(self, path: impl AsRef<Path>) -> Result<Channel, ConnectError> {
        let stream = tokio::net::UnixStream::connect(path).await?;
        let link = unix::UnixLink::with_max_frame(stream, self.session.link_max_frame())?;
        self.connect_link(link).await
    }

    /// Connects over any link, such as one end of [`mem::pair`](crate::mem::pair).
    ///
    /// # Errors
    ///
    /// Fails when the link is a plaintext network link that was not allowed,
    /// or the handshake fails.
    pub async fn connect_link(self, link: impl Link) -> Result<Channel, ConnectError> {
        let info = link.info();
        if info.kind.is_network() && !info.security.confidential && !self.allow_plaintext {
            return Err(ConnectError::PlaintextRefused {
                kind: info.kind.name(),
            });
        }
        let hello = Hello::new(Vec::new());
        let (client, _connection) = driver::connect(link, self.session, hello).await?;
        let peer_ops = client
            .info()
            .peer_hello
            .ops
            .iter()
            .map(|entry| {
                let op = PeerOp {
                    fingerprint: entry.fingerprint,
                    codecs: entry.codecs.clone(),
                    verdict: OnceLock::new(),
                };
                (entry.op, op)
            })
            .collect();
        Ok(Channel {
            inner: Arc::new(Inner {
                client,
                limits: self.limits,
                timeout: self.timeout,
                codecs: self.codecs,
                peer_ops,
            }),
        })
    }
}
