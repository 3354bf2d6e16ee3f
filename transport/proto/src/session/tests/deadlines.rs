//! Call deadlines on both sides.

use std::time::{Duration, Instant};

use super::*;

#[test]
fn client_deadline_fails_the_call_and_cancels_it_at_the_server() {
    let quiet = SessionConfig::default().with_keepalive(None);
    let mut pair = Pair::connected_with(quiet.clone(), quiet);
    let start = pair.now;
    let channel = pair.call(b"slow", Some(Duration::from_millis(250)));
    let other = pair.call(b"no deadline", None);
    assert_eq!(
        pair.client.poll_timeout(),
        Some(start + Duration::from_millis(250))
    );
    pair.pump();
    let events = pair.server_events();
    assert!(
        matches!(events.first(), Some(Event::Call { deadline: Some(at), .. }) if *at == start + Duration::from_millis(250)),
        "{events:?}"
    );
    assert_eq!(
        pair.sent
            .iter()
            .find(|(_, h)| h.kind == FrameKind::Call)
            .map(|(_, h)| h.aux),
        Some(250_000)
    );

    pair.advance(Duration::from_millis(249));
    assert!(pair.client_events().is_empty() && pair.server_events().is_empty());
    pair.advance(Duration::from_millis(1));
    let expected = Event::Reply {
        channel,
        reply: failed(Code::DeadlineExceeded, "deadline exceeded"),
    };
    assert_eq!(pair.client_events(), [expected]);
    // Whichever fires first (the CANCEL or the server's own timer), the
    // handler is cancelled exactly once, for the deadline.
    assert_eq!(
        pair.server_events(),
        [Event::Cancelled {
            channel,
            code: Code::DeadlineExceeded
        }]
    );
    let cancel = pair
        .sent
        .iter()
        .find(|(r, h)| *r == Role::Client && h.kind == FrameKind::Cancel);
    assert_eq!(
        cancel.map(|(_, h)| (h.channel, h.aux)),
        Some((channel.get(), Code::DeadlineExceeded as u64))
    );
    assert!(!pair.server.respond(channel, ok(1, b"")).is_sent());
    // The call without a deadline is untouched; no timer remains.
    assert_eq!(
        (pair.client.open_channels(), pair.server.open_channels()),
        (1, 1)
    );
    assert_eq!(
        (pair.client.poll_timeout(), pair.server.poll_timeout()),
        (None, None)
    );
    assert!(pair.server.respond(other, ok(1, b"")).is_sent());
    pair.pump();
    assert_eq!(pair.client_events().len(), 1);
}

#[test]
fn server_deadline_cancels_the_handler_and_sends_error() {
    let mut server = established_server();
    let now = Instant::now();
    server.handle_frame(now, raw(FrameKind::Call, 1, 1_500, b"req"));
    let events = drain_events(&mut server);
    let due = now + Duration::from_micros(1_500);
    assert!(matches!(events.as_slice(), [Event::Call { deadline: Some(at), .. }] if *at == due));
    assert_eq!(server.poll_timeout(), Some(due));
    server.handle_timeout(due - Duration::from_micros(1));
    assert!(drain_events(&mut server).is_empty());
    server.handle_timeout(due);
    let channel = ChannelId(1);
    assert_eq!(
        drain_events(&mut server),
        [Event::Cancelled {
            channel,
            code: Code::DeadlineExceeded
        }]
    );
    let frames = drain_frames(&mut server);
    let [error] = frames.as_slice() else {
        panic!("{frames:?}")
    };
    assert_eq!(
        (error.header.kind, error.header.channel, error.header.aux),
        (FrameKind::Error, 1, 4)
    );
    // The client's CANCEL arriving later is ignored; so is a late reply.
    server.handle_frame(due, raw(FrameKind::Cancel, 1, 0, b""));
    assert!(!server.respond(channel, ok(1, b"")).is_sent());
    assert!(drain_events(&mut server).is_empty() && drain_frames(&mut server).is_empty());
    assert!(!server.is_closed());
}

#[test]
fn absurd_incoming_deadline_means_none() {
    let mut server = established_server();
    let now = Instant::now();
    server.handle_frame(now, raw(FrameKind::Call, 1, u64::MAX, b""));
    let events = drain_events(&mut server);
    assert!(
        matches!(events.as_slice(), [Event::Call { deadline: None, .. }]),
        "{events:?}"
    );
    // Only keepalive's timer.
    assert_eq!(server.poll_timeout(), Some(now + DEFAULT_KEEPALIVE));
}

#[test]
fn zero_deadline_expires_at_once_and_still_says_it_has_one() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"", Some(Duration::ZERO));
    pair.pump();
    // On the wire, 0 means "none", so a zero deadline is sent as 1 µs.
    assert_eq!(pair.last_sent_by(Role::Client).map(|h| h.aux), Some(1));
    pair.advance(Duration::ZERO);
    let events = pair.client_events();
    assert_eq!(
        events.iter().map(failure).collect::<Vec<_>>(),
        [Some((channel, Code::DeadlineExceeded))]
    );
}

#[test]
fn many_deadlines_fire_in_order() {
    let mut pair = Pair::connected();
    let channels: Vec<ChannelId> = (1..=50u64)
        .rev()
        .map(|ms| pair.call(b"", Some(Duration::from_millis(ms))))
        .collect();
    pair.pump();
    pair.server_events();
    pair.advance(Duration::from_millis(100));
    let failed: Vec<ChannelId> = pair
        .client_events()
        .into_iter()
        .filter_map(|e| match failure(&e) {
            Some((channel, Code::DeadlineExceeded)) => Some(channel),
            _ => None,
        })
        .collect();
    let expected: Vec<ChannelId> = channels.into_iter().rev().collect();
    assert_eq!(failed, expected);
    assert_eq!(pair.server_events().len(), 50);
    assert_eq!(pair.server.open_channels(), 0);
}
