//! The TCP link: frames over a `tokio::net::TcpStream`.
//!
//! All framing, alignment and batching lives in [`crate::stream`]; this
//! module sets `TCP_NODELAY` (the link batches frames itself, so Nagle's
//! algorithm would only add latency), fills in [`LinkInfo`], and plugs TCP
//! into the runtime: tokio's `TcpListener` is a [`Listener`] and
//! [`TcpConnector`] a [`Connector`]. TCP is plaintext over a network
//! ([`KIND`]): the runtime refuses it unless the user allowed it.

use std::io;

use tokio::net::{TcpListener, TcpStream};

use crate::link::{
    Connector, LinkConfig, LinkInfo, LinkKind, Listener, PeerAddr, SecurityProperties,
};
use crate::stream::StreamLink;

/// Every TCP link: a network transport that protects nothing.
pub const KIND: LinkKind = LinkKind::new("tcp", true, SecurityProperties::NONE);

/// A [`Link`](crate::Link) over a TCP connection.
#[derive(Debug)]
pub struct TcpLink {
    inner: StreamLink<TcpStream>,
}

impl TcpLink {
    /// Wraps a connected stream, refusing payloads over `config.max_frame`
    /// bytes.
    ///
    /// # Errors
    ///
    /// Fails when `TCP_NODELAY` cannot be set or the peer address is unknown.
    pub fn new(stream: TcpStream, config: &LinkConfig) -> io::Result<TcpLink> {
        stream.set_nodelay(true)?;
        let info = LinkInfo::new(KIND, PeerAddr::Socket(stream.peer_addr()?));
        Ok(TcpLink {
            inner: StreamLink::new(stream, info, config),
        })
    }

    /// The largest payload this link accepts.
    pub fn max_frame(&self) -> u32 {
        self.inner.max_frame()
    }

    /// The underlying stream, for its addresses and socket options.
    pub fn get_ref(&self) -> &TcpStream {
        self.inner.get_ref()
    }
}

/// Sets a zero linger, so dropping `stream` resets the connection at once
/// and the kernel frees it and its unsent bytes: the abort of every link
/// on TCP (plain, TLS, WebSocket). Best effort: a socket that refuses it
/// closes as usual.
pub(crate) fn reset_on_drop(stream: &TcpStream) {
    let _ = stream.set_zero_linger();
}

crate::stream::delegate_link!(TcpLink, abort(link) { reset_on_drop(link.get_ref()) });

/// Accepts TCP connections as links.
impl Listener for TcpListener {
    type Link = TcpLink;

    fn kind(&self) -> LinkKind {
        KIND
    }

    async fn accept(&mut self, config: &LinkConfig) -> io::Result<TcpLink> {
        let (stream, _) = TcpListener::accept(self).await?;
        TcpLink::new(stream, config)
    }
}

/// Opens TCP links to one address (a `host:port` resolved on each connect).
///
/// # Examples
///
/// ```
/// use prism_transport::{Connector, LinkConfig, Link, PeerAddr};
/// use prism_transport::tcp::TcpConnector;
///
/// # tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap().block_on(async {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let addr = listener.local_addr()?;
/// let connector = TcpConnector::new(addr);
/// assert_eq!(connector.target(), addr.to_string());
/// let link = connector.connect(&LinkConfig::default()).await?;
/// assert_eq!(link.info().peer, PeerAddr::Socket(addr));
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct TcpConnector {
    addr: String,
}

impl TcpConnector {
    /// Connects to `addr`: a socket address, or `host:port` text.
    pub fn new(addr: impl ToString) -> TcpConnector {
        TcpConnector {
            addr: addr.to_string(),
        }
    }
}

impl Connector for TcpConnector {
    type Link = TcpLink;

    fn kind(&self) -> LinkKind {
        KIND
    }

    fn target(&self) -> String {
        self.addr.clone()
    }

    async fn connect(&self, config: &LinkConfig) -> io::Result<TcpLink> {
        let stream = TcpStream::connect(self.addr.as_str()).await?;
        TcpLink::new(stream, config)
    }
}
