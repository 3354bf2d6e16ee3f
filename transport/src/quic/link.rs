//! [`QuicLink`]: the [`Link`] over one QUIC connection, a stream per
//! channel (see the module docs of [`quic`](super) for the mapping).
//!
//! Streams are read and written by small tasks, so one stalled stream
//! never stalls the others: readers hand frames to the link through one
//! queue bounded in bytes, writers take them from a queue per stream.

use core::task::{Context, Poll};
use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::task::AtomicWaker;
use prism_proto::frame::{Flags, Frame, FrameHeader, FrameKind, HEADER_LEN};
use prism_proto::session::Priority;
use quinn::{Connection, RecvStream, SendStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, watch};
use tokio_util::sync::CancellationToken;

use super::LINGER;
use super::config::{self, STREAM_COST};
use super::wire::{self, Out, Read};
use crate::link::{Link, LinkConfig, LinkError, LinkInfo, LinkKind, PeerAddr};

/// A [`Link`] over a QUIC connection.
pub struct QuicLink {
    info: LinkInfo,
    conn: Connection,
    shared: Arc<Shared>,
    inbound: mpsc::UnboundedReceiver<Inbound>,
    readers: Readers,
    /// The control stream's writer; `None` once the link closed.
    control: Option<mpsc::UnboundedSender<Out>>,
    /// Channels whose stream still takes our frames.
    routes: HashMap<u32, Route>,
    /// Control frames queued so far (a new channel's preamble).
    control_sent: u64,
    /// Channel streams this side opened (the control trailer).
    opened: u64,
    /// Priorities of channels we open, told before their CALL is queued.
    priorities: BTreeMap<u32, i32>,
    /// The highest channel the peer opened: a priority told for one at or
    /// below it is not for a channel of ours (its stream may be gone).
    last_accepted: u32,
    /// Opens our channels' streams one at a time, in channel order, so
    /// QUIC's stream ids (and the order calls may arrive in) follow ours.
    opener: mpsc::UnboundedSender<Opening>,
    recv: RecvState,
}

/// What reader tasks need, cloned into each.
#[derive(Clone)]
struct Readers {
    tx: mpsc::UnboundedSender<Inbound>,
    budget: Arc<Semaphore>,
    limits: wire::FrameLimits,
    /// Control frames delivered so far, which channel streams wait for.
    control_seen: watch::Receiver<u64>,
    /// Stops every reader (and the acceptor) when the link drops.
    stop: CancellationToken,
}

/// State writers share with the link.
#[derive(Default)]
struct Shared {
    /// Bytes queued and not yet written.
    queued: AtomicUsize,
    flushed: AtomicWaker,
    /// The first write that failed for a reason worth reporting.
    failure: Mutex<Option<LinkError>>,
    /// Received datagrams dropped for want of room.
    datagrams_dropped: AtomicU64,
    /// A write that moves nothing for this long fails the link.
    write_timeout: Option<Duration>,
}

impl Shared {
    fn written(&self, bytes: usize) {
        if self.queued.fetch_sub(bytes, Ordering::AcqRel) == bytes {
            self.flushed.wake();
        }
    }

    fn fail(&self, error: LinkError) {
        let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
        failure.get_or_insert(error);
        drop(failure);
        self.flushed.wake();
    }
}

/// A channel's stream, as far as sending goes.
struct Route {
    tx: mpsc::UnboundedSender<Out>,
    /// Set when we sent the CALL (we are the caller): stops reading the
    /// answer (QUIC STOP_SENDING) once the call is cancelled.
    abandon: Option<CancellationToken>,
}

impl Route {
    /// We sent the CALL (else the peer did).
    fn caller(&self) -> bool {
        self.abandon.is_some()
    }
}

/// What readers tell the link.
enum Inbound {
    Frame(Frame, OwnedSemaphorePermit),
    /// The acceptor took a stream the peer opened.
    Accepted,
    /// A stream the peer opened carries this channel; its sending half.
    Opened(u32, SendStream),
    /// A channel stream's receiving half ended (with the share of the
    /// receive budget a stream the peer opened holds until then).
    StreamEnd(u32, Option<OwnedSemaphorePermit>),
    /// The peer can open no more streams: the connection ended.
    AcceptEnd,
    /// The peer's control stream ended, with its trailer when it closed
    /// the link properly.
    ControlEnd(Option<u64>),
    Failed(LinkError),
}

