//! Timers, pings and shutdown: [`Session::handle_timeout`], keepalive,
//! [`Session::ping`], [`Session::go_away`], [`Session::close`] and
//! [`Session::handle_link_closed`].

use std::time::Duration;

use web_time::Instant;

use prism_core::{Code, Status};

use super::channels::Send;
use super::machine::Notify;
use super::state::{Drain, State};
use super::{Event, Role, Session, SessionError, wire};
use crate::frame::FrameKind;

/// Most unanswered [`Session::ping`]s remembered; older ones are forgotten.
const MAX_PINGS: usize = 64;

impl Session {
    /// Fires every timer due at `now`: the handshake timeout, the frame
    /// timeout (both ways), the drain timeout, call deadlines, keepalive and the idle
    /// timeout. Calling it early is harmless.
    ///
    /// An expired call of ours fails with `DEADLINE_EXCEEDED` and the peer
    /// gets a CANCEL; an expired call of the peer's is cancelled with
    /// `DEADLINE_EXCEEDED` and the peer gets an ERROR. When the drain
    /// timeout passes, every open call is cancelled (`UNAVAILABLE`) and the
    /// session closes with [`SessionError::DrainTimeout`].
    pub fn handle_timeout(&mut self, now: Instant) {
        match &self.state {
            State::Closed => return,
            State::Handshaking | State::Authenticating(_) => {
                if self.handshake_deadline.is_some_and(|at| now >= at) {
                    return self.fail_with(SessionError::HandshakeTimeout);
                }
            }
            State::Draining(drain) if drain.deadline.is_some_and(|at| now >= at) => {
                return self.cut_drain();
            }
            State::Established | State::Draining(_) => {}
        }
        if let Some(timeout) = self.config.frame_timeout.filter(|d| !d.is_zero()) {
            let due = |since: Option<Instant>| {
                since
                    .and_then(|at| at.checked_add(timeout))
                    .is_some_and(|at| now >= at)
            };
            if due(self.liveness.partial_since) {
                return self.fail_with(SessionError::FrameTimeout { timeout });
            }
            if due(self.liveness.stalled_since) {
                return self.fail_with(SessionError::SendTimeout { timeout });
            }
        }
        while let Some((channel, send)) = self.channels.pop_expired(now) {
            let id = channel.get();
            if self.channels.is_local(id) {
                self.transmit
                    .push_back(wire::cancel(id, Code::DeadlineExceeded));
                self.events.push_back(Event::Reply {
                    channel,
                    reply: Err(Status::deadline_exceeded("deadline exceeded")),
                });
            } else {
                let message = "deadline exceeded before the server answered";
                self.send_error(id, Code::DeadlineExceeded, message);
                // An answer still queued behind a stream's last items
                // is lost with them; its handler is done already.
                if send == Send::Open {
                    self.events.push_back(Event::Cancelled {
                        channel,
                        code: Code::DeadlineExceeded,
                    });
                }
            }
        }
        if self.is_established() && self.keepalive_due().is_some_and(|at| now >= at) {
            if self.liveness.probe_sent.is_some() {
                return self.fail_with(SessionError::KeepaliveTimeout);
            }
            self.liveness.probe_sent = Some(now);
            let id = self.next_ping();
            self.transmit.push_back(wire::ping(FrameKind::Ping, id));
        }
        if matches!(self.state, State::Established) {
            self.note_idle();
            if let Some(timeout) = self.idle_timeout()
                && self.idle_due().is_some_and(|at| now >= at)
            {
                return self.fail_with(SessionError::IdleTimeout { timeout });
            }
        }
        self.close_if_drained();
    }

    /// Notes the start of idleness when no channel is open and none has
    /// opened since idleness was last noted: the last moment this side
    /// knows of activity (a frame arrived, it opened a channel, or the
    /// driver said the time with [`Session::note_time`]).
    #[inline]
    pub(crate) fn note_idle(&mut self) {
        self.note_idle_at(self.last_activity());
    }

    #[inline]
    fn note_idle_at(&mut self, at: Instant) {
        if self.config.idle_timeout.is_none() || !self.channels.is_empty() {
            return;
        }
        let opened = self.opened();
        if !matches!(self.liveness.idle_since, Some((_, was)) if was == opened) {
            self.liveness.idle_since = Some((at, opened));
        }
    }

    /// The time at the end of a driver's turn. Calls can end on inputs
    /// that carry no clock (an answer, a cancel); if the last one did, the
    /// idle timeout counts from this. Cheap: a driver calls it once a turn;
    /// without it, idleness counts from the last frame received or channel
    /// opened, up to the last call's handling time early.
    #[inline]
    pub fn note_time(&mut self, now: Instant) {
        if matches!(self.state, State::Established) {
            self.note_idle_at(now);
        }
    }

