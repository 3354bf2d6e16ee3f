//! TLS 1.3 and mutual TLS over TCP, on rustls with the aws-lc-rs provider
//! (post-quantum hybrid key exchange first).
//!
//! [`ServerTls`] and [`ClientTls`] hold the configurations (from PEM, or a
//! rustls config of your own), [`TlsListener`] accepts links with a bound
//! on handshakes in progress and a handshake timeout, [`TlsConnector`]
//! opens them. Only TLS 1.3 is spoken; the ALPN protocol is
//! [`ALPN_PROTOCOL`].
//!
//! A TLS link keeps bytes confidential and intact, so it passes the
//! default [`SecurityPolicy`](crate::SecurityPolicy) without
//! `allow_plaintext`. Its [`LinkInfo`] carries the identity the peer's
//! certificate proved (its one URI SAN, as a SPIFFE id) and a channel
//! binding (RFC 9266 exported keying material).

mod config;
pub(crate) mod identity;
mod listener;

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use rustls::pki_types::ServerName;
use tokio::net::TcpStream;
use tokio_rustls::TlsStream;

pub use crate::handshakes::{DEFAULT_HANDSHAKE_TIMEOUT, DEFAULT_MAX_PENDING_HANDSHAKES};
pub use config::{ClientTls, ServerTls, TlsConfigError};
pub use listener::TlsListener;

use crate::link::{Connector, LinkConfig, LinkInfo, LinkKind, PeerAddr, SecurityProperties};
use crate::stream::StreamLink;

/// The ALPN protocol both ends offer: a TLS peer that speaks something else
/// fails the handshake instead of reading Prism frames as its own.
pub const ALPN_PROTOCOL: &[u8] = b"prism/1";

/// A TLS link whose peer proved no identity (a server not asking for
/// client certificates): confidential, intact, replay-protected.
pub const KIND: LinkKind = LinkKind::new(
    "tls",
    true,
    SecurityProperties {
        confidential: true,
        integrity: true,
        peer_authenticated: false,
        replay_protected: true,
    },
);

/// A TLS link whose peer proved its identity with a certificate: every
/// link a client opens (the server always proves its name), and every link
/// of a mutual-TLS server.
pub const AUTHENTICATED_KIND: LinkKind =
    LinkKind::new("tls", true, SecurityProperties::TLS_AUTHENTICATED);

/// A [`Link`](crate::Link) over a TLS 1.3 connection on TCP.
#[derive(Debug)]
pub struct TlsLink {
    inner: StreamLink<TlsStream<TcpStream>>,
}

// The abort resets the TCP connection (no close_notify: the peer was not
// reading).
crate::stream::delegate_link!(TlsLink, abort(link) {
    crate::tcp::reset_on_drop(link.inner.get_ref().get_ref().0)
});

impl TlsLink {
    /// The largest payload this link accepts.
    pub fn max_frame(&self) -> u32 {
        self.inner.max_frame()
    }

    /// Wraps a finished handshake: checks the version and ALPN, reads the
    /// peer's identity and the channel binding.
    fn new(
        stream: TlsStream<TcpStream>,
        kind: LinkKind,
        peer: SocketAddr,
        config: &LinkConfig,
    ) -> io::Result<TlsLink> {
        let info = LinkInfo::new(kind, PeerAddr::Socket(peer));
        let info = with_facts(info, &stream, Some(ALPN_PROTOCOL))?;
        Ok(TlsLink {
            inner: StreamLink::new(stream, info, config),
        })
    }
}

/// `info` with what a finished handshake proved: the peer's identity and
/// its expiry, the channel binding. Refuses a handshake that did not
/// negotiate TLS 1.3, or `alpn` when one is required.
pub(crate) fn with_facts(
    mut info: LinkInfo,
    stream: &TlsStream<TcpStream>,
    alpn: Option<&[u8]>,
) -> io::Result<LinkInfo> {
    let facts = identity::facts(stream, alpn)?;
    info = info.with_channel_binding(facts.binding);
    if let Some(identity) = facts.peer_identity {
        info = info.with_peer_identity(identity);
        if let Some(expiry) = facts.peer_expiry {
            info = info.with_peer_identity_expiry(expiry);
        }
    }
    Ok(info)
}

/// Opens TLS links to one address, verifying the server's certificate for
/// one server name.
///
/// # Examples
///
/// ```no_run
/// use prism_transport::tls::{ClientTls, TlsConnector};
///
/// let roots = std::fs::read("ca.pem")?;
/// let tls = ClientTls::from_pem(&roots)?;
/// let connector = TlsConnector::new("10.0.0.7:7700", "inference.internal", tls)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct TlsConnector {
    addr: String,
    server_name: ServerName<'static>,
    tls: ClientTls,
    handshake_timeout: Duration,
}

impl TlsConnector {
    /// Connects to `addr` (a socket address or `host:port`) and expects a
    /// certificate valid for `server_name` (a DNS name or an IP address).
    ///
    /// # Errors
    ///
    /// `server_name` is neither a DNS name nor an IP address.
    pub fn new(
        addr: impl ToString,
        server_name: &str,
        tls: ClientTls,
    ) -> Result<TlsConnector, TlsConfigError> {
        let server_name = ServerName::try_from(server_name.to_owned())
            .map_err(|e| TlsConfigError::new(format!("bad server name {server_name:?}: {e}")))?;
        Ok(TlsConnector {
            addr: addr.to_string(),
            server_name,
            tls,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
        })
    }

    /// How long the handshake may take (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`]).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }
}

impl Connector for TlsConnector {
    type Link = TlsLink;

    fn kind(&self) -> LinkKind {
        AUTHENTICATED_KIND
    }

    fn target(&self) -> String {
        self.addr.clone()
    }

    async fn connect(&self, config: &LinkConfig) -> io::Result<TlsLink> {
        let stream = TcpStream::connect(self.addr.as_str()).await?;
        stream.set_nodelay(true)?;
        let peer = stream.peer_addr()?;
        let connector = tokio_rustls::TlsConnector::from(self.tls.config());
        let handshake = connector.connect(self.server_name.clone(), stream);
        let stream = tokio::time::timeout(self.handshake_timeout, handshake)
            .await
            .map_err(|_| {
                io::Error::new(io::ErrorKind::TimedOut, "the TLS handshake timed out")
            })??;
        TlsLink::new(TlsStream::Client(stream), AUTHENTICATED_KIND, peer, config)
    }
}