#[derive(Default)]
struct RecvState {
    /// Channel streams whose receiving half is still read.
    live: u64,
    accepted: u64,
    accept_ended: bool,
    control_end: Option<Option<u64>>,
    done: bool,
}

impl RecvState {
    /// The peer's close counted streams that never came, and no more can.
    fn missing_streams(&self) -> bool {
        matches!(self.control_end, Some(Some(opened)) if self.accepted < opened)
            && self.accept_ended
            && self.live == 0
    }

    fn finished(&self) -> bool {
        match self.control_end {
            None => false,
            // A dropped peer: every stream it opened, read to its end.
            Some(None) => self.live == 0 && self.accept_ended,
            Some(Some(opened)) => self.live == 0 && self.accepted >= opened,
        }
    }
}

impl core::fmt::Debug for QuicLink {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("QuicLink")
            .field("info", &self.info)
            .field("channels", &self.routes.len())
            .field("queued", &self.queued_bytes())
            .finish_non_exhaustive()
    }
}

impl QuicLink {
    /// Wraps an established connection: opens the control stream, starts
    /// the readers. `kind` is what the handshake made it.
    pub(super) async fn new(
        conn: Connection,
        kind: LinkKind,
        config: &LinkConfig,
    ) -> std::io::Result<QuicLink> {
        let info = facts(
            &conn,
            LinkInfo::new(kind, PeerAddr::Socket(conn.remote_address())),
        )?;
        let control = conn.open_uni().await.map_err(std::io::Error::other)?;
        let frame_timeout = config.frame_timeout.filter(|t| !t.is_zero());
        let shared = Arc::new(Shared {
            write_timeout: frame_timeout,
            ..Shared::default()
        });
        let (tx, inbound) = mpsc::unbounded_channel();
        let (seen_tx, control_seen) = watch::channel(0);
        let budget = usize::try_from(config::receive_budget(config)).unwrap_or(usize::MAX);
        let readers = Readers {
            tx,
            budget: Arc::new(Semaphore::new(budget.min(Semaphore::MAX_PERMITS))),
            limits: wire::FrameLimits {
                max_frame: config.max_frame,
                timeout: frame_timeout,
            },
            control_seen,
            stop: CancellationToken::new(),
        };
        tokio::spawn(read_control(conn.clone(), readers.clone(), seen_tx));
        tokio::spawn(accept_streams(conn.clone(), readers.clone()));
        tokio::spawn(read_datagrams(
            conn.clone(),
            readers.clone(),
            Arc::clone(&shared),
        ));
        let (opener, openings) = mpsc::unbounded_channel();
        tokio::spawn(open_streams(
            conn.clone(),
            openings,
            Arc::clone(&shared),
            readers.clone(),
        ));
        let (control_tx, control_rx) = mpsc::unbounded_channel();
        // Control frames (pings, credit) never wait behind bulk data.
        let _ = control_tx.send(Out::Priority(CONTROL_PRIORITY));
        tokio::spawn(write_stream(
            control,
            control_rx,
            Arc::clone(&shared),
            None,
            readers.stop.clone(),
        ));
        Ok(QuicLink {
            info,
            conn,
            shared,
            inbound,
            readers,
            control: Some(control_tx),
            routes: HashMap::new(),
            control_sent: 0,
            opened: 0,
            priorities: BTreeMap::new(),
            last_accepted: 0,
            opener,
            recv: RecvState::default(),
        })
    }

    /// The peer's address as QUIC sees it now (it may migrate).
    pub fn remote_address(&self) -> SocketAddr {
        self.conn.remote_address()
    }

    /// The current round-trip time estimate.
    pub fn rtt(&self) -> Duration {
        self.conn.rtt()
    }

    /// Channels whose stream is open for sending.
    pub fn open_channels(&self) -> usize {
        self.routes.len()
    }

    /// QUIC datagrams sent so far (DATAGRAM frames that went in band are
    /// not among them).
    pub fn datagrams_sent(&self) -> u64 {
        self.conn.stats().frame_tx.datagram
    }

