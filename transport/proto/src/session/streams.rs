//! What the application does to streams: open them, send messages, end or
//! stop a direction, release what it consumed; and the scheduler that cuts
//! pending messages into chunks as credit allows.
//!
//! Output order: [`Session::poll_transmit`] yields queued frames first
//! (control frames, unary CALL/RESPONSE/ERROR and whole small messages,
//! each sent the moment it is queued when its channel and the connection
//! have credit), then chunks of pending messages, one chunk per channel in
//! turn. A 1 GiB transfer therefore never sits in front of a small call:
//! the call's frame goes out before the transfer's next chunk.

use web_time::Instant;

use prism_core::{Code, CodecId, Payload};

use super::channels::{Recv, Send, StreamState};
use super::outbox::{self, Terminal};
use super::{ChannelId, Event, OpenError, OutgoingStream, Packer, SendError, Session, flow, wire};
use crate::frame::{Flags, Frame};

impl Session {
    /// Opens a stream: queues a CALL whose request direction stays open.
    /// Send its messages with [`Session::send`] and end them with
    /// [`Session::finish`]; the callee's messages arrive as
    /// [`Event::Data`], its end as [`Event::End`] (or [`Event::Reply`] for
    /// a single response or a status).
    ///
    /// # Errors
    ///
    /// As [`Session::open_call`].
    pub fn open_stream(
        &mut self,
        now: Instant,
        stream: OutgoingStream,
    ) -> Result<ChannelId, OpenError> {
        self.check_open()?;
        let metadata = self.metadata_block(&stream.metadata)?;
        self.liveness.last_open = now;
        let at = stream.deadline.and_then(|d| now.checked_add(d));
        let channel = self
            .channels
            .open_local(at, Send::Open)
            .ok_or(OpenError::ChannelIdsExhausted)?;
        self.set_priority(channel, stream.priority);
        let frame = wire::call(
            channel.get(),
            stream.op,
            stream.codec,
            stream.deadline,
            Payload::empty(),
            true,
            metadata,
        );
        self.transmit.push_back(frame);
        Ok(channel)
    }

    /// Sends one message on our direction of `channel`: a caller's request
    /// stream, or a callee's response stream. Messages larger than the
    /// chunk size travel in chunks.
    ///
    /// Returns whether the channel takes another message at once. When it
    /// does not (the message waits for credit, or for its chunks to go
    /// out), [`Event::Writable`] follows once it is out; until then `send`
    /// refuses with [`SendError::Full`]. A producer that sends only while
    /// its channel is writable is pulled exactly as fast as the peer
    /// consumes.
    ///
    /// # Errors
    ///
    /// Fails, queuing nothing, when the channel is not open, our direction
    /// ended or was stopped by the peer, a message is pending, or the
    /// message exceeds the peer's `max_message`.
    pub fn send(
        &mut self,
        channel: ChannelId,
        codec: CodecId,
        payload: Payload,
    ) -> Result<bool, SendError> {
        let max = self.peer_max_message();
        self.send_first(channel, codec, payload, max, outbox::whole(false))
    }

    /// Sends several small messages of `channel` in one DATA frame, packed
    /// by `packer` (which is left empty); otherwise as [`Session::send`].
    /// Use it only where [`Session::packs`] says the peer unpacks; the
    /// packed bytes must fit one chunk ([`Session::pack_limit`]).
    ///
    /// # Errors
    ///
    /// As [`Session::send`]; [`SendError::TooLarge`] when the packed bytes
    /// exceed [`Session::pack_limit`] (zero when the peer does not unpack)
    /// or nothing is packed.
    pub fn send_packed(
        &mut self,
        channel: ChannelId,
        codec: CodecId,
        packer: &mut Packer,
    ) -> Result<bool, SendError> {
        let max = self.pack_limit() as u64;
        if packer.is_empty() || packer.len() as u64 > max {
            let len = packer.len();
            return Err(SendError::TooLarge { len, max });
        }
        let (payload, count) = packer.take();
        self.send_first(channel, codec, payload, max, (Flags::PACKED, count))
    }

