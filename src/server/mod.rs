//! The server side: a [`Server`] serving several services on any
//! listener, each call routed once by op id through a layer stack.

mod admission;
pub(crate) mod dispatch;
mod gate;
mod layer;
mod router;
mod stats;

use std::sync::Arc;
use std::time::Duration;

use prism_codecs::Limits;
use prism_proto::session::{Features, Hello, SessionConfig};
use prism_reflect::{OpTable, PermissionManifest};
use prism_transport::driver::{self, Admission, Execution, Setup};
use prism_transport::{Link, LinkConfig, Listener, SecurityPolicy};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use crate::layer_fn::LayerFn;
pub use dispatch::Dispatch;
#[doc(inline)]
pub use gate::{ConnectionRefusals, DEFAULT_MAX_CONNECTIONS, DEFAULT_MAX_CONNECTIONS_PER_PEER};
pub use layer::{Call, Handle, Layer, layer_fn};
pub use prism_transport::driver::{Answer, Dispatched};

use crate::auth::authority::Lifetimes;
use crate::auth::{Authenticator, Authorizer, HeldPermissions};
use crate::op_table::op_entry;
use crate::{BuildError, ConnectionStats, ServeError};
use admission::{Pending, Refused, SchemaCheck};
use gate::Gate;
use router::Router;
use stats::ServerStats;

/// Serves services over any number of listeners and links.
///
/// Cloning is cheap; clones share the services, the statistics and the
/// shutdown signal.
///
/// # Examples
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let server = prism::Server::builder()
///     // .add_service(CalcServer::new(MyCalc)) for each generated service
///     .allow_unauthenticated() // or .authenticator(..): see `prism::auth`
///     .allow_plaintext()
///     .build()?;
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:7000").await?;
/// let serving = tokio::spawn({
///     let server = server.clone();
///     async move { server.serve(listener).await }
/// });
/// // ... later: finish in-flight calls, refuse new ones, close.
/// server.shutdown();
/// serving.await??;
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Server {
    inner: Arc<Inner>,
}

struct Inner {
    router: Arc<Router>,
    manifest: PermissionManifest,
    admission: Arc<SchemaCheck>,
    session: SessionConfig,
    policy: SecurityPolicy,
    max_pending_handshakes: usize,
    gate: Arc<Gate>,
    shutdown: CancellationToken,
    stats: ServerStats,
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("ops", &self.inner.router.op_count())
            .field("shutting_down", &self.inner.shutdown.is_cancelled())
            .finish()
    }
}

