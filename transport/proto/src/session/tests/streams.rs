//! Streams: each direction, half-close, stop-sending, chunked messages and
//! the scheduler's order.

use super::*;
use crate::frame::Flags;
use crate::session::{Chunk, OutgoingStream, Reassembler, SendError};

/// Opens a stream of op 7 with codec 1.
pub(super) fn open_stream(pair: &mut Pair) -> ChannelId {
    let stream = OutgoingStream {
        op: 7,
        codec: CodecId::new(1),
        deadline: None,
        priority: Priority::DEFAULT,
        metadata: Metadata::new(),
    };
    match pair.client.open_stream(pair.now, stream) {
        Ok(channel) => channel,
        Err(e) => panic!("open_stream failed: {e}"),
    }
}

/// The whole messages in `events` for `channel`, reassembled, with their
/// credit released on `session` as a consumer would.
pub(super) fn consume(session: &mut Session, events: &[Event], channel: ChannelId) -> Vec<Vec<u8>> {
    let mut messages = Reassembler::default();
    let mut out = Vec::new();
    for event in events {
        let Event::Data { channel: on, chunk } = event else {
            continue;
        };
        if *on != channel {
            continue;
        }
        let pushed = messages
            .push(chunk.clone(), u64::MAX)
            .expect("within limits");
        session.release(channel, pushed.release);
        let packed = std::iter::from_fn(|| messages.pop());
        for message in pushed.message.into_iter().chain(packed) {
            session.release(channel, message.held);
            out.push(message.payload.to_vec());
        }
    }
    out
}

fn bytes(n: usize, seed: u8) -> Payload {
    Payload::from(
        (0..n)
            .map(|i| (i as u8).wrapping_mul(31) ^ seed)
            .collect::<Vec<u8>>(),
    )
}

#[test]
fn server_stream_items_then_end() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"filter", None);
    pair.pump();
    let events = pair.server_events();
    assert!(matches!(events[..], [Event::Call { open: false, .. }]));
    for item in [&b"a"[..], b"bb", b""] {
        let sent = pair
            .server
            .send(channel, CodecId::new(1), Payload::from(item));
        assert_eq!(sent, Ok(true));
    }
    assert_eq!(pair.server.finish(channel), Ok(()));
    assert_eq!(
        pair.server.open_channels(),
        0,
        "the callee's end ends the channel"
    );
    pair.pump();
    let events = pair.client_events();
    let items = consume(&mut pair.client, &events, channel);
    assert_eq!(items, [b"a".to_vec(), b"bb".to_vec(), Vec::new()]);
    assert_eq!(events.last(), Some(&Event::End { channel }));
    assert_eq!(pair.client.open_channels(), 0);
}

#[test]
fn the_callee_can_open_its_stream_before_any_message() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"subscribe", None);
    pair.pump();
    pair.server_events();
    assert!(pair.server.open_response(channel));
    assert!(
        !pair.client.open_response(channel),
        "only a callee opens a response"
    );
    pair.pump();
    assert_eq!(pair.client_events(), [Event::Opened { channel }]);
    pair.server
        .send(channel, CodecId::new(1), Payload::from(&b"tick"[..]))
        .unwrap();
    pair.server.finish(channel).unwrap();
    pair.pump();
    let events = pair.client_events();
    assert_eq!(
        consume(&mut pair.client, &events, channel),
        [b"tick".to_vec()]
    );
    assert!(!pair.server.open_response(channel), "the channel is over");
}