    /// Whether the peer unpacks packed DATA ([`Features::PACKED`] was
    /// offered by both sides).
    ///
    /// [`Features::PACKED`]: super::Features::PACKED
    pub fn packs(&self) -> bool {
        self.features().contains(super::Features::PACKED)
    }

    /// The most packed bytes one [`Session::send_packed`] takes: a chunk,
    /// and no more than the peer's `max_message`; zero when the peer does
    /// not unpack.
    pub fn pack_limit(&self) -> usize {
        match self.packs() {
            true => self
                .send_chunk()
                .min(usize::try_from(self.peer_max_message()).unwrap_or(usize::MAX)),
            false => 0,
        }
    }

    /// [`Session::send`] with the first frame's flags and `aux`; `max` is
    /// the largest payload taken.
    fn send_first(
        &mut self,
        channel: ChannelId,
        codec: CodecId,
        payload: Payload,
        max: u64,
        first: (Flags, u64),
    ) -> Result<bool, SendError> {
        let id = channel.get();
        let Some(ch) = self.channels.get(id).filter(|_| !self.is_closed()) else {
            return Err(SendError::Gone);
        };
        match ch.send {
            Send::Open => {}
            Send::Ending | Send::Closed => return Err(SendError::Ended),
            Send::Stopped(code) => return Err(SendError::Stopped { code }),
        }
        if ch.stream.as_ref().is_some_and(|s| s.outbox.has_message()) {
            return Err(SendError::Full);
        }
        if payload.len() as u64 > max {
            let len = payload.len();
            return Err(SendError::TooLarge { len, max });
        }
        let writable = self.enqueue_message(id, codec.get(), payload, first);
        if let Some(stream) = self.stream_mut(id).filter(|_| !writable) {
            stream.wants_writable = true;
        }
        Ok(writable)
    }

    /// Callee: tells the caller that `count` items of its stream were
    /// dropped here (a push subscription whose reader fell behind), in
    /// order with the messages around it. A DATA `SKIPPED` costs the credit
    /// of an empty frame (32 bytes) and goes like a message: the same
    /// return and errors as [`Session::send`]; a zero count sends nothing.
    ///
    /// # Errors
    ///
    /// As [`Session::send`]; also [`SendError::Ended`] on a caller's
    /// channel (only callees skip).
    pub fn skip(&mut self, channel: ChannelId, count: u64) -> Result<bool, SendError> {
        let id = channel.get();
        if !self.channels.is_peer(id) {
            return Err(SendError::Ended);
        }
        let Some(ch) = self.channels.get(id).filter(|_| !self.is_closed()) else {
            return Err(SendError::Gone);
        };
        match ch.send {
            Send::Open => {}
            Send::Ending | Send::Closed => return Err(SendError::Ended),
            Send::Stopped(code) => return Err(SendError::Stopped { code }),
        }
        if ch.stream.as_ref().is_some_and(|s| s.outbox.has_message()) {
            return Err(SendError::Full);
        }
        if count == 0 {
            return Ok(true);
        }
        let conn_ok = self.conn_credit.has_credit();
        let (recv, send) = self.stream_windows();
        let Some(stream) = self.channels.stream(id, recv, send) else {
            return Err(SendError::Gone);
        };
        if stream.outbox.is_empty() && conn_ok && stream.credit.has_credit() {
            stream.credit.spend(flow::cost(0));
            self.conn_credit.spend(flow::cost(0));
            self.transmit.push_back(outbox::skipped_frame(id, count));
            return Ok(true);
        }
        stream.outbox.push_skipped(count);
        stream.wants_writable = true;
        self.schedule(id);
        Ok(false)
    }

