//! Broken stream frames from a raw peer: each is a typed connection error
//! (or, for an oversized message, a typed channel error), never buffered.

use super::streams::open_stream;
use super::*;
use crate::frame::Flags;

/// A DATA frame on `channel` with `flags`, `aux` and `len` bytes.
fn data(channel: u32, flags: Flags, aux: u64, len: usize) -> Frame {
    let mut header = FrameHeader::new(FrameKind::Data);
    header.channel = channel;
    header.flags = flags;
    header.codec = 1;
    header.aux = aux;
    Frame::new(header, Payload::from(vec![0u8; len]))
}

/// A server whose client opened stream 1, with the given limits.
fn server_with_stream(config: SessionConfig) -> Session {
    let now = Instant::now();
    let mut server = Session::new(Role::Server, config, Hello::default(), now);
    server.handle_frame(now, hello_frame(&hello()));
    drain_events(&mut server);
    assert!(server.accept(now, server_accept()));
    server.handle_frame(now, accept_frame(&Accept::default()));
    client_opens(&mut server, 1);
    drain_frames(&mut server);
    let events = drain_events(&mut server);
    assert!(
        matches!(
            events[..],
            [Event::Established, Event::Call { open: true, .. }]
        ),
        "{events:?}"
    );
    server
}

/// The client opens stream `id` (a CALL with `OPEN`).
fn client_opens(server: &mut Session, id: u32) {
    let mut call = raw(FrameKind::Call, id, 0, b"");
    call.header.flags = Flags::OPEN;
    server.handle_frame(Instant::now(), call);
}

/// What each of `ids` may still have had in flight when it finished here
/// (a window's worth and a largest chunk) arrives, and is discarded: no
/// event, and the session goes on.
fn late_data_is_discarded(server: &mut Session, ids: &[u32]) {
    let late = ids.iter().flat_map(|&id| {
        [
            data(id, Flags::NONE, 0, 900),
            data(id, Flags::NONE, 0, 1024),
        ]
    });
    let events = feed(server, late);
    assert!(events.is_empty(), "{events:?}");
    assert!(!server.is_closed());
}

fn feed(server: &mut Session, frames: impl IntoIterator<Item = Frame>) -> Vec<Event> {
    for frame in frames {
        server.handle_frame(Instant::now(), frame);
    }
    drain_events(server)
}

fn assert_flow_error(events: &[Event], on: u32) {
    match events.last() {
        Some(Event::Closed {
            error: Some(SessionError::FlowControl { channel, .. }),
        }) if *channel == on => {}
        other => panic!("expected a flow-control close on {on}, got {other:?} in {events:?}"),
    }
}

#[test]
fn data_beyond_the_channel_window_is_a_flow_control_error() {
    let mut server = server_with_stream(SessionConfig::default().with_windows(1000, 1 << 20));
    // 967 bytes and a 32-byte header leave one byte of credit: a
    // 1024-byte frame may start.
    let events = feed(
        &mut server,
        [data(1, Flags::NONE, 0, 967), data(1, Flags::NONE, 0, 1024)],
    );
    assert_eq!(events.len(), 2, "{events:?}");
    let events = feed(&mut server, [data(1, Flags::NONE, 0, 0)]);
    assert_flow_error(&events, 1);
    let goaway = drain_frames(&mut server).pop().expect("a goaway");
    assert_eq!(goaway.header.kind, FrameKind::GoAway);
    let (code, reason) = super::super::wire::parse_goaway(&goaway.payload).expect("parses");
    assert_eq!(code, Code::ResourceExhausted);
    assert!(reason.contains("flow control"), "{reason}");
}

#[test]
fn a_window_bounds_how_many_tiny_frames_wait() {
    // One-byte items cost 33 bytes each (the header counts): a 3300-byte
    // window takes 100 of them, not 3300.
    let mut server = server_with_stream(SessionConfig::default().with_windows(3300, 1 << 20));
    let events = feed(&mut server, (0..100).map(|_| data(1, Flags::NONE, 0, 1)));
    assert_eq!(events.len(), 100, "{events:?}");
    assert!(!server.is_closed());
    let events = feed(&mut server, [data(1, Flags::NONE, 0, 1)]);
    assert_flow_error(&events, 1);
}

