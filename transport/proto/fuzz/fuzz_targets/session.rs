//! Drives a server `Session` with frames cut from the input by a
//! `FrameDecoder`, on a simulated clock, the way the async driver does.
//!
//! Input layout:
//!
//! ```text
//! byte 0        flags: bit 0 = put a valid client HELLO and ACCEPT before the
//!               wire bytes (so most inputs get past the handshake), bit 1 =
//!               keepalive every 1 s (else 30 s), bit 2 = max_channels 4, bit 3 = the
//!               application refuses the client's HELLO (else it accepts)
//! byte 1        n, the length of the control bytes
//! n bytes       control: read two per step, cyclically
//! the rest      the wire: what the client sends
//! ```
//!
//! Each step advances the clock (0 or 2^k µs, k < 31), fires due timers,
//! feeds the next chunk of the wire (0 to 2040 bytes) through the decoder
//! into `handle_frame` (reporting a partial frame left over with
//! `handle_partial_frame`, so the frame timeout fires too), then maybe acts as the application would: answer or
//! fail the oldest open call, send a stream item on it (some larger than a
//! chunk, some packed with others), finish it or stop its request direction, release the credit of
//! what arrived, report its writes stalled or moving (so the send timeout fires too), ping, accept a re-authentication proof or ask for one, go
//! away, or close. The application
//! judges the client's HELLO (accept, or reject per flag bit 3) as soon as
//! `Event::Hello` arrives. A malformed frame closes the session as the
//! driver does (`close`), and the end of the input is `handle_link_closed`.
//!
//! Checks, besides "never panics":
//! - nothing (no event, no frame) comes out after `Event::Closed`, which
//!   comes exactly once, and by then every call the peer opened has ended;
//! - `is_closed()` agrees with the events, and `poll_timeout()` is `None`
//!   once closed;
//! - after `handle_timeout(now)`, no timer is still due at `now`;
//! - events make sense for a server: `Hello` first and once, then
//!   `Established` at most once and only after the application accepted;
//!   calls only once established, on fresh odd channel ids, increasing;
//!   `Cancelled` only for a call the application has not answered; `Data`
//!   and `End` only on an open request direction, chunks in sequence and
//!   within the windows, a packed chunk whole and its messages holding its
//!   cost; `Writable` only after a `send` said the channel
//!   was full, once; never `Reply` or `StopSending` (a server opens no
//!   calls); a `Pong` only for a ping; `GoAway` at most once;
//!   `Reauthenticate` only once both sides offered re-authentication, never
//!   while an earlier proof waits, its proof within the limit; an AUTH
//!   answer only for a proof that waits (or a request, aux 0); `Datagram`
//!   only once established with the feature, within the chunk size; a
//!   call's metadata only with its feature, and only what a map holds
//!   (it re-encodes and decodes to itself);
//! - `accept`/`reject` succeed exactly once, right after `Hello`;
//! - `respond` answers exactly the calls that are still open, a status
//!   always as a status;
//! - every frame sent is well-formed (it re-encodes and decodes to itself)
//!   and, once the peer's HELLO is known, ERROR and GOAWAY payloads fit its
//!   `max_frame` (GOAWAY always keeps its 2-byte code), RESPONSE and DATA
//!   its `max_chunk`.

#![no_main]

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use prism_core::{Code, CodecId, Metadata, Payload, Response, Status};
use prism_proto::frame::{Frame, FrameDecoder, FrameHeader, FrameKind, encode_frame};
use prism_proto::session::{
    Accept, Answered, ChannelId, Event, Features, Hello, Lifetime, MAX_AUTH_PROOF, OpEntry,
    Packer, Reassembler, Role, SendError, Session, SessionConfig,
};

/// Longest message kept in an ERROR or a GOAWAY reason (`wire::MAX_MESSAGE`).
const MAX_MESSAGE: usize = 4096;