    /// Opens a stream for the channel `frame` (a CALL) starts.
    fn open_channel(&mut self, frame: Frame) {
        let (tx, rx) = mpsc::unbounded_channel();
        let channel = frame.header.channel;
        if let Some(priority) = self.priorities.remove(&channel) {
            let _ = tx.send(Out::Priority(priority));
        }
        // Our ids increase: what was told for lower ones is stale.
        self.priorities = self.priorities.split_off(&channel);
        let _ = tx.send(Out::Frame(frame));
        let abandon = self.readers.stop.child_token();
        self.routes.insert(
            channel,
            Route {
                tx,
                abandon: Some(abandon.clone()),
            },
        );
        self.opened += 1;
        self.recv.live += 1;
        let opening = Opening {
            channel,
            rx,
            preamble: wire::mark(self.control_sent),
            abandon,
        };
        if let Err(mpsc::error::SendError(opening)) = self.opener.send(opening) {
            // The opener stopped with the connection: nothing will open.
            self.recv.live -= 1;
            self.shared.written(queued_in(opening.rx));
        }
    }

    /// Sends a DATAGRAM frame in an unreliable datagram, or gives it back
    /// (to go in band) when the peer takes none, it does not fit the path
    /// now, or quinn's send buffer has no room for it: quinn would make
    /// room by dropping older datagrams unseen, and in band the link's
    /// queued bytes hold the sender back instead.
    fn send_datagram(&self, frame: Frame) -> Result<(), Frame> {
        let size = frame.size();
        let fits = self.conn.max_datagram_size().is_some_and(|max| size <= max)
            && self.conn.datagram_send_buffer_space() >= size;
        if !fits {
            return Err(frame);
        }
        let len = frame.payload.len();
        let mut datagram = Vec::with_capacity(size);
        datagram.extend_from_slice(&frame.header.encode(len as u32));
        for segment in frame.payload.segments() {
            datagram.extend_from_slice(segment);
        }
        match self.conn.send_datagram(Bytes::from(datagram)) {
            Ok(()) => Ok(()),
            // The readers report a lost connection.
            Err(quinn::SendDatagramError::ConnectionLost(_)) => Ok(()),
            // The path shrank since, or the peer said no after all.
            Err(_) => Err(frame),
        }
    }

    /// The peer opened a stream for `channel`: our answers go on it.
    fn accept_channel(&mut self, channel: u32, send: SendStream) -> Result<(), LinkError> {
        if self.routes.contains_key(&channel) {
            return Err(wire::protocol("two streams carry one channel"));
        }
        self.last_accepted = self.last_accepted.max(channel);
        let (tx, rx) = mpsc::unbounded_channel();
        let stop = self.readers.stop.clone();
        tokio::spawn(write_stream(send, rx, Arc::clone(&self.shared), None, stop));
        self.routes.insert(channel, Route { tx, abandon: None });
        Ok(())
    }

    /// Finishes `channel`'s stream after what was queued on it.
    fn finish(&mut self, channel: u32) {
        if let Some(route) = self.routes.remove(&channel) {
            let _ = route.tx.send(Out::Finish(None));
        }
    }

    /// A frame arrived: an answer that ends a channel we called finishes
    /// our half of its stream; so does the caller's CANCEL for one we
    /// answer (nothing more is owed on it).
    fn observe(&mut self, header: &FrameHeader) {
        let Some(route) = self.routes.get(&header.channel) else {
            return;
        };
        let done = if route.caller() {
            ends_channel(header)
        } else {
            header.kind == FrameKind::Cancel
        };
        if done {
            self.finish(header.channel);
        }
    }
}

/// The QUIC priority of the control stream: above every channel's.
const CONTROL_PRIORITY: i32 = 16;

/// A channel's QUIC stream priority: quinn sends higher first and starts
/// every stream at 0, which is Prism's default level.
fn quic_priority(priority: Priority) -> i32 {
    i32::from(priority.level()) - i32::from(Priority::DEFAULT.level())
}

/// Whether a callee's frame ends its channel.
fn ends_channel(header: &FrameHeader) -> bool {
    match header.kind {
        FrameKind::Response | FrameKind::Error => true,
        FrameKind::Data => header.flags.contains(Flags::END),
        _ => false,
    }
}