#[test]
fn data_beyond_the_connection_window_is_a_flow_control_error() {
    let config = SessionConfig::default().with_windows(1 << 20, 3000);
    let mut server = server_with_stream(config);
    let mut second = raw(FrameKind::Call, 3, 0, b"");
    second.header.flags = Flags::OPEN;
    let events = feed(
        &mut server,
        [
            second,
            data(1, Flags::NONE, 0, 2000),
            data(3, Flags::NONE, 0, 2000),
        ],
    );
    assert!(!server.is_closed(), "{events:?}");
    let events = feed(&mut server, [data(1, Flags::NONE, 0, 1)]);
    assert_flow_error(&events, 0);
}

#[test]
fn a_peer_that_ignores_credit_is_cut_off_without_buffering() {
    let mut server = server_with_stream(SessionConfig::default().with_windows(4096, 8192));
    let mut delivered = 0usize;
    for _ in 0..1000 {
        server.handle_frame(Instant::now(), data(1, Flags::NONE, 0, 1024));
        for event in drain_events(&mut server) {
            if let Event::Data { chunk, .. } = event {
                delivered += chunk.payload.len();
            }
        }
        if server.is_closed() {
            break;
        }
    }
    assert!(server.is_closed());
    assert!(delivered <= 4096 + 1024, "{delivered} bytes taken");
}

#[test]
fn credit_beyond_a_window_is_a_flow_control_error() {
    let mut pair = Pair::connected();
    let channel = open_stream(&mut pair);
    pair.pump();
    let mut credit = FrameHeader::new(FrameKind::Credit);
    credit.channel = channel.get();
    credit.aux = 1;
    pair.client.handle_frame(pair.now, Frame::empty(credit));
    assert_flow_error(&pair.client_events(), channel.get());

    let mut pair = Pair::connected();
    let mut credit = FrameHeader::new(FrameKind::Credit);
    credit.aux = u64::MAX;
    pair.client.handle_frame(pair.now, Frame::empty(credit));
    assert_flow_error(&pair.client_events(), 0);
}

#[test]
fn data_after_end_is_a_protocol_error() {
    let mut server = server_with_stream(SessionConfig::default());
    let events = feed(&mut server, [data(1, Flags::END, 0, 0)]);
    assert_eq!(
        events,
        [Event::End {
            channel: ChannelId(1)
        }]
    );
    assert_protocol_error(&feed(&mut server, [data(1, Flags::NONE, 0, 4)]));
}

#[test]
fn data_on_a_unary_request_is_a_protocol_error() {
    let mut server = established_server();
    server.handle_frame(Instant::now(), raw(FrameKind::Call, 1, 0, b"whole"));
    drain_events(&mut server);
    assert_protocol_error(&feed(&mut server, [data(1, Flags::NONE, 0, 4)]));
}

#[test]
fn data_on_a_channel_never_opened_is_a_protocol_error() {
    for channel in [0, 5, 2] {
        let mut server = server_with_stream(SessionConfig::default());
        assert_protocol_error(&feed(&mut server, [data(channel, Flags::NONE, 0, 4)]));
    }
}

#[test]
fn a_second_first_chunk_while_one_is_pending_is_a_protocol_error() {
    let mut server = server_with_stream(SessionConfig::default());
    let events = feed(&mut server, [data(1, Flags::MORE, 100, 10)]);
    assert_eq!(events.len(), 1);
    assert_protocol_error(&feed(&mut server, [data(1, Flags::MORE, 100, 10)]));
}

#[test]
fn chunks_must_add_up_to_the_stated_total() {
    let cases: [&[(Flags, u64, usize)]; 7] = [
        // The last chunk stops short.
        &[(Flags::MORE, 100, 10), (Flags::NONE, 0, 10)],
        // The chunks overshoot.
        &[(Flags::MORE, 100, 10), (Flags::MORE, 0, 95)],
        // A continuation that fills the total yet says more follow.
        &[(Flags::MORE, 100, 10), (Flags::MORE, 0, 90)],
        // An empty continuation (any number would fit the total).
        &[(Flags::MORE, 100, 10), (Flags::MORE, 0, 0)],
        // A first chunk that already fills its total.
        &[(Flags::MORE, 10, 10)],
        // A whole message stating a total.
        &[(Flags::NONE, 10, 10)],
        // END inside a message.
        &[(Flags::MORE, 100, 10), (Flags::END, 0, 0)],
    ];
    for frames in cases {
        let mut server = server_with_stream(SessionConfig::default());
        let frames = frames
            .iter()
            .map(|&(flags, aux, len)| data(1, flags, aux, len));
        assert_protocol_error(&feed(&mut server, frames));
    }
}

