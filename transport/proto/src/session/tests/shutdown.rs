//! GOAWAY, immediate close and a lost link.

use std::time::Duration;

use super::*;
use crate::session::OpenError;

#[test]
fn graceful_goaway_finishes_in_flight_refuses_new_and_closes_when_drained() {
    let mut pair = Pair::connected();
    let first = pair.call(b"a", None);
    let second = pair.call(b"b", Some(Duration::from_secs(1)));
    pair.pump();
    pair.server_events();
    // A call the client sends while the GOAWAY is in flight.
    let crossing = pair.call(b"c", None);
    pair.server
        .go_away(pair.now, Code::Unavailable, "restarting");
    pair.server
        .go_away(pair.now, Code::Unavailable, "twice is a no-op");
    assert!(!pair.server.is_closed());
    pair.pump();
    let goaways: Vec<_> = pair
        .sent
        .iter()
        .filter(|(_, h)| h.kind == FrameKind::GoAway)
        .collect();
    assert_eq!(goaways.len(), 1);
    assert_eq!(goaways[0].1.aux, u64::from(second.get()));
    let events = pair.client_events();
    assert_eq!(
        events[0],
        Event::GoAway {
            code: Code::Unavailable,
            reason: "restarting".into()
        }
    );
    assert!(
        matches!(&events[1..], [Event::Reply { channel, reply: Err(status) }] if *channel == crossing && status.code() == Code::Unavailable && status.message().contains("retry")),
        "{events:?}"
    );
    // The server refused the crossing call too; the client ignores that ERROR.
    assert!(pair.server_events().is_empty());
    assert_eq!(
        pair.client.open_call(pair.now, outgoing(b"", None)),
        Err(OpenError::GoingAway)
    );
    // In-flight calls finish.
    assert!(pair.server.respond(first, ok(1, b"1")).is_sent());
    pair.pump();
    assert!(!pair.server.is_closed() && !pair.client.is_closed());
    assert!(pair.server.respond(second, ok(1, b"2")).is_sent());
    pair.pump();
    assert_eq!(pair.server_events(), [Event::Closed { error: None }]);
    let events = pair.client_events();
    assert!(
        is_response(&events[0]) && is_response(&events[1]),
        "{events:?}"
    );
    let closed = Event::Closed {
        error: Some(SessionError::PeerGoneAway {
            code: Code::Unavailable,
            reason: "restarting".into(),
        }),
    };
    assert_eq!(events[2..], [closed]);
    assert!(pair.client.is_closed() && pair.server.is_closed());
    assert_eq!(
        (pair.client.poll_timeout(), pair.server.poll_timeout()),
        (None, None)
    );
}

#[test]
fn go_away_with_nothing_in_flight_closes_at_once() {
    let mut pair = Pair::connected();
    pair.client.go_away(pair.now, Code::Ok, "done");
    assert!(pair.client.is_closed());
    assert_eq!(pair.client_events(), [Event::Closed { error: None }]);
    assert_eq!(
        pair.client.open_call(pair.now, outgoing(b"", None)),
        Err(OpenError::Closed)
    );
    pair.pump();
    let events = pair.server_events();
    assert_eq!(
        events[0],
        Event::GoAway {
            code: Code::Ok,
            reason: "done".into()
        }
    );
    assert!(matches!(
        events[1],
        Event::Closed {
            error: Some(SessionError::PeerGoneAway { .. })
        }
    ));
}

#[test]
fn client_go_away_lets_its_calls_finish() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"a", None);
    pair.pump();
    pair.server_events();
    pair.client.go_away(pair.now, Code::Ok, "draining");
    pair.pump();
    assert_eq!(
        pair.server_events(),
        [Event::GoAway {
            code: Code::Ok,
            reason: "draining".into()
        }]
    );
    assert!(pair.server.respond(channel, ok(1, b"")).is_sent());
    pair.pump();
    let events = pair.client_events();
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::Reply { reply: Ok(_), .. },
                Event::Closed { error: None }
            ]
        ),
        "{events:?}"
    );
    assert!(pair.server.is_closed());
}

