//! [`TlsListener`]: accepts TCP connections and runs their TLS handshakes
//! side by side, a bounded number at a time, each under a timeout.

use core::future::poll_fn;
use core::pin::Pin;
use core::task::Poll;
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::net::TcpListener;
use tokio_rustls::{TlsAcceptor, TlsStream};

use super::{AUTHENTICATED_KIND, DEFAULT_HANDSHAKE_TIMEOUT, KIND, ServerTls, TlsLink};
use crate::link::{LinkConfig, LinkKind, Listener};

/// How many TLS handshakes a listener runs at once unless set otherwise:
/// past it, new connections wait in the kernel's backlog.
pub const DEFAULT_MAX_PENDING_HANDSHAKES: usize = 256;

type Handshake = Pin<Box<dyn Future<Output = io::Result<TlsLink>> + Send>>;

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
    handshakes: FuturesUnordered<Handshake>,
    max_pending: usize,
    handshake_timeout: Duration,
    failed: u64,
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
            handshakes: FuturesUnordered::new(),
            max_pending: DEFAULT_MAX_PENDING_HANDSHAKES,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            failed: 0,
        }
    }

    /// How many handshakes may be in progress at once (default
    /// [`DEFAULT_MAX_PENDING_HANDSHAKES`], at least 1).
    #[must_use]
    pub fn with_max_pending(mut self, max: usize) -> Self {
        self.max_pending = max.max(1);
        self
    }

    /// How long a handshake may take (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`](super::DEFAULT_HANDSHAKE_TIMEOUT)).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
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
        self.handshakes.len()
    }

    /// Handshakes that failed or timed out so far.
    pub fn failed(&self) -> u64 {
        self.failed
    }

    fn handshake(
        &self,
        stream: tokio::net::TcpStream,
        peer: SocketAddr,
        config: LinkConfig,
    ) -> Handshake {
        let accept = self.acceptor.accept(stream);
        let (kind, timeout) = (self.kind, self.handshake_timeout);
        Box::pin(async move {
            let handshake = async {
                let stream = tokio::time::timeout(timeout, accept).await.map_err(|_| {
                    io::Error::new(io::ErrorKind::TimedOut, "the TLS handshake timed out")
                })??;
                TlsLink::new(TlsStream::Server(stream), kind, peer, &config)
            };
            // The peer's address goes into the error, for the log.
            handshake
                .await
                .map_err(|e| io::Error::new(e.kind(), format!("TLS from {peer}: {e}")))
        })
    }
}

impl core::fmt::Debug for TlsListener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsListener")
            .field("local_addr", &self.tcp.local_addr().ok())
            .field("kind", &self.kind)
            .field("pending", &self.handshakes.len())
            .field("max_pending", &self.max_pending)
            .field("handshake_timeout", &self.handshake_timeout)
            .field("failed", &self.failed)
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
        let config = *config;
        poll_fn(|cx| {
            loop {
                match self.handshakes.poll_next_unpin(cx) {
                    Poll::Ready(Some(Ok(link))) => return Poll::Ready(Ok(link)),
                    Poll::Ready(Some(Err(e))) => {
                        self.failed += 1;
                        tracing::debug!(error = %e, "TLS handshake failed");
                        continue;
                    }
                    Poll::Ready(None) | Poll::Pending => {}
                }
                if self.handshakes.len() >= self.max_pending {
                    return Poll::Pending;
                }
                match self.tcp.poll_accept(cx) {
                    Poll::Ready(Ok((stream, peer))) => {
                        if let Err(e) = stream.set_nodelay(true) {
                            tracing::debug!(error = %e, %peer, "TCP_NODELAY failed");
                            continue;
                        }
                        let handshake = self.handshake(stream, peer, config);
                        self.handshakes.push(handshake);
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
        })
        .await
    }
}
