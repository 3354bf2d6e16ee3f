//! Timers, pings and shutdown: [`Session::handle_timeout`], keepalive,
//! [`Session::ping`], [`Session::go_away`], [`Session::close`] and
//! [`Session::handle_link_closed`].

use std::time::Instant;

use super::machine::Phase;
use super::{Event, Session, SessionError, wire};
use crate::Code;
use crate::frame::FrameKind;

/// Most unanswered [`Session::ping`]s remembered; older ones are forgotten.
const MAX_PINGS: usize = 64;

impl Session {
    /// Fires every timer due at `now`: the handshake timeout, call
    /// deadlines and keepalive. Calling it early is harmless.
    ///
    /// An expired call of ours fails with `DEADLINE_EXCEEDED` and the peer
    /// gets a CANCEL; an expired call of the peer's is cancelled with
    /// `DEADLINE_EXCEEDED` and the peer gets an ERROR.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.phase == Phase::Closed {
            return;
        }
        if self.phase == Phase::Handshaking && self.handshake_deadline.is_some_and(|at| now >= at) {
            return self.fail_with(SessionError::HandshakeTimeout);
        }
        while let Some(channel) = self.channels.pop_expired(now) {
            let id = channel.get();
            if self.channels.is_local(id) {
                self.transmit
                    .push_back(wire::cancel(id, Code::DeadlineExceeded));
                self.events.push_back(Event::Failed {
                    channel,
                    code: Code::DeadlineExceeded,
                    message: "deadline exceeded".into(),
                });
            } else {
                let message = "deadline exceeded before the server answered";
                self.send_error(id, Code::DeadlineExceeded, message);
                self.events.push_back(Event::Cancelled {
                    channel,
                    code: Code::DeadlineExceeded,
                });
            }
        }
        if self.phase == Phase::Established && self.keepalive_due().is_some_and(|at| now >= at) {
            if self.liveness.probe_sent.is_some() {
                return self.fail_with(SessionError::KeepaliveTimeout);
            }
            self.liveness.probe_sent = Some(now);
            let id = self.next_ping();
            self.transmit.push_back(wire::ping(FrameKind::Ping, id));
        }
        self.close_if_drained();
    }

    /// When keepalive next acts: a probe after `interval` of silence, or a
    /// close `interval` after an unanswered probe.
    pub(crate) fn keepalive_due(&self) -> Option<Instant> {
        let interval = self.config.keepalive.filter(|d| !d.is_zero())?;
        let since = self.liveness.probe_sent.unwrap_or(self.liveness.last_recv);
        since.checked_add(interval)
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
        if self.phase == Phase::Closed {
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
    /// calls finish, and closes with `Closed { error: None }` once none is
    /// open (at once if none is). A second call does nothing.
    pub fn go_away(&mut self, now: Instant, code: Code, reason: &str) {
        let _ = now;
        if self.phase == Phase::Closed || self.going_away {
            return;
        }
        self.going_away = true;
        self.send_goaway(code, reason);
        self.close_if_drained();
    }

    /// Closes at once: every open call fails (ours: [`Event::Failed`],
    /// the peer's: [`Event::Cancelled`], both `UNAVAILABLE`), a GOAWAY with
    /// `code` and `reason` is queued, and `Closed { error: None }` follows.
    pub fn close(&mut self, now: Instant, code: Code, reason: &str) {
        let _ = now;
        if self.phase == Phase::Closed {
            return;
        }
        self.abort_channels("session closed by this side");
        self.send_goaway(code, reason);
        self.finish(None);
    }

    /// The link closed or failed under the session: every open call fails
    /// as in [`Session::close`], queued frames are dropped, and
    /// `Closed { error: Some(LinkClosed) }` follows. Does nothing once
    /// closed (e.g. after a graceful shutdown drained).
    pub fn handle_link_closed(&mut self, now: Instant) {
        let _ = now;
        if self.phase == Phase::Closed {
            return;
        }
        self.transmit.clear();
        self.abort_channels("connection lost while the call was open");
        self.finish(Some(SessionError::LinkClosed));
    }
}