#[test]
fn end_with_a_payload_and_app_errors_or_opens_from_the_caller_are_protocol_errors() {
    for (flags, len) in [
        (Flags::END, 3),
        (Flags::APP_ERROR, 3),
        (Flags::OPEN, 0),
        (Flags::SKIPPED, 0),
    ] {
        let mut server = server_with_stream(SessionConfig::default());
        assert_protocol_error(&feed(&mut server, [data(1, flags, 0, len)]));
    }
}

#[test]
fn a_chunk_over_the_chunk_limit_is_a_protocol_error() {
    let mut server = server_with_stream(SessionConfig::default().with_max_chunk(1024));
    assert_protocol_error(&feed(&mut server, [data(1, Flags::NONE, 0, 1025)]));
    let mut server = server_with_stream(SessionConfig::default().with_max_chunk(1024));
    let mut call = raw(FrameKind::Call, 3, 0, b"");
    call.payload = Payload::from(vec![0u8; 1025]);
    assert_protocol_error(&feed(&mut server, [call]));
}

#[test]
fn a_total_beyond_max_message_fails_the_channel_not_the_session() {
    let mut server = server_with_stream(SessionConfig::default().with_max_message(1000));
    let events = feed(&mut server, [data(1, Flags::MORE, 1001, 10)]);
    assert_eq!(
        events,
        [Event::Cancelled {
            channel: ChannelId(1),
            code: Code::ResourceExhausted
        }]
    );
    let error = drain_frames(&mut server)
        .into_iter()
        .find(|f| f.header.kind == FrameKind::Error);
    let error = error.expect("an error frame");
    let message = super::super::wire::parse_message(&error.payload);
    assert!(
        message.contains("1001") && message.contains("1000"),
        "{message}"
    );
    // The rest of the message is dropped unparsed; the session goes on.
    let events = feed(
        &mut server,
        [data(1, Flags::MORE, 0, 10), data(1, Flags::NONE, 0, 981)],
    );
    assert_eq!(events, []);
    assert!(!server.is_closed());
}

#[test]
fn a_response_total_beyond_max_message_fails_the_call_with_a_typed_status() {
    let client = SessionConfig::default()
        .with_max_message(1000)
        .with_max_chunk(512);
    let server = SessionConfig::default().with_max_chunk(512);
    let mut pair = Pair::connected_with(client, server);
    let channel = pair.call(b"q", None);
    pair.pump();
    pair.server_events();
    // The server believes the client's limit; a raw frame does not.
    let mut first = raw(FrameKind::Data, channel.get(), 5000, b"");
    first.header.flags = Flags::MORE;
    first.payload = Payload::from(vec![1u8; 512]);
    pair.client.handle_frame(pair.now, first);
    let events = pair.client_events();
    assert_eq!(
        events.iter().map(failure).collect::<Vec<_>>(),
        [Some((channel, Code::ResourceExhausted))]
    );
    let cancel = drain_frames(&mut pair.client)
        .into_iter()
        .find(|f| f.header.kind == FrameKind::Cancel);
    assert_eq!(
        cancel.map(|f| f.header.aux),
        Some(u64::from(Code::ResourceExhausted.as_u16()))
    );
}

#[test]
fn stream_frames_before_the_handshake_are_protocol_errors() {
    for kind in [FrameKind::Data, FrameKind::Credit] {
        let now = Instant::now();
        let mut server = Session::new(
            Role::Server,
            SessionConfig::default(),
            Hello::default(),
            now,
        );
        server.handle_frame(now, hello_frame(&hello()));
        drain_events(&mut server);
        server.handle_frame(now, raw(kind, 1, 0, b""));
        assert_protocol_error(&drain_events(&mut server));
    }
}

#[test]
fn open_and_skipped_markers_carry_nothing_else() {
    let cases = [
        (Flags::OPEN, 0, 3),
        (Flags::OPEN.with(Flags::MORE), 0, 0),
        (Flags::SKIPPED, 0, 0),
        (Flags::SKIPPED, 5, 2),
        (Flags::SKIPPED.with(Flags::END), 5, 0),
    ];
    for (flags, aux, len) in cases {
        let mut pair = Pair::connected();
        let channel = pair.call(b"q", None);
        pair.pump();
        let mut frame = data(channel.get(), flags, aux, len);
        frame.header.codec = 0;
        pair.client.handle_frame(pair.now, frame);
        assert_protocol_error(&pair.client_events());
    }
}

/// Windows of 1000 bytes and chunks of at most 1024.
fn small_windows() -> SessionConfig {
    let mut config = SessionConfig::default().with_windows(1000, 1 << 20);
    config.max_chunk = 1024;
    config
}