impl Server {
    /// Starts configuring a server.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Accepts links from `listener` (a tokio `TcpListener` or
    /// `UnixListener`, [`mem::MemListener`](crate::mem::MemListener), or any
    /// other [`Listener`]) and serves each until [`Server::shutdown`]; then
    /// stops accepting, lets every connection finish its in-flight calls
    /// (within the session's drain timeout), and returns.
    ///
    /// # Errors
    ///
    /// Fails at once when the listener's links would cross a network in
    /// plaintext and that was not allowed, or when the server was already
    /// shut down. Errors of single connections and of accepting are logged,
    /// not returned: the server goes on.
    pub async fn serve<L: Listener>(&self, mut listener: L) -> Result<(), ServeError> {
        self.inner.policy.check(&listener.kind())?;
        if self.inner.shutdown.is_cancelled() {
            return Err(ServeError::ShutDown);
        }
        let config = LinkConfig::for_session(&self.inner.session);
        let mut connections = JoinSet::new();
        let shutdown = self.inner.shutdown.clone();
        let pending = Arc::new(Semaphore::new(self.inner.max_pending_handshakes));
        loop {
            // A slot for one more connection whose handshake is not judged
            // yet; with none free, new peers wait in the listener's backlog.
            let slot = tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                slot = Arc::clone(&pending).acquire_owned() => slot.expect("the semaphore is never closed"),
                Some(done) = connections.join_next(), if !connections.is_empty() => {
                    log_end(done);
                    continue;
                }
            };
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                accepted = listener.accept(&config) => match accepted {
                    Ok(link) => {
                        if let Err(e) = self.inner.policy.check(&link.info().kind) {
                            tracing::warn!(error = %e, peer = %link.info().peer, "link refused");
                            continue;
                        }
                        let server = self.clone();
                        match self.inner.gate.enter(&link.info().peer) {
                            Ok(ticket) => connections.spawn(async move {
                                let _counted = ticket;
                                let admission = Pending::new(Arc::clone(&server.inner.admission), slot);
                                server.run(link, Some(Arc::new(admission))).await
                            }),
                            Err(status) => {
                                tracing::warn!(peer = %link.info().peer, reason = status.message(), "connection refused");
                                // Said at its handshake, so the client reads why.
                                connections.spawn(async move {
                                    server.run(link, Some(Arc::new(Refused::new(status, slot)))).await
                                })
                            }
                        };
                    }
                    Err(e) => {
                        // Out of descriptors and the like: back off briefly, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                    }
                },
                Some(done) = connections.join_next(), if !connections.is_empty() => log_end(done),
            }
        }
        // Close the listener now, so connections attempted during the drain
        // are refused at once instead of waiting for a handshake.
        drop(listener);
        while let Some(done) = connections.join_next().await {
            log_end(done);
        }
        Ok(())
    }

    /// Serves one connection over `link` in the calling task until it ends.
    ///
    /// # Errors
    ///
    /// Fails when the link would cross a network in plaintext and that was
    /// not allowed, when the server was already shut down, or when the
    /// connection ended other than gracefully (the link broke, the peer
    /// broke the protocol or was refused, a timer expired).
    pub async fn serve_link(&self, link: impl Link) -> Result<(), ServeError> {
        self.inner.policy.check(&link.info().kind)?;
        if self.inner.shutdown.is_cancelled() {
            return Err(ServeError::ShutDown);
        }
        self.run(link, None).await.map_err(ServeError::Connection)
    }

    /// Serves one connection, its handshake judged by `admission` (by
    /// default the server's own checks).
    async fn run(
        &self,
        link: impl Link,
        admission: Option<Arc<dyn Admission>>,
    ) -> Result<(), driver::ConnectionError> {
        // Counted as open until this future ends or is dropped.
        let open = self.inner.stats.open();
        let admission = admission.unwrap_or_else(|| self.inner.admission.clone());
        let setup = Setup::new(self.inner.session.clone())
            .with_admission(admission)
            .with_stats(open.cell());
        let router: Arc<dyn driver::Handler> = self.inner.router.clone();
        driver::serve(
            link,
            setup,
            Hello::default(),
            router,
            self.inner.shutdown.child_token(),
        )
        .await
    }

    /// Shuts down gracefully: listeners stop accepting, every connection
    /// tells its peer it is going away, in-flight calls finish (or are
    /// cancelled when the drain timeout passes), then the `serve` futures
    /// return.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    /// What every connection this server served so far moved, summed.
    pub fn stats(&self) -> ConnectionStats {
        self.inner.stats.total()
    }

    /// How many connections are open now.
    pub fn connections(&self) -> usize {
        self.inner.stats.open_count()
    }

    /// How many connections [`serve`](Self::serve) refused so far for being
    /// over [`max_connections`](ServerBuilder::max_connections) or
    /// [`max_connections_per_peer`](ServerBuilder::max_connections_per_peer).
    pub fn connection_refusals(&self) -> ConnectionRefusals {
        self.inner.gate.refusals()
    }

    /// Every op this server serves, merged over its services, with its
    /// access (a permission or public), kind, codecs and transport kind:
    /// `server.manifest().to_json_string()` exports it for review and for
    /// a [`Topology`](crate::auth::Topology) check.
    pub fn manifest(&self) -> &PermissionManifest {
        &self.inner.manifest
    }
}

fn log_end(done: Result<Result<(), driver::ConnectionError>, tokio::task::JoinError>) {
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "connection ended with an error"),
        Err(e) => tracing::warn!(error = %e, "connection task failed"),
    }
}

/// How many accepted connections may wait for their handshake to be judged
/// at once, unless set otherwise
/// ([`ServerBuilder::max_pending_handshakes`]).
pub const DEFAULT_MAX_PENDING_HANDSHAKES: usize = 256;

/// Configures a [`Server`].
#[derive(Default)]
pub struct ServerBuilder {
    services: Vec<Arc<dyn Dispatch>>,
    layers: Vec<Arc<dyn Layer>>,
    table: OpTable,
    error: Option<BuildError>,
    policy: SecurityPolicy,
    max_pending_handshakes: Option<usize>,
    max_connections: Option<usize>,
    max_connections_per_peer: Option<usize>,
    execution: Execution,
    limits: Limits,
    session: SessionConfig,
    authenticator: Option<Arc<dyn Authenticator>>,
    allow_unauthenticated: bool,
    authorizer: Option<Arc<dyn Authorizer>>,
    lifetimes: Lifetimes,
}