impl Link for QuicLink {
    fn info(&self) -> &LinkInfo {
        &self.info
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, LinkError>> {
        loop {
            if self.recv.done || self.recv.finished() {
                self.recv.done = true;
                return Poll::Ready(Ok(None));
            }
            if self.recv.missing_streams() {
                self.recv.done = true;
                return Poll::Ready(Err(wire::protocol(
                    "the connection ended before every stream the peer opened arrived",
                )));
            }
            let Some(inbound) = core::task::ready!(self.inbound.poll_recv(cx)) else {
                // The link holds a sender itself: never reached.
                return Poll::Ready(Ok(None));
            };
            match inbound {
                Inbound::Frame(frame, permit) => {
                    drop(permit);
                    self.observe(&frame.header);
                    return Poll::Ready(Ok(Some(frame)));
                }
                Inbound::Accepted => {
                    self.recv.live += 1;
                    self.recv.accepted += 1;
                }
                Inbound::Opened(channel, send) => {
                    if let Err(e) = self.accept_channel(channel, send) {
                        self.recv.done = true;
                        return Poll::Ready(Err(e));
                    }
                }
                Inbound::AcceptEnd => self.recv.accept_ended = true,
                Inbound::StreamEnd(channel, _permit) => {
                    self.recv.live = self.recv.live.saturating_sub(1);
                    // The peer is done with the channel (a caller's
                    // stream ends after its answer or cancel, a callee's
                    // after its answer): so are we.
                    self.finish(channel);
                }
                Inbound::ControlEnd(trailer) => self.recv.control_end = Some(trailer),
                Inbound::Failed(error) => {
                    self.recv.done = true;
                    return Poll::Ready(Err(error));
                }
            }
        }
    }

    fn queue(&mut self, frame: Frame) -> Result<(), LinkError> {
        if self.control.is_none() {
            return Err(LinkError::Closed);
        }
        let frame = if frame.header.kind == FrameKind::Datagram {
            match self.send_datagram(frame) {
                Ok(()) => return Ok(()),
                // In band, on the control stream.
                Err(frame) => frame,
            }
        } else {
            frame
        };
        let Some(control) = &self.control else {
            return Err(LinkError::Closed);
        };
        let size = frame.size();
        self.shared.queued.fetch_add(size, Ordering::AcqRel);
        let header = frame.header;
        let channel = header.channel;
        if channel != 0 {
            if let Some(route) = self.routes.get(&channel) {
                let abandon = route.abandon.clone();
                if route.tx.send(Out::Frame(frame)).is_err() {
                    // Its writer gave up (the link is going): not written.
                    self.shared.written(size);
                }
                // The caller owes nothing after its CANCEL, and wants no
                // answer: its stream stops both ways (the CANCEL still
                // arrives). The callee's CANCEL only stops the request,
                // its answer still comes.
                match abandon {
                    Some(abandon) if header.kind == FrameKind::Cancel => {
                        abandon.cancel();
                        self.finish(channel);
                    }
                    None if ends_channel(&header) => self.finish(channel),
                    _ => {}
                }
                return Ok(());
            }
            if header.kind == FrameKind::Call {
                self.open_channel(frame);
                return Ok(());
            }
        }
        // Channel 0, or a late frame of a finished channel.
        if control.send(Out::Frame(frame)).is_err() {
            self.shared.written(size);
            return Err(LinkError::Closed);
        }
        self.control_sent += 1;
        Ok(())
    }

    fn queued_bytes(&self) -> usize {
        self.shared.queued.load(Ordering::Acquire)
    }

    /// Writer tasks count a batch of up to 64 frames at once: a slow
    /// reader could look stalled for as long as a batch takes. They time
    /// their own writes instead, per stream
    /// ([`LinkConfig::frame_timeout`]).
    fn tracks_writes(&self) -> bool {
        false
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        let failed = || {
            let mut failure = self
                .shared
                .failure
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            failure.take()
        };
        if let Some(error) = failed() {
            return Poll::Ready(Err(error));
        }
        if self.queued_bytes() == 0 {
            return Poll::Ready(Ok(()));
        }
        self.shared.flushed.register(cx.waker());
        if let Some(error) = failed() {
            return Poll::Ready(Err(error));
        }
        if self.queued_bytes() == 0 {
            return Poll::Ready(Ok(()));
        }
        Poll::Pending
    }

    fn max_datagram_size(&self) -> Option<usize> {
        let max = self.conn.max_datagram_size()?;
        Some(max.saturating_sub(HEADER_LEN))
    }

    fn dropped_datagrams(&self) -> u64 {
        self.shared.datagrams_dropped.load(Ordering::Relaxed)
    }

    fn set_priority(&mut self, channel: u32, priority: Priority) {
        let level = quic_priority(priority);
        match self.routes.get(&channel) {
            Some(route) => {
                let _ = route.tx.send(Out::Priority(level));
            }
            // One of ours about to open (a peer's channel whose stream is
            // gone needs nothing).
            None if channel > self.last_accepted => {
                self.priorities.insert(channel, level);
            }
            None => {}
        }
    }

    /// Closes the QUIC connection at once: the peer learns it from QUIC
    /// itself, and every stream's unsent frames are let go.
    fn abort(&mut self) {
        self.control = None;
        self.routes.clear();
        self.conn.close(
            ABORTED,
            b"the peer took nothing written for the write timeout",
        );
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        if let Some(control) = self.control.take() {
            for (_, route) in self.routes.drain() {
                let _ = route.tx.send(Out::Finish(None));
            }
            let _ = control.send(Out::Finish(Some(self.opened)));
        }
        self.poll_flush(cx)
    }
}

impl Drop for QuicLink {
    fn drop(&mut self) {
        // Readers stop; writers deliver what they hold, then finish.
        self.readers.stop.cancel();
    }
}

/// Reads the peer's control stream.
async fn read_control(conn: Connection, readers: Readers, seen: watch::Sender<u64>) {
    let stop = readers.stop.clone();
    tokio::select! {
        () = stop.cancelled() => {}
        () = async {
            let mut recv = match conn.accept_uni().await {
                Ok(recv) => recv,
                Err(e) => {
                    let inbound = match wire::connection_end(&e) {
                        None => Inbound::ControlEnd(None),
                        Some(e) => Inbound::Failed(e),
                    };
                    let _ = readers.tx.send(inbound);
                    return;
                }
            };
            loop {
                match wire::read_frame(&mut recv, &readers.limits, &readers.budget, true).await {
                    // A call opens a stream of its own: one on the control
                    // stream would slip past QUIC's stream limit.
                    Ok(Read::Frame(frame, _)) if frame.header.kind == FrameKind::Call => {
                        let error = wire::protocol("a CALL on the control stream");
                        let _ = readers.tx.send(Inbound::Failed(error));
                        return;
                    }
                    Ok(Read::Frame(frame, permit)) => {
                        if readers.tx.send(Inbound::Frame(frame, permit)).is_err() {
                            return;
                        }
                        seen.send_modify(|n| *n += 1);
                    }
                    Ok(Read::End(trailer)) => {
                        let _ = readers.tx.send(Inbound::ControlEnd(trailer));
                        return;
                    }
                    Err(e) => {
                        let _ = readers.tx.send(Inbound::Failed(e));
                        return;
                    }
                }
            }
        } => {}
    }
}

/// Control frames of the peer's before its first datagram can have been
/// sent: its HELLO and its ACCEPT.
const BEFORE_DATAGRAMS: u64 = 2;

/// Received datagrams the link holds for the session at most; one that
/// finds no room is dropped. Apart from the receive budget, which is sized
/// for stream frames (QUIC's flow control does not cover datagrams).
const DATAGRAM_BUDGET: usize = 256 * 1024;

/// Reads the peer's datagrams, once its handshake frames arrived, into
/// their own budget; one that finds no room there is dropped.
async fn read_datagrams(conn: Connection, mut readers: Readers, shared: Arc<Shared>) {
    let budget = Arc::new(Semaphore::new(DATAGRAM_BUDGET));
    let stop = readers.stop.clone();
    tokio::select! {
        () = stop.cancelled() => {}
        () = async {
            let seen = readers.control_seen.wait_for(|n| *n >= BEFORE_DATAGRAMS);
            if seen.await.map(|_| ()).is_err() {
                return;
            }
            // Ends with the connection, which the other readers report.
            while let Ok(datagram) = conn.read_datagram().await {
                let frame = match wire::datagram_frame(&datagram, readers.limits.max_frame) {
                    Ok(frame) => frame,
                    Err(e) => {
                        let _ = readers.tx.send(Inbound::Failed(e));
                        return;
                    }
                };
                let cost = u32::try_from(frame.size()).unwrap_or(u32::MAX);
                let Ok(permit) = Arc::clone(&budget).try_acquire_many_owned(cost) else {
                    shared.datagrams_dropped.fetch_add(1, Ordering::Relaxed);
                    continue;
                };
                if readers.tx.send(Inbound::Frame(frame, permit)).is_err() {
                    return;
                }
            }
        } => {}
    }
}

/// A channel of ours waiting for its stream.
struct Opening {
    channel: u32,
    /// What the link queued for it meanwhile.
    rx: mpsc::UnboundedReceiver<Out>,
    preamble: Bytes,
    abandon: CancellationToken,
}

/// Bytes of frames waiting in `rx`, which nothing will write.
fn queued_in(mut rx: mpsc::UnboundedReceiver<Out>) -> usize {
    rx.close();
    let mut bytes = 0;
    while let Ok(out) = rx.try_recv() {
        if let Out::Frame(frame) = out {
            bytes += frame.size();
        }
    }
    bytes
}

/// Opens our channels' streams in the order the link asked, waiting for
/// stream credit when the peer's limit is reached (until the link's
/// linger ends), then starts each stream's reader and writer. A wait for
/// credit is a write that moves nothing: past the write timeout the link
/// fails ([`LinkError::WriteTimeout`]), as when a stream's write stalls
/// (within the session's limits, streams free up a round trip after
/// their channels end; a peer that never frees them holds every later
/// call).
async fn open_streams(
    conn: Connection,
    mut openings: mpsc::UnboundedReceiver<Opening>,
    shared: Arc<Shared>,
    readers: Readers,
) {
    // One deadline for all waiting, however many opens are queued.
    let linger = lingered(&readers.stop);
    tokio::pin!(linger);
    while let Some(opening) = openings.recv().await {
        let opened = tokio::select! {
            () = &mut linger => return,
            opened = wire::timed(shared.write_timeout, conn.open_bi()) => opened,
        };
        let opened = match opened {
            Ok(opened) => opened,
            Err(timeout) => {
                shared.fail(LinkError::WriteTimeout(timeout));
                return;
            }
        };
        let Opening {
            channel,
            rx,
            preamble,
            abandon,
        } = opening;
        match opened {
            Ok((send, recv)) => {
                let stop = readers.stop.clone();
                tokio::spawn(read_channel(
                    recv,
                    channel,
                    readers.clone(),
                    None,
                    Some(abandon),
                ));
                tokio::spawn(write_stream(
                    send,
                    rx,
                    Arc::clone(&shared),
                    Some(preamble),
                    stop,
                ));
            }
            Err(e) => {
                let _ = readers.tx.send(Inbound::StreamEnd(channel, None));
                if let Some(error) = wire::connection_end(&e) {
                    shared.fail(error);
                }
                tokio::spawn({
                    let shared = Arc::clone(&shared);
                    async move { discard(rx, &shared).await }
                });
            }
        }
    }
}

/// Accepts the channel streams the peer opens.
async fn accept_streams(conn: Connection, readers: Readers) {
    loop {
        let budget = Arc::clone(&readers.budget);
        let accepted = tokio::select! {
            () = readers.stop.cancelled() => return,
            accepted = async {
                let permit = budget.acquire_many_owned(STREAM_COST).await.ok()?;
                Some((conn.accept_bi().await, permit))
            } => accepted,
        };
        let Some((Ok((send, recv)), permit)) = accepted else {
            // The connection ended; the readers report how.
            let _ = readers.tx.send(Inbound::AcceptEnd);
            return;
        };
        if readers.tx.send(Inbound::Accepted).is_err() {
            return;
        }
        tokio::spawn(read_accepted(send, recv, readers.clone(), permit));
    }
}

/// Reads a stream the peer opened: its preamble, then (after as many
/// control frames) a CALL, whose channel then owns the stream.
async fn read_accepted(
    send: SendStream,
    mut recv: RecvStream,
    mut readers: Readers,
    permit: OwnedSemaphorePermit,
) {
    let stop = readers.stop.clone();
    let opened = async {
        let Some(after) = wire::read_preamble(&mut recv, readers.limits.timeout).await? else {
            return Ok(None);
        };
        // The control frames sent before this channel opened come first.
        if readers
            .control_seen
            .wait_for(|&seen| seen >= after)
            .await
            .is_err()
        {
            return Ok(None);
        }
        match wire::read_frame(&mut recv, &readers.limits, &readers.budget, false).await? {
            Read::Frame(frame, permit)
                if frame.header.kind == FrameKind::Call && frame.header.channel != 0 =>
            {
                Ok(Some((frame, permit)))
            }
            Read::Frame(..) => Err(wire::protocol("a channel stream must start with a CALL")),
            Read::End(_) => Ok(None),
        }
    };
    let first = tokio::select! {
        () = stop.cancelled() => return,
        first = opened => first,
    };
    match first {
        Ok(Some((frame, first_permit))) => {
            let channel = frame.header.channel;
            let _ = readers.tx.send(Inbound::Opened(channel, send));
            let _ = readers.tx.send(Inbound::Frame(frame, first_permit));
            read_channel(recv, channel, readers, Some(permit), None).await;
        }
        Ok(None) => {
            let _ = readers.tx.send(Inbound::StreamEnd(0, Some(permit)));
        }
        Err(e) => {
            let _ = readers.tx.send(Inbound::Failed(e));
        }
    }
}

/// Reads a channel's frames until its stream ends.
async fn read_channel(
    mut recv: RecvStream,
    channel: u32,
    readers: Readers,
    held: Option<OwnedSemaphorePermit>,
    abandon: Option<CancellationToken>,
) {
    let stop = readers.stop.clone();
    let read = async {
        loop {
            match wire::read_frame(&mut recv, &readers.limits, &readers.budget, false).await {
                Ok(Read::Frame(frame, permit)) => {
                    if frame.header.channel != channel {
                        return Err(Some(wire::protocol("a frame on another channel's stream")));
                    }
                    if readers.tx.send(Inbound::Frame(frame, permit)).is_err() {
                        return Err(None);
                    }
                }
                Ok(Read::End(_)) => return Ok(()),
                Err(e) => return Err(Some(e)),
            }
        }
    };
    let abandoned = async {
        match &abandon {
            Some(abandon) => abandon.cancelled().await,
            None => core::future::pending().await,
        }
    };
    let ended = tokio::select! {
        () = stop.cancelled() => return,
        () = abandoned => {
            // We cancelled the call: the peer stops sending its answer.
            let _ = recv.stop(CANCELLED);
            Ok(())
        }
        ended = read => ended,
    };
    let _ = match ended {
        Ok(()) => readers.tx.send(Inbound::StreamEnd(channel, held)),
        Err(Some(error)) => readers.tx.send(Inbound::Failed(error)),
        Err(None) => return,
    };
}

/// The connection close code of an aborted link (a peer that took nothing
/// for the write timeout); 0 is a clean close.
const ABORTED: quinn::VarInt = quinn::VarInt::from_u32(1);

/// The STOP_SENDING code of a stream whose call the caller cancelled.
const CANCELLED: quinn::VarInt = quinn::VarInt::from_u32(2);

/// Writes what the link queues for one stream, batching what waits, until
/// told to finish or the link drops; then lets the peer receive it all.
/// Once the link is dropped, all of that has [`LINGER`]: a peer that stops
/// reading then gets the stream reset.
async fn write_stream(
    mut send: SendStream,
    mut rx: mpsc::UnboundedReceiver<Out>,
    shared: Arc<Shared>,
    preamble: Option<Bytes>,
    stop: CancellationToken,
) {
    let delivered = tokio::select! {
        () = lingered(&stop) => false,
        () = deliver(&mut send, &mut rx, &shared, preamble) => true,
    };
    if !delivered {
        let _ = send.reset(ABANDONED);
    }
    // Frames queued after a finish (a race with the link's routing) or
    // after the deadline are counted as written: nothing will write them.
    rx.close();
    while let Ok(out) = rx.try_recv() {
        if let Out::Frame(frame) = out {
            shared.written(frame.size());
        }
    }
}

/// Ready [`LINGER`] after the link dropped.
async fn lingered(stop: &CancellationToken) {
    stop.cancelled().await;
    tokio::time::sleep(LINGER).await;
}

/// The stream reset code of a stream abandoned after the linger.
const ABANDONED: quinn::VarInt = quinn::VarInt::from_u32(1);

async fn deliver(
    send: &mut SendStream,
    rx: &mut mpsc::UnboundedReceiver<Out>,
    shared: &Shared,
    mut preamble: Option<Bytes>,
) {
    let mut chunks: Vec<Bytes> = Vec::new();
    let mut broken = false;
    let mut trailer = None;
    while let Some(first) = rx.recv().await {
        let mut bytes = 0;
        let mut next = Some(first);
        while let Some(out) = next.take() {
            match out {
                Out::Frame(frame) => {
                    bytes += frame.size();
                    if !broken {
                        chunks.extend(preamble.take());
                        wire::push_frame(frame, &mut chunks);
                    }
                }
                Out::Priority(level) => {
                    let _ = send.set_priority(level);
                }
                Out::Finish(count) => {
                    trailer = Some(count);
                    break;
                }
            }
            if chunks.len() < 64 {
                next = rx.try_recv().ok();
            }
        }
        if !chunks.is_empty() {
            if let Err(failure) = write_all(send, &mut chunks, shared.write_timeout).await {
                broken = true;
                if let Some(error) = failure {
                    shared.fail(error);
                }
            }
            chunks.clear();
        }
        shared.written(bytes);
        if trailer.is_some() {
            break;
        }
    }
    if let Some(Some(count)) = trailer
        && !broken
    {
        let mut mark = [wire::mark(count)];
        if let Err(Some(error)) = write_all(send, &mut mark, shared.write_timeout).await {
            shared.fail(error);
        }
    }
    let _ = send.finish();
    let _ = send.stopped().await;
}

/// Writes `chunks` whole. With a `timeout`, a write that moves nothing
/// for that long fails with [`LinkError::WriteTimeout`]: QUIC's flow control
/// lets a peer that reads its control stream (so keep-alives and pings
/// pass) but not a channel's stream hold that stream's frames, and what
/// waits behind them, for as long as it likes otherwise. The error is
/// `None` where the stream, not the link, is done (the peer stopped it).
async fn write_all(
    send: &mut SendStream,
    chunks: &mut [Bytes],
    timeout: Option<Duration>,
) -> Result<(), Option<LinkError>> {
    let mut left = chunks;
    while !left.is_empty() {
        let written = wire::timed(timeout, send.write_chunks(left))
            .await
            .map_err(|timeout| Some(LinkError::WriteTimeout(timeout)))?
            .map_err(wire::write_failure)?;
        // Whole chunks written are done; a partly written one was advanced
        // in place.
        left = &mut left[written.chunks..];
    }
    Ok(())
}

/// Counts frames for a stream that never opened as written.
async fn discard(mut rx: mpsc::UnboundedReceiver<Out>, shared: &Shared) {
    while let Some(out) = rx.recv().await {
        match out {
            Out::Frame(frame) => shared.written(frame.size()),
            Out::Priority(_) => {}
            Out::Finish(_) => break,
        }
    }
}

/// `info` with what the QUIC handshake proved: the ALPN protocol, the
/// peer's identity and its expiry, the channel binding.
fn facts(conn: &Connection, mut info: LinkInfo) -> std::io::Result<LinkInfo> {
    use crate::tls::identity;
    let alpn = conn
        .handshake_data()
        .and_then(|data| data.downcast::<quinn::crypto::rustls::HandshakeData>().ok())
        .and_then(|data| data.protocol);
    if alpn.as_deref() != Some(super::ALPN_PROTOCOL) {
        return Err(identity::refused(
            "the peer did not negotiate the prism/1 ALPN protocol",
        ));
    }
    let mut binding = [0u8; 32];
    conn.export_keying_material(&mut binding, identity::BINDING_LABEL, b"")
        .map_err(|_| identity::refused("cannot export the channel binding"))?;
    info = info.with_channel_binding(crate::link::ChannelBinding(binding));
    let chain = conn
        .peer_identity()
        .and_then(|any| {
            any.downcast::<Vec<rustls::pki_types::CertificateDer<'static>>>()
                .ok()
        })
        .map(|chain| *chain)
        .unwrap_or_default();
    if let Some(identity) = chain.first().and_then(identity::identity_of) {
        info = info.with_peer_identity(identity);
        if let Some(expiry) = chain.iter().filter_map(identity::expiry_of).min() {
            info = info.with_peer_identity_expiry(expiry);
        }
    }
    Ok(info)
}