#[test]
fn a_large_answer_waits_behind_a_message_still_pending() {
    let client = SessionConfig::default().with_windows(64 << 10, 1 << 20);
    let mut pair = Pair::connected_with(client, SessionConfig::default());
    let channel = pair.call(b"subscribe", None);
    pair.pump();
    pair.server_events();
    // More than the caller's window: it waits in part.
    let item = Payload::from(vec![1u8; 200_000]);
    assert_eq!(pair.server.send(channel, CodecId::new(1), item), Ok(false));
    // The handler answers with a response too large for one frame.
    let answer = Response::new(CodecId::new(1), Payload::from(vec![2u8; 100_000]));
    assert_eq!(
        pair.server.respond(channel, Ok(answer)),
        crate::session::Answered::Response
    );
    let mut events = Vec::new();
    for _ in 0..100 {
        pair.pump();
        let more = pair.client_events();
        if more.is_empty() {
            break;
        }
        consume(&mut pair.client, &more, channel);
        events.extend(more);
    }
    let mut messages = Reassembler::default();
    let mut got = Vec::new();
    for event in &events {
        if let Event::Data { chunk, .. } = event
            && let Some(message) = messages.push(chunk.clone(), u64::MAX).unwrap().message
        {
            got.push(message.payload.to_vec());
        }
    }
    assert_eq!(got, [vec![1u8; 200_000], vec![2u8; 100_000]]);
    assert_eq!(events.last(), Some(&Event::End { channel }));
    assert_eq!(pair.server.open_channels(), 0);
}

#[test]
fn a_stream_opens_once() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"subscribe", None);
    pair.pump();
    pair.server_events();
    assert!(pair.server.open_response(channel));
    assert!(!pair.server.open_response(channel), "open already");
    pair.pump();
    assert_eq!(pair.client_events(), [Event::Opened { channel }]);
    // A peer that opens again (each OPEN would be one more event queued
    // for the reader, its credit back at once) breaks the protocol.
    let mut again = FrameHeader::new(FrameKind::Data);
    again.channel = channel.get();
    again.flags = crate::frame::Flags::OPEN;
    pair.client
        .handle_frame(pair.now, Frame::new(again, Payload::empty()));
    assert_protocol_error(&pair.client_events());
}

#[test]
fn an_open_waits_for_connection_credit_then_goes_first() {
    // The caller's connection window takes a few small messages.
    let client = SessionConfig::default().with_windows(1 << 10, 1 << 10);
    let mut pair = Pair::connected_with(client, SessionConfig::default());
    let busy = pair.call(b"subscribe", None);
    let quiet = pair.call(b"subscribe", None);
    pair.pump();
    pair.server_events();
    // The caller reads nothing of the busy stream, which uses up the
    // connection's credit.
    while pair
        .server
        .send(busy, CodecId::new(1), Payload::from(vec![1; 100]))
        == Ok(true)
    {}
    pair.pump();
    let held = pair.client_events();
    assert!(
        pair.server.open_response(quiet),
        "the open is queued, not lost"
    );
    assert!(!pair.server.is_writable(quiet), "nothing before the open");
    pair.pump();
    assert!(
        !pair
            .client_events()
            .contains(&Event::Opened { channel: quiet }),
        "no credit for it yet"
    );
    // Reading the busy stream gives credit back: the open goes, and the
    // quiet stream may send.
    consume(&mut pair.client, &held, busy);
    pair.pump();
    assert!(
        pair.client_events()
            .contains(&Event::Opened { channel: quiet }),
        "the caller learns its call was accepted"
    );
    assert!(
        pair.server_events()
            .contains(&Event::Writable { channel: quiet }),
        "the callee hears it may send"
    );
    assert!(pair.server.is_writable(quiet));
}

#[test]
fn skipped_markers_hold_credit_until_the_reader_takes_them() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"subscribe", None);
    pair.pump();
    pair.server_events();
    // A reader that takes nothing: the markers fill its window, as
    // messages would, and the callee has to wait.
    let mut sent = 0;
    while pair.server.skip(channel, 1) == Ok(true) {
        sent += 1;
        assert!(sent <= 1 << 20, "skipped markers never run out of credit");
        if sent % 64 == 0 {
            pair.pump();
        }
    }
    pair.pump();
    let held: Vec<(ChannelId, u64)> = pair
        .client_events()
        .iter()
        .filter_map(|e| match e {
            Event::Skipped { channel, held, .. } => Some((*channel, *held)),
            _ => None,
        })
        .collect();
    assert!(held.len() >= sent, "{} markers of {sent}", held.len());
    // Taking them gives their credit back: the callee may skip again.
    for (channel, bytes) in held {
        pair.client.release(channel, bytes);
    }
    pair.pump();
    assert!(
        pair.server_events().contains(&Event::Writable { channel }),
        "the callee hears it may go on"
    );
    assert_eq!(pair.server.skip(channel, 1), Ok(true));
}