    /// Ends our direction of `channel` after any pending message: a
    /// caller half-closes its request stream; a callee ends its response
    /// stream normally, which ends the channel.
    ///
    /// # Errors
    ///
    /// Fails when the channel is not open, or our direction already ended
    /// or was stopped.
    pub fn finish(&mut self, channel: ChannelId) -> Result<(), SendError> {
        let id = channel.get();
        let closed = self.is_closed();
        let Some(ch) = self.channels.get_mut(id).filter(|_| !closed) else {
            return Err(SendError::Gone);
        };
        match ch.send {
            Send::Open => ch.send = Send::Ending,
            Send::Ending | Send::Closed => return Err(SendError::Ended),
            Send::Stopped(code) => return Err(SendError::Stopped { code }),
        }
        self.enqueue_terminal(id, Terminal::End);
        Ok(())
    }

    /// Callee: tells the caller its response stream is open (the handler
    /// accepted the call) before any message is ready: the caller's open
    /// completes now, not at the first message. Sends a DATA `OPEN` (the
    /// credit of an empty frame, 32 bytes), or queues it until credit comes
    /// back at both levels (the channel is then not writable until it went:
    /// [`Event::Writable`](super::Event::Writable) follows); does nothing
    /// (returning false) when the channel is not the peer's, not open,
    /// already opened, or already has output pending.
    pub fn open_response(&mut self, channel: ChannelId) -> bool {
        let id = channel.get();
        if self.is_closed() || !self.channels.is_peer(id) {
            return false;
        }
        let open = self
            .channels
            .get(id)
            .is_some_and(|ch| ch.send == Send::Open);
        let conn_ok = self.conn_credit.has_credit();
        let (recv, send) = self.stream_windows();
        let Some(stream) = self.channels.stream(id, recv, send).filter(|_| open) else {
            return false;
        };
        if stream.opened || !stream.outbox.is_empty() {
            return false;
        }
        stream.opened = true;
        if conn_ok && stream.credit.has_credit() {
            stream.credit.spend(flow::cost(0));
            self.conn_credit.spend(flow::cost(0));
            self.transmit.push_back(outbox::open_frame(id));
            return true;
        }
        // Out of credit (the caller reads its other streams slowly): it
        // goes first when credit comes back, and the channel takes a
        // message once it went.
        stream.outbox.push_open();
        stream.wants_writable = true;
        self.schedule(id);
        true
    }

    /// Callee: stops reading the request direction of a peer's stream,
    /// telling the caller to stop sending (a CANCEL with `code`). DATA
    /// already in flight is discarded; the response direction goes on.
    /// Does nothing when the channel is not the peer's, not open, or its
    /// request direction already ended.
    pub fn stop_receiving(&mut self, channel: ChannelId, code: Code) {
        let id = channel.get();
        if self.is_closed() || !self.channels.is_peer(id) {
            return;
        }
        let Some(ch) = self.channels.get_mut(id) else {
            return;
        };
        if ch.recv != Recv::Open {
            return;
        }
        ch.recv = Recv::Stopped;
        self.transmit.push_back(wire::cancel(id, code));
    }

    /// The application consumed `bytes` of DATA received on `channel` (the
    /// [`Chunk::cost`](super::Chunk::cost) of what it took): credit flows
    /// back to the peer, batched a quarter window at a time. Works after
    /// the channel finished too (the connection's window still needs the
    /// bytes back).
    pub fn release(&mut self, channel: ChannelId, bytes: u64) {
        if self.is_closed() {
            return;
        }
        if let Some(grant) = self.conn_window.release(bytes) {
            self.transmit.push_back(wire::credit(0, grant));
        }
        let id = channel.get();
        let Some(ch) = self.channels.get_mut(id) else {
            return;
        };
        // A direction no longer open grants nothing more: its window keeps
        // only what the peer was actually granted.
        if ch.recv != Recv::Open {
            return;
        }
        let grant = ch.stream.as_mut().and_then(|s| s.window.release(bytes));
        if let Some(grant) = grant {
            self.transmit.push_back(wire::credit(id, grant));
        }
    }

