//! Frames from the peer: [`Session::handle_frame`] and one handler per kind.
//!
//! Rules, in order: nothing is read after close; every payload must fit
//! our `max_frame` (handshake frames: [`MAX_HELLO_LEN`]); the first frame
//! must be a HELLO and only the first; until the handshake finishes only
//! ACCEPT, GOAWAY (a rejection), PING and PONG may follow it; then each
//! kind is checked against the channel table. Frames for channels that
//! already finished are ignored (cancel and reply races are normal), but
//! frames naming channels that were never opened, or opened by the wrong
//! side, are protocol errors.

use web_time::Instant;

use prism_core::{Code, Metadata, Payload, Response, Status};

use super::channels::{Recv, Send};
use super::state::{PeerGoAway, State};
use super::wire;
use super::{ChannelId, Event, Features, MAX_HELLO_LEN, Role, Session, SessionError};
use crate::frame::{Flags, Frame, FrameHeader, FrameKind};

impl Session {
    /// Handles one frame from the peer. Never panics; a frame that breaks
    /// the protocol closes the session with [`SessionError::Protocol`] (and
    /// a GOAWAY telling the peer why).
    pub fn handle_frame(&mut self, now: Instant, frame: Frame) {
        if self.is_closed() {
            return;
        }
        self.liveness.last_recv = now;
        self.liveness.probe_sent = None;
        self.liveness.partial_since = None;
        let Frame { header, payload } = frame;
        let kind = header.kind;
        // The peer may not know our limit before our HELLO: handshake
        // frames are bounded by their own limit instead.
        let max = match kind {
            FrameKind::Hello | FrameKind::Accept => MAX_HELLO_LEN,
            _ => self.config.max_frame as usize,
        };
        if payload.len() > max {
            return self.protocol_error(kind, "payload exceeds the frame limit");
        }
        // Messages travel whole only up to the chunk size we announced;
        // larger ones come as DATA chunks, paid for with credit.
        let carries_message = matches!(
            kind,
            FrameKind::Call | FrameKind::Response | FrameKind::Data | FrameKind::Datagram
        );
        if carries_message && payload.len() > self.config.advertised_chunk() as usize {
            return self.protocol_error(kind, "payload exceeds the chunk limit");
        }
        // Calls, their replies and stream data first: the frames of the
        // data path, which only an established (or draining) session takes.
        let established = matches!(self.state, State::Established | State::Draining(_));
        match kind {
            FrameKind::Call if established => self.on_call(now, header, payload),
            FrameKind::Response | FrameKind::Error if established => {
                self.on_reply(header, payload);
            }
            FrameKind::Data if established => self.on_data(header, payload),
            FrameKind::Credit if established => self.on_credit(header),
            FrameKind::Cancel if established => self.on_cancel(header),
            FrameKind::Auth if established => self.on_auth(header, payload),
            // It may overtake the handshake on a link of its own: the
            // session's state decides, not a protocol error.
            FrameKind::Datagram => self.on_datagram(header, payload),
            _ => self.on_control(now, header, payload),
        }
        self.close_if_drained();
        self.note_idle();
    }

    /// The handshake, liveness and shutdown frames, and data frames that
    /// came too early.
    fn on_control(&mut self, now: Instant, header: FrameHeader, payload: Payload) {
        let kind = header.kind;
        match (&self.state, kind) {
            (State::Closed, _) => {}
            (State::Handshaking, FrameKind::Hello) => self.on_hello(payload),
            (State::Handshaking, _) => self.protocol_error(kind, "the first frame must be a hello"),
            (_, FrameKind::Hello) => self.protocol_error(kind, "second hello"),
            (_, FrameKind::Accept) => self.on_accept(payload),
            (_, FrameKind::Ping) => self
                .transmit
                .push_back(wire::ping(FrameKind::Pong, header.aux)),
            (_, FrameKind::Pong) => self.on_pong(now, header.aux),
            (_, FrameKind::GoAway) => self.on_goaway(now, header, payload),
            (
                _,
                FrameKind::Call
                | FrameKind::Response
                | FrameKind::Error
                | FrameKind::Cancel
                | FrameKind::Data
                | FrameKind::Credit
                | FrameKind::Auth
                | FrameKind::Datagram,
            ) => self.protocol_error(kind, "frame before the handshake finished"),
        }
    }

