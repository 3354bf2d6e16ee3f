//! [`QuicListener`]: accepts QUIC connections on a UDP socket and runs
//! their handshakes side by side, a bounded number at a time, each under a
//! timeout.

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{AUTHENTICATED_KIND, KIND, QuicLink, config};
use crate::handshakes::Handshakes;
use crate::link::{LinkConfig, LinkKind, Listener};
use crate::tls::{ServerTls, TlsConfigError};

type NextIncoming = Pin<Box<dyn Future<Output = Option<quinn::Incoming>> + Send>>;

/// Accepts QUIC links on a UDP socket.
///
/// Quinn runs the handshakes; this listener waits for at most
/// [`max_pending`](QuicListener::with_max_pending) of them at once, each
/// for at most the handshake timeout. Failed handshakes are logged (at
/// debug level, with the peer's address) and counted, not returned.
///
/// # Examples
///
/// ```no_run
/// use prism_transport::quic::QuicListener;
/// use prism_transport::tls::ServerTls;
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let tls = ServerTls::from_pem(&std::fs::read("cert.pem")?, &std::fs::read("key.pem")?)?;
/// let listener = QuicListener::bind("127.0.0.1:7700".parse()?, tls)?;
/// # Ok(()) }
/// ```
pub struct QuicListener {
    endpoint: quinn::Endpoint,
    tls: ServerTls,
    kind: LinkKind,
    next: NextIncoming,
    /// The server configuration for the last `LinkConfig` asked for.
    server: Option<(LinkConfig, Arc<quinn::ServerConfig>)>,
    handshakes: Handshakes<QuicLink>,
}

impl QuicListener {
    /// Listens on `addr` (port 0 picks a free one) with `tls`. Must be
    /// called inside a tokio runtime.
    ///
    /// # Errors
    ///
    /// The socket cannot be bound, or the TLS configuration cannot serve
    /// QUIC (it must allow TLS 1.3).
    pub fn bind(addr: SocketAddr, tls: ServerTls) -> io::Result<QuicListener> {
        let server = config::server(&tls, &LinkConfig::default()).map_err(io::Error::other)?;
        let endpoint = quinn::Endpoint::server(server, addr)?;
        let kind = if tls.is_mutual() {
            AUTHENTICATED_KIND
        } else {
            KIND
        };
        Ok(QuicListener {
            next: next_incoming(&endpoint),
            endpoint,
            tls,
            kind,
            server: None,
            handshakes: Handshakes::new("QUIC"),
        })
    }

    /// How many handshakes may be in progress at once (default
    /// [`DEFAULT_MAX_PENDING_HANDSHAKES`](crate::tls::DEFAULT_MAX_PENDING_HANDSHAKES),
    /// at least 1).
    #[must_use]
    pub fn with_max_pending(mut self, max: usize) -> Self {
        self.handshakes.set_max_pending(max);
        self
    }

    /// How long a handshake may take (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`](crate::tls::DEFAULT_HANDSHAKE_TIMEOUT)).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshakes.set_timeout(timeout);
        self
    }

    /// The address the socket is bound to.
    ///
    /// # Errors
    ///
    /// The socket cannot say.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.endpoint.local_addr()
    }

    /// Handshakes in progress.
    pub fn pending(&self) -> usize {
        self.handshakes.pending()
    }

    /// Handshakes that failed or timed out so far.
    pub fn failed(&self) -> u64 {
        self.handshakes.failed()
    }

    fn server_config(
        &mut self,
        config: &LinkConfig,
    ) -> Result<Arc<quinn::ServerConfig>, TlsConfigError> {
        match &self.server {
            Some((cached, server)) if cached == config => Ok(Arc::clone(server)),
            _ => {
                let server = Arc::new(config::server(&self.tls, config)?);
                self.server = Some((*config, Arc::clone(&server)));
                Ok(server)
            }
        }
    }
}

fn next_incoming(endpoint: &quinn::Endpoint) -> NextIncoming {
    let endpoint = endpoint.clone();
    Box::pin(async move { endpoint.accept().await })
}

impl Drop for QuicListener {
    fn drop(&mut self) {
        // New peers are refused; links already accepted go on.
        self.endpoint.set_server_config(None);
    }
}

impl core::fmt::Debug for QuicListener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QuicListener")
            .field("local_addr", &self.endpoint.local_addr().ok())
            .field("kind", &self.kind)
            .field("pending", &self.handshakes.pending())
            .field("max_pending", &self.handshakes.max_pending())
            .field("handshake_timeout", &self.handshakes.timeout())
            .field("failed", &self.handshakes.failed())
            .finish()
    }
}

impl Listener for QuicListener {
    type Link = QuicLink;

    fn kind(&self) -> LinkKind {
        self.kind
    }

    /// Cancel safe: handshakes in progress live in the listener.
    async fn accept(&mut self, config: &LinkConfig) -> io::Result<QuicLink> {
        let (config, kind) = (*config, self.kind);
        let server = self.server_config(&config).map_err(io::Error::other)?;
        let (next, endpoint) = (&mut self.next, &self.endpoint);
        let incoming = |cx: &mut Context<'_>| match next.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(None) => {
                // Stays closed: later accepts fail the same way.
                *next = Box::pin(core::future::ready(None));
                Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::NotConnected,
                    "the QUIC endpoint is closed",
                )))
            }
            Poll::Ready(Some(incoming)) => {
                *next = next_incoming(endpoint);
                let peer = incoming.remote_address();
                Poll::Ready(Ok((incoming, peer)))
            }
        };
        self.handshakes
            .accept_from(incoming, |incoming: quinn::Incoming, _peer| {
                let server = Arc::clone(&server);
                async move {
                    let conn = incoming.accept_with(server)?.await?;
                    QuicLink::new(conn, kind, &config).await
                }
            })
            .await
    }
}
