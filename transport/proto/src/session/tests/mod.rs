//! Session tests: two state machines driven against each other on a
//! simulated clock, no sockets, no sleeps.

mod calls;
mod datagrams;
mod deadlines;
mod flow_errors;
mod handshake;
mod hello;
mod limits;
mod liveness;
mod metadata;
mod packed;
mod reauth;
mod robustness;
mod shutdown;
mod streams;

use std::time::{Duration, Instant};

use bytes::Bytes;
use prism_core::{Code, CodecId, Metadata, Payload, Reply, Response, Status};

use super::{
    Accept, ChannelId, DEFAULT_FRAME_TIMEOUT, DEFAULT_IDLE_TIMEOUT, DEFAULT_KEEPALIVE, Event,
    Hello, OpEntry, OutgoingCall, Priority, Role, Session, SessionConfig, SessionError, wire,
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
    /// Two sessions that have exchanged HELLOs and accepted each other;
    /// the handshake's events already drained.
    fn connected() -> Pair {
        Pair::connected_with(SessionConfig::default(), SessionConfig::default())
    }

    fn connected_with(client: SessionConfig, server: SessionConfig) -> Pair {
        let mut pair = Pair::new(client, server);
        pair.pump();
        assert_eq!(pair.client_events(), [Event::Hello]);
        assert_eq!(pair.server_events(), [Event::Hello]);
        pair.accept_both();
        assert_eq!(pair.client_events(), [Event::Established]);
        assert_eq!(pair.server_events(), [Event::Established]);
        pair
    }

    /// Two fresh sessions; nothing moved yet. The client lists op 7.
    fn new(client: SessionConfig, server: SessionConfig) -> Pair {
        let now = Instant::now();
        Pair {
            client: Session::new(Role::Client, client, hello(), now),
            server: Session::new(Role::Server, server, Hello::default(), now),
            now,
            sent: Vec::new(),
        }
    }

    /// Both sides accept: the server with its op table (op 7), the client
    /// with nothing; then frames move.
    fn accept_both(&mut self) {
        assert!(self.server.accept(self.now, server_accept()));
        assert!(self.client.accept(self.now, Accept::default()));
        self.pump();
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

/// The op a client calls in these tests.
fn op_entry() -> OpEntry {
    OpEntry {
        op: 7,
        fingerprint: 0xfeed,
        codecs: vec![1, 2],
    }
}

/// A client's HELLO, listing op 7.
fn hello() -> Hello {
    Hello::new(vec![op_entry()])
}

/// A server's ACCEPT: its op table.
fn server_accept() -> Accept {
    Accept::new(vec![op_entry()])
}

fn outgoing(body: &'static [u8], deadline: Option<Duration>) -> OutgoingCall {
    OutgoingCall {
        op: 7,
        codec: CodecId::new(1),
        deadline,
        payload: body.into(),
        priority: Priority::DEFAULT,
        metadata: Metadata::new(),
    }
}

/// A successful reply encoded with codec `codec`.
fn ok(codec: u16, body: &'static [u8]) -> Reply {
    Ok(Response::new(CodecId::new(codec), body.into()))
}

/// A failed reply.
fn failed(code: Code, message: &str) -> Reply {
    Err(Status::new(code, message))
}

/// The channel and code of a failed reply event, if it is one.
fn failure(event: &Event) -> Option<(ChannelId, Code)> {
    match event {
        Event::Reply {
            channel,
            reply: Err(status),
        } => Some((*channel, status.code())),
        _ => None,
    }
}

/// Whether `event` is a successful reply.
fn is_response(event: &Event) -> bool {
    matches!(event, Event::Reply { reply: Ok(_), .. })
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
    Frame::new(header, Payload::from(body))
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

/// A HELLO frame carrying `hello`.
fn hello_frame(hello: &Hello) -> Frame {
    Frame::new(FrameHeader::new(FrameKind::Hello), hello.encode().into())
}

/// An ACCEPT frame carrying `accept`.
fn accept_frame(accept: &Accept) -> Frame {
    Frame::new(FrameHeader::new(FrameKind::Accept), accept.encode().into())
}

/// A server that got the client's HELLO and ACCEPT and accepted the
/// client, with the frames it queued (its HELLO and ACCEPT) drained.
fn established_server() -> Session {
    established_server_with(SessionConfig::default())
}

/// A server session with `config`, past its handshake.
fn established_server_with(config: SessionConfig) -> Session {
    let now = Instant::now();
    let mut server = Session::new(Role::Server, config, Hello::default(), now);
    server.handle_frame(now, hello_frame(&hello()));
    assert_eq!(drain_events(&mut server), [Event::Hello]);
    assert!(server.accept(now, server_accept()));
    server.handle_frame(now, accept_frame(&Accept::default()));
    drain_frames(&mut server);
    assert_eq!(drain_events(&mut server), [Event::Established]);
    server
}

/// A tiny xorshift64* generator: deterministic, no dependencies.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}
