//! What the application does to calls: open and cancel them (client),
//! answer or fail them (server).

use web_time::Instant;

use prism_core::{Code, Payload, Reply};

use super::channels::Send;
use super::outbox::{self, Terminal};
use super::{ChannelId, OpenError, OutgoingCall, Session, wire};

impl Session {
    /// Opens a call: queues its CALL frame and, with a deadline, starts its
    /// timer. The answer arrives as [`Event::Reply`] on the returned channel
    /// (a response too large for one chunk arrives as [`Event::Data`]
    /// chunks of one message, then [`Event::End`]). A request too large for
    /// one chunk travels as chunks of one message on an open request
    /// direction, as credit allows.
    ///
    /// # Errors
    ///
    /// Fails, sending nothing, when the session is closed, not yet
    /// established or going away (either side sent GOAWAY), when as many
    /// calls and streams are open as the peer accepts, when the body
    /// exceeds the peer's `max_message`, when the call carries metadata the
    /// peer does not take (see the `metadata` module), when channel ids are
    /// exhausted (open a new session), or on a server session.
    ///
    /// [`Event::Data`]: super::Event::Data
    /// [`Event::End`]: super::Event::End
    ///
    /// [`Event::Reply`]: super::Event::Reply
    pub fn open_call(&mut self, now: Instant, call: OutgoingCall) -> Result<ChannelId, OpenError> {
        self.check_open()?;
        let len = call.payload.len();
        let max = self.peer_max_message();
        if len as u64 > max {
            return Err(OpenError::TooLarge { len, max });
        }
        let metadata = self.metadata_block(&call.metadata)?;
        self.liveness.last_open = now;
        // A deadline beyond representable time is no deadline locally; the
        // wire value saturates.
        let at = call.deadline.and_then(|d| now.checked_add(d));
        let whole = len + metadata.len() <= self.send_chunk();
        let send = if whole { Send::Closed } else { Send::Ending };
        let channel = self
            .channels
            .open_local(at, send)
            .ok_or(OpenError::ChannelIdsExhausted)?;
        let id = channel.get();
        self.set_priority(channel, call.priority);
        let (codec, deadline) = (call.codec, call.deadline);
        if whole {
            let frame = wire::call(id, call.op, codec, deadline, call.payload, false, metadata);
            self.transmit.push_back(frame);
        } else {
            // Too large for one frame: the request travels as one chunked
            // message on an open request direction, then its end.
            let frame = wire::call(
                id,
                call.op,
                codec,
                deadline,
                Payload::empty(),
                true,
                metadata,
            );
            self.transmit.push_back(frame);
            self.enqueue_message(id, codec.get(), call.payload, outbox::whole(false));
            self.enqueue_terminal(id, Terminal::End);
        }
        Ok(channel)
    }

    /// Abandons one of our calls: sends CANCEL and forgets the channel, so
    /// no event follows for it and later frames for it are ignored. Does
    /// nothing if the call already finished.
    pub fn cancel(&mut self, channel: ChannelId) {
        let id = channel.get();
        if self.is_closed() || !self.channels.is_local(id) || !self.channels.remove(id) {
            return;
        }
        self.transmit.push_back(wire::cancel(id, Code::Cancelled));
        self.close_if_drained();
    }

    /// Answers a call or stream the peer opened, ending the channel: with
    /// its response (or, flagged in the [`Response`](prism_core::Response),
    /// the op's application error), or with a status, sent as an ERROR
    /// frame (its message cut to 4 KiB on a character boundary). The answer
    /// goes out after any message still pending on the channel; a response
    /// larger than one chunk travels as a chunked message and an END.
    ///
    /// Says what was queued: nothing when the channel is gone (cancelled,
    /// past its deadline, already answered or finished, or the session
    /// closed); an ERROR `RESOURCE_EXHAUSTED` in place of a response larger
    /// than the peer's `max_message`.
    pub fn respond(&mut self, channel: ChannelId, reply: Reply) -> Answered {
        let id = channel.get();
        let usable = !self.is_closed() && self.channels.is_peer(id);
        let whole = (self.send_chunk() as u64).min(self.peer_max_message());
        let Some(ch) = self.channels.get_mut(id).filter(|_| usable) else {
            return Answered::Gone;
        };
        if ch.send != Send::Open {
            return Answered::Gone; // answered or finished already
        }
        // The unary fast path: nothing pending on the channel and a
        // response that fits one frame; one lookup to check, one to remove.
        let fits = matches!(&reply, Ok(r) if r.payload.len() as u64 <= whole);
        if ch.stream.is_none()
            && fits
            && let Ok(response) = reply
        {
            self.channels.remove(id);
            self.transmit.push_back(wire::response(id, response));
            self.close_if_drained();
            return Answered::Response;
        }
        ch.send = Send::Ending;
        let response = match reply {
            Ok(response) => response,
            Err(status) => {
                let frame =
                    wire::error(id, status.code(), status.message(), self.peer_max_payload());
                self.enqueue_terminal(id, Terminal::Frame(frame));
                return Answered::Status;
            }
        };
        let len = response.payload.len();
        let max = self.peer_max_message();
        if len as u64 > max {
            let message = format!(
                "response of {len} bytes exceeds the caller's message limit of {max} bytes"
            );
            let frame = wire::error(
                id,
                Code::ResourceExhausted,
                &message,
                self.peer_max_payload(),
            );
            self.enqueue_terminal(id, Terminal::Frame(frame));
            return Answered::Status;
        }
        let terminal = if len <= self.send_chunk() {
            Terminal::Frame(wire::response(id, response))
        } else {
            // Too large for one frame: one chunked message, then the end,
            // behind any message still pending.
            Terminal::Message {
                codec: response.codec.get(),
                payload: response.payload,
                first: outbox::whole(response.app_error),
            }
        };
        self.enqueue_terminal(id, terminal);
        Answered::Response
    }
}

/// What [`Session::respond`] sent for a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answered {
    /// Its response (or the op's application error, a value like any other).
    Response,
    /// An ERROR frame: the status given, or `RESOURCE_EXHAUSTED` in place
    /// of a response too large for the peer.
    Status,
    /// Nothing: the channel was gone.
    Gone,
}

impl Answered {
    /// Whether the call was answered now (it was still open).
    pub fn is_sent(self) -> bool {
        self != Answered::Gone
    }
}