impl core::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("services", &self.services.len())
            .field("layers", &self.layers.len())
            .field("policy", &self.policy)
            .field("execution", &self.execution)
            .field("authenticator", &self.authenticator.is_some())
            .field("allow_unauthenticated", &self.allow_unauthenticated)
            .finish()
    }
}

impl ServerBuilder {
    /// Adds a service, such as a generated `CalcServer::new(MyCalc)`. Ops
    /// whose ids collide with ops already added make [`ServerBuilder::build`]
    /// fail, naming both.
    pub fn add_service(mut self, service: impl Dispatch) -> Self {
        if let Err(e) = self.table.register(service.descriptor()) {
            self.error.get_or_insert(BuildError::Ops(e));
        }
        self.services.push(Arc::new(service));
        self
    }

    /// Adds a layer every call passes before its op (before its request is
    /// decoded). The first layer added sees calls first.
    pub fn layer(mut self, layer: impl Layer) -> Self {
        self.layers.push(Arc::new(layer));
        self
    }

    /// Where handlers run unless their op says otherwise
    /// (`#[prism(spawn)]` / `#[prism(inline)]`): inline in their
    /// connection's task (the default: fastest for handlers that finish at
    /// once) or each in a spawned task (one connection's CPU-heavy handlers
    /// then use every core).
    pub fn execution(mut self, execution: Execution) -> Self {
        self.execution = execution;
        self
    }

    /// Allows links that do not keep bytes confidential and intact (plain
    /// TCP): shorthand for a [`security_policy`](Self::security_policy)
    /// that allows plaintext.
    pub fn allow_plaintext(mut self) -> Self {
        self.policy = self.policy.allow_plaintext();
        self
    }