    /// The last frame received or channel opened here.
    #[inline]
    fn last_activity(&self) -> Instant {
        self.liveness.last_recv.max(self.liveness.last_open)
    }

    /// The idle timeout, when on. A client acts at 90% of it: with equal
    /// settings the client, which knows when it is about to call, closes
    /// first, so a call never crosses a server's idle GOAWAY.
    #[inline]
    fn idle_timeout(&self) -> Option<Duration> {
        let timeout = self.config.idle_timeout.filter(|d| !d.is_zero())?;
        Some(match self.role {
            Role::Client => timeout - timeout / 10,
            Role::Server => timeout,
        })
    }

    /// How many channels either side has opened so far, and datagrams
    /// sent or taken: ids only grow, so the sum moves whenever one opens
    /// (or a datagram passes, which is activity too).
    #[inline]
    fn opened(&self) -> u64 {
        u64::from(self.channels.last_local())
            + u64::from(self.channels.last_peer())
            + self.datagrams.moved
    }

    /// When the idle timeout acts, while no channel is open: `timeout`
    /// after idleness began (as [`note_idle`](Self::note_idle) counts it;
    /// when not noted yet, the last activity is where it will count from).
    #[inline]
    pub(crate) fn idle_due(&self) -> Option<Instant> {
        let timeout = self.idle_timeout()?;
        if !self.channels.is_empty() {
            return None;
        }
        let since = match self.liveness.idle_since {
            Some((since, at)) if at == self.opened() => since,
            _ => self.last_activity(),
        };
        since.checked_add(timeout)
    }

    /// The drain timeout passed: every open call ends now, and the peer is
    /// told so for each (an ERROR for its calls, a CANCEL for ours), then
    /// why the session closes (a last GOAWAY naming the drain timeout).
    fn cut_drain(&mut self) {
        let open = self.channels.len();
        let message = "the drain timeout passed while going away; the call was cancelled";
        self.abort_channels(message, Notify::Peer);
        // The channels are gone: this only sends the GOAWAY and closes.
        self.fail_with(SessionError::DrainTimeout { open });
    }

    /// When keepalive next acts: a probe after `interval` of silence, or a
    /// close `interval` after an unanswered probe.
    #[inline]
    pub(crate) fn keepalive_due(&self) -> Option<Instant> {
        let interval = self.config.keepalive.filter(|d| !d.is_zero())?;
        let since = self.liveness.probe_sent.unwrap_or(self.liveness.last_recv);
        since.checked_add(interval)
    }

    /// When the frame timeout fires: `frame_timeout` after the link was
    /// first reported holding part of a frame, or holding bytes the peer
    /// does not take.
    #[inline]
    pub(crate) fn frame_due(&self) -> Option<Instant> {
        let timeout = self.config.frame_timeout.filter(|d| !d.is_zero())?;
        let since = match (self.liveness.partial_since, self.liveness.stalled_since) {
            (Some(a), Some(b)) => a.min(b),
            (a, b) => a.or(b)?,
        };
        since.checked_add(timeout)
    }

    /// The link holds part of a frame that has not arrived whole: the rest
    /// must come within [`SessionConfig::frame_timeout`] of the first such
    /// report, or the session closes with [`SessionError::FrameTimeout`]
    /// (and a GOAWAY saying so). The next frame to arrive clears it. A
    /// driver calls this whenever its link has nothing whole to give and
    /// holds a partial frame; repeating it changes nothing.
    ///
    /// [`SessionConfig::frame_timeout`]: super::SessionConfig::frame_timeout
    pub fn handle_partial_frame(&mut self, now: Instant) {
        if !self.is_closed() && self.liveness.partial_since.is_none() {
            self.liveness.partial_since = Some(now);
        }
    }

    /// A link that times its own reads (it reads each stream in a task of
    /// its own, where [`Session::handle_partial_frame`]'s one clock cannot
    /// tell a frame stuck on one stream from frames arriving whole on
    /// others: QUIC) had a stream bring nothing more of a frame for
    /// `timeout`: the session closes with [`SessionError::FrameTimeout`],
    /// as when its own frame clock runs out.
    pub fn handle_frame_timeout(&mut self, timeout: Duration) {
        if !self.is_closed() {
            self.fail_with(SessionError::FrameTimeout { timeout });
        }
    }

