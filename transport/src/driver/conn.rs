//! What both drivers share: a link, its session, the admission of the
//! peer, the timer and the statistics, driven in named steps.
//!
//! Every link failure, from any step, goes through [`Conn::link_failed`].

use core::future::Future;
use core::pin::Pin;
use core::task::{Context, Poll};
use std::sync::Arc;
use std::time::Duration;

use crate::rt::Instant;

use prism_core::{Code, Extensions, Payload};
use prism_proto::session::{Accept, Hello, Role, Session, SessionError};

use super::{
    Admission, AdmitFuture, ConnectionError, ConnectionInfo, ConnectionStats, Guard, Setup,
    StatsCell,
};
use crate::{Link, LinkError};

/// Stop taking new work while this many bytes wait to be written.
pub(crate) const HIGH_WATER: usize = 4 << 20;
/// Frames, commands or finished handlers taken per source per turn, so one
/// busy source cannot starve the others.
pub(crate) const BUDGET: usize = 256;
/// Turns per wake-up before yielding to other tasks.
pub(crate) const TURNS: usize = 8;

/// A link and its session, driven together.
pub(crate) struct Conn<L> {
    pub(crate) link: L,
    pub(crate) session: Session,
    admission: Arc<dyn Admission>,
    /// The admission's pending verdict on the peer's HELLO.
    admitting: Option<AdmitFuture>,
    /// What the admission attached, until the connection is established.
    extensions: Option<Extensions>,
    /// The admission's watch over the connection's authority, until the
    /// server driver takes it.
    pub(crate) guard: Option<Guard>,
    /// Set once established.
    pub(crate) info: Option<Arc<ConnectionInfo>>,
    pub(crate) stats: ConnectionStats,
    cell: Arc<StatsCell>,
    timer: crate::rt::Timer,
    /// Nothing more will arrive: the peer closed, or sent bytes that are
    /// not frames.
    recv_done: bool,
    /// Nothing more can be sent: the link failed or is closed.
    link_done: bool,
    /// How long a closed session's last frames get to leave.
    linger: Duration,
    /// When they stop getting it: set once the session is closed with
    /// bytes still unwritten.
    linger_until: Option<Instant>,
    /// Bytes unwritten when the closed session's linger began: if none of
    /// them left by its end, the peer stopped reading and the link is
    /// aborted rather than closed.
    linger_queued: usize,
    /// Whether a write that moves nothing is reported to the session (a
    /// server over a link that [tracks its writes](Link::tracks_writes):
    /// a client always reads, and its keepalive catches a dead server).
    time_writes: bool,
    /// What the link held after the last flush (or timer check), to tell
    /// whether the peer takes what is written.
    last_queued: usize,
    /// Why the connection ended; the first cause wins.
    exit: Option<ConnectionError>,
    /// Sending failed while frames may still wait to be read: the peer may
    /// have closed right after saying why (a GOAWAY refusing our
    /// handshake), so that is read first, until `linger_until`.
    write_error: Option<LinkError>,
}

impl<L: Link> Conn<L> {
    /// The connection over `link`, its session (as `role`, offering
    /// `hello`) started now.
    pub(crate) fn new(link: L, role: Role, setup: Setup, hello: Hello) -> Conn<L> {
        let Setup {
            session: mut config,
            admission,
            stats,
        } = setup;
        if link.info().kind.by_reference {
            // Frames are handed over, not copied: a message goes whole,
            // its segments untouched, whatever its size.
            let whole = u32::try_from(config.max_message).unwrap_or(u32::MAX);
            config.max_frame = config.max_frame.max(whole);
            config.max_chunk = config.max_frame;
        }
        if link.info().kind.independent_channels {
            config.ordered_opens = false;
        }
        Conn {
            linger: config.drain_timeout,
            linger_until: None,
            linger_queued: 0,
            time_writes: role == Role::Server && link.tracks_writes(),
            last_queued: 0,
            write_error: None,
            link,
            session: Session::new(role, config, hello, super::now()),
            admission,
            admitting: None,
            extensions: None,
            guard: None,
            info: None,
            stats: ConnectionStats::default(),
            cell: stats,
            timer: crate::rt::Timer::new(),
            recv_done: false,
            link_done: false,
            exit: None,
        }
    }

