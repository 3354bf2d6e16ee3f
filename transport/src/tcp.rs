//! The TCP link: frames over a `tokio::net::TcpStream`.
//!
//! All framing, alignment and batching lives in [`crate::stream`]; this
//! module only sets `TCP_NODELAY` (the link batches frames itself, so
//! Nagle's algorithm would only add latency) and fills in [`LinkInfo`].
//! TCP is plaintext: the link reports [`SecurityProperties::NONE`], and the
//! runtime refuses it for authenticated traffic unless the user allowed it.

use std::io;

use tokio::net::{TcpStream, ToSocketAddrs};

use crate::frame::DEFAULT_MAX_FRAME;
use crate::link::{LinkInfo, LinkKind, SecurityProperties};
use crate::stream::StreamLink;

/// Connects to `addr` and wraps the connection in a [`TcpLink`].
///
/// # Errors
///
/// Fails when the connection cannot be made or configured.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap().block_on(async {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// let link = prism_transport::tcp::connect(listener.local_addr()?).await?;
/// assert_eq!(link.info().peer, listener.local_addr()?.to_string());
/// # use prism_transport::Link;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub async fn connect(addr: impl ToSocketAddrs) -> io::Result<TcpLink> {
    TcpLink::new(TcpStream::connect(addr).await?)
}

/// A [`Link`] over a TCP connection.
#[derive(Debug)]
pub struct TcpLink {
    inner: StreamLink<TcpStream>,
}

impl TcpLink {
    /// Wraps a connected stream, accepting frames up to [`DEFAULT_MAX_FRAME`].
    ///
    /// # Errors
    ///
    /// Fails when `TCP_NODELAY` cannot be set or the peer address is unknown.
    pub fn new(stream: TcpStream) -> io::Result<TcpLink> {
        TcpLink::with_max_frame(stream, DEFAULT_MAX_FRAME)
    }

    /// Wraps a connected stream, refusing payloads over `max_frame` bytes.
    ///
    /// # Errors
    ///
    /// Fails when `TCP_NODELAY` cannot be set or the peer address is unknown.
    pub fn with_max_frame(stream: TcpStream, max_frame: u32) -> io::Result<TcpLink> {
        stream.set_nodelay(true)?;
        let info = LinkInfo {
            kind: LinkKind::Tcp,
            peer: stream.peer_addr()?.to_string(),
            security: SecurityProperties::NONE,
        };
        Ok(TcpLink {
            inner: StreamLink::with_max_frame(stream, info, max_frame),
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

crate::stream::delegate_link!(TcpLink);
