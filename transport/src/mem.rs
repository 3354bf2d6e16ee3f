//! The in-process link: frames pass through bounded channels by value.
//!
//! A [`MemLink`] never serializes a frame. The [`Frame`] itself moves
//! through a bounded tokio `mpsc` channel, so its payload segments
//! (`Bytes`) arrive as the very same buffers the sender queued: only a
//! reference count changes hands, no byte is copied, and whatever alignment
//! the sender's buffers had, the receiver's have too.
//!
//! Backpressure works as on a socket: [`Link::queue`] only buffers locally,
//! [`Link::poll_flush`] moves frames into the channel and stays pending
//! while the channel is full, and [`Link::queued_bytes`] counts what has
//! not been handed over yet. Dropping or closing one end ends the other's
//! receive stream cleanly (`Ok(None)`).
//!
//! [`pair`] makes one connected pair; [`endpoint`] makes a
//! [`MemListener`] and a [`MemConnector`], so an in-process server is served
//! and reached like any other ([`Listener`], [`Connector`]).

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll, ready};
use std::collections::VecDeque;
use std::io;

use prism_proto::frame::Frame;
use tokio::sync::mpsc::error::{SendError, TrySendError};
use tokio::sync::mpsc::{self, OwnedPermit, Receiver, Sender};

use crate::link::{
    Connector, Link, LinkConfig, LinkError, LinkInfo, LinkKind, Listener, PeerAddr,
    SecurityProperties,
};

/// Every in-memory link: never leaves the process.
pub const KIND: LinkKind =
    LinkKind::new("mem", false, SecurityProperties::LOCAL).moving_by_reference();

/// Frames each direction of [`pair`] holds before the sender waits.
pub const DEFAULT_CAPACITY: usize = 256;

/// A pair of connected in-memory links with the default channel capacity.
///
/// # Examples
///
/// ```
/// use std::future::poll_fn;
/// use prism_transport::Link;
/// use prism_proto::frame::{Frame, FrameHeader, FrameKind};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (mut a, mut b) = prism_transport::mem::pair();
/// a.queue(Frame::new(FrameHeader::new(FrameKind::Ping), b"hi"[..].into())).unwrap();
/// poll_fn(|cx| a.poll_flush(cx)).await.unwrap();
/// let frame = poll_fn(|cx| b.poll_recv(cx)).await.unwrap().unwrap();
/// assert_eq!(frame.payload.into_bytes(), &b"hi"[..]);
/// # });
/// ```
pub fn pair() -> (MemLink, MemLink) {
    pair_with_capacity(DEFAULT_CAPACITY)
}

/// A pair of connected in-memory links whose channels hold `frames` frames
/// each way (at least one).
pub fn pair_with_capacity(frames: usize) -> (MemLink, MemLink) {
    let frames = frames.max(1);
    let (a_tx, b_rx) = mpsc::channel(frames);
    let (b_tx, a_rx) = mpsc::channel(frames);
    (MemLink::new(a_tx, a_rx), MemLink::new(b_tx, b_rx))
}

/// The future that waits for room in a full channel.
type Reserve = Pin<Box<dyn Future<Output = Result<OwnedPermit<Frame>, SendError<()>>> + Send>>;

/// One end of an in-memory link; made by [`pair`].
pub struct MemLink {
    info: LinkInfo,
    /// `None` once closed.
    tx: Option<Sender<Frame>>,
    rx: Receiver<Frame>,
    /// Frames queued and not yet in the channel, oldest first.
    pending: VecDeque<Frame>,
    /// Bytes in `pending`, counted as header plus payload.
    pending_bytes: usize,
    /// Waits for channel room; only exists while the channel is full.
    reserve: Option<Reserve>,
}

impl MemLink {
    fn new(tx: Sender<Frame>, rx: Receiver<Frame>) -> MemLink {
        MemLink {
            info: LinkInfo::new(KIND, PeerAddr::Mem),
            tx: Some(tx),
            rx,
            pending: VecDeque::new(),
            pending_bytes: 0,
            reserve: None,
        }
    }

    /// Takes the oldest pending frame and accounts for it.
    fn pop(&mut self) -> Option<Frame> {
        let frame = self.pending.pop_front()?;
        self.pending_bytes -= frame.size();
        Some(frame)
    }
}

