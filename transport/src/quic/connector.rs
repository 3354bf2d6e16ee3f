//! [`QuicConnector`]: opens QUIC links to one address, or to the first of
//! a host name's addresses to answer.

use core::future::Future;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt;
use futures_util::stream::FuturesUnordered;
use rustls::pki_types::ServerName;

use super::{AUTHENTICATED_KIND, QuicLink, config};
use crate::link::{Connector, LinkConfig, LinkKind};
use crate::tls::{ClientTls, DEFAULT_HANDSHAKE_TIMEOUT, TlsConfigError};

/// Opens QUIC links to one address, verifying the server's certificate for
/// one server name. The links of one connector (and of its clones) share a
/// UDP socket, made on the first connect. A host name is resolved on each
/// connect and its addresses tried in the order the resolver gives them,
/// the two families taken in turn: a UDP peer that is down says nothing,
/// so each next address is tried beside the attempts under way 250 ms
/// after them (RFC 8305's connection attempt delay), or at once when they
/// all failed, and the first handshake to complete wins. The handshake
/// timeout bounds the attempts, not the name's resolution.
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
        let peers = interleaved(tokio::net::lookup_host(self.addr.as_str()).await?.collect());
        let client = config::client(&self.tls, config).map_err(io::Error::other)?;
        let attempt = |peer: SocketAddr| {
            let client = client.clone();
            async move {
                let connecting = self
                    .endpoint(peer)?
                    .connect_with(client, peer, &self.server_name)
                    .map_err(io::Error::other)?;
                QuicLink::new(connecting.await?, AUTHENTICATED_KIND, config).await
            }
        };
        tokio::time::timeout(self.handshake_timeout, first_of(peers, attempt))
            .await
            .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, "the QUIC handshake timed out"))?
            .map_err(|e| match e {
                Some(e) => e,
                None => io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("{} resolves to no address", self.addr),
                ),
            })
    }
}

/// How long the attempts under way get before the next address is tried
/// beside them (RFC 8305's connection attempt delay).
const NEXT_ATTEMPT: Duration = Duration::from_millis(250);

/// Connects to the first of `peers` that answers. An address that does
/// not answer over UDP says nothing (no refusal, as TCP would get): its
/// attempt just waits, so each next address is tried beside the attempts
/// under way once they had [`NEXT_ATTEMPT`] without success, or at once
/// when they all failed. The first attempt to succeed wins and the others
/// are dropped; when all fail, the last error is returned (`None`: there
/// was no address).
async fn first_of<T, F, Fut>(peers: Vec<SocketAddr>, attempt: F) -> Result<T, Option<io::Error>>
where
    F: Fn(SocketAddr) -> Fut,
    Fut: Future<Output = io::Result<T>>,
{
    let mut peers = peers.into_iter();
    let mut running = FuturesUnordered::new();
    let mut failed = None;
    loop {
        match peers.next() {
            Some(peer) => running.push(attempt(peer)),
            None if running.is_empty() => return Err(failed),
            None => {}
        }
        let next = tokio::time::sleep(NEXT_ATTEMPT);
        let more = peers.len() > 0;
        tokio::pin!(next);
        loop {
            tokio::select! {
                done = running.next(), if !running.is_empty() => match done {
                    Some(Ok(link)) => return Ok(link),
                    Some(Err(e)) => failed = Some(e),
                    None => {}
                },
                () = &mut next, if more => break,
                else => break,
            }
            if running.is_empty() {
                break;
            }
        }
    }
}

/// `peers` with the address families taken in turn, starting with the
/// first's (RFC 8305, section 4), so a family that is down costs one
/// attempt delay, not one per address of it.
fn interleaved(peers: Vec<SocketAddr>) -> Vec<SocketAddr> {
    let first_v6 = peers.first().is_some_and(SocketAddr::is_ipv6);
    let (first, second): (Vec<_>, Vec<_>) = peers
        .into_iter()
        .partition(|peer| peer.is_ipv6() == first_v6);
    let (mut first, mut second) = (first.into_iter(), second.into_iter());
    let mut turns = Vec::with_capacity(first.len() + second.len());
    loop {
        match (first.next(), second.next()) {
            (None, None) => return turns,
            (one, other) => turns.extend(one.into_iter().chain(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer(port: u16) -> SocketAddr {
        (Ipv4Addr::LOCALHOST, port).into()
    }

    /// Port 1 never answers, port 2 refuses at once, any other connects
    /// after as many milliseconds.
    async fn attempt(peer: SocketAddr) -> io::Result<u16> {
        match peer.port() {
            1 => core::future::pending().await,
            2 => Err(io::Error::from(io::ErrorKind::ConnectionRefused)),
            port => {
                tokio::time::sleep(Duration::from_millis(u64::from(port))).await;
                Ok(port)
            }
        }
    }

    #[test]
    fn the_families_take_turns() {
        let v6 = |port| SocketAddr::from((Ipv6Addr::LOCALHOST, port));
        let peers = vec![v6(1), v6(2), v6(3), peer(4), peer(5)];
        assert_eq!(interleaved(peers), [v6(1), peer(4), v6(2), peer(5), v6(3)]);
        assert_eq!(interleaved(vec![peer(1), peer(2)]), [peer(1), peer(2)]);
        assert!(interleaved(Vec::new()).is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn an_address_that_never_answers_gives_way_to_the_next() {
        let start = tokio::time::Instant::now();
        let won = first_of(vec![peer(1), peer(10)], attempt).await;
        assert_eq!(won.ok(), Some(10));
        assert_eq!(start.elapsed(), NEXT_ATTEMPT + Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_refusal_moves_on_at_once() {
        let start = tokio::time::Instant::now();
        let won = first_of(vec![peer(2), peer(2), peer(10)], attempt).await;
        assert_eq!(won.ok(), Some(10));
        assert_eq!(start.elapsed(), Duration::from_millis(10));
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_first_address_still_wins_when_it_answers_first() {
        // The first answers 300 ms in; the second, started 250 ms in,
        // would take 400 ms more.
        let won = first_of(vec![peer(300), peer(400)], attempt).await;
        assert_eq!(won.ok(), Some(300));
    }

    #[tokio::test(start_paused = true)]
    async fn when_every_address_fails_the_last_error_stands() {
        let failed = first_of(vec![peer(2), peer(2)], attempt).await;
        let error = failed.err().flatten().expect("an error");
        assert_eq!(error.kind(), io::ErrorKind::ConnectionRefused);
        let none = first_of(Vec::new(), attempt).await;
        assert!(matches!(none, Err(None)));
    }
}
