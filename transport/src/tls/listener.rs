//! [`TlsListener`]: accepts TCP connections and runs their TLS handshakes
//! side by side, a bounded number at a time, each under a timeout.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio_rustls::{TlsAcceptor, TlsStream};

use super::{AUTHENTICATED_KIND, KIND, ServerTls, TlsLink};
use crate::handshakes::Handshakes;
use crate::link::{LinkConfig, LinkKind, Listener};

/// Accepts TLS links on a TCP listener.
///
/// Handshakes run concurrently inside the listener, so a peer that opens a
/// connection and says nothing holds one slot of
/// [`max_pending`](TlsListener::with_max_pending) for at most the
/// handshake timeout, and never blocks other peers. Failed handshakes are
/// logged (at debug level, with the peer's address) and counted, not
/// returned.
///
/// # Examples
///
/// ```no_run
/// use prism_transport::tls::{ServerTls, TlsListener};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let tls = ServerTls::from_pem(&std::fs::read("cert.pem")?, &std::fs::read("key.pem")?)?;
/// let tcp = tokio::net::TcpListener::bind("127.0.0.1:7700").await?;
/// let listener = TlsListener::new(tcp, tls);
/// # Ok(()) }
/// ```
pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    kind: LinkKind,
    handshakes: Handshakes<TlsLink>,
}

impl TlsListener {
    /// Accepts TLS connections on `tcp` with `tls`.
    pub fn new(tcp: TcpListener, tls: ServerTls) -> TlsListener {
        let kind = if tls.is_mutual() {
            AUTHENTICATED_KIND
        } else {
            KIND
        };
        TlsListener {
            tcp,
            acceptor: TlsAcceptor::from(tls.config()),
            kind,
            handshakes: Handshakes::new("TLS"),
        }
    }

    /// How many handshakes may be in progress at once (default
    /// [`DEFAULT_MAX_PENDING_HANDSHAKES`](super::DEFAULT_MAX_PENDING_HANDSHAKES),
    /// at least 1).
    #[must_use]
    pub fn with_max_pending(mut self, max: usize) -> Self {
        self.handshakes.set_max_pending(max);
        self
    }

    /// How long a handshake may take (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`](super::DEFAULT_HANDSHAKE_TIMEOUT)).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshakes.set_timeout(timeout);
        self
    }

    /// The address it listens on.
    ///
    /// # Errors
    ///
    /// As [`TcpListener::local_addr`].
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// Handshakes in progress.
    pub fn pending(&self) -> usize {
        self.handshakes.pending()
    }

    /// Handshakes that failed or timed out so far.
    pub fn failed(&self) -> u64 {
        self.handshakes.failed()
    }
}

impl core::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsListener")
            .field("local_addr", &self.tcp.local_addr().ok())
            .field("kind", &self.kind)
            .field("pending", &self.handshakes.pending())
            .field("max_pending", &self.handshakes.max_pending())
            .field("handshake_timeout", &self.handshakes.timeout())
            .field("failed", &self.handshakes.failed())
            .finish()
    }
}

impl Listener for TlsListener {
    type Link = TlsLink;

    fn kind(&self) -> LinkKind {
        self.kind
    }

    /// Cancel safe: handshakes in progress live in the listener.
    async fn accept(&mut self, config: &LinkConfig) -> io::Result<TlsLink> {
        let (config, kind) = (*config, self.kind);
        let acceptor = &self.acceptor;
        self.handshakes
            .accept(&self.tcp, |stream, peer: SocketAddr| {
                let accept = acceptor.accept(stream);
                async move {
                    let stream = TlsStream::Server(accept.await?);
                    TlsLink::new(stream, kind, peer, &config)
                }
            })
            .await
    }
}
