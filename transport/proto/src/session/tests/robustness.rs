//! Random frame sequences: the session never panics and never leaks.

use std::collections::HashMap;
use std::time::Duration;

use super::*;
use crate::frame::Flags;
use crate::session::OutgoingDatagram;

const KINDS: [FrameKind; 13] = [
    FrameKind::Hello,
    FrameKind::Accept,
    FrameKind::Call,
    FrameKind::Response,
    FrameKind::Error,
    FrameKind::Cancel,
    FrameKind::Ping,
    FrameKind::Pong,
    FrameKind::GoAway,
    FrameKind::Data,
    FrameKind::Credit,
    FrameKind::Auth,
    FrameKind::Datagram,
];

fn random_frame(rng: &mut Rng) -> Frame {
    let mut header = FrameHeader::new(KINDS[rng.below(KINDS.len() as u64) as usize]);
    header.flags = Flags::from_bits(rng.next() as u8);
    header.channel = match rng.below(4) {
        0 => rng.next() as u32,
        _ => rng.below(16) as u32,
    };
    header.codec = rng.next() as u16;
    header.op = rng.next();
    header.aux = match rng.below(3) {
        0 => rng.next(),
        _ => rng.below(20_000),
    };
    let len = rng.below(24) as usize;
    let body: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
    Frame::new(header, Payload::from(body))
}

/// What one round saw happen to each channel.
#[derive(Default)]
struct Ledger {
    /// Client channels opened, and whether `cancel` was called on them.
    opened: HashMap<ChannelId, bool>,
    /// Terminal client events (response or failure) per channel.
    client_ends: HashMap<ChannelId, u32>,
    /// Server channels announced by `Event::Call`, not yet ended.
    incoming: Vec<ChannelId>,
    /// Server channel ends: a successful respond/fail, or `Cancelled`.
    server_ends: HashMap<ChannelId, u32>,
    announced: Vec<ChannelId>,
    closed: [u32; 2],
}

impl Ledger {
    /// Takes both sides' events; a HELLO is accepted, or (one time in
    /// `reject_one_in`) refused.
    fn record(&mut self, pair: &mut Pair, rng: &mut Rng, reject_one_in: u64) {
        let now = pair.now;
        for event in drain_events(&mut pair.client) {
            assert_eq!(self.closed[0], 0, "client event after Closed: {event:?}");
            match event {
                Event::Reply { channel, .. } | Event::End { channel } => {
                    *self.client_ends.entry(channel).or_default() += 1;
                }
                Event::Hello => {
                    pair.client.accept(now, Accept::default());
                }
                Event::Closed { .. } => self.closed[0] += 1,
                Event::Data { channel, chunk } => pair.client.release(channel, chunk.cost()),
                Event::Skipped { channel, held, .. } => pair.client.release(channel, held),
                Event::ReauthRequested { .. } => {
                    let _ = pair
                        .client
                        .reauthenticate(now, Payload::from(&b"proof"[..]));
                }
                Event::Opened { .. }
                | Event::Reauthenticated { .. }
                | Event::Reauthenticate { .. }
                | Event::Established
                | Event::Call { .. }
                | Event::Datagram { .. }
                | Event::Cancelled { .. }
                | Event::GoAway { .. }
                | Event::StopSending { .. }
                | Event::Writable { .. }
                | Event::Pong { .. } => {}
            }
        }
        for event in drain_events(&mut pair.server) {
            assert_eq!(self.closed[1], 0, "server event after Closed: {event:?}");
            match event {
                Event::Call { channel, .. } => {
                    self.incoming.push(channel);
                    self.announced.push(channel);
                }
                Event::Cancelled { channel, .. } => {
                    *self.server_ends.entry(channel).or_default() += 1;
                }
                Event::Hello if rng.below(reject_one_in) == 0 => {
                    pair.server.reject(now, Code::PermissionDenied, "not you");
                }
                Event::Hello => {
                    pair.server.accept(now, server_accept());
                }
                Event::Closed { .. } => self.closed[1] += 1,
                Event::Data { channel, chunk } => pair.server.release(channel, chunk.cost()),
                Event::Skipped { channel, held, .. } => pair.server.release(channel, held),
                Event::Reauthenticate { .. } => pair.server.confirm_reauth(now, None),
                Event::Opened { .. }
                | Event::Datagram { .. }
                | Event::Reauthenticated { .. }
                | Event::ReauthRequested { .. }
                | Event::Established
                | Event::Reply { .. }
                | Event::End { .. }
                | Event::StopSending { .. }
                | Event::Writable { .. }
                | Event::GoAway { .. }
                | Event::Pong { .. } => {}
            }
        }
    }
}