    /// Whether the link has more unwritten bytes than the driver lets
    /// queue up: take no new work until the peer reads.
    #[inline]
    pub(crate) fn backpressured(&self) -> bool {
        self.link.queued_bytes() > HIGH_WATER
    }

    /// Step: frames from the link into the session.
    ///
    /// Only a server holds this step back while backpressured (reading
    /// starts new calls, whose answers add to what waits to be written). A
    /// client always reads: replies add nothing to write, and a client that
    /// stopped reading while its requests wait to be written would leave
    /// both ends waiting for the other.
    pub(crate) fn drive_recv(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let mut progressed = false;
        for _ in 0..BUDGET {
            if self.recv_done || self.link_done {
                break;
            }
            match self.link.poll_recv(cx) {
                Poll::Ready(Ok(Some(frame))) => {
                    self.stats.frames_received += 1;
                    self.stats.bytes_received += frame.size() as u64;
                    self.session.handle_frame(now, frame);
                }
                Poll::Ready(Ok(None)) => self.link_failed(now, None),
                Poll::Ready(Err(error)) => self.link_failed(now, Some(error)),
                Poll::Pending => {
                    if self.link.has_partial_frame() {
                        self.session.handle_partial_frame(now);
                    }
                    break;
                }
            }
            progressed = true;
        }
        progressed
    }

    /// Step: the admission's verdict on the peer's HELLO, once it is in.
    #[inline]
    pub(crate) fn drive_admission(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        let Some(verdict) = take_ready(&mut self.admitting, cx) else {
            return false;
        };
        match verdict {
            Ok(admitted) => {
                self.extensions = Some(admitted.extensions);
                self.guard = admitted.guard;
                self.session.accept(now, admitted.accept);
            }
            Err(status) => {
                self.session.reject(now, status.code(), status.message());
            }
        }
        true
    }

    /// Step: the session's timers.
    #[inline]
    pub(crate) fn drive_timer(&mut self, now: Instant) -> bool {
        if self.write_error.is_some() && self.linger_until.is_some_and(|at| at <= now) {
            // The peer said nothing more after our send failed.
            let error = self.write_error.take();
            self.link_failed(now, error);
            return true;
        }
        self.session.note_time(now);
        // Bytes that moved since the last flush count before a stall
        // times out.
        if self.time_writes {
            let queued = self.link.queued_bytes();
            if queued < self.last_queued {
                self.session.handle_send_progress();
            }
            self.last_queued = queued;
        }
        match self.session.poll_timeout() {
            Some(at) if at <= now => {
                self.session.handle_timeout(now);
                true
            }
            _ => false,
        }
    }

    /// Step: frames from the session onto the link, then one flush.
    pub(crate) fn drive_transmit(&mut self, cx: &mut Context<'_>, now: Instant) -> bool {
        // Whether bytes moved since the last look, before more are queued.
        let moved = self.time_writes && self.link.queued_bytes() < self.last_queued;
        let mut published = false;
        while let Some(frame) = self.session.poll_transmit() {
            if !published {
                // The peer may act on these frames at once (read the answer
                // to a call, then this side's statistics): what led to them
                // is published first.
                self.publish();
                published = true;
            }
            if self.link_done || self.write_error.is_some() {
                continue; // the link is gone: the frame has nowhere to go
            }
            let bytes = frame.size() as u64;
            match self.link.queue(frame) {
                Ok(()) => {
                    self.stats.frames_sent += 1;
                    self.stats.bytes_sent += bytes;
                }
                Err(error) => self.send_failed(now, error),
            }
        }
        if self.link_done || self.write_error.is_some() {
            return false;
        }
        let before = if self.time_writes {
            self.link.queued_bytes()
        } else {
            0
        };
        let flushed = self.link.poll_flush(cx);
        // Whether the peer takes what this side writes: bytes that wait
        // and do not move for the frame timeout close the session.
        if self.time_writes {
            let after = self.link.queued_bytes();
            if after == 0 || after < before || moved {
                self.session.handle_send_progress();
            } else {
                self.session.handle_send_stalled(now);
            }
            self.last_queued = after;
        }
        match flushed {
            Poll::Ready(Err(error)) => {
                self.send_failed(now, error);
                true
            }
            Poll::Ready(Ok(())) | Poll::Pending => false,
        }
    }