    /// The links this server accepts (default: links that keep bytes
    /// confidential and intact: in-memory, Unix, TLS). Checked against the
    /// listener's kind before serving and against each link's own.
    pub fn security_policy(mut self, policy: SecurityPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// How many accepted connections may wait for their handshake to be
    /// judged at once (default [`DEFAULT_MAX_PENDING_HANDSHAKES`], at least
    /// 1): past it the server stops accepting, so a flood of peers that
    /// connect and say nothing waits in the listener's backlog (each for at
    /// most the session's handshake timeout) instead of holding memory,
    /// and clients that complete their handshake are served.
    pub fn max_pending_handshakes(mut self, max: usize) -> Self {
        self.max_pending_handshakes = Some(max.max(1));
        self
    }

    /// Most connections [`Server::serve`] holds at once, handshakes
    /// included (default [`DEFAULT_MAX_CONNECTIONS`], at least 1). One more
    /// is refused at its handshake: the client's connect fails with
    /// `RESOURCE_EXHAUSTED` and a reason naming the limit, and
    /// [`Server::connection_refusals`] counts it. Links served with
    /// [`Server::serve_link`] are not counted.
    pub fn max_connections(mut self, max: usize) -> Self {
        self.max_connections = Some(max.max(1));
        self
    }

    /// Most connections [`Server::serve`] holds at once from one IP address
    /// (for IPv6, one /64)
    /// (default [`DEFAULT_MAX_CONNECTIONS_PER_PEER`], at least 1), so one
    /// misbehaving host cannot take every slot (raise it for many clients
    /// behind one NAT or load balancer); refused as over
    /// [`max_connections`](Self::max_connections). Unix and in-memory
    /// peers have no address and count only toward the total.
    pub fn max_connections_per_peer(mut self, max: usize) -> Self {
        self.max_connections_per_peer = Some(max.max(1));
        self
    }

    /// Checks the proof each client presents at its handshake and binds
    /// the connection to the identity it establishes (see [`crate::auth`]).
    /// A client that presents none gets a connection without identity, on
    /// which only public ops run.
    pub fn authenticator(mut self, authenticator: impl Authenticator) -> Self {
        self.authenticator = Some(Arc::new(authenticator));
        self
    }

    /// Builds a server without an authenticator: no connection has an
    /// identity, so only public ops run, and a client that presents a proof
    /// is refused (nothing here could check it). Without this or an
    /// [`authenticator`](ServerBuilder::authenticator), `build` fails:
    /// access is closed unless said otherwise.
    pub fn allow_unauthenticated(mut self) -> Self {
        self.allow_unauthenticated = true;
        self
    }

    /// The longest an authentication by proof holds before the client
    /// must present a fresh one in band (default
    /// [`DEFAULT_MAX_SESSION_LIFETIME`](crate::auth::DEFAULT_MAX_SESSION_LIFETIME),
    /// one hour). A connection's lifetime is the shorter of this and its
    /// token's expiry; the client learns it at the handshake and after
    /// each fresh proof, and re-authenticates between 85% and 95% of it.
    /// Only clients that re-authenticate in band are capped: one that
    /// cannot keeps its token's expiry.
    pub fn max_session_lifetime(mut self, max: Duration) -> Self {
        self.lifetimes.max = max;
        self
    }

    /// How long open calls and streams outlive a connection's expired
    /// authentication (default zero). New calls of ops that need a
    /// permission fail `UNAUTHENTICATED` from the expiry on either way.
    pub fn expiry_grace(mut self, grace: Duration) -> Self {
        self.lifetimes.grace = grace;
        self
    }

    /// How long a connection authenticated under an older
    /// [`AuthzVersion`](crate::auth::AuthzVersion) has to present a fresh
    /// proof once the version moved (default
    /// [`DEFAULT_REVOCATION_GRACE`](crate::auth::DEFAULT_REVOCATION_GRACE),
    /// ten seconds); after it the connection counts as expired.
    pub fn revocation_grace(mut self, grace: Duration) -> Self {
        self.lifetimes.revocation = grace;
        self
    }

    /// Decides whether an identity may call an op that needs a permission;
    /// by default ([`HeldPermissions`]) the
    /// identity must hold it. Plug a policy engine in here.
    pub fn authorizer(mut self, authorizer: impl Authorizer) -> Self {
        self.authorizer = Some(Arc::new(authorizer));
        self
    }

    /// Codec limits for decoding requests and encoding responses.
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

    /// Checks the services and builds the server.
    ///
    /// # Errors
    ///
    /// Fails when two ops share an id, an op's types cannot be
    /// fingerprinted, an op declares no access, or the server has neither
    /// an authenticator nor [`ServerBuilder::allow_unauthenticated`].
    pub fn build(self) -> Result<Server, BuildError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.authenticator.is_none() && !self.allow_unauthenticated {
            return Err(BuildError::NoAuthenticator);
        }
        let mut ops = Vec::new();
        for service in &self.services {
            for op in service.descriptor().ops() {
                if op.access().is_none() {
                    let op = op.full_name();
                    return Err(BuildError::UndeclaredAccess { op });
                }
                ops.push((op, op_entry(op).map_err(BuildError::Ops)?));
            }
        }
        let descriptors: Vec<_> = self.services.iter().map(|s| s.descriptor()).collect();
        let manifest = PermissionManifest::from_services(&descriptors);
        let router = Router::new(
            &self.services,
            &self.layers,
            self.execution,
            self.limits,
            self.session.max_message,
            self.authorizer.unwrap_or_else(|| Arc::new(HeldPermissions)),
        );
        Ok(Server {
            inner: Arc::new(Inner {
                router: Arc::new(router),
                manifest: manifest.clone(),
                admission: Arc::new(SchemaCheck::new(
                    ops,
                    self.authenticator,
                    manifest
                        .permissions()
                        .into_iter()
                        .map(str::to_owned)
                        .collect(),
                    self.lifetimes,
                    (self.session.offered_features())
                        .contains(Features::REAUTH)
                        .then_some(self.session.handshake_timeout),
                )),
                session: self.session,
                policy: self.policy,
                max_pending_handshakes: self
                    .max_pending_handshakes
                    .unwrap_or(DEFAULT_MAX_PENDING_HANDSHAKES),
                gate: Arc::new(Gate::new(
                    self.max_connections.unwrap_or(DEFAULT_MAX_CONNECTIONS),
                    self.max_connections_per_peer
                        .unwrap_or(DEFAULT_MAX_CONNECTIONS_PER_PEER),
                )),
                shutdown: CancellationToken::new(),
                stats: ServerStats::default(),
            }),
        })
    }
}