#[test]
fn close_fails_every_open_call_at_once() {
    let mut pair = Pair::connected();
    let a = pair.call(b"a", Some(Duration::from_secs(1)));
    let b = pair.call(b"b", None);
    pair.pump();
    pair.server_events();
    pair.server
        .close(pair.now, Code::Unavailable, "shutting down");
    let events = pair.server_events();
    assert_eq!(
        events,
        [
            Event::Cancelled {
                channel: a,
                code: Code::Unavailable
            },
            Event::Cancelled {
                channel: b,
                code: Code::Unavailable
            },
            Event::Closed { error: None },
        ]
    );
    assert!(!pair.server.respond(a, ok(1, b"")).is_sent());
    pair.pump();
    // The client hears GOAWAY; both calls were taken, so they wait for the
    // link to close…
    let events = pair.client_events();
    assert_eq!(
        events,
        [Event::GoAway {
            code: Code::Unavailable,
            reason: "shutting down".into()
        }]
    );
    // …which the driver reports.
    pair.client.handle_link_closed(pair.now);
    let events = pair.client_events();
    assert_eq!(
        events.iter().map(failure).collect::<Vec<_>>(),
        [
            Some((a, Code::Unavailable)),
            Some((b, Code::Unavailable)),
            None
        ],
        "{events:?}"
    );
    // The peer's reason outlives the link it hung up.
    assert_eq!(
        events.last(),
        Some(&Event::Closed {
            error: Some(SessionError::PeerClosed {
                code: Code::Unavailable,
                reason: "shutting down".into()
            })
        })
    );
    assert!(pair.client.poll_transmit().is_none());
    pair.client.handle_link_closed(pair.now);
    assert!(pair.client_events().is_empty());
}

#[test]
fn later_goaway_can_only_lower_the_last_id() {
    let mut pair = Pair::connected();
    let a = pair.call(b"a", None);
    let b = pair.call(b"b", None);
    let c = pair.call(b"c", None);
    let goaway = |last: u32| {
        let mut frame = raw(FrameKind::GoAway, 0, u64::from(last), b"\x0e\x00bye");
        frame.header.channel = 0;
        frame
    };
    pair.client.handle_frame(pair.now, goaway(b.get()));
    let events = pair.client_events();
    assert!(
        matches!(events.as_slice(), [Event::GoAway { .. }, failed] if failure(failed) == Some((c, Code::Unavailable))),
        "{events:?}"
    );
    // The server never saw it: safe to send again elsewhere.
    let Event::Reply {
        reply: Err(refused),
        ..
    } = &events[1]
    else {
        panic!("{events:?}");
    };
    assert!(refused.is_unprocessed(), "{refused:?}");
    pair.client.handle_frame(pair.now, goaway(u32::MAX));
    assert!(pair.client_events().is_empty());
    pair.client.handle_frame(pair.now, goaway(a.get()));
    let events = pair.client_events();
    assert_eq!(
        events.iter().map(failure).collect::<Vec<_>>(),
        [Some((b, Code::Unavailable))],
        "{events:?}"
    );
    assert_eq!(pair.client.open_channels(), 1);
}

#[test]
fn goaway_without_code_is_a_protocol_error() {
    let mut pair = Pair::connected();
    pair.client
        .handle_frame(pair.now, raw(FrameKind::GoAway, 0, 0, b"x"));
    assert_protocol_error(&pair.client_events());
}

#[test]
fn drain_timeout_cancels_what_is_left_and_closes() {
    let server_config = SessionConfig::default().with_drain_timeout(Duration::from_secs(5));
    let mut pair = Pair::connected_with(SessionConfig::default(), server_config);
    let done = pair.call(b"quick", None);
    let slow = pair.call(b"slow", None);
    pair.pump();
    pair.server_events();
    pair.server
        .go_away(pair.now, Code::Unavailable, "restarting");
    assert_eq!(pair.server.state_name(), "draining");
    assert_eq!(
        pair.server.poll_timeout(),
        Some(pair.now + Duration::from_secs(5))
    );
    assert!(pair.server.respond(done, ok(1, b"1")).is_sent());
    pair.advance(Duration::from_secs(5));
    assert_eq!(
        pair.server_events(),
        [
            Event::Cancelled {
                channel: slow,
                code: Code::Unavailable
            },
            Event::Closed {
                error: Some(SessionError::DrainTimeout { open: 1 })
            }
        ]
    );
    // The caller hears at once why its call ended.
    let events = pair.client_events();
    assert!(matches!(events[0], Event::GoAway { .. }), "{events:?}");
    assert!(is_response(&events[1]), "{events:?}");
    match &events[2] {
        Event::Reply {
            channel,
            reply: Err(status),
        } => {
            assert_eq!((*channel, status.code()), (slow, Code::Unavailable));
            assert!(status.message().contains("drain timeout"), "{status}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        events[3],
        Event::Closed {
            error: Some(SessionError::PeerGoneAway { .. })
        }
    ));
    assert_eq!(pair.server.poll_timeout(), None);
}

#[test]
fn go_away_before_the_handshake_finished_closes_at_once() {
    let mut pair = Pair::new(SessionConfig::default(), SessionConfig::default());
    pair.pump();
    pair.server_events();
    pair.server
        .go_away(pair.now, Code::Unavailable, "shutting down");
    assert_eq!(pair.server_events(), [Event::Closed { error: None }]);
    pair.pump();
    let events = pair.client_events();
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::Hello,
                Event::Closed {
                    error: Some(SessionError::RejectedByPeer {
                        code: Code::Unavailable,
                        ..
                    })
                }
            ]
        ),
        "{events:?}"
    );
}

