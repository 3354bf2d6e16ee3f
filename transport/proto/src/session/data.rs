//! DATA and CREDIT frames from the peer.
//!
//! Every DATA frame is paid for first, at the connection and then at its
//! channel: one that starts with either window used up closes the session
//! with [`SessionError::FlowControl`], whatever it carries, and is never
//! buffered. Then its place in the message sequence is checked: a single
//! frame is a whole message; a first chunk (`MORE`) states the total,
//! checked against our `max_message` before anyone allocates for it;
//! continuations carry no total; the last one (no `MORE`) must complete the
//! total exactly; END carries nothing and may not cut a message short. A
//! `PACKED` frame (only once both sides offered the feature) is `aux` whole
//! messages whose layout is checked before it is raised.
//! DATA for a channel that finished (a race with CANCEL, a deadline, an
//! answer) or whose direction we stopped is discarded unparsed, its bytes
//! given back to the connection's window at once, but only within the
//! credit the peer held on it: a stopped channel's window is charged and
//! never given back, and a finished channel's unused credit joins an
//! allowance that discarded frames use up (at most a full table of
//! windows), so a peer cannot pour data past its credit onto channels it
//! knows are gone. DATA on a channel never opened, or after its
//! direction's END, is a protocol error.

use prism_core::{Code, CodecId, Payload, Status};

use super::channels::{Recv, Send};
use super::{ChannelId, Chunk, Event, Features, Session, SessionError, flow, packed, wire};
use crate::frame::{Flags, FrameHeader, FrameKind};

impl Session {
    pub(crate) fn on_data(&mut self, header: FrameHeader, payload: Payload) {
        let id = header.channel;
        let cost = flow::cost(payload.len());
        // Counted against the connection once the channel took it (or it
        // is discarded), so a frame refused by its channel's window is
        // counted nowhere.
        if !self.conn_window.has_room() {
            return self.flow_error(0, "data beyond the connection window");
        }
        if id == 0 || !self.channels.was_opened(id) {
            return self.protocol_error(FrameKind::Data, "data on a channel never opened");
        }
        let (recv, send) = self.stream_windows();
        let Some(ch) = self.channels.get_mut(id) else {
            // Finished here already: within the credit the peer held.
            if !self.channels.take_discard(cost) {
                return self.flow_error(id, "data beyond the window of a finished channel");
            }
            return self.discard(cost);
        };
        let stopped = match ch.recv {
            Recv::Open => false,
            Recv::Stopped => true,
            Recv::Closed => {
                return self.protocol_error(FrameKind::Data, "data after the end of its direction");
            }
        };
        let ours = self.channels.is_local(id);
        let packs = self.features().contains(Features::PACKED);
        let Some(stream) = self.channels.stream(id, recv, send) else {
            return;
        };
        if stream.window.receive(cost).is_err() {
            return self.flow_error(id, "data beyond the channel window");
        }
        if stopped {
            // Discarded; the channel's window is never given back, so a
            // peer that goes on past its credit breaks it.
            return self.discard(cost);
        }
        self.conn_window.take(cost);
        let flags = header.flags;
        let (more, end) = (flags.contains(Flags::MORE), flags.contains(Flags::END));
        let app_error = flags.contains(Flags::APP_ERROR);
        if flags.contains(Flags::SKIPPED) {
            if flags != Flags::SKIPPED || !payload.is_empty() || header.aux == 0 {
                return self.protocol_error(FrameKind::Data, "skipped carries more than a count");
            }
            if !ours {
                return self.protocol_error(FrameKind::Data, "skipped from the caller");
            }
            if stream.assembling.is_some() {
                return self.protocol_error(FrameKind::Data, "skipped inside a message");
            }
            // Its credit is the consumer's to release, as a message's.
            self.events.push_back(Event::Skipped {
                channel: ChannelId(id),
                count: header.aux,
                held: cost,
            });
            return;
        }
        if flags.contains(Flags::OPEN) {
            if flags != Flags::OPEN || !payload.is_empty() || header.aux != 0 {
                return self.protocol_error(FrameKind::Data, "open carries more than the flag");
            }
            if !ours {
                return self.protocol_error(FrameKind::Data, "open from the caller");
            }
            if stream.assembling.is_some() {
                return self.protocol_error(FrameKind::Data, "open inside a message");
            }
            if core::mem::replace(&mut stream.opened, true) {
                return self.protocol_error(FrameKind::Data, "open twice");
            }
            // The marker's credit is never the application's to release.
            self.release_marker(id);
            let channel = ChannelId(id);
            self.events.push_back(Event::Opened { channel });
            return;
        }
        if flags.contains(Flags::PACKED) {
            if flags != Flags::PACKED {
                return self.protocol_error(FrameKind::Data, "packed with other flags");
            }
            if !packs {
                return self.protocol_error(FrameKind::Data, "packed data, not negotiated");
            }
            if stream.assembling.is_some() {
                return self.protocol_error(FrameKind::Data, "packed inside a message");
            }
            if !packed::check(payload.as_bytes(), header.aux) {
                return self
                    .protocol_error(FrameKind::Data, "packed messages disagree with their count");
            }
            let chunk = Chunk {
                codec: CodecId::new(header.codec),
                payload,
                total: None,
                more: false,
                app_error: false,
                packed: true,
            };
            let channel = ChannelId(id);
            self.events.push_back(Event::Data { channel, chunk });
            return;
        }
        if end {
            if more || app_error || !payload.is_empty() || header.aux != 0 {
                return self.protocol_error(FrameKind::Data, "end carries a message");
            }
            if stream.assembling.is_some() {
                return self.protocol_error(FrameKind::Data, "end inside a message");
            }
            return self.on_end(id);
        }
        let len = payload.len() as u64;
        let total = match stream.assembling {
            None if more => {
                let total = header.aux;
                if total <= len {
                    return self
                        .protocol_error(FrameKind::Data, "first chunk states a total it fills");
                }
                if total > self.config.max_message {
                    return self.refuse_message(id, total, cost);
                }
                stream.assembling = Some((total, len));
                Some(total)
            }
            None if header.aux != 0 => {
                return self.protocol_error(FrameKind::Data, "whole message states a total");
            }
            None => None,
            Some(_) if header.aux != 0 => {
                return self
                    .protocol_error(FrameKind::Data, "first chunk while a message is pending");
            }
            Some(_) if app_error => {
                return self
                    .protocol_error(FrameKind::Data, "application error flag on a continuation");
            }
            Some((total, got)) => {
                let got = got + len;
                // Each continuation brings bytes, and the last (no `MORE`)
                // is the one that completes the total.
                if len == 0 || got > total || more == (got == total) {
                    return self
                        .protocol_error(FrameKind::Data, "chunks disagree with the stated total");
                }
                stream.assembling = more.then_some((total, got));
                None
            }
        };
        if app_error && self.channels.is_peer(id) {
            return self.protocol_error(FrameKind::Data, "application error from the caller");
        }
        let chunk = Chunk {
            codec: CodecId::new(header.codec),
            payload,
            total,
            more,
            app_error,
            packed: false,
        };
        self.events.push_back(Event::Data {
            channel: ChannelId(id),
            chunk,
        });
    }

