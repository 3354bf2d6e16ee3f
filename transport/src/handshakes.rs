//! Handshakes a listener runs side by side (TLS, WebSocket upgrades, QUIC): a
//! bounded number at a time, each under its own timeout, so a peer that
//! connects and says nothing holds one slot for at most the timeout and
//! never blocks the others.

use core::future::{Future, poll_fn};
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use futures_util::stream::{FuturesUnordered, StreamExt};
use tokio::net::{TcpListener, TcpStream};

/// How many handshakes a listener runs at once unless set otherwise: past
/// it, new connections wait in the kernel's backlog.
pub const DEFAULT_MAX_PENDING_HANDSHAKES: usize = 256;

/// How long a handshake may take, unless set otherwise.
pub const DEFAULT_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// One handshake in progress, ending in a link or why not.
pub(crate) type Handshake<L> = Pin<Box<dyn Future<Output = io::Result<L>> + Send>>;

/// The handshakes in progress on one listener.
pub(crate) struct Handshakes<L> {
    running: FuturesUnordered<Handshake<L>>,
    max_pending: usize,
    timeout: Duration,
    failed: u64,
    /// What the handshakes are, for the log: "TLS", "WebSocket".
    what: &'static str,
}

impl<L: 'static> Handshakes<L> {
    pub(crate) fn new(what: &'static str) -> Handshakes<L> {
        Handshakes {
            running: FuturesUnordered::new(),
            max_pending: DEFAULT_MAX_PENDING_HANDSHAKES,
            timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            failed: 0,
            what,
        }
    }

    pub(crate) fn set_max_pending(&mut self, max: usize) {
        self.max_pending = max.max(1);
    }

    pub(crate) fn set_timeout(&mut self, timeout: Duration) {
        self.timeout = timeout;
    }

    pub(crate) fn max_pending(&self) -> usize {
        self.max_pending
    }

    pub(crate) fn timeout(&self) -> Duration {
        self.timeout
    }

    pub(crate) fn pending(&self) -> usize {
        self.running.len()
    }

    pub(crate) fn failed(&self) -> u64 {
        self.failed
    }

    /// The next link whose handshake succeeds: accepts TCP connections
    /// while fewer than `max_pending` handshakes run, starting `start` on
    /// each under the timeout. Failed handshakes are logged (debug level,
    /// with the peer's address) and counted.
    ///
    /// Cancel safe: handshakes in progress live here, not in the future.
    pub(crate) async fn accept<F, Fut>(&mut self, tcp: &TcpListener, start: F) -> io::Result<L>
    where
        F: Fn(TcpStream, SocketAddr) -> Fut,
        Fut: Future<Output = io::Result<L>> + Send + 'static,
    {
        let incoming = |cx: &mut Context<'_>| loop {
            match ready!(tcp.poll_accept(cx)) {
                Ok((stream, peer)) => match stream.set_nodelay(true) {
                    Ok(()) => return Poll::Ready(Ok((stream, peer))),
                    Err(e) => tracing::debug!(error = %e, %peer, "TCP_NODELAY failed"),
                },
                Err(e) => return Poll::Ready(Err(e)),
            }
        };
        self.accept_from(incoming, start).await
    }

    /// [`Handshakes::accept`] over any source of new peers: `incoming`
    /// polls for the next one (a QUIC endpoint's incoming connections).
    pub(crate) async fn accept_from<I, P, F, Fut>(
        &mut self,
        mut incoming: P,
        start: F,
    ) -> io::Result<L>
    where
        P: FnMut(&mut Context<'_>) -> Poll<io::Result<(I, SocketAddr)>>,
        F: Fn(I, SocketAddr) -> Fut,
        Fut: Future<Output = io::Result<L>> + Send + 'static,
    {
        poll_fn(|cx| {
            loop {
                match self.running.poll_next_unpin(cx) {
                    Poll::Ready(Some(Ok(link))) => return Poll::Ready(Ok(link)),
                    Poll::Ready(Some(Err(e))) => {
                        self.failed += 1;
                        tracing::debug!(error = %e, "{} handshake failed", self.what);
                        continue;
                    }
                    Poll::Ready(None) | Poll::Pending => {}
                }
                if self.running.len() >= self.max_pending {
                    return Poll::Pending;
                }
                let (io, peer) = ready!(incoming(cx))?;
                let (what, timeout) = (self.what, self.timeout);
                let handshake = start(io, peer);
                self.running.push(Box::pin(async move {
                    match tokio::time::timeout(timeout, handshake).await {
                        Ok(Ok(link)) => Ok(link),
                        // The peer's address goes into the error, for the log.
                        Ok(Err(e)) => {
                            Err(io::Error::new(e.kind(), format!("{what} from {peer}: {e}")))
                        }
                        Err(_) => Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            format!("{what} from {peer}: the handshake timed out"),
                        )),
                    }
                }));
            }
        })
        .await
    }
}
