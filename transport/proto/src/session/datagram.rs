//! Datagram ops, once both sides offered [`Features::DATAGRAM`]: a
//! client's fire-and-forget message in one DATAGRAM frame, with no channel,
//! no answer and no credit.
//!
//! A link with unreliable datagrams (QUIC) may carry the frame in one, so
//! it may be lost, arrive twice never (QUIC does not duplicate), or
//! overtake frames sent before it, the handshake's last included. So a
//! DATAGRAM that arrives while the session is not established (not yet,
//! or no longer: draining) is dropped and counted, not a protocol error.
//! Every other rule holds as for any frame: it must fit our chunk size,
//! travel on channel 0 with no flags and no `aux`, come from a client, and
//! only once the feature was negotiated.

use web_time::Instant;

use prism_core::Payload;

use super::state::State;
use super::{DatagramError, Event, Features, OutgoingDatagram, Role, Session, wire};
use crate::frame::{Flags, FrameHeader, FrameKind};

/// What passed through the session as datagrams.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Datagrams {
    /// Sent here or handed to the application here.
    pub(crate) moved: u64,
    /// Arrived when the session took none (see the module docs).
    pub(crate) dropped: u64,
}

impl Session {
    /// Client: queues a datagram op's message. Nothing answers it; on the
    /// server it raises [`Event::Datagram`].
    ///
    /// # Errors
    ///
    /// Fails, sending nothing, when the session is closed, not yet
    /// established or going away, when the peer did not offer
    /// [`Features::DATAGRAM`], when the message does not fit one frame the
    /// peer takes (the chunk size both sides settled on), or on a server
    /// session.
    pub fn send_datagram(
        &mut self,
        now: Instant,
        datagram: OutgoingDatagram,
    ) -> Result<(), DatagramError> {
        match self.state {
            State::Established => {}
            State::Closed => return Err(DatagramError::Closed),
            State::Handshaking | State::Authenticating(_) => {
                return Err(DatagramError::NotEstablished);
            }
            State::Draining(_) => return Err(DatagramError::GoingAway),
        }
        if self.role != Role::Client {
            return Err(DatagramError::WrongRole);
        }
        if !self.features().contains(Features::DATAGRAM) {
            return Err(DatagramError::NotNegotiated);
        }
        let (len, max) = (datagram.payload.len(), self.max_datagram());
        if len > max {
            return Err(DatagramError::TooLarge { len, max });
        }
        let _ = now;
        self.datagrams.moved += 1;
        (self.transmit).push_back(wire::datagram(
            datagram.op,
            datagram.codec,
            datagram.payload,
        ));
        Ok(())
    }

    /// The largest datagram message the peer takes: one frame's payload
    /// of the chunk size both sides settled on (0 before the peer's HELLO).
    pub fn max_datagram(&self) -> usize {
        self.peer.as_ref().map_or(0, |peer| peer.chunk)
    }

    /// Datagrams that arrived when the session took none (before it was
    /// established, or while it drained) and were dropped.
    pub fn dropped_datagrams(&self) -> u64 {
        self.datagrams.dropped
    }

    /// A DATAGRAM frame from the peer, in any state but closed.
    pub(crate) fn on_datagram(&mut self, header: FrameHeader, payload: Payload) {
        let kind = FrameKind::Datagram;
        if self.peer.is_none() {
            return self.protocol_error(kind, "the first frame must be a hello");
        }
        if !self.features().contains(Features::DATAGRAM) {
            return self.protocol_error(kind, "datagrams were not negotiated");
        }
        if header.channel != 0 {
            return self.protocol_error(kind, "a datagram on a channel");
        }
        if header.flags != Flags::NONE || header.aux != 0 {
            return self.protocol_error(kind, "a datagram with flags or aux set");
        }
        if self.role == Role::Client {
            return self.protocol_error(kind, "only clients send datagrams");
        }
        match self.state {
            State::Established => {
                self.datagrams.moved += 1;
                self.events.push_back(Event::Datagram {
                    op: header.op,
                    codec: prism_core::CodecId::new(header.codec),
                    payload,
                });
            }
            State::Closed => {}
            State::Handshaking | State::Authenticating(_) | State::Draining(_) => {
                self.datagrams.dropped += 1;
            }
        }
    }
}