/// What the harness knows about the session from its outputs.
struct Model {
    session: Session,
    now: Instant,
    /// Calls the peer opened that the application has not answered.
    open: BTreeSet<u32>,
    /// Calls whose request direction is open (no END yet), with the total
    /// of the message being received in chunks, if any.
    receiving: BTreeMap<u32, Option<u64>>,
    /// Channels whose `send` said full: a `Writable` is owed.
    blocked: BTreeSet<u32>,
    /// Credit of chunks received and not released yet.
    held: Vec<(ChannelId, u64)>,
    /// Bytes held in all: bounded by the connection window plus a chunk.
    held_bytes: u64,
    /// Every channel the session announced, by id (a `ChannelId` can only
    /// come from the session).
    known: BTreeMap<u32, ChannelId>,
    last_call: u32,
    /// The application refuses the client.
    refuse: bool,
    hello: bool,
    accepted: bool,
    established: bool,
    closed: bool,
    peer_goaway: bool,
    pings_sent: u64,
    pongs: u64,
    /// A re-authentication proof waits for the application's verdict.
    proof_pending: bool,
    /// Proofs the session raised.
    proofs: u64,
}

impl Model {
    /// Drains frames and events, checking each. The frames an event's
    /// handling queues (a GOAWAY from `reject`) leave before the next
    /// event is read: they belong to the session's life, even when the
    /// next event is `Closed`.
    fn drain(&mut self) {
        loop {
            while let Some(frame) = self.session.poll_transmit() {
                assert!(
                    !self.closed,
                    "{:?} frame sent after Closed",
                    frame.header.kind
                );
                self.check_sent(&frame);
            }
            let Some(event) = self.session.poll_event() else {
                break;
            };
            assert!(!self.closed, "event after Closed: {event:?}");
            self.on_event(event);
        }
        assert_eq!(self.session.is_closed(), self.closed);
        if self.closed {
            assert_eq!(self.session.poll_timeout(), None);
            assert_eq!(self.session.open_channels(), 0);
        }
    }

