//! Session tests: two state machines driven against each other on a
//! simulated clock, no sockets, no sleeps.

mod calls;
mod deadlines;
mod handshake;
mod hello;
mod limits;
mod liveness;
mod robustness;
mod shutdown;

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{
    ChannelId, Event, Hello, OpEntry, OutgoingCall, Role, Session, SessionConfig, SessionError,
};
use crate::frame::{Frame, FrameHeader, FrameKind};

/// A client and a server joined by a perfect, instant link.
struct Pair {
    client: Session,
    server: Session,
    now: Instant,
    /// Every frame moved, with its sender.
    sent: Vec<(Role, FrameHeader)>,
}

impl Pair {
    /// Two sessions that have exchanged HELLOs; `Established` already drained.
    fn connected() -> Pair {
        Pair::connected_with(SessionConfig::default(), SessionConfig::default())
    }

    fn connected_with(client: SessionConfig, server: SessionConfig) -> Pair {
        let mut pair = Pair::new(client, server);
        pair.pump();
        assert_eq!(pair.client_events(), [Event::Established]);
        assert_eq!(pair.server_events(), [Event::Established]);
        pair
    }

    /// Two fresh sessions; nothing moved yet.
    fn new(client: SessionConfig, server: SessionConfig) -> Pair {
        let now = Instant::now();
        Pair {
            client: Session::new(Role::Client, client, hello(), now),
            server: Session::new(Role::Server, server, hello(), now),
            now,
            sent: Vec::new(),
        }
    }

    /// Moves frames both ways until neither side has anything to send.
    fn pump(&mut self) {
        loop {
            let mut moved = false;
            while let Some(frame) = self.client.poll_transmit() {
                self.sent.push((Role::Client, frame.header));
                self.server.handle_frame(self.now, frame);
                moved = true;
            }
            while let Some(frame) = self.server.poll_transmit() {
                self.sent.push((Role::Server, frame.header));
                self.client.handle_frame(self.now, frame);
                moved = true;
            }
            if !moved {
                return;
            }
        }
    }

    /// Moves the clock forward by `by`, firing each timer at its instant
    /// and pumping after each.
    fn advance(&mut self, by: Duration) {
        let target = self.now + by;
        for _ in 0..100_000 {
            let next = [self.client.poll_timeout(), self.server.poll_timeout()]
                .into_iter()
                .flatten()
                .filter(|&at| at <= target)
                .min();
            let Some(at) = next else {
                self.now = target;
                return;
            };
            self.now = self.now.max(at);
            if self.client.poll_timeout().is_some_and(|t| t <= self.now) {
                self.client.handle_timeout(self.now);
            }
            if self.server.poll_timeout().is_some_and(|t| t <= self.now) {
                self.server.handle_timeout(self.now);
            }
            self.pump();
        }
        panic!("timers never settle");
    }

    fn client_events(&mut self) -> Vec<Event> {
        drain_events(&mut self.client)
    }

    fn server_events(&mut self) -> Vec<Event> {
        drain_events(&mut self.server)
    }

    /// Opens a call of op 7 with codec 1.
    fn call(&mut self, body: &'static [u8], deadline: Option<Duration>) -> ChannelId {
        let call = outgoing(body, deadline);
        match self.client.open_call(self.now, call) {
            Ok(channel) => channel,
            Err(e) => panic!("open_call failed: {e}"),
        }
    }

    /// Kinds of the frames `role` sent, in order.
    fn kinds_sent_by(&self, role: Role) -> Vec<FrameKind> {
        self.sent
            .iter()
            .filter(|(r, _)| *r == role)
            .map(|(_, h)| h.kind)
            .collect()
    }

    /// The last frame `role` sent.
    fn last_sent_by(&self, role: Role) -> Option<FrameHeader> {
        self.sent
            .iter()
            .rev()
            .find(|(r, _)| *r == role)
            .map(|(_, h)| *h)
    }
}

fn hello() -> Hello {
    Hello::new(vec![OpEntry {
        op: 7,
        fingerprint: 0xfeed,
        codecs: vec![1, 2],
    }])
}

fn outgoing(body: &'static [u8], deadline: Option<Duration>) -> OutgoingCall {
    OutgoingCall {
        op: 7,
        codec: 1,
        deadline,
        body: body.into(),
    }
}

fn drain_events(session: &mut Session) -> Vec<Event> {
    std::iter::from_fn(|| session.poll_event()).collect()
}

fn drain_frames(session: &mut Session) -> Vec<Frame> {
    std::iter::from_fn(|| session.poll_transmit()).collect()
}

/// A frame of `kind` on `channel` with `aux` and a payload.
fn raw(kind: FrameKind, channel: u32, aux: u64, body: &'static [u8]) -> Frame {
    let mut header = FrameHeader::new(kind);
    header.channel = channel;
    header.aux = aux;
    if kind == FrameKind::Call {
        header.op = 7;
        header.codec = 1;
    }
    Frame::new(header, body.into())
}

/// Asserts that `events` ends the session with a protocol error.
fn assert_protocol_error(events: &[Event]) {
    match events.last() {
        Some(Event::Closed {
            error: Some(SessionError::Protocol { .. }),
        }) => {}
        other => panic!("expected a protocol error close, got {other:?} in {events:?}"),
    }
}

/// A server that got the client's HELLO, and the frames it queued
/// (its own HELLO) drained.
fn established_server() -> Session {
    let now = Instant::now();
    let mut server = Session::new(Role::Server, SessionConfig::default(), hello(), now);
    let hello = Frame::new(FrameHeader::new(FrameKind::Hello), hello().encode().into());
    server.handle_frame(now, hello);
    drain_frames(&mut server);
    assert_eq!(drain_events(&mut server), [Event::Established]);
    server
}