    fn on_call(&mut self, now: Instant, header: FrameHeader, payload: Payload) {
        let id = header.channel;
        if self.role == Role::Client {
            return self.protocol_error(header.kind, "only clients open calls");
        }
        // With unordered opens, a call below the peer's highest id was
        // made before every later one, so before any GOAWAY that came
        // after those.
        let late = self.channels.unordered_opens() && id < self.channels.last_peer();
        if let Err(reason) = self.channels.note_peer_id(id) {
            return self.protocol_error(header.kind, reason);
        }
        let open = header.flags.contains(Flags::OPEN);
        let with_metadata = header.flags.contains(Flags::METADATA);
        if with_metadata && !self.features().contains(Features::METADATA) {
            return self.protocol_error(header.kind, "call metadata without the feature");
        }
        if open && !with_metadata && !payload.is_empty() {
            return self
                .protocol_error(header.kind, "a call with an open request carries a payload");
        }
        let taken = late && self.goaway_last.is_some_and(|last| id <= last);
        match &self.state {
            // We said we took it: it is served like the others.
            State::Draining(drain) if drain.local && taken => {}
            State::Draining(drain) if drain.local => {
                let message = "server is going away; the call was not processed; retry elsewhere";
                return self.refuse_call(id, open, Code::Unavailable, message);
            }
            // A client that said GOAWAY opens nothing more (its own session
            // refuses to): a call after it is refused, not served, and the
            // calls it has open go on draining.
            // A call that travelled slower than the client's GOAWAY was
            // made before it.
            State::Draining(drain) if drain.peer.is_some() && self.channels.unordered_opens() => {}
            State::Draining(drain) if drain.peer.is_some() => {
                let message = "this client sent GOAWAY and may open no new calls";
                return self.refuse_call(id, open, Code::FailedPrecondition, message);
            }
            _ => {}
        }
        if self.channels.peer_open() >= self.config.max_channels as usize {
            let message = "too many open channels on this connection";
            return self.refuse_call(id, open, Code::ResourceExhausted, message);
        }
        // Before the call is admitted: a refused block answers the call
        // here, and nothing of its request is read.
        let (metadata, payload) = match with_metadata {
            false => (Metadata::new(), payload),
            true => match self.split_metadata(id, open, payload) {
                Some(split) => split,
                None => return,
            },
        };
        if open && !payload.is_empty() {
            return self.protocol_error(
                header.kind,
                "a call with an open request carries a payload after its metadata",
            );
        }
        let deadline = wire::deadline_from_micros(now, header.aux);
        let recv = if open { Recv::Open } else { Recv::Closed };
        self.channels.open_peer(id, deadline, recv);
        self.events.push_back(Event::Call {
            channel: ChannelId(id),
            op: header.op,
            codec: prism_core::CodecId::new(header.codec),
            deadline,
            payload,
            open,
            metadata,
        });
    }

    /// Refuses a call the peer opened with an ERROR. For one whose request
    /// direction is open, the peer may already be sending DATA within the
    /// window it holds on it: that much is discarded, not a flow-control
    /// error.
    pub(crate) fn refuse_call(&mut self, id: u32, open: bool, code: Code, message: &str) {
        if open {
            self.channels.refuse_open();
        }
        self.send_error(id, code, message);
    }

