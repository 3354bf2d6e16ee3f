//! The Unix domain socket link: frames over a `tokio::net::UnixStream`.
//!
//! All framing, alignment and batching lives in [`crate::stream`]; this
//! module fills in [`LinkInfo`] (the peer's path when it has one, and its
//! process credentials from the kernel) and plugs Unix sockets into the
//! runtime: tokio's `UnixListener` is a [`Listener`] and [`UnixConnector`] a
//! [`Connector`]. Bytes never leave the kernel ([`KIND`]).

use std::io;
use std::path::{Path, PathBuf};

use tokio::net::{UnixListener, UnixStream};

use crate::link::{
    Connector, LinkConfig, LinkInfo, LinkKind, Listener, PeerAddr, SecurityProperties,
    UnixCredentials,
};
use crate::stream::StreamLink;

/// Every Unix socket link: local to the machine.
pub const KIND: LinkKind = LinkKind::new("unix", false, SecurityProperties::LOCAL);

/// A [`Link`](crate::Link) over a Unix domain socket.
#[derive(Debug)]
pub struct UnixLink {
    inner: StreamLink<UnixStream>,
}

impl UnixLink {
    /// Wraps a connected stream, refusing payloads over `config.max_frame`
    /// bytes.
    ///
    /// # Errors
    ///
    /// Fails when the peer address cannot be read.
    pub fn new(stream: UnixStream, config: &LinkConfig) -> io::Result<UnixLink> {
        let path = stream.peer_addr()?.as_pathname().map(Path::to_path_buf);
        let credentials = stream.peer_cred().ok().map(|cred| UnixCredentials {
            uid: cred.uid(),
            gid: cred.gid(),
            pid: cred.pid(),
        });
        let info = LinkInfo::new(KIND, PeerAddr::Unix { path, credentials });
        Ok(UnixLink {
            inner: StreamLink::new(stream, info, config),
        })
    }

    /// The largest payload this link accepts.
    pub fn max_frame(&self) -> u32 {
        self.inner.max_frame()
    }

    /// The underlying stream, for its addresses and peer credentials.
    pub fn get_ref(&self) -> &UnixStream {
        self.inner.get_ref()
    }
}

// No abort: Unix sockets have no reset (a linger does nothing there) and
// nothing to retransmit; what the peer did not read goes when it closes.
crate::stream::delegate_link!(UnixLink);

/// Accepts Unix socket connections as links.
impl Listener for UnixListener {
    type Link = UnixLink;

    fn kind(&self) -> LinkKind {
        KIND
    }

    async fn accept(&mut self, config: &LinkConfig) -> io::Result<UnixLink> {
        let (stream, _) = UnixListener::accept(self).await?;
        UnixLink::new(stream, config)
    }
}

/// Opens Unix socket links to one path.
///
/// # Examples
///
/// ```
/// use prism_transport::unix::UnixConnector;
/// use prism_transport::{Connector, Link, LinkConfig, PeerAddr};
///
/// # tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap().block_on(async {
/// let dir = std::env::temp_dir().join(format!("prism-unix-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("sock");
/// let listener = tokio::net::UnixListener::bind(&path)?;
/// let link = UnixConnector::new(&path).connect(&LinkConfig::default()).await?;
/// assert!(matches!(&link.info().peer, PeerAddr::Unix { path: Some(p), .. } if *p == path));
/// drop(listener);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Debug)]
pub struct UnixConnector {
    path: PathBuf,
}

impl UnixConnector {
    /// Connects to the socket at `path`.
    pub fn new(path: impl AsRef<Path>) -> UnixConnector {
        UnixConnector {
            path: path.as_ref().to_path_buf(),
        }
    }
}

impl Connector for UnixConnector {
    type Link = UnixLink;

    fn kind(&self) -> LinkKind {
        KIND
    }

    fn target(&self) -> String {
        self.path.display().to_string()
    }

    async fn connect(&self, config: &LinkConfig) -> io::Result<UnixLink> {
        let stream = UnixStream::connect(&self.path).await?;
        UnixLink::new(stream, config)
    }
}