/// Drives a pair with random actions and injected random frames, and
/// checks that every call ends exactly once on each side.
#[test]
fn random_frames_and_actions_never_panic_and_end_every_call_once() {
    let mut rng = Rng(0x1234_5678_9abc_def1);
    for round in 0..400 {
        let keepalive = Some(Duration::from_millis(50));
        let config = SessionConfig::default()
            .with_keepalive(keepalive)
            .with_max_channels(4);
        let mut pair = Pair::new(config.clone(), config);
        let mut ledger = Ledger::default();
        for _ in 0..80 {
            let now = pair.now;
            match rng.below(40) {
                0 => pair.client.handle_frame(now, random_frame(&mut rng)),
                1 => pair.server.handle_frame(now, random_frame(&mut rng)),
                2..=9 => {
                    let deadline =
                        (rng.below(2) == 0).then(|| Duration::from_millis(rng.below(100)));
                    if let Ok(channel) = pair.client.open_call(now, outgoing(b"req", deadline)) {
                        ledger.opened.insert(channel, false);
                    }
                }
                10..=19 if !ledger.incoming.is_empty() => {
                    let at = rng.below(ledger.incoming.len() as u64) as usize;
                    let channel = ledger.incoming.swap_remove(at);
                    let reply = match rng.below(3) {
                        0 => failed(Code::Internal, "x"),
                        1 => Ok(Response::app_error(CodecId::new(1), Payload::empty())),
                        _ => ok(1, b""),
                    };
                    let ended = pair.server.respond(channel, reply).is_sent();
                    if ended {
                        *ledger.server_ends.entry(channel).or_default() += 1;
                    }
                }
                20..=21 => {
                    let channel = ChannelId(rng.below(40) as u32);
                    pair.client.cancel(channel);
                    if let Some(cancelled) = ledger.opened.get_mut(&channel) {
                        *cancelled = true;
                    }
                }
                22..=26 => pair.advance(Duration::from_millis(rng.below(80))),
                27 => pair.client.ping(now),
                28 if rng.below(4) == 0 => pair.server.go_away(now, Code::Unavailable, "bye"),
                29 if rng.below(8) == 0 => pair.client.close(now, Code::Cancelled, "bye"),
                30 => {
                    let _ = pair
                        .client
                        .reauthenticate(now, Payload::from(&b"proof"[..]));
                }
                31 => pair.server.request_reauth(now, None),
                32 => {
                    let datagram = OutgoingDatagram {
                        op: 7,
                        codec: CodecId::new(1),
                        payload: Payload::from(&b"fire"[..]),
                    };
                    let _ = pair.client.send_datagram(now, datagram);
                }
                _ => pair.pump(),
            }
            ledger.record(&mut pair, &mut rng, 20);
        }
        pair.pump();
        for session in [&mut pair.client, &mut pair.server] {
            session.handle_link_closed(pair.now);
            assert!(session.is_closed(), "round {round}");
            assert_eq!(session.open_channels(), 0, "round {round}");
            assert_eq!(session.poll_timeout(), None, "round {round}");
        }
        ledger.record(&mut pair, &mut rng, 20);
        assert_eq!(ledger.closed, [1, 1], "round {round}");
        for (channel, cancelled) in &ledger.opened {
            let ends = ledger.client_ends.get(channel).copied().unwrap_or(0);
            let expected = if *cancelled { ends <= 1 } else { ends == 1 };
            assert!(
                expected,
                "round {round}: client {channel} ended {ends} times"
            );
        }
        for channel in &ledger.announced {
            let ends = ledger.server_ends.get(channel).copied().unwrap_or(0);
            assert_eq!(
                ends, 1,
                "round {round}: server {channel} ended {ends} times"
            );
        }
    }
}

#[test]
fn unknown_frame_kinds_never_reach_the_session() {
    let mut bytes = FrameHeader::new(FrameKind::Ping).encode(0);
    for kind in [0u8, 14, 255] {
        bytes[0] = kind;
        let decoded = FrameHeader::decode(&bytes, 1024);
        assert_eq!(decoded, Err(crate::frame::FrameError::UnknownKind { kind }));
    }
}

#[test]
fn sessions_can_move_between_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<Session>();
    assert_send_sync::<Event>();
    assert_send_sync::<SessionError>();
}