    /// RESPONSE or ERROR: ends one of our calls.
    fn on_reply(&mut self, header: FrameHeader, payload: Payload) {
        let id = header.channel;
        if !self.channels.is_local(id) {
            return self
                .protocol_error(header.kind, "reply on a channel the receiver did not open");
        }
        if id > self.channels.last_local() {
            return self.protocol_error(header.kind, "reply on a channel never opened");
        }
        // The callee's last word: it sends nothing more on the channel, so
        // none of its credit there joins the discard allowance.
        if let Some(ch) = self.channels.get_mut(id) {
            ch.recv = Recv::Closed;
        }
        if !self.channels.remove(id) {
            return; // cancelled or timed out here already
        }
        let reply = if header.kind == FrameKind::Response {
            Ok(Response {
                codec: prism_core::CodecId::new(header.codec),
                payload,
                app_error: header.flags.contains(Flags::APP_ERROR),
            })
        } else {
            Err(Status::new(
                wire::code_from_aux(header.aux),
                wire::parse_message(&payload),
            ))
        };
        self.events.push_back(Event::Reply {
            channel: ChannelId(id),
            reply,
        });
    }

    /// CANCEL: from the caller, the call is abandoned; from the callee,
    /// stop sending on the request direction.
    fn on_cancel(&mut self, header: FrameHeader) {
        let id = header.channel;
        if id == 0 || !self.channels.was_opened(id) {
            return self.protocol_error(header.kind, "cancel on a channel never opened");
        }
        let code = match header.aux {
            0 => Code::Cancelled,
            aux => wire::code_from_aux(aux),
        };
        let channel = ChannelId(id);
        if self.channels.is_local(id) {
            return self.on_stop_sending(channel, code);
        }
        let owned = self
            .channels
            .get(id)
            .is_some_and(|ch| ch.send == Send::Open);
        // An answer still queued (behind a stream's last items) is dropped
        // with the channel; its handler is done, so no event.
        if self.channels.remove(id) && owned {
            self.events.push_back(Event::Cancelled { channel, code });
        }
    }

    /// The callee stopped reading our request direction: drop what waits
    /// to be sent on it and tell the application.
    fn on_stop_sending(&mut self, channel: ChannelId, code: Code) {
        let Some(ch) = self.channels.get_mut(channel.get()) else {
            return; // finished already
        };
        if !matches!(ch.send, Send::Open | Send::Ending) {
            return;
        }
        ch.send = Send::Stopped(code);
        if let Some(stream) = &mut ch.stream {
            stream.outbox = Default::default();
            stream.wants_writable = false;
        }
        self.events.push_back(Event::StopSending { channel, code });
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

    fn on_goaway(&mut self, now: Instant, header: FrameHeader, payload: Payload) {
        let Some((code, reason)) = wire::parse_goaway(&payload) else {
            return self.protocol_error(header.kind, "payload lacks the status code");
        };
        let last = u32::try_from(header.aux).unwrap_or(u32::MAX);
        let goaway = PeerGoAway {
            last,
            code,
            reason: reason.clone(),
        };
        match self.state.clone() {
            // (A HELLO must come first: `on_control` refuses a GOAWAY
            // while handshaking before it gets here.)
            State::Handshaking | State::Closed => return,
            // A goodbye before the handshake finished refuses this side
            // (no call can be open yet).
            State::Authenticating(_) => {
                return self.terminate(Some(SessionError::RejectedByPeer { code, reason }));
            }
            State::Draining(mut drain) if drain.peer.is_some() => {
                // A later GOAWAY may only lower the limit.
                if let Some(earlier) = &mut drain.peer {
                    earlier.last = earlier.last.min(last);
                }
                self.enter(State::Draining(drain), None);
            }
            State::Established | State::Draining(_) => {
                self.events.push_back(Event::GoAway { code, reason });
                self.drain(now, false, Some(goaway));
            }
        }
        let last = match &self.state {
            State::Draining(drain) => drain.peer.as_ref().map_or(u32::MAX, |peer| peer.last),
            _ => return,
        };
        for id in self.channels.drain_local_above(last) {
            let message = "peer is going away; the call was not processed; retry elsewhere";
            self.events.push_back(Event::Reply {
                channel: ChannelId(id),
                reply: Err(Status::unavailable(message).unprocessed()),
            });
        }
    }
}