    /// The link holds bytes to write and took none since the last report:
    /// the peer must take some within [`SessionConfig::frame_timeout`] of
    /// the first such report, or the session closes with
    /// [`SessionError::SendTimeout`], so a peer that stops reading (while
    /// this side has answers for it) holds nothing for long. A driver
    /// reports each turn its flush moved nothing; repeating it changes
    /// nothing. [`Session::handle_send_progress`] clears it.
    ///
    /// [`SessionConfig::frame_timeout`]: super::SessionConfig::frame_timeout
    pub fn handle_send_stalled(&mut self, now: Instant) {
        if !self.is_closed() && self.liveness.stalled_since.is_none() {
            self.liveness.stalled_since = Some(now);
        }
    }

    /// A link that times its own writes (it writes in tasks of its own,
    /// where [`Session::handle_send_stalled`] cannot see a stall: QUIC)
    /// had one move nothing for `timeout`: the session closes with
    /// [`SessionError::SendTimeout`], as when its own stall clock runs out.
    pub fn handle_send_timeout(&mut self, timeout: Duration) {
        if !self.is_closed() {
            self.fail_with(SessionError::SendTimeout { timeout });
        }
    }

    /// The link wrote something, or holds nothing to write: the peer is
    /// taking what this side sends.
    pub fn handle_send_progress(&mut self) {
        self.liveness.stalled_since = None;
    }

    /// The driver does not read the link now (it waits for the peer to
    /// take what was written first): silence from the peer says nothing
    /// meanwhile, so keepalive and the frame timeout count from the last
    /// such report, as if a frame had just arrived. A driver calls this on
    /// every turn it skips reading.
    pub fn handle_read_paused(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        self.liveness.last_recv = now;
        self.liveness.probe_sent = None;
        if self.liveness.partial_since.is_some() {
            self.liveness.partial_since = Some(now);
        }
    }

    fn next_ping(&mut self) -> u64 {
        let id = self.next_ping_id;
        self.next_ping_id = self.next_ping_id.wrapping_add(1);
        id
    }

    /// Sends a PING; its PONG yields [`Event::Pong`] with the round-trip
    /// time. At most 64 pings are tracked; older unanswered ones are
    /// forgotten.
    pub fn ping(&mut self, now: Instant) {
        if self.is_closed() {
            return;
        }
        let id = self.next_ping();
        if self.pings.len() == MAX_PINGS {
            self.pings.pop_front();
        }
        self.pings.push_back((id, now));
        self.transmit.push_back(wire::ping(FrameKind::Ping, id));
    }

    /// Shuts down gracefully: sends GOAWAY (carrying `code`, `reason` and
    /// the highest channel id the peer opened so far), refuses new calls
    /// from the peer with `UNAVAILABLE` and new calls of ours with
    /// [`OpenError::GoingAway`](super::OpenError::GoingAway), lets open
    /// calls finish for up to the drain timeout, and closes with
    /// `Closed { error: None }` once none is open (at once if none is,
    /// unless, with unordered opens, calls the GOAWAY covers are still on
    /// their way: it waits for those too). Before the handshake finished
    /// there is nothing to drain: it closes at once. A second call does
    /// nothing.
    pub fn go_away(&mut self, now: Instant, code: Code, reason: &str) {
        match &self.state {
            State::Closed => {}
            State::Draining(drain) if drain.local => {}
            State::Handshaking | State::Authenticating(_) => self.close(now, code, reason),
            State::Established | State::Draining(_) => {
                self.send_goaway(code, reason);
                self.drain(now, true, None);
                self.close_if_drained();
            }
        }
    }

    /// Closes at once: every open call fails (ours: a `Reply` with
    /// `UNAVAILABLE`, the peer's: [`Event::Cancelled`]), a GOAWAY with `code`
    /// and `reason` is queued, and `Closed { error: None }` follows.
    pub fn close(&mut self, now: Instant, code: Code, reason: &str) {
        let _ = now;
        if self.is_closed() {
            return;
        }
        self.abort_channels("session closed by this side", Notify::Nobody);
        self.send_goaway(code, reason);
        self.terminate(None);
    }

    /// The link closed or failed under the session: every open call fails
    /// as in [`Session::close`], queued frames are dropped, and
    /// `Closed { error: Some(LinkClosed) }` follows, or `PeerClosed` when
    /// the peer had sent GOAWAY first, since its reason says more than the
    /// closed link (a peer closing at once sends GOAWAY and hangs up).
    /// Does nothing once closed (e.g. after a graceful shutdown drained).
    pub fn handle_link_closed(&mut self, now: Instant) {
        let _ = now;
        if self.is_closed() {
            return;
        }
        let error = match &self.state {
            State::Draining(Drain {
                peer: Some(goaway), ..
            }) => SessionError::PeerClosed {
                code: goaway.code,
                reason: goaway.reason.clone(),
            },
            _ => SessionError::LinkClosed,
        };
        self.transmit.clear();
        self.abort_channels("connection lost while the call was open", Notify::Nobody);
        self.terminate(Some(error));
    }
}