    /// Whether [`Session::send`] would take a message on `channel` now.
    pub fn is_writable(&self, channel: ChannelId) -> bool {
        self.channels.get(channel.get()).is_some_and(|ch| {
            ch.send == Send::Open && !ch.stream.as_ref().is_some_and(|s| s.outbox.has_message())
        }) && !self.is_closed()
    }

    /// The peer's `max_message`, once known.
    pub(crate) fn peer_max_message(&self) -> u64 {
        self.peer.as_ref().map_or(0, |peer| peer.hello.max_message)
    }

    /// The size of the chunks we send.
    pub(crate) fn send_chunk(&self) -> usize {
        self.peer.as_ref().map_or(1, |peer| peer.chunk)
    }

    /// Channel `id`'s stream state, made on first use.
    pub(crate) fn stream_mut(&mut self, id: u32) -> Option<&mut StreamState> {
        let (recv, send) = self.stream_windows();
        self.channels.stream(id, recv, send)
    }

    /// Our stream window and the peer's.
    pub(crate) fn stream_windows(&self) -> (u32, u32) {
        let send = self.peer.as_ref().map_or(1, |p| p.hello.stream_window);
        (self.config.stream_window, send)
    }

    /// Queues a message on channel `id`, whose outbox holds none: sent at
    /// once when it fits one chunk and credit allows, else left to the
    /// scheduler. Returns whether it went out at once.
    pub(crate) fn enqueue_message(
        &mut self,
        id: u32,
        codec: u16,
        payload: Payload,
        first: (Flags, u64),
    ) -> bool {
        let chunk = self.send_chunk();
        let conn_ok = self.conn_credit.has_credit();
        let (recv, send) = self.stream_windows();
        let Some(stream) = self.channels.stream(id, recv, send) else {
            return false;
        };
        let len = payload.len();
        if stream.outbox.is_empty() && len <= chunk && conn_ok && stream.credit.has_credit() {
            stream.credit.spend(flow::cost(len));
            self.conn_credit.spend(flow::cost(len));
            let frame = outbox::data_frame(id, codec, payload, first);
            self.transmit.push_back(frame);
            return true;
        }
        stream.outbox.push_message(codec, payload, first);
        self.schedule(id);
        false
    }

    /// Queues the end of our direction of channel `id` behind its pending
    /// output; sent at once when nothing is pending (and, for an END,
    /// credit allows).
    pub(crate) fn enqueue_terminal(&mut self, id: u32, terminal: Terminal) {
        // The application is done sending: it waits for no `Writable`.
        if let Some(stream) = self.channels.get_mut(id).and_then(|ch| ch.stream.as_mut()) {
            stream.wants_writable = false;
        }
        let pending = (self.channels.get(id))
            .and_then(|ch| ch.stream.as_ref())
            .is_some_and(|s| !s.outbox.is_empty());
        if !pending {
            match terminal {
                Terminal::Frame(frame) => {
                    self.transmit.push_back(frame);
                    return self.terminal_sent(id);
                }
                // Queued below, then cut into chunks as credit allows.
                Terminal::Message { .. } => {}
                Terminal::End => {
                    let conn_ok = self.conn_credit.has_credit();
                    let (recv, send) = self.stream_windows();
                    let Some(stream) = self.channels.stream(id, recv, send) else {
                        return;
                    };
                    if conn_ok && stream.credit.has_credit() {
                        stream.credit.spend(flow::cost(0));
                        self.conn_credit.spend(flow::cost(0));
                        self.transmit.push_back(outbox::end_frame(id));
                        return self.terminal_sent(id);
                    }
                }
            }
        }
        if let Some(stream) = self.stream_mut(id) {
            stream.outbox.push_terminal(terminal);
        }
        self.schedule(id);
    }

