//! The client side: a [`Channel`] to a server, and the calls made over it.

mod call;
mod layer;
mod reauth;
mod stream_call;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use prism_codecs::Limits;
use prism_core::{CodecId, Status};
use prism_proto::int_map::IntMap;
use prism_proto::session::{Extension, Hello, SessionConfig};
use prism_reflect::{OpDescriptor, ServiceDescriptor};
use prism_transport::driver::{self, Client, ConnectionError, ConnectionStats, Setup};
use prism_transport::{Connector, Link, LinkConfig, LinkInfo, SecurityPolicy};

pub use crate::layer_fn::LayerFn;
#[doc(inline)]
pub use crate::response::{Fallible, FromReply, Plain, Viewed};
#[doc(inline)]
pub use crate::stream_response::{FallibleStreamed, FromStream, Streamed, ViewedStream};
pub use call::{CallFuture, UnaryCall};
pub use layer::{Call, Handle, Layer, ReplyFuture, layer_fn};
pub use stream_call::{ClientStreamCall, Single, StreamCall, StreamFuture, StreamRequest};

use crate::ConnectError;
use crate::auth::{AuthError, CredentialSource, MAX_PROOF_LEN, PROOF_EXTENSION};
use crate::op_table::op_entry;

/// A connection to a server, shared by every client made from it.
///
/// Cloning is cheap (a reference count); calls from all clones are
/// multiplexed over one connection. The connection closes when the last
/// clone is dropped (after in-flight calls finish), or when
/// [`Channel::close`] is called; [`Channel::closed`] says why it ended.
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
    client: Client,
    /// The client layers around the connection; `None` without layers.
    stack: Option<Arc<dyn Handle>>,
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
            .field("peer", &self.link().peer)
            .field("transport", &self.link().kind.transport)
            .field("closed", &self.is_closed())
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

    /// Waits until the connection ends, and says why: this side closed it,
    /// the server went away, the link failed, a timer expired.
    ///
    /// # Cancel safety
    ///
    /// Cancel safe: it only watches.
    pub async fn closed(&self) -> ConnectionError {
        self.inner.client.closed().await
    }

    /// Why the connection ended, if it has. Calls made after that fail with
    /// `UNAVAILABLE` naming this reason.
    pub fn close_reason(&self) -> Option<ConnectionError> {
        self.inner.client.close_reason()
    }

    /// What the connection moved so far: frames, bytes, calls, failures,
    /// alignment copies.
    pub fn stats(&self) -> ConnectionStats {
        self.inner.client.stats()
    }

    pub(crate) fn client(&self) -> &Client {
        &self.inner.client
    }

    pub(crate) fn stack(&self) -> Option<&Arc<dyn Handle>> {
        self.inner.stack.as_ref()
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
        let allowed_here = |codec: &CodecId| {
            self.inner
                .codecs
                .as_ref()
                .is_none_or(|only| only.contains(codec))
        };
        match ours
            .iter()
            .find(|codec| allowed_here(codec) && peer.codecs.contains(&codec.get()))
        {
            Some(codec) => Ok(*codec),
            None => Err(Status::failed_precondition(format!(
                "no codec in common for {}: this client offers {}, the server accepts {}",
                op.full_name(),
                names(ours.iter().copied().filter(allowed_here)),
                names(peer.codecs.iter().map(|&id| CodecId::new(id))),
            ))),
        }
    }
}

fn names(ids: impl Iterator<Item = CodecId>) -> String {
    let names: Vec<String> = ids.map(|id| id.to_string()).collect();
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

    /// Adds a layer every call passes before it is sent. The first layer
    /// added sees calls first.
    pub fn layer(mut self, layer: impl Layer) -> Self {
        self.layers.push(Arc::new(layer));
        self
    }

    /// Connects with `connector`: [`tcp::TcpConnector`](crate::tcp::TcpConnector),
    /// [`unix::UnixConnector`](crate::unix::UnixConnector),
    /// [`mem::MemConnector`](crate::mem::MemConnector), or any other
    /// [`Connector`].
    ///
    /// # Errors
    ///
    /// Fails when plaintext was not allowed for a network link (before
    /// connecting), the peer cannot be reached (naming the target and the
    /// OS error), the versions do not match, the server refuses the
    /// connection, or the handshake fails otherwise.
    pub async fn connect<C: Connector>(self, connector: C) -> Result<Channel, ConnectError> {
        self.policy.check(&connector.kind())?;
        let config = LinkConfig::with_max_frame(self.session.link_max_frame());
        let link = connector
            .connect(&config)
            .await
            .map_err(|source| ConnectError::Connect {
                target: connector.target(),
                source,
            })?;
        self.handshake(link).await
    }

    /// Connects over a link that is already open, such as one end of
    /// [`mem::pair`](crate::mem::pair).
    ///
    /// # Errors
    ///
    /// Fails when the link is a plaintext network link that was not
    /// allowed, or the handshake fails.
    pub async fn connect_link(self, link: impl Link) -> Result<Channel, ConnectError> {
        self.policy.check(&link.info().kind)?;
        self.handshake(link).await
    }

    async fn handshake(self, link: impl Link) -> Result<Channel, ConnectError> {
        let mut ops = Vec::new();
        for service in &self.services {
            for op in service.ops() {
                ops.push(op_entry(op).map_err(ConnectError::Schema)?);
            }
        }
        let mut hello = Hello::new(ops);
        if let Some(source) = &self.credentials {
            // Whatever this channel allows, a proof needs a link the
            // default policy accepts: one that keeps it confidential.
            if SecurityPolicy::default().check(&link.info().kind).is_err() {
                return Err(ConnectError::ProofOverPlaintext);
            }
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
        let setup = Setup::new(self.session);
        let client = driver::connect(link, setup, hello).await?;
        if let Some(source) = &self.credentials {
            reauth::spawn(&client, ours, Arc::clone(source), self.audience.clone());
        }
        let peer_ops = client
            .info()
            .peer_accept
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
        let stack = (!self.layers.is_empty()).then(|| {
            let mut stack: Arc<dyn Handle> = Arc::new(layer::Connection(client.clone()));
            for layer in self.layers.iter().rev() {
                stack = layer.layer(stack);
            }
            stack
        });
        Ok(Channel {
            inner: Arc::new(Inner {
                client,
                stack,
                limits: self.limits,
                timeout: self.timeout,
                codecs: self.codecs,
                peer_ops,
            }),
        })
    }
}
