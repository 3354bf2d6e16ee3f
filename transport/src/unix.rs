//! The Unix domain socket link: frames over a `tokio::net::UnixStream`.
//!
//! All framing, alignment and batching lives in [`crate::stream`]; this
//! module only fills in [`LinkInfo`]. Bytes never leave the kernel, so the
//! link reports [`SecurityProperties::LOCAL`]. The peer is the socket path
//! when the peer's end has one (the connecting side), else `"unix"`.

use std::io;
use std::path::Path;

use tokio::net::UnixStream;

use crate::frame::DEFAULT_MAX_FRAME;
use crate::link::{LinkInfo, LinkKind, SecurityProperties};
use crate::stream::StreamLink;

/// Connects to the socket at `path` and wraps the connection in a [`UnixLink`].
///
/// # Errors
///
/// Fails when the connection cannot be made.
///
/// # Examples
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap().block_on(async {
/// use prism_transport::Link;
///
/// let dir = std::env::temp_dir().join(format!("prism-unix-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("sock");
/// let listener = tokio::net::UnixListener::bind(&path)?;
/// let link = prism_transport::unix::connect(&path).await?;
/// assert_eq!(link.info().peer, path.display().to_string());
/// drop(listener);
/// std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub async fn connect(path: impl AsRef<Path>) -> io::Result<UnixLink> {
    UnixLink::new(UnixStream::connect(path).await?)
}

/// A [`Link`] over a Unix domain socket.
#[derive(Debug)]
pub struct UnixLink {
    inner: StreamLink<UnixStream>,
}

impl UnixLink {
    /// Wraps a connected stream, accepting frames up to [`DEFAULT_MAX_FRAME`].
    ///
    /// # Errors
    ///
    /// Fails when the peer address cannot be read.
    pub fn new(stream: UnixStream) -> io::Result<UnixLink> {
        UnixLink::with_max_frame(stream, DEFAULT_MAX_FRAME)
    }

    /// Wraps a connected stream, refusing payloads over `max_frame` bytes.
    ///
    /// # Errors
    ///
    /// Fails when the peer address cannot be read.
    pub fn with_max_frame(stream: UnixStream, max_frame: u32) -> io::Result<UnixLink> {
        let peer = match stream.peer_addr()?.as_pathname() {
            Some(path) => path.display().to_string(),
            None => "unix".to_owned(),
        };
        let info = LinkInfo {
            kind: LinkKind::Unix,
            peer,
            security: SecurityProperties::LOCAL,
        };
        Ok(UnixLink {
            inner: StreamLink::with_max_frame(stream, info, max_frame),
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

crate::stream::delegate_link!(UnixLink);