#[test]
fn a_call_from_a_client_after_its_own_goaway_is_refused_and_the_rest_drain() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"a", None);
    pair.pump();
    pair.server_events();
    pair.client.go_away(pair.now, Code::Ok, "draining");
    pair.pump();
    pair.server_events();
    // A client that breaks its word: a new call after its GOAWAY.
    let now = pair.now;
    pair.server
        .handle_frame(now, raw(FrameKind::Call, 3, 0, b"late"));
    assert!(
        pair.server_events().is_empty(),
        "the late call reaches no handler"
    );
    let error = drain_frames(&mut pair.server)
        .into_iter()
        .find(|f| f.header.kind == FrameKind::Error)
        .expect("an ERROR refuses the late call");
    assert_eq!(error.header.channel, 3);
    assert_eq!(error.header.aux, Code::FailedPrecondition as u64);
    // The call opened before the GOAWAY is still served.
    assert!(!pair.server.is_closed());
    assert!(pair.server.respond(channel, ok(1, b"")).is_sent());
    assert!(pair.server.is_closed());
}

/// A server whose link carries each channel on its own stream, established.
fn unordered_server() -> Session {
    established_server_with(SessionConfig {
        ordered_opens: false,
        ..SessionConfig::default()
    })
}

fn calls_of(events: &[Event]) -> Vec<u32> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Call { channel, .. } => Some(channel.get()),
            _ => None,
        })
        .collect()
}

#[test]
fn with_unordered_opens_a_slower_call_the_goaway_covered_is_served() {
    let now = Instant::now();
    let mut server = unordered_server();
    // Call 5 overtook calls 1 and 3.
    server.handle_frame(now, raw(FrameKind::Call, 5, 0, b"c"));
    server.go_away(now, Code::Unavailable, "restarting");
    let goaway = drain_frames(&mut server);
    assert!(
        goaway
            .iter()
            .any(|f| f.header.kind == FrameKind::GoAway && f.header.aux == 5)
    );
    server.handle_frame(now, raw(FrameKind::Call, 1, 0, b"a"));
    assert_eq!(
        calls_of(&drain_events(&mut server)),
        [5, 1],
        "1 was taken with 5"
    );
    // A call the GOAWAY did not cover is refused.
    server.handle_frame(now, raw(FrameKind::Call, 7, 0, b"d"));
    assert!(calls_of(&drain_events(&mut server)).is_empty());
    assert!(
        drain_frames(&mut server)
            .iter()
            .any(|f| f.header.kind == FrameKind::Error && f.header.channel == 7)
    );
    // The server waits for call 3, still on its way, before closing.
    for id in [5, 1] {
        assert!(server.respond(ChannelId(id), ok(1, b"ok")).is_sent());
    }
    assert!(!server.is_closed(), "call 3 is still on its way");
    server.handle_frame(now, raw(FrameKind::Call, 3, 0, b"b"));
    assert_eq!(calls_of(&drain_events(&mut server)), [3]);
    assert!(server.respond(ChannelId(3), ok(1, b"ok")).is_sent());
    assert!(server.is_closed(), "drained");
}

#[test]
fn with_unordered_opens_a_call_slower_than_the_clients_goaway_is_served() {
    let now = Instant::now();
    let mut server = unordered_server();
    server.handle_frame(now, raw(FrameKind::Call, 3, 0, b"b"));
    server.handle_frame(now, raw(FrameKind::GoAway, 0, 0, b"\x00\x00bye"));
    server.handle_frame(now, raw(FrameKind::Call, 1, 0, b"a"));
    let events = drain_events(&mut server);
    assert_eq!(calls_of(&events), [3, 1], "{events:?}");
    // An id used before is a protocol error, even out of order.
    server.handle_frame(now, raw(FrameKind::Call, 3, 0, b"again"));
    assert_protocol_error(&drain_events(&mut server));
}