impl Link for MemLink {
    fn info(&self) -> &LinkInfo {
        &self.info
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, LinkError>> {
        // A `None` from the channel means every sender is gone: the peer
        // closed or dropped its end, after all its frames were delivered.
        self.rx.poll_recv(cx).map(Ok)
    }

    fn queue(&mut self, frame: Frame) -> Result<(), LinkError> {
        if self.tx.is_none() {
            return Err(LinkError::Closed);
        }
        self.pending_bytes += frame.size();
        self.pending.push_back(frame);
        Ok(())
    }

    fn queued_bytes(&self) -> usize {
        self.pending_bytes
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        loop {
            if let Some(reserve) = self.reserve.as_mut() {
                let permit = ready!(reserve.as_mut().poll(cx));
                self.reserve = None;
                let permit = permit.map_err(|_| LinkError::Closed)?;
                match self.pop() {
                    Some(frame) => {
                        permit.send(frame);
                    }
                    // Unreachable: a reservation is only made for a pending frame.
                    None => drop(permit),
                }
            }
            let Some(frame) = self.pending.pop_front() else {
                return Poll::Ready(Ok(()));
            };
            self.pending_bytes -= frame.size();
            let Some(tx) = self.tx.as_ref() else {
                return Poll::Ready(Err(LinkError::Closed));
            };
            match tx.try_send(frame) {
                Ok(()) => {}
                Err(TrySendError::Closed(_)) => return Poll::Ready(Err(LinkError::Closed)),
                Err(TrySendError::Full(frame)) => {
                    // Put it back and wait for room; the boxed future exists
                    // only while the channel is full, not on the fast path.
                    self.pending_bytes += frame.size();
                    self.pending.push_front(frame);
                    self.reserve = Some(Box::pin(tx.clone().reserve_owned()));
                }
            }
        }
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        if self.tx.is_some() {
            ready!(self.poll_flush(cx))?;
        }
        // Dropping the last sender ends the peer's receive stream.
        self.reserve = None;
        self.tx = None;
        Poll::Ready(Ok(()))
    }
}

impl fmt::Debug for MemLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MemLink")
            .field("closed", &self.tx.is_none())
            .field("pending_frames", &self.pending.len())
            .field("pending_bytes", &self.pending_bytes)
            .finish()
    }
}

/// Links that [`MemConnector::connect`] opened and [`MemListener::accept`]
/// has not taken yet.
const BACKLOG: usize = 64;

/// An in-process listener and the connector that reaches it.
///
/// # Examples
///
/// ```
/// use prism_transport::{Connector, LinkConfig, Listener, mem};
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (mut listener, connector) = mem::endpoint();
/// let client = connector.connect(&LinkConfig::default()).await?;
/// let server = listener.accept(&LinkConfig::default()).await?;
/// # drop((client, server));
/// # Ok::<(), std::io::Error>(())
/// # }).unwrap();
/// ```
pub fn endpoint() -> (MemListener, MemConnector) {
    let (tx, rx) = mpsc::channel(BACKLOG);
    (MemListener { rx }, MemConnector { tx })
}

/// Accepts the links [`MemConnector`]s open; made by [`endpoint`].
#[derive(Debug)]
pub struct MemListener {
    rx: Receiver<MemLink>,
}

impl Listener for MemListener {
    type Link = MemLink;

    fn kind(&self) -> LinkKind {
        KIND
    }

    /// Waits for a connector to connect. Once every connector is dropped no
    /// link can arrive, and this waits forever (until the server shuts down).
    async fn accept(&mut self, _config: &LinkConfig) -> io::Result<MemLink> {
        match self.rx.recv().await {
            Some(link) => Ok(link),
            None => core::future::pending().await,
        }
    }
}

/// Opens in-memory links to the [`MemListener`] of the same [`endpoint`];
/// cheap to clone.
#[derive(Clone, Debug)]
pub struct MemConnector {
    tx: Sender<MemLink>,
}

impl Connector for MemConnector {
    type Link = MemLink;

    fn kind(&self) -> LinkKind {
        KIND
    }

    fn target(&self) -> String {
        String::from("mem")
    }

    /// A fresh pair: one end for the caller, the other queued for the
    /// listener.
    ///
    /// # Errors
    ///
    /// `ConnectionRefused` once the listener is dropped.
    async fn connect(&self, _config: &LinkConfig) -> io::Result<MemLink> {
        let (ours, theirs) = pair();
        self.tx.send(theirs).await.map_err(|_| {
            io::Error::new(
                io::ErrorKind::ConnectionRefused,
                "the in-memory listener is gone",
            )
        })?;
        Ok(ours)
    }
}

#[cfg(test)]
mod tests {
    use std::future::poll_fn;

    use bytes::Bytes;
    use prism_proto::frame::{FrameHeader, FrameKind, HEADER_LEN};

    use super::*;

    fn ping(aux: u64) -> Frame {
        let mut header = FrameHeader::new(FrameKind::Ping);
        header.aux = aux;
        Frame::new(header, Bytes::from(vec![aux as u8; 8]).into())
    }

    #[tokio::test]
    async fn full_channel_waits_then_drains_in_order() {
        let (mut a, mut b) = pair_with_capacity(2);
        for aux in 0..5 {
            a.queue(ping(aux)).unwrap();
        }
        assert_eq!(a.queued_bytes(), 5 * (HEADER_LEN + 8));
        // Two fit; the third waits for room.
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(a.poll_flush(&mut cx).is_pending());
        assert_eq!(a.queued_bytes(), 3 * (HEADER_LEN + 8));
        let mut seen = Vec::new();
        let flush = async {
            poll_fn(|cx| a.poll_flush(cx)).await.unwrap();
            poll_fn(|cx| a.poll_close(cx)).await.unwrap();
        };
        let drain = async {
            while let Some(frame) = poll_fn(|cx| b.poll_recv(cx)).await.unwrap() {
                seen.push(frame.header.aux);
            }
        };
        tokio::join!(flush, drain);
        assert_eq!(seen, [0, 1, 2, 3, 4]);
        assert_eq!(a.queued_bytes(), 0);
        assert!(matches!(a.queue(ping(9)), Err(LinkError::Closed)));
    }

    #[tokio::test]
    async fn flushing_to_a_dropped_peer_fails() {
        let (mut a, b) = pair();
        drop(b);
        a.queue(ping(1)).unwrap();
        let result = poll_fn(|cx| a.poll_flush(cx)).await;
        assert!(matches!(result, Err(LinkError::Closed)));
    }
}
