//! What the application does to calls: open and cancel them (client),
//! answer or fail them (server).

use std::time::Instant;

use super::machine::Phase;
use super::{ChannelId, OpenError, OutgoingCall, Role, Session, wire};
use crate::Code;
use crate::frame::Body;

impl Session {
    /// Opens a call: queues its CALL frame and, with a deadline, starts its
    /// timer. The answer arrives as [`Event::Response`] or [`Event::Failed`]
    /// on the returned channel.
    ///
    /// # Errors
    ///
    /// Fails, sending nothing, when the session is closed, not yet
    /// established or going away (either side sent GOAWAY), when as many
    /// calls are open as the peer accepts, when the body exceeds the peer's
    /// `max_frame`, when channel ids are exhausted (open a new session), or
    /// on a server session.
    ///
    /// [`Event::Response`]: super::Event::Response
    /// [`Event::Failed`]: super::Event::Failed
    pub fn open_call(&mut self, now: Instant, call: OutgoingCall) -> Result<ChannelId, OpenError> {
        if self.phase == Phase::Closed {
            return Err(OpenError::Closed);
        }
        if self.role != Role::Client {
            return Err(OpenError::WrongRole);
        }
        let Some(peer) = &self.peer else {
            return Err(OpenError::NotEstablished);
        };
        if self.going_away || self.peer_goaway.is_some() {
            return Err(OpenError::GoingAway);
        }
        if self.channels.local_open() >= peer.max_channels as usize {
            return Err(OpenError::TooManyChannels {
                limit: peer.max_channels,
            });
        }
        let len = call.body.len();
        if len > peer.max_frame as usize {
            return Err(OpenError::TooLarge {
                len,
                max: peer.max_frame,
            });
        }
        // A deadline beyond representable time is no deadline locally; the
        // wire value saturates.
        let at = call.deadline.and_then(|d| now.checked_add(d));
        let channel = self
            .channels
            .open_local(at)
            .ok_or(OpenError::ChannelIdsExhausted)?;
        let frame = wire::call(channel.get(), call.op, call.codec, call.deadline, call.body);
        self.transmit.push_back(frame);
        Ok(channel)
    }

    /// Abandons one of our calls: sends CANCEL and forgets the channel, so
    /// no event follows for it and later frames for it are ignored. Does
    /// nothing if the call already finished.
    pub fn cancel(&mut self, channel: ChannelId) {
        let id = channel.get();
        if self.phase == Phase::Closed || !self.channels.is_local(id) || !self.channels.remove(id) {
            return;
        }
        self.transmit.push_back(wire::cancel(id, Code::Cancelled));
        self.close_if_drained();
    }

    /// Answers a call the peer opened, with the op's response or (with
    /// `app_error`) its application error, encoded with `codec`.
    ///
    /// Returns false, sending nothing, when the channel is gone (cancelled,
    /// past its deadline, already answered, or the session closed). A body
    /// larger than the peer's `max_frame` is replaced by an ERROR
    /// `RESOURCE_EXHAUSTED` (and true is returned: the channel is done).
    pub fn respond(&mut self, channel: ChannelId, codec: u16, body: Body, app_error: bool) -> bool {
        if !self.take_peer_channel(channel) {
            return false;
        }
        let id = channel.get();
        let max = self.peer.as_ref().map_or(u32::MAX, |peer| peer.max_frame);
        if body.len() > max as usize {
            let message = format!(
                "response of {} bytes exceeds the caller's frame limit of {max} bytes",
                body.len()
            );
            self.send_error(id, Code::ResourceExhausted, &message);
        } else {
            self.transmit
                .push_back(wire::response(id, codec, body, app_error));
        }
        self.close_if_drained();
        true
    }

    /// Ends a call the peer opened with a status: an ERROR frame carrying
    /// `code` and `message` (cut to 4 KiB on a character boundary).
    ///
    /// Returns false, sending nothing, when the channel is gone.
    pub fn fail(&mut self, channel: ChannelId, code: Code, message: &str) -> bool {
        if !self.take_peer_channel(channel) {
            return false;
        }
        self.send_error(channel.get(), code, message);
        self.close_if_drained();
        true
    }

    /// Forgets a channel the peer opened; false if it is not open.
    fn take_peer_channel(&mut self, channel: ChannelId) -> bool {
        let id = channel.get();
        self.phase != Phase::Closed && self.channels.is_peer(id) && self.channels.remove(id)
    }
}