#[test]
fn skipped_items_are_reported_in_order_with_the_messages() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"subscribe", None);
    pair.pump();
    pair.server_events();
    pair.server
        .send(channel, CodecId::new(1), Payload::from(&b"1"[..]))
        .unwrap();
    assert_eq!(pair.server.skip(channel, 7), Ok(true));
    assert_eq!(pair.server.skip(channel, 0), Ok(true), "nothing to say");
    pair.server
        .send(channel, CodecId::new(1), Payload::from(&b"9"[..]))
        .unwrap();
    assert_eq!(
        pair.client.skip(channel, 1),
        Err(SendError::Ended),
        "only callees skip"
    );
    pair.pump();
    let events = pair.client_events();
    let order: Vec<String> = events
        .iter()
        .map(|e| match e {
            Event::Data { chunk, .. } => String::from_utf8_lossy(&chunk.payload).into_owned(),
            Event::Skipped { count, .. } => format!("-{count}"),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(order, ["1", "-7", "9"]);
}

#[test]
fn client_stream_half_closes_then_gets_one_response() {
    let mut pair = Pair::connected();
    let channel = open_stream(&mut pair);
    for i in 0..3u8 {
        let item = Payload::from(vec![i; 3]);
        assert_eq!(pair.client.send(channel, CodecId::new(1), item), Ok(true));
    }
    assert_eq!(pair.client.finish(channel), Ok(()));
    assert_eq!(
        pair.client.send(channel, CodecId::new(1), Payload::empty()),
        Err(SendError::Ended)
    );
    pair.pump();
    let events = pair.server_events();
    assert!(matches!(events[0], Event::Call { open: true, ref payload, .. } if payload.is_empty()));
    let items = consume(&mut pair.server, &events, channel);
    assert_eq!(items.len(), 3);
    assert_eq!(events.last(), Some(&Event::End { channel }));
    assert_eq!(
        pair.server.open_channels(),
        1,
        "a half-close keeps the channel"
    );
    pair.server.respond(channel, ok(1, b"receipt"));
    pair.pump();
    let events = pair.client_events();
    assert!(
        matches!(&events[..], [Event::Reply { reply: Ok(r), .. }] if &r.payload[..] == b"receipt")
    );
    assert_eq!(
        (pair.client.open_channels(), pair.server.open_channels()),
        (0, 0)
    );
}

#[test]
fn bidirectional_streams_interleave_and_either_side_may_finish_first() {
    let mut pair = Pair::connected();
    let channel = open_stream(&mut pair);
    pair.pump();
    pair.server_events();
    for round in 0..5u8 {
        pair.client
            .send(channel, CodecId::new(1), Payload::from(vec![round]))
            .unwrap();
        pair.pump();
        let events = pair.server_events();
        let got = consume(&mut pair.server, &events, channel);
        assert_eq!(got, [vec![round]]);
        pair.server
            .send(channel, CodecId::new(1), Payload::from(vec![round, round]))
            .unwrap();
        pair.pump();
        let events = pair.client_events();
        let got = consume(&mut pair.client, &events, channel);
        assert_eq!(got, [vec![round, round]]);
    }
    // The callee ends first: the caller's direction is over with it.
    pair.server.finish(channel).unwrap();
    pair.pump();
    assert_eq!(pair.client_events(), [Event::End { channel }]);
    assert_eq!(
        pair.client.send(channel, CodecId::new(1), Payload::empty()),
        Err(SendError::Gone)
    );
}

#[test]
fn the_callee_can_stop_the_request_direction_and_keep_answering() {
    let mut pair = Pair::connected();
    let channel = open_stream(&mut pair);
    pair.pump();
    pair.server_events();
    pair.server.stop_receiving(channel, Code::Cancelled);
    // Sent before the CANCEL arrived: discarded unparsed at the server.
    pair.client
        .send(channel, CodecId::new(1), Payload::from(&b"late"[..]))
        .unwrap();
    pair.pump();
    assert_eq!(pair.server_events(), []);
    assert_eq!(
        pair.client_events(),
        [Event::StopSending {
            channel,
            code: Code::Cancelled
        }]
    );
    assert_eq!(
        pair.client.send(channel, CodecId::new(1), Payload::empty()),
        Err(SendError::Stopped {
            code: Code::Cancelled
        })
    );
    pair.server
        .send(channel, CodecId::new(1), Payload::from(&b"still"[..]))
        .unwrap();
    pair.server.finish(channel).unwrap();
    pair.pump();
    let events = pair.client_events();
    assert_eq!(
        consume(&mut pair.client, &events, channel),
        [b"still".to_vec()]
    );
    assert_eq!(events.last(), Some(&Event::End { channel }));
}

#[test]
fn a_caller_cancel_ends_a_stream_on_both_sides() {
    let mut pair = Pair::connected();
    let channel = open_stream(&mut pair);
    pair.pump();
    pair.server_events();
    pair.client.cancel(channel);
    pair.pump();
    assert_eq!(
        pair.server_events(),
        [Event::Cancelled {
            channel,
            code: Code::Cancelled
        }]
    );
    assert_eq!(
        pair.server.send(channel, CodecId::new(1), Payload::empty()),
        Err(SendError::Gone)
    );
}

#[test]
fn large_unary_messages_travel_in_chunks_both_ways() {
    let config = SessionConfig::default().with_max_chunk(1000);
    let mut pair = Pair::connected_with(config.clone(), config);
    let request = bytes(4_500, 1);
    let call = OutgoingCall {
        op: 7,
        codec: CodecId::new(1),
        deadline: None,
        payload: request.clone(),
        priority: Priority::DEFAULT,
        metadata: Metadata::new(),
    };
    let channel = pair.client.open_call(pair.now, call).unwrap();
    pair.pump();
    let events = pair.server_events();
    assert!(matches!(events[0], Event::Call { open: true, .. }));
    let chunks = events
        .iter()
        .filter(|e| matches!(e, Event::Data { .. }))
        .count();
    assert_eq!(chunks, 5);
    assert!(matches!(
        &events[1],
        Event::Data { chunk, .. } if chunk.total == Some(4_500) && chunk.more
    ));
    assert_eq!(
        consume(&mut pair.server, &events, channel),
        [request.to_vec()]
    );
    assert_eq!(events.last(), Some(&Event::End { channel }));

    let response = bytes(2_500, 2);
    let reply = Ok(Response::app_error(CodecId::new(1), response.clone()));
    pair.server.respond(channel, reply);
    pair.pump();
    let events = pair.client_events();
    assert!(matches!(&events[0], Event::Data { chunk, .. } if chunk.app_error));
    assert_eq!(
        consume(&mut pair.client, &events, channel),
        [response.to_vec()]
    );
    assert_eq!(events.last(), Some(&Event::End { channel }));
    assert_eq!(
        (pair.client.open_channels(), pair.server.open_channels()),
        (0, 0)
    );
}

#[test]
fn a_small_call_overtakes_a_bulk_transfer_between_its_chunks() {
    let config = SessionConfig::default().with_max_chunk(1024);
    let mut pair = Pair::connected_with(config.clone(), config);
    let bulk = open_stream(&mut pair);
    pair.pump();
    assert!(
        !pair
            .client
            .send(bulk, CodecId::new(1), bytes(64 << 10, 3))
            .unwrap()
    );
    let first = pair.client.poll_transmit().expect("a chunk");
    assert_eq!(first.header.kind, FrameKind::Data);
    let small = pair.call(b"small", None);
    let next = pair.client.poll_transmit().expect("the call");
    assert_eq!(
        (next.header.kind, next.header.channel),
        (FrameKind::Call, small.get())
    );
    // Round robin between two transfers: chunks alternate.
    let other = open_stream(&mut pair);
    assert!(
        !pair
            .client
            .send(other, CodecId::new(1), bytes(8 << 10, 4))
            .unwrap()
    );
    let _call = pair
        .client
        .poll_transmit()
        .expect("the second stream's call");
    let order: Vec<u32> = (0..4)
        .map(|_| pair.client.poll_transmit().expect("a chunk").header.channel)
        .collect();
    assert_eq!(order, [bulk.get(), other.get(), bulk.get(), other.get()]);
}

#[test]
fn a_higher_priority_channel_sends_its_chunks_first_and_equals_take_turns() {
    let config = SessionConfig::default().with_max_chunk(1024);
    let mut pair = Pair::connected_with(config.clone(), config);
    let bulk = open_stream(&mut pair);
    let urgent = open_stream(&mut pair);
    let peer = open_stream(&mut pair);
    pair.pump();
    pair.client.set_priority(bulk, Priority::LOWEST);
    pair.client.set_priority(urgent, Priority::HIGHEST);
    // The bulk transfer starts first, alone: it goes at full speed.
    assert!(
        !pair
            .client
            .send(bulk, CodecId::new(1), bytes(16 << 10, 3))
            .unwrap()
    );
    let first = pair.client.poll_transmit().expect("a chunk");
    assert_eq!(first.header.channel, bulk.get());
    // An urgent message and a default one arrive: the urgent one's chunks
    // all go first, then the default one's, and the bulk waits for both.
    assert!(
        !pair
            .client
            .send(urgent, CodecId::new(1), bytes(3 << 10, 4))
            .unwrap()
    );
    assert!(
        !pair
            .client
            .send(peer, CodecId::new(1), bytes(2 << 10, 5))
            .unwrap()
    );
    let order: Vec<u32> = (0..6)
        .map(|_| pair.client.poll_transmit().expect("a chunk").header.channel)
        .collect();
    assert_eq!(
        order,
        [
            urgent.get(),
            urgent.get(),
            urgent.get(),
            peer.get(),
            peer.get(),
            bulk.get()
        ]
    );
    assert_eq!(Priority::default(), Priority::DEFAULT);
}

#[test]
fn a_full_window_blocks_the_sender_until_the_receiver_consumes() {
    let server = SessionConfig::default()
        .with_max_chunk(1024)
        .with_windows(4096, 1 << 20);
    let mut pair = Pair::connected_with(SessionConfig::default(), server);
    let channel = open_stream(&mut pair);
    let mut sent = 0;
    // 990 bytes and a 32-byte header: four fit with 8 bytes to spare.
    while pair.client.send(channel, CodecId::new(1), bytes(990, 5)) == Ok(true) {
        sent += 1;
    }
    assert_eq!(sent, 5, "four and a bit windows' worth went at once");
    assert_eq!(
        pair.client.send(channel, CodecId::new(1), Payload::empty()),
        Err(SendError::Full)
    );
    pair.pump();
    let events = pair.server_events();
    // Nothing consumed yet: the pending item stays with the sender.
    assert!(!events.iter().any(|e| matches!(e, Event::Writable { .. })));
    assert_eq!(pair.client_events(), []);
    let got = consume(&mut pair.server, &events, channel);
    assert_eq!(got.len(), 5);
    pair.pump();
    assert_eq!(pair.client_events(), [Event::Writable { channel }]);
    let events = pair.server_events();
    assert_eq!(consume(&mut pair.server, &events, channel).len(), 1);
}

#[test]
fn several_streams_within_their_windows_block_on_the_connection_window() {
    let server = SessionConfig::default()
        .with_max_chunk(1024)
        .with_windows(4096, 6000);
    let mut pair = Pair::connected_with(SessionConfig::default(), server);
    let channels: Vec<ChannelId> = (0..3).map(|_| open_stream(&mut pair)).collect();
    let mut blocked = Vec::new();
    for &channel in &channels {
        for _ in 0..3 {
            if pair.client.send(channel, CodecId::new(1), bytes(1000, 6)) != Ok(true) {
                blocked.push(channel);
                break;
            }
        }
    }
    assert!(!blocked.is_empty(), "the connection window ran out");
    pair.pump();
    let events = pair.server_events();
    let arrived = events
        .iter()
        .filter(|e| matches!(e, Event::Data { .. }))
        .count();
    assert!(
        arrived <= 7,
        "{arrived} items of 1000 bytes in a 6000-byte window"
    );
    for &channel in &channels {
        consume(&mut pair.server, &events, channel);
    }
    pair.pump();
    let writable: Vec<Event> = pair.client_events();
    assert_eq!(writable.len(), blocked.len(), "{writable:?}");
}

#[test]
fn a_message_larger_than_the_window_flows_as_its_chunks_are_copied() {
    let server = SessionConfig::default()
        .with_max_chunk(1024)
        .with_windows(2048, 4096);
    let mut pair = Pair::connected_with(SessionConfig::default(), server);
    let channel = open_stream(&mut pair);
    let big = bytes(100_000, 7);
    assert_eq!(
        pair.client.send(channel, CodecId::new(1), big.clone()),
        Ok(false)
    );
    let mut messages = Reassembler::default();
    let mut whole = None;
    for _ in 0..1000 {
        pair.pump();
        for event in pair.server_events() {
            if let Event::Data { chunk, .. } = event {
                let pushed = messages.push(chunk, 1 << 20).unwrap();
                pair.server.release(channel, pushed.release);
                whole = whole.or(pushed.message);
            }
        }
        if whole.is_some() {
            break;
        }
    }
    let message = whole.expect("the message completed");
    assert_eq!(message.payload, big);
    pair.pump();
    assert_eq!(pair.client_events(), [Event::Writable { channel }]);
}

#[test]
fn end_waits_for_credit_like_any_data() {
    let server = SessionConfig::default()
        .with_max_chunk(1024)
        .with_windows(1000, 1 << 20);
    let mut pair = Pair::connected_with(SessionConfig::default(), server);
    let channel = open_stream(&mut pair);
    assert_eq!(
        pair.client.send(channel, CodecId::new(1), bytes(1000, 8)),
        Ok(true)
    );
    pair.client.finish(channel).unwrap();
    pair.pump();
    let events = pair.server_events();
    assert!(!events.contains(&Event::End { channel }), "{events:?}");
    consume(&mut pair.server, &events, channel);
    pair.pump();
    assert_eq!(pair.server_events(), [Event::End { channel }]);
}

#[test]
fn answers_wait_behind_pending_messages_of_their_channel() {
    let config = SessionConfig::default()
        .with_max_chunk(1024)
        .with_windows(2048, 1 << 20);
    let mut pair = Pair::connected_with(config.clone(), config);
    let channel = pair.call(b"watch", None);
    pair.pump();
    pair.server_events();
    assert_eq!(
        pair.server.send(channel, CodecId::new(1), bytes(5000, 9)),
        Ok(false)
    );
    pair.server
        .respond(channel, failed(Code::Aborted, "after the item"));
    assert_eq!(
        pair.server.open_channels(),
        1,
        "open until the error is out"
    );
    let mut items = Vec::new();
    let mut ended = None;
    for _ in 0..100 {
        pair.pump();
        let events = pair.client_events();
        items.extend(consume(&mut pair.client, &events, channel));
        ended = ended.or(events.iter().find_map(failure));
        if ended.is_some() {
            break;
        }
    }
    assert_eq!(items.len(), 1, "the item went first");
    assert_eq!(ended, Some((channel, Code::Aborted)));
    assert_eq!(pair.server.open_channels(), 0);
}

#[test]
fn frames_for_finished_channels_give_their_bytes_back() {
    let server = SessionConfig::default().with_windows(1 << 20, 4096);
    let mut pair = Pair::connected_with(SessionConfig::default(), server);
    let channel = open_stream(&mut pair);
    pair.pump();
    pair.server_events();
    pair.server.respond(channel, ok(1, b"early answer"));
    // The client keeps streaming before it sees the answer: the server
    // drops those frames, yet the connection window refills.
    for _ in 0..20 {
        let sent = pair.client.send(channel, CodecId::new(1), bytes(1000, 10));
        assert_eq!(sent, Ok(true), "the connection window stays open");
        let frames = drain_frames(&mut pair.client);
        for frame in frames {
            pair.server.handle_frame(pair.now, frame);
        }
        for frame in drain_frames(&mut pair.server) {
            if frame.header.kind == FrameKind::Credit {
                pair.client.handle_frame(pair.now, frame);
            }
        }
    }
    assert!(!pair.server.is_closed(), "{:?}", pair.server_events());
}

#[test]
fn dropped_chunks_of_a_stopped_direction_never_close_the_session() {
    let mut pair = Pair::connected();
    let channel = open_stream(&mut pair);
    pair.pump();
    pair.server_events();
    pair.server.stop_receiving(channel, Code::ResourceExhausted);
    let mut frame = raw(FrameKind::Data, channel.get(), 0, b"in flight");
    frame.header.codec = 1;
    pair.server.handle_frame(pair.now, frame);
    assert_eq!(pair.server_events(), []);
    assert!(!pair.server.is_closed());
}

#[test]
fn flags_on_the_wire_follow_the_table() {
    let config = SessionConfig::default().with_max_chunk(16);
    let mut pair = Pair::connected_with(config.clone(), config);
    let channel = open_stream(&mut pair);
    pair.client
        .send(channel, CodecId::new(1), bytes(40, 11))
        .unwrap();
    pair.client.finish(channel).unwrap();
    let frames = drain_frames(&mut pair.client);
    let shape: Vec<_> = frames
        .iter()
        .map(|f| (f.header.kind, f.header.flags, f.header.aux, f.payload.len()))
        .collect();
    assert_eq!(
        shape,
        [
            (FrameKind::Call, Flags::OPEN, 0, 0),
            (FrameKind::Data, Flags::MORE, 40, 16),
            (FrameKind::Data, Flags::MORE, 0, 16),
            (FrameKind::Data, Flags::NONE, 0, 8),
            (FrameKind::Data, Flags::END, 0, 0),
        ]
    );
}

/// One side's view in the random test: messages to send per channel, and
/// chunks received but not consumed yet.
#[derive(Default)]
struct Side {
    to_send: Vec<std::collections::VecDeque<Payload>>,
    unconsumed: Vec<Vec<Chunk>>,
    assembled: Vec<Reassembler>,
    received: Vec<Vec<Payload>>,
    writable_events: usize,
    blocked_sends: usize,
}

impl Side {
    fn new(channels: usize) -> Side {
        Side {
            to_send: (0..channels).map(|_| Default::default()).collect(),
            unconsumed: vec![Vec::new(); channels],
            assembled: (0..channels).map(|_| Reassembler::default()).collect(),
            received: vec![Vec::new(); channels],
            ..Side::default()
        }
    }

    fn take_events(&mut self, session: &mut Session, ids: &[ChannelId]) {
        for event in drain_events(session) {
            match event {
                Event::Data { channel, chunk } => {
                    let at = ids.iter().position(|&id| id == channel).expect("known");
                    self.unconsumed[at].push(chunk);
                }
                Event::Writable { .. } => self.writable_events += 1,
                Event::Call { .. } => {}
                other => panic!("unexpected {other:?}"),
            }
        }
    }

    /// Consumes up to `n` chunks of channel `at`, releasing their credit.
    fn consume(&mut self, session: &mut Session, ids: &[ChannelId], at: usize, n: usize) {
        let n = n.min(self.unconsumed[at].len());
        for chunk in self.unconsumed[at].drain(..n) {
            let pushed = self.assembled[at].push(chunk, u64::MAX).expect("no limit");
            session.release(ids[at], pushed.release);
            if let Some(message) = pushed.message {
                session.release(ids[at], message.held);
                self.received[at].push(message.payload);
            }
        }
    }

    fn try_send(&mut self, session: &mut Session, ids: &[ChannelId], at: usize) {
        if !session.is_writable(ids[at]) {
            return;
        }
        if let Some(message) = self.to_send[at].pop_front() {
            match session.send(ids[at], CodecId::new(1), message) {
                Ok(true) => {}
                Ok(false) => self.blocked_sends += 1,
                Err(e) => panic!("send failed: {e}"),
            }
        }
    }

    fn done_sending(&self) -> bool {
        self.to_send.iter().all(|q| q.is_empty())
    }
}

/// Several bidirectional streams with small windows, random message sizes
/// (many larger than a chunk or a window) and random consumption: every
/// message arrives whole and in order, every blocked send is woken exactly
/// once, and once both consumers read everything no sender stays stuck.
#[test]
fn random_streams_deliver_every_message_in_order() {
    let mut rng = Rng(0xdead_beef_cafe_f00d);
    for round in 0..20 {
        let config = SessionConfig::default()
            .with_max_chunk(256 + rng.below(1024) as u32)
            .with_windows(512 + rng.below(4096) as u32, 2048 + rng.below(8192) as u32);
        let mut pair = Pair::connected_with(config.clone(), config);
        let ids: Vec<ChannelId> = (0..4).map(|_| open_stream(&mut pair)).collect();
        let mut client = Side::new(ids.len());
        let mut server = Side::new(ids.len());
        let mut expected = [Vec::new(), Vec::new()];
        for at in 0..ids.len() {
            for (side, out) in [&mut client, &mut server].into_iter().zip(&mut expected) {
                let messages: Vec<Payload> = (0..rng.below(12))
                    .map(|i| bytes(rng.below(10_000) as usize, i as u8))
                    .collect();
                side.to_send[at].extend(messages.iter().cloned());
                out.push(messages);
            }
        }
        for step in 0..200_000 {
            let at = rng.below(ids.len() as u64) as usize;
            let n = rng.below(4) as usize;
            match rng.below(6) {
                0 => client.try_send(&mut pair.client, &ids, at),
                1 => server.try_send(&mut pair.server, &ids, at),
                2 if step % 3 == 0 => client.consume(&mut pair.client, &ids, at, n),
                3 if step % 3 == 0 => server.consume(&mut pair.server, &ids, at, n),
                _ => pair.pump(),
            }
            client.take_events(&mut pair.client, &ids);
            server.take_events(&mut pair.server, &ids);
            let all_received = (0..ids.len()).all(|at| {
                client.received[at].len() == expected[1][at].len()
                    && server.received[at].len() == expected[0][at].len()
            });
            if client.done_sending() && server.done_sending() && all_received {
                break;
            }
        }
        assert_eq!(
            server.received, expected[0],
            "round {round}: client to server"
        );
        assert_eq!(
            client.received, expected[1],
            "round {round}: server to client"
        );
        assert_eq!(
            client.writable_events, client.blocked_sends,
            "round {round}"
        );
        assert_eq!(
            server.writable_events, server.blocked_sends,
            "round {round}"
        );
        assert!(!pair.client.is_closed() && !pair.server.is_closed());
    }
}