#[test]
fn data_past_the_credit_of_a_finished_channel_is_a_flow_control_error() {
    let mut server = server_with_stream(small_windows());
    // The server answers while the request stream is still open: the
    // channel finishes here, and what the client still sends within the
    // credit it held (1000 bytes, and one frame past it) is discarded.
    assert!(server.respond(ChannelId(1), ok(2, b"done")).is_sent());
    drain_frames(&mut server);
    drain_events(&mut server);
    let in_credit = (0..4).map(|_| data(1, Flags::NONE, 0, 400));
    let events = feed(
        &mut server,
        in_credit.chain([data(1, Flags::NONE, 0, 1024)]),
    );
    assert!(events.is_empty(), "{events:?}");
    assert!(!server.is_closed());
    // 2,784 bytes of 1000 + 1,056: nothing more may start.
    let events = feed(&mut server, [data(1, Flags::NONE, 0, 8)]);
    assert_flow_error(&events, 1);
}

#[test]
fn data_after_a_reply_is_a_flow_control_error() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"question", None);
    pair.pump();
    pair.server_events();
    pair.server.respond(channel, ok(1, b"answer"));
    pair.pump();
    assert!(matches!(pair.client_events()[..], [Event::Reply { .. }]));
    // The callee's answer was its last word on the channel: nothing it
    // sends there afterwards was ever in flight, so none is discarded.
    let events = feed(&mut pair.client, [data(channel.get(), Flags::NONE, 0, 8)]);
    assert_flow_error(&events, channel.get());
}

#[test]
fn each_finished_channel_may_overdraw_by_a_frame() {
    let mut server = server_with_stream(small_windows());
    client_opens(&mut server, 3);
    drain_events(&mut server);
    // Both streams are answered (or cancelled) while the client has a
    // window's worth and a largest chunk in flight on each.
    for id in [1, 3] {
        assert!(server.respond(ChannelId(id), ok(2, b"done")).is_sent());
    }
    drain_frames(&mut server);
    late_data_is_discarded(&mut server, &[1, 3]);
}

#[test]
fn channels_that_finish_and_open_again_may_have_more_than_a_table_in_flight() {
    let mut config = small_windows();
    config.max_channels = 2;
    let mut server = server_with_stream(config);
    client_opens(&mut server, 3);
    // Two rounds of two streams, each answered while the client has its
    // whole window and a largest chunk in flight: twice the table of two
    // channels, well within the connection's window.
    for id in [1, 3] {
        assert!(server.respond(ChannelId(id), ok(2, b"done")).is_sent());
    }
    client_opens(&mut server, 5);
    client_opens(&mut server, 7);
    for id in [5, 7] {
        assert!(server.respond(ChannelId(id), ok(2, b"done")).is_sent());
    }
    drain_frames(&mut server);
    drain_events(&mut server);
    late_data_is_discarded(&mut server, &[1, 3, 5, 7]);
}

#[test]
fn credit_released_after_a_stop_is_not_granted_again() {
    let mut server = server_with_stream(SessionConfig::default().with_windows(1000, 1 << 20));
    // 500 bytes (532 of credit) arrive before the stop...
    let events = feed(&mut server, [data(1, Flags::NONE, 0, 500)]);
    assert!(matches!(events[..], [Event::Data { .. }]), "{events:?}");
    server.stop_receiving(ChannelId(1), Code::Cancelled);
    // ...and are consumed after it: no CREDIT goes out, so the client
    // still holds only the 468 it had.
    server.release(ChannelId(1), 532);
    drain_frames(&mut server);
    drain_events(&mut server);
    let events = feed(&mut server, [data(1, Flags::NONE, 0, 436)]);
    assert!(events.is_empty(), "{events:?}");
    let events = feed(&mut server, [data(1, Flags::NONE, 0, 8)]);
    assert_flow_error(&events, 1);
}

#[test]
fn data_past_the_window_of_a_stopped_channel_is_a_flow_control_error() {
    let mut server = server_with_stream(SessionConfig::default().with_windows(1000, 1 << 20));
    server.stop_receiving(ChannelId(1), Code::Cancelled);
    drain_frames(&mut server);
    drain_events(&mut server);
    // Discarded within the window, and the window is never given back.
    let events = feed(&mut server, [data(1, Flags::NONE, 0, 900)]);
    assert!(events.is_empty(), "{events:?}");
    let events = feed(
        &mut server,
        [data(1, Flags::NONE, 0, 900), data(1, Flags::NONE, 0, 8)],
    );
    assert_flow_error(&events, 1);
}