    fn check_sent(&self, frame: &Frame) {
        let mut wire = BytesMut::new();
        encode_frame(frame, &mut wire);
        let again = FrameDecoder::new(u32::MAX)
            .decode(&mut wire)
            .expect("a frame we send has a valid header")
            .expect("a whole frame");
        assert!(wire.is_empty());
        assert_eq!(again.header, frame.header);
        assert_eq!(again.payload, frame.payload);

        let Some(peer) = self.session.peer_hello() else {
            return;
        };
        let max = peer.max_frame as usize;
        let len = frame.payload.len();
        match frame.header.kind {
            FrameKind::Error => assert!(
                len <= max.min(MAX_MESSAGE),
                "ERROR of {len} bytes, peer max_frame {max}"
            ),
            FrameKind::GoAway => assert!(
                len <= max.min(MAX_MESSAGE + 2).max(2),
                "GOAWAY of {len} bytes, peer max_frame {max}"
            ),
            FrameKind::Response | FrameKind::Data => assert!(
                len <= peer.max_chunk as usize,
                "message frame of {len} bytes, peer max_chunk {}",
                peer.max_chunk
            ),
            FrameKind::Auth => {
                assert!(self.session.features().contains(Features::REAUTH));
                assert!(frame.header.aux <= self.proofs, "an answer to no proof");
                assert!(len == 0 || len == 8, "AUTH of {len} bytes");
            }
            _ => {}
        }
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Hello => {
                assert!(!self.hello, "Hello twice");
                self.hello = true;
                assert!(self.session.peer_hello().is_some());
                let now = self.now;
                if self.refuse {
                    assert!(self.session.reject(now, Code::PermissionDenied, "not you"));
                } else {
                    assert!(self.session.accept(now, Accept::new(vec![op()])));
                    self.accepted = true;
                }
                assert!(
                    !self.session.accept(now, Accept::default()),
                    "a second verdict"
                );
            }
            Event::Established => {
                assert!(!self.established, "Established twice");
                assert!(self.accepted, "Established without accepting the client");
                self.established = true;
            }
            Event::Call {
                channel,
                open,
                metadata,
                ..
            } => {
                assert!(self.established, "call before Established");
                assert!(
                    metadata.is_empty() || self.session.features().contains(Features::METADATA),
                    "metadata without the feature"
                );
                // What the session admitted is what a map would hold.
                if !metadata.is_empty() {
                    let decoded = Metadata::decode(&metadata.encode());
                    assert_eq!(decoded, Ok((metadata.clone(), metadata.encoded_len())));
                }
                let id = channel.get();
                assert!(id % 2 == 1, "incoming call on server parity id {id}");
                assert!(id > self.last_call, "call ids must increase");
                self.last_call = id;
                assert!(self.open.insert(id));
                if open {
                    self.receiving.insert(id, None);
                }
                self.known.insert(id, channel);
            }
            Event::Data { channel, chunk } => {
                let id = channel.get();
                let Some(pending) = self.receiving.get_mut(&id) else {
                    panic!("data on {channel}, whose request direction is not open");
                };
                if chunk.packed {
                    assert!(pending.is_none() && chunk.is_whole(), "a pack inside a message");
                    // Its messages hold the frame's whole cost between them.
                    let mut messages = Reassembler::default();
                    let first = messages.push(chunk.clone(), u64::MAX).expect("no limit");
                    let held: u64 = first
                        .message
                        .into_iter()
                        .chain(std::iter::from_fn(|| messages.pop()))
                        .map(|m| m.held)
                        .sum();
                    assert_eq!(held, chunk.cost(), "packed messages hold their frame");
                }
                match (*pending, chunk.total) {
                    (None, Some(total)) => {
                        assert!(total > chunk.payload.len() as u64 && chunk.more);
                        *pending = Some(total);
                    }
                    (None, None) => assert!(!chunk.more, "a continuation with no first chunk"),
                    (Some(_), None) if chunk.more => {}
                    (Some(_), None) => *pending = None,
                    (Some(_), Some(_)) => panic!("a first chunk while one is pending"),
                }
                assert!(!chunk.app_error, "an application error from the caller");
                self.held.push((channel, chunk.cost()));
                self.held_bytes += chunk.cost();
                let bound = u64::from(prism_proto::session::DEFAULT_CONNECTION_WINDOW)
                    + u64::from(prism_proto::session::DEFAULT_MAX_CHUNK);
                assert!(self.held_bytes <= bound, "{} bytes held", self.held_bytes);
            }
            Event::End { channel } => {
                let pending = self.receiving.remove(&channel.get());
                assert_eq!(pending, Some(None), "end on {channel} not open or inside a message");
            }
            Event::Writable { channel } => {
                assert!(self.blocked.remove(&channel.get()), "Writable for {channel} not owed");
            }
            Event::StopSending { .. } | Event::Opened { .. } | Event::Skipped { .. } => {
                panic!("a server opens no calls, yet got {event:?}")
            }
            Event::Cancelled { channel, .. } => {
                assert!(
                    self.open.remove(&channel.get()),
                    "Cancelled for {channel}, which is not open"
                );
                self.receiving.remove(&channel.get());
                self.blocked.remove(&channel.get());
            }
            Event::Datagram { payload, .. } => {
                assert!(self.established, "a datagram before Established");
                assert!(
                    self.session.features().contains(Features::DATAGRAM),
                    "a datagram without the feature"
                );
                let chunk = self.session.config().advertised_chunk() as usize;
                assert!(payload.len() <= chunk, "a datagram over our chunk size");
            }
            Event::Reply { .. } => {
                panic!("a server opened no calls, yet got {event:?}")
            }
            Event::Reauthenticate { proof } => {
                assert!(self.established, "a proof before Established");
                assert!(self.session.features().contains(Features::REAUTH));
                assert!(!self.proof_pending, "a proof while another waits");
                assert!(proof.len() <= MAX_AUTH_PROOF);
                self.proof_pending = true;
                self.proofs += 1;
            }
            Event::Reauthenticated { .. } | Event::ReauthRequested { .. } => {
                panic!("a server presents no proofs, yet got {event:?}")
            }
            Event::GoAway { .. } => {
                assert!(!self.peer_goaway, "GoAway event twice");
                self.peer_goaway = true;
            }
            Event::Pong { .. } => {
                self.pongs += 1;
                assert!(self.pongs <= self.pings_sent, "pong without a ping");
            }
            Event::Closed { .. } => {
                assert!(
                    self.open.is_empty(),
                    "Closed while calls are open: {:?}",
                    self.open
                );
                self.closed = true;
            }
        }
    }

    fn timers(&mut self, early: bool) {
        let due = self.session.poll_timeout().is_some_and(|at| at <= self.now);
        if due || early {
            self.session.handle_timeout(self.now);
            if let Some(at) = self.session.poll_timeout() {
                assert!(at > self.now, "a timer is still due after handle_timeout");
            }
        }
        self.drain();
    }

    fn frame(&mut self, frame: Frame) {
        self.session.handle_frame(self.now, frame);
        self.drain();
    }

    /// Acts as the application: `action` picks what, `arg` how.
    fn act(&mut self, action: u8, arg: u8) {
        let oldest = self.open.first().copied();
        match action {
            3 | 4 => {
                // Answer the oldest open call, or a channel that is not open.
                let id = match oldest {
                    Some(id) if arg & 1 == 0 => id,
                    _ => match self
                        .known
                        .keys()
                        .nth(usize::from(arg) % self.known.len().max(1))
                    {
                        Some(&id) => id,
                        None => return,
                    },
                };
                let Some(&channel) = self.known.get(&id) else {
                    return;
                };
                let expected = self.open.contains(&id) && !self.closed;
                let reply = if action == 3 {
                    let payload = Payload::from(vec![arg; usize::from(arg)]);
                    Ok(Response {
                        codec: CodecId::new(1),
                        payload,
                        app_error: arg & 2 != 0,
                    })
                } else {
                    Err(Status::internal("é".repeat(usize::from(arg) * 16)))
                };
                let failed = reply.is_err();
                let answered = self.session.respond(channel, reply);
                let done = answered.is_sent();
                assert_eq!(done, expected, "respond on {id}");
                if done && failed {
                    assert_eq!(answered, Answered::Status, "a status goes out as one");
                }
                if done {
                    self.open.remove(&id);
                    self.blocked.remove(&id);
                }
            }
            0 => {
                // A stream item on the oldest open call, up to 64 KiB.
                let Some(id) = oldest else { return };
                let channel = self.known[&id];
                let len = usize::from(arg) * 257;
                let sent = if arg & 3 == 1 && self.session.packs() {
                    // Several small items in one packed frame.
                    let mut packer = Packer::default();
                    for i in 0..usize::from(arg % 7) + 1 {
                        packer.push(&Payload::from(vec![arg; i * 3]));
                    }
                    self.session.send_packed(channel, CodecId::new(1), &mut packer)
                } else {
                    self.session.send(channel, CodecId::new(1), Payload::from(vec![arg; len]))
                };
                match sent {
                    Ok(true) => {}
                    Ok(false) => assert!(self.blocked.insert(id), "Full was not reported"),
                    Err(SendError::Full) => assert!(self.blocked.contains(&id)),
                    Err(e) => assert!(self.closed, "send on an open call failed: {e}"),
                }
            }
            1 if arg & 1 == 0 => {
                let Some(id) = oldest else { return };
                let finished = self.session.finish(self.known[&id]);
                assert_eq!(finished.is_ok(), !self.closed, "finish on {id}: {finished:?}");
                self.open.remove(&id);
            }
            1 => {
                let Some(&id) = self.receiving.keys().next() else { return };
                self.session.stop_receiving(self.known[&id], Code::Cancelled);
            }
            // As a driver does when its link's writes stall or move.
            2 if arg % 8 == 5 => self.session.handle_send_stalled(self.now),
            2 if arg % 8 == 6 => self.session.handle_send_progress(),
            2 => {
                for (channel, bytes) in self.held.drain(..) {
                    self.session.release(channel, bytes);
                }
                self.held_bytes = 0;
            }
            5 if arg % 4 == 2 => {
                let lifetime = (arg & 4 != 0).then(|| Lifetime::new(step(arg)));
                self.session.confirm_reauth(self.now, lifetime);
                self.proof_pending = false;
            }
            5 if arg % 4 == 3 => {
                let within = (arg & 4 != 0).then(|| Lifetime::new(step(arg)));
                self.session.request_reauth(self.now, within);
            }
            5 => {
                if !self.closed {
                    self.pings_sent += 1;
                }
                self.session.ping(self.now);
            }
            6 => self
                .session
                .go_away(self.now, Code::Unavailable, "draining"),
            7 if arg & 1 == 0 => self.session.close(self.now, Code::Ok, "bye"),
            7 => self.session.handle_link_closed(self.now),
            _ => {}
        }
        self.drain();
    }
}

