//! Calls end to end: responses, errors, cancellation, size limits.

use std::time::Duration;

use super::*;
use crate::frame::Flags;
use crate::session::{Answered, OpenError};

#[test]
fn unary_round_trip() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"ping?", None);
    assert_eq!(channel.get(), 1);
    pair.pump();
    let events = pair.server_events();
    let [
        Event::Call {
            channel: incoming,
            op: 7,
            codec,
            deadline: None,
            payload,
            open: false,
            metadata,
        },
    ] = events.as_slice()
    else {
        panic!("unexpected {events:?}");
    };
    assert_eq!(
        (incoming, codec.get(), &payload[..]),
        (&channel, 1, &b"ping?"[..])
    );
    assert!(metadata.is_empty());
    assert_eq!(
        (pair.client.open_channels(), pair.server.open_channels()),
        (1, 1)
    );
    assert_eq!(
        pair.server.respond(channel, ok(2, b"pong!")),
        Answered::Response
    );
    pair.pump();
    let expected = Event::Reply {
        channel,
        reply: ok(2, b"pong!"),
    };
    assert_eq!(pair.client_events(), [expected]);
    assert_eq!(
        (pair.client.open_channels(), pair.server.open_channels()),
        (0, 0)
    );
    // A second answer finds the channel gone.
    assert!(!pair.server.respond(channel, ok(2, b"")).is_sent());
    assert_eq!(
        pair.client
            .open_call(pair.now, outgoing(b"", None))
            .map(|c| c.get()),
        Ok(3)
    );
}

#[test]
fn app_error_flag_reaches_the_client() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"req", None);
    pair.pump();
    pair.server_events();
    let app_error = Response::app_error(CodecId::new(1), Payload::from(&b"E"[..]));
    assert!(pair.server.respond(channel, Ok(app_error)).is_sent());
    pair.pump();
    assert_eq!(
        pair.last_sent_by(Role::Server).map(|h| h.flags),
        Some(Flags::APP_ERROR)
    );
    let events = pair.client_events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Reply {
                reply: Ok(Response {
                    app_error: true,
                    ..
                }),
                ..
            }]
        ),
        "{events:?}"
    );
}

#[test]
fn server_error_fails_the_call() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"req", None);
    pair.pump();
    pair.server_events();
    assert_eq!(
        pair.server
            .respond(channel, failed(Code::NotFound, "no such op")),
        Answered::Status
    );
    assert_eq!(
        pair.server
            .respond(channel, failed(Code::NotFound, "twice")),
        Answered::Gone
    );
    pair.pump();
    let expected = Event::Reply {
        channel,
        reply: failed(Code::NotFound, "no such op"),
    };
    assert_eq!(pair.client_events(), [expected]);
}

#[test]
fn many_concurrent_calls_complete_in_any_order() {
    let mut pair = Pair::connected();
    let channels: Vec<ChannelId> = (0..500).map(|_| pair.call(b"req", None)).collect();
    pair.pump();
    let incoming: Vec<ChannelId> = pair
        .server_events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Call { channel, .. } => Some(channel),
            _ => None,
        })
        .collect();
    assert_eq!(incoming, channels);
    for channel in incoming.iter().rev() {
        let body = Payload::from(channel.get().to_le_bytes().to_vec());
        let response = Response::new(CodecId::new(1), body);
        assert!(pair.server.respond(*channel, Ok(response)).is_sent());
    }
    pair.pump();
    let events = pair.client_events();
    assert_eq!(events.len(), 500);
    for event in &events {
        let Event::Reply {
            channel,
            reply: Ok(response),
        } = event
        else {
            panic!("{event:?}")
        };
        assert_eq!(&response.payload[..], channel.get().to_le_bytes());
    }
    assert_eq!(pair.client.open_channels() + pair.server.open_channels(), 0);
}

#[test]
fn client_cancel_reaches_the_server_and_late_response_is_ignored() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"req", None);
    pair.pump();
    pair.server_events();
    // The server answers while the CANCEL is in flight: both cross.
    pair.client.cancel(channel);
    assert!(pair.server.respond(channel, ok(1, b"late")).is_sent());
    pair.pump();
    assert!(
        pair.client_events().is_empty(),
        "late response must be ignored"
    );
    assert!(
        pair.server_events().is_empty(),
        "cancel after respond must be ignored"
    );
    assert!(!pair.client.is_closed() && !pair.server.is_closed());

    // Cancel that arrives first: the handler is cancelled, its reply dropped.
    let channel = pair.call(b"req", None);
    pair.pump();
    pair.server_events();
    pair.client.cancel(channel);
    pair.client.cancel(channel); // twice is harmless
    pair.pump();
    assert_eq!(
        pair.server_events(),
        [Event::Cancelled {
            channel,
            code: Code::Cancelled
        }]
    );
    assert!(!pair.server.respond(channel, ok(1, b"")).is_sent());
    assert_eq!(
        pair.kinds_sent_by(Role::Client)
            .iter()
            .filter(|k| **k == FrameKind::Cancel)
            .count(),
        2
    );
}

#[test]
fn oversized_request_is_refused_locally() {
    let server_config = SessionConfig::default().with_max_message(8);
    let mut pair = Pair::connected_with(SessionConfig::default(), server_config);
    let refused = pair
        .client
        .open_call(pair.now, outgoing(b"nine bytes", None));
    assert_eq!(refused, Err(OpenError::TooLarge { len: 10, max: 8 }));
    assert_eq!(pair.client.open_channels(), 0);
    assert!(
        pair.client
            .open_call(pair.now, outgoing(b"8 bytes!", None))
            .is_ok()
    );
}

#[test]
fn oversized_incoming_payload_is_a_protocol_error() {
    let mut server = established_server();
    let mut big = raw(FrameKind::Call, 1, 0, b"");
    big.payload = Payload::from(vec![0u8; crate::frame::DEFAULT_MAX_FRAME as usize + 1]);
    server.handle_frame(std::time::Instant::now(), big);
    assert_protocol_error(&drain_events(&mut server));
}

#[test]
fn oversized_response_becomes_resource_exhausted() {
    let client_config = SessionConfig::default().with_max_message(4);
    let mut pair = Pair::connected_with(client_config, SessionConfig::default());
    let channel = pair.call(b"req", Some(Duration::from_secs(5)));
    pair.pump();
    pair.server_events();
    assert_eq!(
        pair.server.respond(channel, ok(1, b"too long")),
        Answered::Status
    );
    pair.pump();
    let events = pair.client_events();
    assert_eq!(
        events.iter().map(failure).collect::<Vec<_>>(),
        [Some((channel, Code::ResourceExhausted))],
        "{events:?}"
    );
    assert!(!pair.client.is_closed());
}

#[test]
fn only_clients_open_calls() {
    let mut pair = Pair::connected();
    assert_eq!(
        pair.server.open_call(pair.now, outgoing(b"", None)),
        Err(OpenError::WrongRole)
    );
    // A CALL from the server is a protocol error at the client.
    pair.client
        .handle_frame(pair.now, raw(FrameKind::Call, 2, 0, b""));
    assert_protocol_error(&pair.client_events());
}

#[test]
fn client_cannot_respond_to_its_own_call() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"req", None);
    assert!(!pair.client.respond(channel, ok(1, b"")).is_sent());
    assert!(
        !pair
            .client
            .respond(channel, failed(Code::Internal, "no"))
            .is_sent()
    );
    pair.server.cancel(channel); // not the server's to cancel
    assert_eq!(pair.client.open_channels(), 1);
    pair.pump();
    assert_eq!(pair.server.open_channels(), 1);
}
