//! Channel limits and channel id rules.

use std::time::Instant;

use super::*;
use crate::session::OpenError;

#[test]
fn calls_above_max_channels_get_resource_exhausted_while_others_succeed() {
    let server_config = SessionConfig::default().with_max_channels(3);
    let mut pair = Pair::connected_with(SessionConfig::default(), server_config);
    // The client honours the server's advertised limit itself…
    for _ in 0..3 {
        pair.call(b"req", None);
    }
    let refused = pair.client.open_call(pair.now, outgoing(b"req", None));
    assert_eq!(refused, Err(OpenError::TooManyChannels { limit: 3 }));
    pair.pump();
    let incoming: Vec<ChannelId> = pair
        .server_events()
        .iter()
        .filter_map(|e| match e {
            Event::Call { channel, .. } => Some(*channel),
            _ => None,
        })
        .collect();
    assert_eq!(incoming.len(), 3);
    // …and a peer that does not is refused per call, connection intact.
    pair.server
        .handle_frame(pair.now, raw(FrameKind::Call, 101, 0, b"extra"));
    let refusal = pair.server.poll_transmit();
    let header = refusal
        .as_ref()
        .map(|f| (f.header.kind, f.header.channel, f.header.aux));
    assert_eq!(
        header,
        Some((FrameKind::Error, 101, Code::ResourceExhausted as u64))
    );
    assert!(pair.server_events().is_empty() && !pair.server.is_closed());
    for channel in incoming {
        assert!(pair.server.respond(channel, ok(1, b"ok")).is_sent());
    }
    pair.pump();
    assert_eq!(pair.client_events().len(), 3);
    // The slots are free again.
    pair.server
        .handle_frame(pair.now, raw(FrameKind::Call, 103, 0, b"next"));
    assert!(matches!(
        pair.server_events().as_slice(),
        [Event::Call { .. }]
    ));
}

#[test]
fn server_refuses_over_limit_calls_from_the_pair() {
    // Server limit 1, but the client believes 2 (raised after handshake):
    // the second call is refused by the server, the first succeeds.
    let server_config = SessionConfig::default().with_max_channels(1);
    let mut pair = Pair::connected_with(SessionConfig::default(), server_config);
    if let Some(peer) = pair.client.peer.as_mut() {
        peer.hello.max_channels = 2;
    }
    let first = pair.call(b"a", None);
    let second = pair.call(b"b", None);
    pair.pump();
    let events = pair.client_events();
    assert_eq!(
        events.iter().map(failure).collect::<Vec<_>>(),
        [Some((second, Code::ResourceExhausted))],
        "{events:?}"
    );
    assert!(pair.server.respond(first, ok(1, b"")).is_sent());
    pair.pump();
    let events = pair.client_events();
    assert!(events.len() == 1 && is_response(&events[0]), "{events:?}");
}

#[test]
fn wrong_parity_channel_is_a_protocol_error() {
    let mut server = established_server();
    server.handle_frame(Instant::now(), raw(FrameKind::Call, 2, 0, b""));
    assert_protocol_error(&drain_events(&mut server));
    let goaway = drain_frames(&mut server).pop();
    assert_eq!(
        goaway.map(|f| (f.header.kind, f.header.aux)),
        Some((FrameKind::GoAway, 0))
    );
}

#[test]
fn channel_zero_is_a_protocol_error() {
    let mut server = established_server();
    server.handle_frame(Instant::now(), raw(FrameKind::Call, 0, 0, b""));
    assert_protocol_error(&drain_events(&mut server));
}

#[test]
fn non_increasing_channel_id_is_a_protocol_error() {
    let mut server = established_server();
    let now = Instant::now();
    server.handle_frame(now, raw(FrameKind::Call, 5, 0, b""));
    server.handle_frame(now, raw(FrameKind::Call, 3, 0, b""));
    let events = drain_events(&mut server);
    assert!(matches!(events.first(), Some(Event::Call { .. })));
    // The open call is cancelled as the session closes.
    assert!(events.contains(&Event::Cancelled {
        channel: ChannelId(5),
        code: Code::Unavailable
    }));
    assert_protocol_error(&events);
    // GOAWAY tells the client which calls were taken.
    let goaway = drain_frames(&mut server).pop();
    assert_eq!(
        goaway.map(|f| (f.header.kind, f.header.aux)),
        Some((FrameKind::GoAway, 5))
    );
}

#[test]
fn reused_channel_id_is_a_protocol_error() {
    let mut server = established_server();
    let now = Instant::now();
    server.handle_frame(now, raw(FrameKind::Call, 1, 0, b""));
    server.handle_frame(now, raw(FrameKind::Call, 1, 0, b""));
    assert_protocol_error(&drain_events(&mut server));
}

#[test]
fn reply_on_a_channel_never_opened_is_a_protocol_error() {
    let mut pair = Pair::connected();
    pair.call(b"", None); // channel 1
    pair.client
        .handle_frame(pair.now, raw(FrameKind::Response, 3, 0, b""));
    assert_protocol_error(&pair.client_events());
}

#[test]
fn reply_on_the_peers_parity_is_a_protocol_error() {
    let mut pair = Pair::connected();
    pair.client
        .handle_frame(pair.now, raw(FrameKind::Error, 2, 13, b"nope"));
    assert_protocol_error(&pair.client_events());
}

#[test]
fn late_error_on_a_finished_channel_is_ignored() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"", None);
    pair.client.cancel(channel);
    pair.client
        .handle_frame(pair.now, raw(FrameKind::Error, channel.get(), 1, b"late"));
    pair.client.handle_frame(
        pair.now,
        raw(FrameKind::Response, channel.get(), 0, b"late"),
    );
    assert!(pair.client_events().is_empty() && !pair.client.is_closed());
}

#[test]
fn cancel_for_a_channel_never_opened_is_a_protocol_error() {
    let mut server = established_server();
    server.handle_frame(Instant::now(), raw(FrameKind::Cancel, 9, 0, b""));
    assert_protocol_error(&drain_events(&mut server));
}

#[test]
fn channel_ids_never_wrap() {
    let mut pair = Pair::connected();
    pair.client.channels.skip_local_to(u32::MAX);
    let last = pair.call(b"", None);
    assert_eq!(last.get(), u32::MAX);
    let refused = pair.client.open_call(pair.now, outgoing(b"", None));
    assert_eq!(refused, Err(OpenError::ChannelIdsExhausted));
    pair.pump();
    assert!(pair.server.respond(last, ok(1, b"")).is_sent());
    pair.pump();
    assert_eq!(pair.client_events().len(), 1);
}
