//! [`QuicConnector`]: opens QUIC links to one address.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::pki_types::ServerName;

use super::{AUTHENTICATED_KIND, QuicLink, config};
use crate::link::{Connector, LinkConfig, LinkKind};
use crate::tls::{ClientTls, DEFAULT_HANDSHAKE_TIMEOUT, TlsConfigError};

/// Opens QUIC links to one address, verifying the server's certificate for
/// one server name. The links of one connector (and of its clones) share a
/// UDP socket, made on the first connect.
///
/// # Examples
///
/// ```no_run
/// use prism_transport::quic::QuicConnector;
/// use prism_transport::tls::ClientTls;
///
/// let roots = std::fs::read("ca.pem")?;
/// let connector = QuicConnector::new("10.0.0.7:7700", "inference.internal", ClientTls::from_pem(&roots)?)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug)]
pub struct QuicConnector {
    addr: String,
    server_name: String,
    tls: ClientTls,
    handshake_timeout: Duration,
    /// The client endpoints (IPv4, IPv6) its links share.
    endpoints: Arc<Mutex<[Option<quinn::Endpoint>; 2]>>,
}

impl QuicConnector {
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
    ) -> Result<QuicConnector, TlsConfigError> {
        ServerName::try_from(server_name.to_owned())
            .map_err(|e| TlsConfigError::new(format!("bad server name {server_name:?}: {e}")))?;
        Ok(QuicConnector {
            addr: addr.to_string(),
            server_name: server_name.to_owned(),
            tls,
            handshake_timeout: DEFAULT_HANDSHAKE_TIMEOUT,
            endpoints: Arc::default(),
        })
    }

    /// The endpoint for peers of `peer`'s address family, made once.
    fn endpoint(&self, peer: SocketAddr) -> io::Result<quinn::Endpoint> {
        let mut endpoints = self.endpoints.lock().unwrap_or_else(|e| e.into_inner());
        let (slot, local): (usize, SocketAddr) = match peer {
            SocketAddr::V4(_) => (0, (Ipv4Addr::UNSPECIFIED, 0).into()),
            SocketAddr::V6(_) => (1, (Ipv6Addr::UNSPECIFIED, 0).into()),
        };
        if let Some(endpoint) = &endpoints[slot] {
            return Ok(endpoint.clone());
        }
        let endpoint = quinn::Endpoint::client(local)?;
        endpoints[slot] = Some(endpoint.clone());
        Ok(endpoint)
    }

    /// How long the handshake may take (default
    /// [`DEFAULT_HANDSHAKE_TIMEOUT`]).
    #[must_use]
    pub fn with_handshake_timeout(mut self, timeout: Duration) -> Self {
        self.handshake_timeout = timeout;
        self
    }
}

impl Connector for QuicConnector {
    type Link = QuicLink;

    fn kind(&self) -> LinkKind {
        AUTHENTICATED_KIND
    }

    fn target(&self) -> String {
        self.addr.clone()
    }

    async fn connect(&self, config: &LinkConfig) -> io::Result<QuicLink> {
        let peer = tokio::net::lookup_host(self.addr.as_str())
            .await?
            .next()
            .ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{} resolves to no address", self.addr),
                )
            })?;
        let client = config::client(&self.tls, config).map_err(io::Error::other)?;
        let endpoint = self.endpoint(peer)?;
        let connecting = endpoint
            .connect_with(client, peer, &self.server_name)
            .map_err(io::Error::other)?;
        let handshake = async {
            let conn = connecting.await?;
            QuicLink::new(conn, AUTHENTICATED_KIND, config).await
        };
        tokio::time::timeout(self.handshake_timeout, handshake)
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the QUIC handshake timed out"))?
    }
}
