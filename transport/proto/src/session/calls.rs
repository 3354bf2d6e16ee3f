//! What the application does to calls: open and cancel them (client),
//! answer or fail them (server).

use std::time::Instant;

use prism_core::{Code, Reply};

use super::state::State;
use super::{ChannelId, OpenError, OutgoingCall, Role, Session, wire};

impl Session {
    /// Opens a call: queues its CALL frame and, with a deadline, starts its
    /// timer. The answer arrives as [`Event::Reply`] on the returned channel.
    ///
    /// # Errors
    ///
    /// Fails, sending nothing, when the session is closed, not yet
    /// established or going away (either side sent GOAWAY), when as many
    /// calls are open as the peer accepts, when the body exceeds the peer's
    /// `max_frame`, when channel ids are exhausted (open a new session), or
    /// on a server session.
    ///
    /// [`Event::Reply`]: super::Event::Reply
    pub fn open_call(&mut self, now: Instant, call: OutgoingCall) -> Result<ChannelId, OpenError> {
        match self.state {
            State::Established => {}
            State::Closed => return Err(OpenError::Closed),
            State::Handshaking | State::Authenticating(_) => {
                return Err(OpenError::NotEstablished);
            }
            State::Draining(_) => return Err(OpenError::GoingAway),
        }
        if self.role != Role::Client {
            return Err(OpenError::WrongRole);
        }
        let Some(peer) = &self.peer else {
            return Err(OpenError::NotEstablished);
        };
        let (max_channels, max_frame) = (peer.hello.max_channels, peer.hello.max_frame);
        if self.channels.local_open() >= max_channels as usize {
            return Err(OpenError::TooManyChannels {
                limit: max_channels,
            });
        }
        let len = call.payload.len();
        if len > max_frame as usize {
            return Err(OpenError::TooLarge {
                len,
                max: max_frame,
            });
        }
        // A deadline beyond representable time is no deadline locally; the
        // wire value saturates.
        let at = call.deadline.and_then(|d| now.checked_add(d));
        let channel = self
            .channels
            .open_local(at)
            .ok_or(OpenError::ChannelIdsExhausted)?;
        let frame = wire::call(
            channel.get(),
            call.op,
            call.codec,
            call.deadline,
            call.payload,
        );
        self.transmit.push_back(frame);
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

    /// Answers a call the peer opened: with its response (or, flagged in
    /// the [`Response`](prism_core::Response), the op's application error),
    /// or with a status, sent as an ERROR frame (its message cut to 4 KiB on
    /// a character boundary).
    ///
    /// Says what went out: nothing when the channel is gone (cancelled,
    /// past its deadline, already answered, or the session closed); an
    /// ERROR `RESOURCE_EXHAUSTED` in place of a response larger than the
    /// peer's `max_frame`.
    pub fn respond(&mut self, channel: ChannelId, reply: Reply) -> Answered {
        let id = channel.get();
        if self.is_closed() || !self.channels.is_peer(id) || !self.channels.remove(id) {
            return Answered::Gone;
        }
        let answered = match reply {
            Ok(response) => {
                let max = self.peer_max_payload();
                let len = response.payload.len();
                if len > max {
                    let message = format!(
                        "response of {len} bytes exceeds the caller's frame limit of {max} bytes"
                    );
                    self.send_error(id, Code::ResourceExhausted, &message);
                    Answered::Status
                } else {
                    self.transmit.push_back(wire::response(id, response));
                    Answered::Response
                }
            }
            Err(status) => {
                self.send_error(id, status.code(), status.message());
                Answered::Status
            }
        };
        self.close_if_drained();
        answered
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
