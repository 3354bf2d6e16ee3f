//! [`WsConnector`]: opens WebSocket links to one `ws://` or `wss://` URL.

use std::io;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::{HeaderValue, Uri, header};

use super::{Counted, KIND, SUBPROTOCOL, WsIo, WsLink, ws_config};
use crate::handshakes::DEFAULT_HANDSHAKE_TIMEOUT;
use crate::link::{Connector, LinkConfig, LinkInfo, LinkKind, PeerAddr};

/// A URL a [`WsConnector`] cannot connect to.
#[derive(Debug, thiserror::Error)]
#[error("bad WebSocket URL {url:?}: {reason}")]
pub struct WsUrlError {
    url: String,
    reason: String,
}

impl WsUrlError {
    fn new(url: &str, reason: impl Into<String>) -> WsUrlError {
        WsUrlError {
            url: url.to_owned(),
            reason: reason.into(),
        }
    }
}

/// Opens WebSocket links to one URL: `ws://host:port/path` from
/// [`WsConnector::new`], `wss://…` from [`WsConnector::tls`].
///
/// Each connect resolves the host, opens TCP (and TLS for `wss://`), and
/// upgrades asking for the [`SUBPROTOCOL`](super::SUBPROTOCOL); a server
/// that does not answer with it is refused. The whole connect is bounded
/// by the handshake timeout.
///
/// # Examples
///
/// ```
/// use prism_transport::Connector;
/// use prism_transport::ws::WsConnector;
///
/// let connector = WsConnector::new("ws://127.0.0.1:7700/prism")?;
/// assert_eq!(connector.target(), "ws://127.0.0.1:7700/prism");
/// assert!(connector.kind().is_plaintext_network());
/// assert!(WsConnector::new("http://127.0.0.1:7700/").is_err());
/// # Ok::<(), prism_transport::ws::WsUrlError>(())
/// ```
#[derive(Clone, Debug)]
pub struct WsConnector {
    url: String,
    uri: Uri,
    /// `host:port`, for TCP.
    addr: String,
    kind: LinkKind,
    #[cfg(feature = "tls")]
    tls: Option<(
        rustls::pki_types::ServerName<'static>,
        crate::tls::ClientTls,
    )>,
    handshake_timeout: Duration,
}

impl WsConnector {
    /// Connects to a `ws://` URL: plaintext, so the channel must allow
    /// plaintext to use it.
    ///
    /// # Errors
    ///
    /// The URL does not parse, is not `ws://`, or names no host.
    pub fn new(url: &str) -> Result<WsConnector, WsUrlError> {
        let (uri, addr) = parse(url, "ws", 80)?;
        Ok(WsConnector {
            url: url.to_owned(),
            uri,
            addr,
            kind: KIND,
            #[cfg(feature = "tls")]
            tls: None,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        })
    }

    /// Connects to a `wss://` URL, verifying the server's certificate
    /// for the URL's host with `tls` (whose ALPN becomes `http/1.1`).
    ///
    /// # Errors
    ///
    /// The URL does not parse, is not `wss://`, or names no host that
    /// can be a TLS server name.
    #[cfg(feature = "tls")]
    pub fn tls(url: &str, tls: crate::tls::ClientTls) -> Result<WsConnector, WsUrlError> {
        let (uri, addr) = parse(url, "wss", 443)?;
        let host = uri.host().unwrap_or_default();
        // An IPv6 host comes bracketed in a URL; a server name is bare.
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = rustls::pki_types::ServerName::try_from(host.to_owned())
            .map_err(|e| WsUrlError::new(url, format!("bad server name {host:?}: {e}")))?;
        Ok(WsConnector {
            url: url.to_owned(),
            uri,
            addr,
            kind: super::TLS_AUTHENTICATED_KIND,
            tls: Some((name, tls)),
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        })
    }

    /// How long a connect (TCP, TLS and upgrade together) may take
    /// (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`](crate::handshakes::DEFAULT_HANDSHAKE_TIMEOUT)).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }

    async fn open(&self, config: &LinkConfig) -> io::Result<WsLink> {
        let tcp = TcpStream::connect(self.addr.as_str()).await?;
        tcp.set_nodelay(true)?;
        let info = LinkInfo::new(self.kind, PeerAddr::Socket(tcp.peer_addr()?));
        #[cfg(feature = "tls")]
        let (io, info) = match &self.tls {
            Some((name, tls)) => {
                let connector = tokio_rustls::TlsConnector::from(tls.config_with_alpn(b"http/1.1"));
                let stream = connector.connect(name.clone(), tcp).await?;
                let stream = tokio_rustls::TlsStream::Client(stream);
                let info = crate::tls::with_facts(info, &stream, None)?;
                (WsIo::Tls(Box::new(stream)), info)
            }
            None => (WsIo::Plain(tcp), info),
        };
        #[cfg(not(feature = "tls"))]
        let io = WsIo::Plain(tcp);
        let mut request = (&self.uri)
            .into_client_request()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
        request.headers_mut().insert(
            header::SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_static(SUBPROTOCOL),
        );
        let (ws, response) = tokio_tungstenite::client_async_with_config(
            request,
            Counted::new(io),
            Some(ws_config(config)),
        )
        .await
        .map_err(|e| io::Error::new(io::ErrorKind::ConnectionRefused, e))?;
        let agreed = response
            .headers()
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .is_some_and(|value| value == SUBPROTOCOL);
        if !agreed {
            return Err(io::Error::new(
                io::ErrorKind::ConnectionRefused,
                format!("the server did not agree to the WebSocket subprotocol {SUBPROTOCOL}"),
            ));
        }
        Ok(WsLink::new(ws, info, config))
    }
}

/// The URI of `url` and the `host:port` to dial, checking the scheme.
fn parse(url: &str, scheme: &str, default_port: u16) -> Result<(Uri, String), WsUrlError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| WsUrlError::new(url, format!("{e}")))?;
    if uri.scheme_str() != Some(scheme) {
        return Err(WsUrlError::new(
            url,
            format!("the scheme must be {scheme}://"),
        ));
    }
    let Some(host) = uri.host().filter(|host| !host.is_empty()) else {
        return Err(WsUrlError::new(url, "it names no host"));
    };
    let port = uri.port_u16().unwrap_or(default_port);
    Ok((uri.clone(), format!("{host}:{port}")))
}

impl Connector for WsConnector {
    type Link = WsLink;

    fn kind(&self) -> LinkKind {
        self.kind
    }

    fn target(&self) -> String {
        self.url.clone()
    }

    async fn connect(&self, config: &LinkConfig) -> io::Result<WsLink> {
        tokio::time::timeout(self.handshake_timeout, self.open(config))
            .await
            .map_err(|_| {
                io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the WebSocket handshake with {} timed out", self.url),
                )
            })?
    }
}
