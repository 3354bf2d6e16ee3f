//! The adapter trait: a `Link` moves whole frames and never parses payloads.

use core::fmt;
use core::task::{Context, Poll};

use crate::frame::{Frame, FrameError};

/// What a link guarantees about the bytes it carries.
///
/// The runtime refuses plaintext network links unless the user allowed them
/// explicitly; auth (later) checks these before trusting a channel.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SecurityProperties {
    /// Nobody between the peers can read the bytes.
    pub confidential: bool,
    /// Nobody between the peers can change the bytes undetected.
    pub integrity: bool,
    /// The link itself proved who the peer is (mTLS, peer credentials).
    pub peer_authenticated: bool,
    /// Recorded traffic cannot be replayed to the peer.
    pub replay_protected: bool,
}

impl SecurityProperties {
    /// No protection at all: plaintext over a network.
    pub const NONE: SecurityProperties = SecurityProperties {
        confidential: false,
        integrity: false,
        peer_authenticated: false,
        replay_protected: false,
    };

    /// Bytes that never leave this machine's kernel or process: nobody
    /// in between can read, change or replay them.
    pub const LOCAL: SecurityProperties = SecurityProperties {
        confidential: true,
        integrity: true,
        peer_authenticated: false,
        replay_protected: true,
    };
}

/// Which adapter a link is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LinkKind {
    /// In-process: frames pass through channels by reference count.
    Mem,
    /// A TCP connection.
    Tcp,
    /// A Unix domain socket.
    Unix,
}

impl LinkKind {
    /// Whether bytes cross a network (and so need explicit consent when plaintext).
    pub const fn is_network(self) -> bool {
        matches!(self, LinkKind::Tcp)
    }

    /// A short lowercase name.
    pub const fn name(self) -> &'static str {
        match self {
            LinkKind::Mem => "mem",
            LinkKind::Tcp => "tcp",
            LinkKind::Unix => "unix",
        }
    }
}

/// Facts about a link, fixed when it is made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LinkInfo {
    /// Which adapter this is.
    pub kind: LinkKind,
    /// The peer's address, for logs and `Context::peer`.
    pub peer: String,
    /// What the link protects.
    pub security: SecurityProperties,
}

/// A link failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LinkError {
    /// The socket failed.
    #[error("link i/o failed")]
    Io(#[from] std::io::Error),
    /// The peer sent bytes that are not a valid frame; the link cannot resynchronize.
    #[error("malformed frame")]
    Frame(#[from] FrameError),
    /// The link is closed.
    #[error("link is closed")]
    Closed,
}

/// Moves whole frames between two peers. Codec-blind and shape-blind.
///
/// The driver calls these from one task: it queues every frame a batch of
/// work produced with [`Link::queue`], then flushes once, so adapters can
/// write them with one vectored write.
pub trait Link: Send + 'static {
    /// Facts about this link.
    fn info(&self) -> &LinkInfo;

    /// Receives the next frame: `Ready(Ok(None))` when the peer closed cleanly.
    ///
    /// # Cancel safety
    ///
    /// Implementations keep partial reads in their own buffers, so dropping
    /// a pending poll loses nothing.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, LinkError>>;

    /// Queues a frame for the next flush. Does no I/O.
    ///
    /// # Errors
    ///
    /// Fails when the link is closed.
    fn queue(&mut self, frame: Frame) -> Result<(), LinkError>;

    /// Bytes queued and not yet written; the driver stops producing when
    /// this grows, which is how backpressure reaches callers.
    fn queued_bytes(&self) -> usize;

    /// Writes every queued frame. `Ready(Ok(()))` once nothing is queued.
    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>>;

    /// Flushes, then closes the sending side.
    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>>;
}

impl fmt::Display for LinkKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
