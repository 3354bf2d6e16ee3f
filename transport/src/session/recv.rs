//! Frames from the peer: [`Session::handle_frame`] and one handler per kind.
//!
//! Rules, in order: nothing is read after close; every payload must fit
//! our `max_frame`; the first frame must be a HELLO and only the first;
//! then each kind is checked against the channel table. Frames for
//! channels that already finished are ignored (cancel and reply races are
//! normal), but frames naming channels that were never opened, or opened
//! by the wrong side, are protocol errors.

use std::time::Instant;

use super::machine::{PeerGoAway, Phase};
use super::wire;
use super::{
    ChannelId, Event, Hello, HelloError, MAX_HELLO_LEN, PROTOCOL_VERSION, Role, Session,
    SessionError,
};
use crate::Code;
use crate::frame::{Body, Flags, Frame, FrameHeader, FrameKind};

impl Session {
    /// Handles one frame from the peer. Never panics; a frame that breaks
    /// the protocol closes the session with [`SessionError::Protocol`] (and
    /// a GOAWAY telling the peer why).
    pub fn handle_frame(&mut self, now: Instant, frame: Frame) {
        if self.phase == Phase::Closed {
            return;
        }
        self.liveness.last_recv = now;
        self.liveness.probe_sent = None;
        let Frame { header, body } = frame;
        let kind = header.kind;
        // The peer cannot know our limit before our HELLO: a HELLO is
        // bounded by its own limit instead.
        let max = match kind {
            FrameKind::Hello => MAX_HELLO_LEN,
            _ => self.config.max_frame as usize,
        };
        if body.len() > max {
            return self.protocol_error(kind, "payload exceeds the frame limit");
        }
        if self.phase == Phase::Handshaking {
            if kind != FrameKind::Hello {
                return self.protocol_error(kind, "the first frame must be a hello");
            }
            return self.on_hello(body);
        }
        match kind {
            FrameKind::Hello => self.protocol_error(kind, "second hello"),
            FrameKind::Call => self.on_call(now, header, body),
            FrameKind::Response => self.on_reply(header, body),
            FrameKind::Error => self.on_reply(header, body),
            FrameKind::Cancel => self.on_cancel(header),
            FrameKind::Ping => self
                .transmit
                .push_back(wire::ping(FrameKind::Pong, header.aux)),
            FrameKind::Pong => self.on_pong(now, header.aux),
            FrameKind::GoAway => self.on_goaway(header, body),
        }
        self.close_if_drained();
    }

    fn on_hello(&mut self, body: Body) {
        match Hello::decode(&body.into_contiguous()) {
            Ok(hello) => {
                self.peer = Some(hello);
                self.phase = Phase::Established;
                self.events.push_back(Event::Established);
            }
            Err(HelloError::UnsupportedVersion { version }) => {
                self.fail_with(SessionError::VersionMismatch {
                    ours: PROTOCOL_VERSION,
                    theirs: version,
                });
            }
            Err(error) => self.fail_with(SessionError::BadHello(error)),
        }
    }

    fn on_call(&mut self, now: Instant, header: FrameHeader, body: Body) {
        let id = header.channel;
        if self.role == Role::Client {
            return self.protocol_error(header.kind, "only clients open calls");
        }
        if let Err(reason) = self.channels.note_peer_id(id) {
            return self.protocol_error(header.kind, reason);
        }
        if self.going_away {
            let message = "server is going away; the call was not processed; retry elsewhere";
            return self.send_error(id, Code::Unavailable, message);
        }
        if self.channels.peer_open() >= self.config.max_channels as usize {
            let message = "too many open channels on this connection";
            return self.send_error(id, Code::ResourceExhausted, message);
        }
        let deadline = wire::deadline_from_micros(now, header.aux);
        self.channels.open_peer(id, deadline);
        self.events.push_back(Event::IncomingCall {
            channel: ChannelId(id),
            op: header.op,
            codec: header.codec,
            deadline,
            body,
        });
    }

    /// RESPONSE or ERROR: ends one of our calls.
    fn on_reply(&mut self, header: FrameHeader, body: Body) {
        let id = header.channel;
        if !self.channels.is_local(id) {
            return self
                .protocol_error(header.kind, "reply on a channel the receiver did not open");
        }
        if id > self.channels.last_local() {
            return self.protocol_error(header.kind, "reply on a channel never opened");
        }
        if !self.channels.remove(id) {
            return; // cancelled or timed out here already
        }
        let channel = ChannelId(id);
        let event = if header.kind == FrameKind::Response {
            Event::Response {
                channel,
                codec: header.codec,
                body,
                app_error: header.flags.contains(Flags::APP_ERROR),
            }
        } else {
            Event::Failed {
                channel,
                code: wire::code_from_aux(header.aux),
                message: wire::parse_message(body),
            }
        };
        self.events.push_back(event);
    }

    fn on_cancel(&mut self, header: FrameHeader) {
        let id = header.channel;
        if !self.channels.is_peer(id) {
            return self.protocol_error(header.kind, "cancel on a channel the sender did not open");
        }
        if id > self.channels.last_peer() {
            return self.protocol_error(header.kind, "cancel on a channel never opened");
        }
        if self.channels.remove(id) {
            let code = match header.aux {
                0 => Code::Cancelled,
                aux => wire::code_from_aux(aux),
            };
            let channel = ChannelId(id);
            self.events.push_back(Event::Cancelled { channel, code });
        }
    }

    fn on_pong(&mut self, now: Instant, id: u64) {
        let Some(index) = self.pings.iter().position(|&(ping, _)| ping == id) else {
            return; // a keepalive probe's pong, or no ping at all
        };
        if let Some((_, sent)) = self.pings.remove(index) {
            let rtt = now.saturating_duration_since(sent);
            self.events.push_back(Event::Pong { rtt });
        }
    }

    fn on_goaway(&mut self, header: FrameHeader, body: Body) {
        let Some((code, reason)) = wire::parse_goaway(body) else {
            return self.protocol_error(header.kind, "payload lacks the status code");
        };
        let last = u32::try_from(header.aux).unwrap_or(u32::MAX);
        let last = match &mut self.peer_goaway {
            Some(earlier) => {
                // A later GOAWAY may only lower the limit.
                earlier.last = earlier.last.min(last);
                earlier.last
            }
            None => {
                let reason_copy = reason.clone();
                self.peer_goaway = Some(PeerGoAway { last, code, reason });
                self.events.push_back(Event::GoAway {
                    code,
                    reason: reason_copy,
                });
                last
            }
        };
        for id in self.channels.drain_local_above(last) {
            self.events.push_back(Event::Failed {
                channel: ChannelId(id),
                code: Code::Unavailable,
                message: "peer is going away; the call was not processed; retry elsewhere".into(),
            });
        }
    }
}