    /// Sending failed. The peer may have closed right after telling us why
    /// (a GOAWAY refusing our handshake, say) in frames not read yet: those
    /// are read first, for at most the linger, and the send error is the
    /// cause only if they say nothing.
    fn send_failed(&mut self, now: Instant, error: LinkError) {
        if let LinkError::WriteTimeout(timeout) = error {
            // The link timed its writes itself: the session closes as when
            // its own stall clock runs out, and the link is aborted then
            // (`on_closed`): nothing the peer may still say is worth the
            // wait, and what waits for it goes now.
            if self.session.is_closed() {
                // Closed already, its last frames stuck: let them go.
                self.link.abort();
                self.link_done = true;
            } else {
                self.session.handle_send_timeout(timeout);
            }
            return;
        }
        if self.recv_done || self.session.is_closed() || self.write_error.is_some() {
            self.link_failed(now, Some(error));
            return;
        }
        self.write_error = Some(error);
        self.linger_until = Some(now.checked_add(self.linger).unwrap_or(now));
    }

    /// The one path for every link failure: the peer closed (`None`), sent
    /// bytes that are not frames, or the link failed.
    pub(crate) fn link_failed(&mut self, now: Instant, error: Option<LinkError>) {
        // Whether this side can still write: not after a send failed.
        let writable = self.write_error.is_none();
        // A send that failed before the peer closed: that is the cause.
        let error = match self.write_error.take() {
            Some(written) if error.is_none() => Some(written),
            _ => error,
        };
        // Reading is over but writing is not: tell the peer why, then close.
        let error = match error {
            Some(LinkError::Frame(error)) if writable => {
                // The byte stream cannot be resynchronized.
                self.recv_done = true;
                self.record(ConnectionError::from(LinkError::Frame(error)));
                self.session
                    .close(now, Code::Internal, "the peer sent a malformed frame");
                return;
            }
            Some(LinkError::ReadTimeout(timeout)) if writable => {
                // The link timed a frame itself (QUIC, per stream) and
                // reads no more: the session closes as when its own frame
                // clock runs out.
                self.recv_done = true;
                self.session.handle_frame_timeout(timeout);
                return;
            }
            other => other,
        };
        self.recv_done = true;
        self.link_done = true;
        if self.session.is_closed() {
            // The session had already ended: the peer went away before our
            // last frames reached it. Nothing was lost that it still wanted.
            return;
        }
        if let Some(error) = error {
            self.record(ConnectionError::from(error));
        }
        self.session.handle_link_closed(now);
    }

    /// The peer's HELLO arrived: asks the admission for a verdict.
    pub(crate) fn start_admission(&mut self) {
        if let Some(hello) = self.session.peer_hello() {
            self.admitting = Some(self.admission.admit(hello, self.link.info()));
        }
    }

    /// The judge of the peer's handshake and of its fresh proofs.
    pub(crate) fn admission(&self) -> &Arc<dyn Admission> {
        &self.admission
    }

    /// Both sides accepted: the facts every call on the connection shares.
    pub(crate) fn establish(&mut self) -> Arc<ConnectionInfo> {
        let info = Arc::new(ConnectionInfo {
            link: self.link.info().clone(),
            peer_hello: self.session.peer_hello().cloned().unwrap_or_default(),
            peer_accept: self
                .session
                .peer_accept()
                .cloned()
                .unwrap_or_else(Accept::default),
            extensions: self.extensions.take().unwrap_or_default(),
            stats: Arc::clone(&self.cell),
        });
        self.info = Some(Arc::clone(&info));
        info
    }

    /// The session closed: records why.
    pub(crate) fn on_closed(&mut self, error: Option<SessionError>) {
        self.admitting = None;
        // The peer takes nothing: what waits would wait out the linger.
        if matches!(error, Some(SessionError::SendTimeout { .. })) {
            self.link.abort();
            self.link_done = true;
        }
        self.record(match error {
            None => ConnectionError::LocallyClosed,
            Some(error) => ConnectionError::Session(error),
        });
    }