    /// The peer's END: a caller half-closed (the channel goes on), or a
    /// callee's stream ended (the channel is over).
    fn on_end(&mut self, id: u32) {
        // The END's credit is never the application's to release.
        self.release_marker(id);
        if let Some(ch) = self.channels.get_mut(id) {
            ch.recv = Recv::Closed;
        }
        if self.channels.is_local(id) {
            self.channels.remove(id);
        }
        self.events.push_back(Event::End {
            channel: ChannelId(id),
        });
    }

    /// Gives back the credit of an empty marker (END, OPEN) at both levels.
    fn release_marker(&mut self, id: u32) {
        if let Some(grant) = self.conn_window.release(flow::cost(0)) {
            self.transmit.push_back(wire::credit(0, grant));
        }
        let (recv, send) = self.stream_windows();
        let grant = (self.channels.stream(id, recv, send))
            .and_then(|stream| stream.window.release(flow::cost(0)));
        // Usually batched with the channel's next grant; sent when it
        // completes one.
        if let Some(grant) = grant {
            self.transmit.push_back(wire::credit(id, grant));
        }
    }

    /// Drops a DATA frame unparsed and gives its bytes back at once.
    fn discard(&mut self, cost: u64) {
        self.conn_window.take(cost);
        self.release_connection(cost);
    }

    /// Gives `cost` back to the connection window.
    fn release_connection(&mut self, cost: u64) {
        if let Some(grant) = self.conn_window.release(cost) {
            self.transmit.push_back(wire::credit(0, grant));
        }
    }

    /// A first chunk stated a total beyond our `max_message`: the channel
    /// ends with `RESOURCE_EXHAUSTED` on both sides, nothing allocated.
    fn refuse_message(&mut self, id: u32, total: u64, cost: u64) {
        let max = self.config.max_message;
        let message = format!("message of {total} bytes exceeds the limit of {max} bytes");
        let owned = self
            .channels
            .get(id)
            .is_some_and(|ch| ch.send == Send::Open);
        self.channels.remove(id);
        // The chunk is dropped: its bytes go back to the connection.
        self.release_connection(cost);
        let channel = ChannelId(id);
        if self.channels.is_local(id) {
            self.transmit
                .push_back(wire::cancel(id, Code::ResourceExhausted));
            let reply = Err(Status::new(Code::ResourceExhausted, message));
            self.events.push_back(Event::Reply { channel, reply });
        } else {
            self.send_error(id, Code::ResourceExhausted, &message);
            if owned {
                let code = Code::ResourceExhausted;
                self.events.push_back(Event::Cancelled { channel, code });
            }
        }
        self.close_if_drained();
    }

    /// CREDIT: the peer grants bytes on a channel, or (0) the connection.
    pub(crate) fn on_credit(&mut self, header: FrameHeader) {
        let (id, bytes) = (header.channel, header.aux);
        if id == 0 {
            if self.conn_credit.grant(bytes).is_err() {
                self.flow_error(0, "credit beyond the connection window");
            }
            return;
        }
        if !self.channels.was_opened(id) {
            return self.protocol_error(FrameKind::Credit, "credit on a channel never opened");
        }
        let (recv, send) = self.stream_windows();
        let Some(stream) = self.channels.stream(id, recv, send) else {
            return; // finished here already
        };
        if stream.credit.grant(bytes).is_err() {
            return self.flow_error(id, "credit beyond the channel window");
        }
        self.schedule(id);
    }

    /// Closes for a flow-control violation.
    fn flow_error(&mut self, channel: u32, reason: &'static str) {
        self.fail_with(SessionError::FlowControl { channel, reason });
    }
}
