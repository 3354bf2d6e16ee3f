//! [`WsListener`]: accepts TCP connections (TLS first for `wss://`) and
//! runs their WebSocket upgrades side by side, a bounded number at a time,
//! each under a timeout.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http::{HeaderValue, StatusCode, header};

use super::{Counted, KIND, SUBPROTOCOL, WsIo, WsLink, ws_config};
use crate::handshakes::Handshakes;
use crate::link::{LinkConfig, LinkInfo, LinkKind, Listener, PeerAddr};

/// Accepts WebSocket links on a TCP listener: `ws://` from
/// [`WsListener::new`], `wss://` from [`WsListener::tls`].
///
/// Upgrades (and TLS handshakes) run concurrently inside the listener, so
/// a peer that connects and says nothing holds one slot of
/// [`max_pending`](WsListener::with_max_pending) for at most the
/// handshake timeout. A request that does not ask for the
/// [`SUBPROTOCOL`](super::SUBPROTOCOL) gets `400 Bad Request`. Failed
/// handshakes are logged (debug level, with the peer's address) and
/// counted, not returned. Any request path is accepted.
///
/// # Examples
///
/// ```no_run
/// use prism_transport::ws::WsListener;
///
/// # async fn demo() -> std::io::Result<()> {
/// let tcp = tokio::net::TcpListener::bind("127.0.0.1:7700").await?;
/// let listener = WsListener::new(tcp); // serves ws://127.0.0.1:7700/
/// # Ok(()) }
/// ```
pub struct WsListener {
    tcp: TcpListener,
    kind: LinkKind,
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
    handshakes: Handshakes<WsLink>,
}

impl WsListener {
    /// Accepts `ws://` connections on `tcp`: plaintext, so a server must
    /// allow plaintext to serve them.
    pub fn new(tcp: TcpListener) -> WsListener {
        WsListener {
            tcp,
            kind: KIND,
            #[cfg(feature = "tls")]
            tls: None,
            handshakes: Handshakes::new("WebSocket"),
        }
    }

    /// Accepts `wss://` connections on `tcp` with `tls` (whose ALPN becomes
    /// `http/1.1`, which browsers offer for WebSockets).
    #[cfg(feature = "tls")]
    pub fn tls(tcp: TcpListener, tls: crate::tls::ServerTls) -> WsListener {
        let kind = if tls.is_mutual() {
            super::TLS_AUTHENTICATED_KIND
        } else {
            super::TLS_KIND
        };
        let acceptor = tokio_rustls::TlsAcceptor::from(tls.config_with_alpn(b"http/1.1"));
        WsListener {
            tcp,
            kind,
            tls: Some(acceptor),
            handshakes: Handshakes::new("WebSocket"),
        }
    }

    /// How many handshakes may be in progress at once (default
    /// [`DEFAULT_MAX_PENDING_HANDSHAKES`](crate::handshakes::DEFAULT_MAX_PENDING_HANDSHAKES),
    /// at least 1).
    #[must_use]
    pub fn with_max_pending(mut self, max: usize) -> Self {
        self.handshakes.set_max_pending(max);
        self
    }

    /// How long a handshake (TLS and upgrade together) may take (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`](crate::handshakes::DEFAULT_HANDSHAKE_TIMEOUT)).
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

impl core::fmt::Debug for WsListener {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("WsListener")
            .field("local_addr", &self.tcp.local_addr().ok())
            .field("kind", &self.kind)
            .field("pending", &self.handshakes.pending())
            .field("max_pending", &self.handshakes.max_pending())
            .field("handshake_timeout", &self.handshakes.timeout())
            .field("failed", &self.handshakes.failed())
            .finish()
    }
}

/// Answers the upgrade: only a request that offers Prism's subprotocol.
#[allow(clippy::result_large_err)] // tungstenite's callback signature
fn choose_subprotocol(
    request: &Request,
    mut response: Response,
) -> Result<Response, ErrorResponse> {
    let offered = request
        .headers()
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|protocol| protocol.trim() == SUBPROTOCOL);
    if !offered {
        let mut refusal = ErrorResponse::new(Some(format!(
            "this is a Prism endpoint: ask for the WebSocket subprotocol {SUBPROTOCOL}"
        )));
        *refusal.status_mut() = StatusCode::BAD_REQUEST;
        return Err(refusal);
    }
    response.headers_mut().insert(
        header::SEC_WEBSOCKET_PROTOCOL,
        HeaderValue::from_static(SUBPROTOCOL),
    );
    Ok(response)
}

impl Listener for WsListener {
    type Link = WsLink;

    fn kind(&self) -> LinkKind {
        self.kind
    }

    /// Cancel safe: handshakes in progress live in the listener.
    async fn accept(&mut self, config: &LinkConfig) -> io::Result<WsLink> {
        let upgrade = Upgrade {
            kind: self.kind,
            config: *config,
            #[cfg(feature = "tls")]
            tls: self.tls.clone(),
        };
        self.handshakes
            .accept(&self.tcp, |stream, peer| upgrade.clone().run(stream, peer))
            .await
    }
}

/// What one accepted connection goes through: TLS for `wss://`, then the
/// WebSocket upgrade.
#[derive(Clone)]
struct Upgrade {
    kind: LinkKind,
    config: LinkConfig,
    #[cfg(feature = "tls")]
    tls: Option<tokio_rustls::TlsAcceptor>,
}

impl Upgrade {
    async fn run(self, stream: TcpStream, peer: SocketAddr) -> io::Result<WsLink> {
        let info = LinkInfo::new(self.kind, PeerAddr::Socket(peer));
        #[cfg(feature = "tls")]
        let (io, info) = match self.tls {
            Some(tls) => {
                let tls = tokio_rustls::TlsStream::Server(tls.accept(stream).await?);
                let info = crate::tls::with_facts(info, &tls, None)?;
                (WsIo::Tls(Box::new(tls)), info)
            }
            None => (WsIo::Plain(stream), info),
        };
        #[cfg(not(feature = "tls"))]
        let io = WsIo::Plain(stream);
        let ws = tokio_tungstenite::accept_hdr_async_with_config(
            Counted::new(io),
            choose_subprotocol,
            Some(ws_config(&self.config)),
        )
        .await
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        Ok(WsLink::new(ws, info, &self.config))
    }
}