    fn record(&mut self, error: ConnectionError) {
        self.exit.get_or_insert(error);
    }

    /// Aligns a received payload for zero-copy codecs, counting the copy
    /// when one was needed.
    #[inline]
    pub(crate) fn align(&mut self, payload: &mut Payload) {
        if payload.align() {
            self.stats.alignment_copies += 1;
        }
    }

    /// Whether everything is over: the session closed and its last frames
    /// left, cannot leave, or had the drain timeout to leave and did not:
    /// the rest is dropped with the link, which is aborted if none of it
    /// moved meanwhile (the peer stopped reading), closed as usual if some
    /// did (a slow peer still gets what its kernel already has).
    #[inline]
    pub(crate) fn finished(&mut self, now: Instant) -> bool {
        if !self.session.is_closed() {
            return false;
        }
        if self.link_done || self.write_error.is_some() || self.link.queued_bytes() == 0 {
            return true;
        }
        let until = match self.linger_until {
            Some(until) => until,
            None => {
                self.linger_queued = self.link.queued_bytes();
                *self
                    .linger_until
                    .insert(now.checked_add(self.linger).unwrap_or(now))
            }
        };
        if now >= until {
            // Only a link whose count of queued bytes falls as it writes
            // can tell a stopped peer from a slow one here (QUIC times its
            // own writes).
            if self.link.tracks_writes() && self.link.queued_bytes() >= self.linger_queued {
                self.link.abort();
            }
            self.link_done = true;
            return true;
        }
        false
    }

    /// Closes the link's sending side; errors no longer matter here. A
    /// close that cannot finish (its last bytes wait for a peer that reads
    /// nothing) gets the linger, then the link is aborted: the connection
    /// always ends.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.link_done && self.link.poll_close(cx).is_pending() {
            let now = super::now();
            let until = *self
                .linger_until
                .get_or_insert(now.checked_add(self.linger).unwrap_or(now));
            if now < until {
                self.timer.reset(until);
                if self.timer.poll(cx).is_pending() {
                    return Poll::Pending;
                }
            }
            self.link.abort();
        }
        self.link_done = true;
        Poll::Ready(())
    }

    /// Why the connection ended.
    pub(crate) fn exit(&self) -> ConnectionError {
        self.exit.clone().unwrap_or(ConnectionError::LocallyClosed)
    }

    /// Publishes the statistics to the handles.
    pub(crate) fn publish(&mut self) {
        self.stats.peak_buffered = self.session.buffered().1;
        let mut stats = self.stats;
        // Copies the link made itself, before the driver saw the payload.
        stats.alignment_copies += self.link.alignment_copies();
        // Those the session or the link dropped before the driver saw them.
        stats.datagrams_dropped += self.session.dropped_datagrams() + self.link.dropped_datagrams();
        self.cell.publish(&stats);
    }

    /// Sleeps until the session's next timer, the end of a closed
    /// session's linger or the driver's own `also`, whichever comes first,
    /// then returns pending.
    pub(crate) fn park(
        &mut self,
        cx: &mut Context<'_>,
        also: Option<Instant>,
    ) -> Poll<ConnectionError> {
        self.publish();
        let next = [self.session.poll_timeout(), self.linger_until, also]
            .into_iter()
            .flatten()
            .min();
        if let Some(at) = next {
            self.timer.reset(at);
            if self.timer.poll(cx).is_ready() {
                cx.waker().wake_by_ref();
            }
        }
        Poll::Pending
    }
}

/// The output of the future in `slot` once it is ready, which empties the
/// slot; `None` while it runs or when there is none.
pub(crate) fn take_ready<F: Future + Unpin>(
    slot: &mut Option<F>,
    cx: &mut Context<'_>,
) -> Option<F::Output> {
    let output = match slot {
        Some(future) => match Pin::new(future).poll(cx) {
            Poll::Ready(output) => output,
            Poll::Pending => return None,
        },
        None => return None,
    };
    *slot = None;
    Some(output)
}
