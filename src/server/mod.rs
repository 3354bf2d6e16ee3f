//! The server side: a [`Server`] serving several services on one listener,
//! routing each call by op id.

mod dispatch;
mod router;

use std::future::Future;
use std::sync::Arc;

use prism_codecs::Limits;
use prism_reflect::OpTable;
use prism_transport::driver;
use prism_transport::session::{Hello, SessionConfig};
use prism_transport::{Link, tcp, unix};
use tokio::net::{TcpListener, UnixListener};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub use dispatch::{Dispatch, Dispatched, Incoming, unary, unary_view, unknown_op};

use crate::{BuildError, ServeError};
use router::{Router, op_entry};

/// Serves services over any number of listeners and links.
///
/// Cloning is cheap; clones share the services and the shutdown signal.
///
/// # Examples
///
/// ```no_run
/// # async fn demo(listener: tokio::net::TcpListener) -> Result<(), Box<dyn std::error::Error>> {
/// let server = prism::Server::builder()
///     // .add_service(CalcServer::new(MyCalc)) for each generated service
///     .allow_plaintext()
///     .build()?;
/// let serving = tokio::spawn({
///     let server = server.clone();
///     async move { server.serve_tcp(listener).await }
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
    hello: Hello,
    session: SessionConfig,
    allow_plaintext: bool,
    shutdown: CancellationToken,
}

impl core::fmt::Debug for Server {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Server")
            .field("ops", &self.inner.hello.ops.len())
            .field("shutting_down", &self.inner.shutdown.is_cancelled())
            .finish()
    }
}

impl Server {
    /// Starts configuring a server.
    pub fn builder() -> ServerBuilder {
        ServerBuilder::default()
    }

    /// Accepts TCP connections until [`Server::shutdown`], then waits for
    /// every connection to finish its in-flight calls.
    ///
    /// # Errors
    ///
    /// Fails at once unless plaintext was allowed (TCP here carries no TLS).
    pub async fn serve_tcp(&self, listener: TcpListener) -> Result<(), ServeError> {
        if !self.inner.allow_plaintext {
            return Err(ServeError::PlaintextRefused { kind: "tcp" });
        }
        let max_frame = self.inner.session.link_max_frame();
        let listener = Arc::new(listener);
        self.accept_loop(move || {
            let listener = Arc::clone(&listener);
            async move {
                let (stream, _) = listener.accept().await?;
                tcp::TcpLink::with_max_frame(stream, max_frame)
            }
        })
        .await
    }

    /// Accepts Unix socket connections until [`Server::shutdown`], then
    /// waits for every connection to finish its in-flight calls.
    ///
    /// # Errors
    ///
    /// Does not fail today; accept errors are logged and retried.
    pub async fn serve_unix(&self, listener: UnixListener) -> Result<(), ServeError> {
        let max_frame = self.inner.session.link_max_frame();
        let listener = Arc::new(listener);
        self.accept_loop(move || {
            let listener = Arc::clone(&listener);
            async move {
                let (stream, _) = listener.accept().await?;
                unix::UnixLink::with_max_frame(stream, max_frame)
            }
        })
        .await
    }

    /// Serves one connection over `link` in the calling task until it closes.
    ///
    /// # Errors
    ///
    /// Fails when the link is plaintext over a network and that was not
    /// allowed, when the link breaks, or when the peer breaks the protocol.
    pub async fn serve_link(&self, link: impl Link) -> Result<(), ServeError> {
        let info = link.info();
        if info.kind.is_network() && !info.security.confidential && !self.inner.allow_plaintext {
            return Err(ServeError::PlaintextRefused {
                kind: info.kind.name(),
            });
        }
        let router: Arc<dyn driver::Handler> = self.inner.router.clone();
        driver::serve(
            link,
            self.inner.session.clone(),
            self.inner.hello.clone(),
            router,
            self.inner.shutdown.child_token(),
        )
        .await
        .map_err(ServeError::Connection)
    }

    /// Shuts down gracefully: listeners stop accepting, every connection
    /// tells its peer it is going away, in-flight calls finish, then the
    /// `serve_*` futures return.
    pub fn shutdown(&self) {
        self.inner.shutdown.cancel();
    }

    async fn accept_loop<F, Fut, L>(&self, mut accept: F) -> Result<(), ServeError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = std::io::Result<L>>,
        L: Link,
    {
        let mut connections = JoinSet::new();
        let shutdown = self.inner.shutdown.clone();
        loop {
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                accepted = accept() => match accepted {
                    Ok(link) => {
                        let server = self.clone();
                        connections.spawn(async move { server.serve_link(link).await });
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
        drop(accept);
        while let Some(done) = connections.join_next().await {
            log_end(done);
        }
        Ok(())
    }
}

fn log_end(done: Result<Result<(), ServeError>, tokio::task::JoinError>) {
    match done {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::debug!(error = %e, "connection ended with an error"),
        Err(e) => tracing::warn!(error = %e, "connection task failed"),
    }
}

/// Configures a [`Server`].
#[derive(Default)]
pub struct ServerBuilder {
    services: Vec<Arc<dyn Dispatch>>,
    table: OpTable,
    error: Option<BuildError>,
    allow_plaintext: bool,
    limits: Limits,
    session: SessionConfig,
}

impl core::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("services", &self.services.len())
            .field("allow_plaintext", &self.allow_plaintext)
            .finish()
    }
}

impl ServerBuilder {
    /// Adds a service, such as a generated `CalcServer::new(MyCalc)`. Ops
    /// whose ids collide with ops already added make [`ServerBuilder::build`] fail.
    pub fn add_service(mut self, service: impl Dispatch) -> Self {
        if let Err(e) = self.table.register(service.descriptor()) {
            self.error.get_or_insert(BuildError::Ops(e));
        }
        self.services.push(Arc::new(service));
        self
    }

    /// Allows links that cross a network without encryption (plain TCP).
    pub fn allow_plaintext(mut self) -> Self {
        self.allow_plaintext = true;
        self
    }

    /// Codec limits for decoding requests and encoding responses.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Session settings: frame size, channel limits, handshake timeout, keepalive.
    pub fn session_config(mut self, config: SessionConfig) -> Self {
        self.session = config;
        self
    }

    /// Checks the services and builds the server.
    ///
    /// # Errors
    ///
    /// Fails when two ops share an id or an op's types cannot be fingerprinted.
    pub fn build(self) -> Result<Server, BuildError> {
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut ops = Vec::new();
        for service in &self.services {
            for op in service.descriptor().ops() {
                ops.push(op_entry(op).map_err(BuildError::Ops)?);
            }
        }
        let hello = Hello::new(ops);
        Ok(Server {
            inner: Arc::new(Inner {
                router: Arc::new(Router::new(&self.services, self.limits)),
                hello,
                session: self.session,
                allow_plaintext: self.allow_plaintext,
                shutdown: CancellationToken::new(),
            }),
        })
    }
}