    /// Our direction of channel `id` ended on the wire: a callee's channel
    /// is over; a caller's waits for the response.
    fn terminal_sent(&mut self, id: u32) {
        if self.channels.is_peer(id) {
            self.channels.remove(id);
            self.close_if_drained();
        } else if let Some(ch) = self.channels.get_mut(id) {
            ch.send = Send::Closed;
        }
    }

    /// Puts channel `id` in the round robin of its priority, unless it is
    /// there.
    pub(crate) fn schedule(&mut self, id: u32) {
        let Some(ch) = self.channels.get_mut(id) else {
            return;
        };
        let level = usize::from(ch.priority.level());
        if let Some(stream) = ch
            .stream
            .as_mut()
            .filter(|s| !s.ready && !s.outbox.is_empty())
        {
            stream.ready = true;
            self.ready[level].push_back(id);
        }
    }

    /// Sets how urgently channel `id`'s chunks leave (see [`Priority`]).
    /// Takes effect from the next time the channel has output queued, so
    /// set it when the channel opens. Unknown channels are ignored.
    ///
    /// [`Priority`]: super::Priority
    pub fn set_priority(&mut self, channel: ChannelId, priority: super::Priority) {
        if let Some(ch) = self.channels.get_mut(channel.0) {
            ch.priority = priority;
        }
    }

    /// The next chunk (or queued end) of a channel with pending output and
    /// credit: the highest priority level first, round robin within a
    /// level; `None` when none can go now.
    pub(crate) fn next_chunk(&mut self) -> Option<Frame> {
        let chunk = self.send_chunk();
        for level in (0..self.ready.len()).rev() {
            for _ in 0..self.ready[level].len() {
                let Some(id) = self.ready[level].pop_front() else {
                    break;
                };
                let Some(stream) = self.channels.get_mut(id).and_then(|ch| ch.stream.as_mut())
                else {
                    continue; // finished since it was queued
                };
                stream.ready = false;
                if stream.outbox.is_empty() {
                    continue;
                }
                if stream.outbox.next_needs_credit() {
                    if !stream.credit.has_credit() {
                        continue; // a CREDIT for this channel queues it again
                    }
                    if !self.conn_credit.has_credit() {
                        stream.ready = true;
                        self.ready[level].push_front(id);
                        return None; // a CREDIT for the connection resumes here
                    }
                }
                let piece = stream.outbox.next(id, chunk)?;
                if let Some(cost) = piece.cost {
                    stream.credit.spend(cost);
                    self.conn_credit.spend(cost);
                }
                let writable = piece.message_done && core::mem::take(&mut stream.wants_writable);
                if !stream.outbox.is_empty() {
                    stream.ready = true;
                    self.ready[level].push_back(id);
                }
                if writable {
                    let channel = ChannelId(id);
                    self.events.push_back(Event::Writable { channel });
                }
                if piece.terminal {
                    self.terminal_sent(id);
                }
                return Some(piece.frame);
            }
        }
        None
    }

    /// Why [`open_call`](Self::open_call) or
    /// [`open_stream`](Self::open_stream) would refuse a call now, if it
    /// would (other than for its size): a client that gets
    /// [`OpenError::TooManyChannels`] may hold the call until one of its
    /// channels ends.
    pub fn check_open(&self) -> Result<(), OpenError> {
        use super::state::State;
        match self.state {
            State::Established => {}
            State::Closed => return Err(OpenError::Closed),
            State::Handshaking | State::Authenticating(_) => {
                return Err(OpenError::NotEstablished);
            }
            State::Draining(_) => return Err(OpenError::GoingAway),
        }
        if self.role != super::Role::Client {
            return Err(OpenError::WrongRole);
        }
        let Some(peer) = &self.peer else {
            return Err(OpenError::NotEstablished);
        };
        let limit = peer.hello.max_channels;
        if self.channels.local_open() >= limit as usize {
            return Err(OpenError::TooManyChannels { limit });
        }
        Ok(())
    }
}