fn op() -> OpEntry {
    OpEntry {
        op: 7,
        fingerprint: 0xfeed,
        codecs: vec![1, 2],
    }
}

/// A client's HELLO (listing op 7) and its ACCEPT of the server.
fn client_handshake() -> Bytes {
    let mut wire = BytesMut::new();
    let mut hello = Hello::new(vec![op()]);
    hello.features = Features::PACKED
        .union(Features::REAUTH)
        .union(Features::DATAGRAM)
        .union(Features::METADATA);
    let hello = Payload::new(hello.encode());
    encode_frame(
        &Frame::new(FrameHeader::new(FrameKind::Hello), hello),
        &mut wire,
    );
    let accept = Payload::new(Accept::default().encode());
    encode_frame(
        &Frame::new(FrameHeader::new(FrameKind::Accept), accept),
        &mut wire,
    );
    wire.freeze()
}

fn step(exp: u8) -> Duration {
    match exp & 0x1f {
        0 => Duration::ZERO,
        k => Duration::from_micros(1 << (k - 1)),
    }
}

fuzz_target!(|data: &[u8]| {
    let [flags, n, rest @ ..] = data else { return };
    let (control, wire) = rest.split_at(usize::from(*n).min(rest.len()));
    let mut stream = Vec::with_capacity(wire.len() + 64);
    if flags & 1 != 0 {
        stream.extend_from_slice(&client_handshake());
    }
    stream.extend_from_slice(wire);

    let mut config = SessionConfig::default();
    if flags & 2 != 0 {
        config = config.with_keepalive(Some(Duration::from_secs(1)));
    }
    if flags & 4 != 0 {
        config = config.with_max_channels(4);
    }
    let now = Instant::now();
    let mut model = Model {
        session: Session::new(Role::Server, config, Hello::new(vec![]), now),
        now,
        open: BTreeSet::new(),
        receiving: BTreeMap::new(),
        blocked: BTreeSet::new(),
        held: Vec::new(),
        held_bytes: 0,
        known: BTreeMap::new(),
        last_call: 0,
        refuse: flags & 8 != 0,
        hello: false,
        accepted: false,
        established: false,
        closed: false,
        peer_goaway: false,
        pings_sent: 0,
        pongs: 0,
        proof_pending: false,
        proofs: 0,
    };
    model.drain();

    let mut decoder = FrameDecoder::default();
    let mut buf = BytesMut::new();
    let mut fed = 0;
    let mut wire_open = true;
    let pairs = (control.len() / 2).max(1);
    for i in 0..4096 {
        if i >= pairs && (fed == stream.len() || !wire_open) {
            break;
        }
        let (a, b) = match control {
            [] | [_] => (0, 0),
            _ => (
                control[(2 * i) % control.len()],
                control[(2 * i + 1) % control.len()],
            ),
        };
        model.now += step(b);
        model.timers(b >> 5 == 0);

        // 0 means "all the rest" when there are no control bytes.
        let chunk = if control.len() < 2 {
            stream.len()
        } else {
            usize::from(a) * 8
        };
        let end = (fed + chunk).min(stream.len());
        if wire_open && end > fed {
            buf.extend_from_slice(&stream[fed..end]);
            fed = end;
            loop {
                match decoder.decode(&mut buf) {
                    Ok(Some(frame)) => model.frame(frame),
                    Ok(None) => {
                        // As the driver does: part of a frame is in.
                        if !buf.is_empty() {
                            model.session.handle_partial_frame(model.now);
                            model.drain();
                        }
                        break;
                    }
                    Err(_) => {
                        wire_open = false;
                        model.session.close(
                            model.now,
                            Code::Internal,
                            "the peer sent a malformed frame",
                        );
                        model.drain();
                        break;
                    }
                }
            }
        }
        model.act(b >> 5, a);
    }
    model.session.handle_link_closed(model.now);
    model.drain();
    assert!(model.closed, "no Closed after handle_link_closed");
});
