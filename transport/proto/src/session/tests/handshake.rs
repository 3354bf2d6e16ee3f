//! The handshake: HELLOs, verdicts, ACCEPTs, versions, features, and what
//! breaks it.

use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};

use super::*;
use crate::session::{
    Extension, Features, HelloError, MAX_HELLO_EXTENSIONS, MAX_HELLO_OPS, OpenError, VersionRange,
};

#[test]
fn handshake_exchanges_hellos_and_accepts_with_config_limits() {
    let client_config = SessionConfig::default()
        .with_max_channels(9)
        .with_max_frame(1 << 20);
    let mut pair = Pair::new(client_config, SessionConfig::default());
    assert!(!pair.client.is_established() && pair.client.poll_timeout().is_some());
    assert_eq!(pair.client.state_name(), "handshaking");
    assert_eq!(
        pair.client.open_call(pair.now, outgoing(b"x", None)),
        Err(OpenError::NotEstablished)
    );
    pair.pump();
    assert_eq!(pair.client_events(), [Event::Hello]);
    assert_eq!(pair.server_events(), [Event::Hello]);
    assert_eq!(pair.server.state_name(), "authenticating");
    // The server sees the client's limits and the ops it will call.
    let seen_by_server = pair.server.peer_hello().cloned();
    assert_eq!(
        seen_by_server
            .as_ref()
            .map(|h| (h.max_channels, h.max_frame)),
        Some((9, 1 << 20))
    );
    assert_eq!(seen_by_server.map(|h| h.ops), Some(hello().ops));
    // The server's HELLO carries no op table: that comes with its ACCEPT.
    assert_eq!(pair.client.peer_hello().map(|h| h.ops.len()), Some(0));
    assert_eq!(pair.client.peer_accept(), None);
    assert_eq!(pair.client.version(), Some(VersionRange::SUPPORTED.max));

    pair.accept_both();
    assert_eq!(pair.client_events(), [Event::Established]);
    assert_eq!(pair.server_events(), [Event::Established]);
    assert!(pair.client.is_established() && pair.server.is_established());
    assert_eq!(pair.client.peer_accept(), Some(&server_accept()));
    assert_eq!(pair.server.peer_accept(), Some(&Accept::default()));
    assert_eq!(
        pair.kinds_sent_by(Role::Client),
        [FrameKind::Hello, FrameKind::Accept]
    );
    assert_eq!(
        pair.kinds_sent_by(Role::Server),
        [FrameKind::Hello, FrameKind::Accept]
    );
    // Established, no calls: only keepalive's timer (on by default).
    assert_eq!(
        pair.client.poll_timeout(),
        Some(pair.now + DEFAULT_KEEPALIVE)
    );
}

#[test]
fn a_side_is_established_only_once_both_verdicts_are_in() {
    let mut pair = Pair::new(SessionConfig::default(), SessionConfig::default());
    pair.pump();
    pair.client_events();
    pair.server_events();
    // The server accepts first; its ACCEPT reaches the client, which has
    // not decided yet (a credential check may still run).
    assert!(pair.server.accept(pair.now, server_accept()));
    pair.pump();
    assert!(pair.client_events().is_empty() && pair.server_events().is_empty());
    assert_eq!(pair.client.state_name(), "authenticating");
    assert_eq!(pair.client.peer_accept(), Some(&server_accept()));
    assert_eq!(
        pair.client.open_call(pair.now, outgoing(b"x", None)),
        Err(OpenError::NotEstablished)
    );
    // The client's verdict completes both sides.
    assert!(pair.client.accept(pair.now, Accept::default()));
    assert_eq!(pair.client_events(), [Event::Established]);
    pair.pump();
    assert_eq!(pair.server_events(), [Event::Established]);
    assert!(
        pair.client
            .open_call(pair.now, outgoing(b"x", None))
            .is_ok()
    );
}

#[test]
fn verdicts_are_taken_only_while_waiting_for_one() {
    let mut pair = Pair::new(SessionConfig::default(), SessionConfig::default());
    // Before the peer's HELLO there is nothing to judge.
    assert!(!pair.server.accept(pair.now, server_accept()));
    assert!(!pair.server.reject(pair.now, Code::PermissionDenied, "no"));
    pair.pump();
    pair.server_events();
    assert!(pair.server.accept(pair.now, server_accept()));
    // One verdict only.
    assert!(!pair.server.accept(pair.now, server_accept()));
    assert!(!pair.server.reject(pair.now, Code::PermissionDenied, "no"));
    assert!(!pair.server.is_closed());
}

#[test]
fn a_rejected_peer_learns_the_code_and_reason() {
    let mut pair = Pair::new(SessionConfig::default(), SessionConfig::default());
    pair.pump();
    pair.client_events();
    pair.server_events();
    assert!(pair.server.reject(
        pair.now,
        Code::FailedPrecondition,
        "op 7 has another schema here"
    ));
    assert_eq!(
        pair.server_events(),
        [Event::Closed {
            error: Some(SessionError::RejectedPeer {
                code: Code::FailedPrecondition,
                reason: "op 7 has another schema here".into()
            })
        }]
    );
    // The client may accept in the meantime: the rejection still wins.
    assert!(pair.client.accept(pair.now, Accept::default()));
    pair.pump();
    assert_eq!(
        pair.client_events(),
        [Event::Closed {
            error: Some(SessionError::RejectedByPeer {
                code: Code::FailedPrecondition,
                reason: "op 7 has another schema here".into()
            })
        }]
    );
    assert!(pair.client.is_closed() && pair.server.is_closed());
}

#[test]
fn calls_before_the_handshake_finished_are_protocol_errors() {
    let now = Instant::now();
    let mut server = Session::new(
        Role::Server,
        SessionConfig::default(),
        Hello::default(),
        now,
    );
    server.handle_frame(now, hello_frame(&hello()));
    assert_eq!(drain_events(&mut server), [Event::Hello]);
    // The client cannot have been accepted yet: a CALL breaks the protocol.
    server.handle_frame(now, raw(FrameKind::Call, 1, 0, b"req"));
    assert_protocol_error(&drain_events(&mut server));
}

#[test]
fn call_before_hello_is_a_protocol_error() {
    let now = Instant::now();
    let mut server = Session::new(
        Role::Server,
        SessionConfig::default(),
        Hello::default(),
        now,
    );
    drain_frames(&mut server);
    server.handle_frame(now, raw(FrameKind::Call, 1, 0, b"req"));
    assert_protocol_error(&drain_events(&mut server));
    assert!(server.is_closed() && server.poll_timeout().is_none());
    let frames = drain_frames(&mut server);
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].header.kind, FrameKind::GoAway);
    // Everything after close is ignored.
    server.handle_frame(now, raw(FrameKind::Hello, 0, 0, b""));
    server.handle_timeout(now + Duration::from_secs(60));
    assert!(drain_events(&mut server).is_empty() && drain_frames(&mut server).is_empty());
}

#[test]
fn second_hello_is_a_protocol_error() {
    let mut server = established_server();
    server.handle_frame(Instant::now(), hello_frame(&hello()));
    assert_protocol_error(&drain_events(&mut server));
}

#[test]
fn second_accept_is_a_protocol_error() {
    let mut server = established_server();
    server.handle_frame(Instant::now(), accept_frame(&Accept::default()));
    assert_protocol_error(&drain_events(&mut server));

    let now = Instant::now();
    let mut client = Session::new(Role::Client, SessionConfig::default(), hello(), now);
    client.handle_frame(now, hello_frame(&Hello::default()));
    client.handle_frame(now, accept_frame(&server_accept()));
    client.handle_frame(now, accept_frame(&server_accept()));
    let events = drain_events(&mut client);
    assert_eq!(events.first(), Some(&Event::Hello));
    assert_protocol_error(&events);
}

#[test]
fn malformed_accept_closes_with_bad_hello() {
    let now = Instant::now();
    let mut client = Session::new(Role::Client, SessionConfig::default(), hello(), now);
    client.handle_frame(now, hello_frame(&Hello::default()));
    client.handle_frame(now, raw(FrameKind::Accept, 0, 0, b"\x01\x00"));
    let events = drain_events(&mut client);
    assert!(
        matches!(
            events.as_slice(),
            [
                Event::Hello,
                Event::Closed {
                    error: Some(SessionError::BadHello(HelloError::Truncated { .. }))
                }
            ]
        ),
        "{events:?}"
    );
}

#[test]
fn peer_sees_why_its_hello_was_refused() {
    let mut pair = Pair::connected();
    pair.client
        .handle_frame(pair.now, raw(FrameKind::Hello, 0, 0, b""));
    pair.pump();
    assert_protocol_error(&pair.client_events());
    match pair.server_events().as_slice() {
        [
            Event::GoAway {
                code: Code::Internal,
                reason,
            },
            Event::Closed {
                error: Some(SessionError::PeerGoneAway { .. }),
            },
        ] => {
            assert!(reason.contains("second hello"), "{reason}");
        }
        other => panic!("unexpected {other:?}"),
    }
}

#[test]
fn wrong_magic_closes_with_bad_hello() {
    let now = Instant::now();
    let mut client = Session::new(Role::Client, SessionConfig::default(), hello(), now);
    let mut bytes = BytesMut::from(&Hello::default().encode()[..]);
    bytes[0] = b'X';
    client.handle_frame(
        now,
        Frame::new(FrameHeader::new(FrameKind::Hello), bytes.freeze().into()),
    );
    let events = drain_events(&mut client);
    assert!(
        matches!(
            events.as_slice(),
            [Event::Closed {
                error: Some(SessionError::BadHello(HelloError::BadMagic { .. }))
            }]
        ),
        "{events:?}"
    );
    let frames = drain_frames(&mut client);
    assert_eq!(
        frames.last().map(|f| (f.header.kind, f.payload.len() > 2)),
        Some((FrameKind::GoAway, true))
    );
}

#[test]
fn no_common_version_closes_both_sides_with_version_mismatch() {
    let now = Instant::now();
    let future = Hello {
        versions: VersionRange::new(3, 5),
        ..Hello::default()
    };
    let mut client = Session::new(Role::Client, SessionConfig::default(), future, now);
    let mut server = Session::new(
        Role::Server,
        SessionConfig::default(),
        Hello::default(),
        now,
    );
    while let Some(frame) = client.poll_transmit() {
        server.handle_frame(now, frame);
    }
    while let Some(frame) = server.poll_transmit() {
        client.handle_frame(now, frame);
    }
    let ours = VersionRange::SUPPORTED;
    let theirs = VersionRange::new(3, 5);
    assert_eq!(
        drain_events(&mut server),
        [Event::Closed {
            error: Some(SessionError::VersionMismatch { ours, theirs })
        }]
    );
    assert_eq!(
        drain_events(&mut client),
        [Event::Closed {
            error: Some(SessionError::VersionMismatch {
                ours: theirs,
                theirs: ours
            })
        }]
    );
}

#[test]
fn a_version_one_hello_is_a_version_mismatch() {
    // Version 1 sent one version and a different layout after it.
    let now = Instant::now();
    let mut server = Session::new(
        Role::Server,
        SessionConfig::default(),
        Hello::default(),
        now,
    );
    let mut payload = BytesMut::new();
    payload.put_slice(b"PRSM");
    payload.put_u16_le(1);
    payload.put_slice(b"whatever version 1 carried");
    server.handle_frame(
        now,
        Frame::new(FrameHeader::new(FrameKind::Hello), payload.freeze().into()),
    );
    let expected = SessionError::VersionMismatch {
        ours: VersionRange::SUPPORTED,
        theirs: VersionRange::new(1, 1),
    };
    assert_eq!(
        drain_events(&mut server),
        [Event::Closed {
            error: Some(expected)
        }]
    );
    let goaway = drain_frames(&mut server).pop().expect("a goaway");
    assert_eq!(goaway.header.kind, FrameKind::GoAway);
    let reason = String::from_utf8_lossy(&goaway.payload[2..]).into_owned();
    assert!(reason.contains("version 1 is not supported"), "{reason}");
}

#[test]
fn peers_settle_on_the_highest_common_version() {
    let now = Instant::now();
    // Ranges that overlap in 3 and 4: the highest common one wins, not
    // the lowest and not either side's highest.
    let ours = Hello {
        versions: VersionRange::new(2, 4),
        ..Hello::default()
    };
    let mut server = Session::new(Role::Server, SessionConfig::default(), ours, now);
    let mut theirs = hello();
    theirs.versions = VersionRange::new(3, 9);
    server.handle_frame(now, hello_frame(&theirs));
    assert_eq!(drain_events(&mut server), [Event::Hello]);
    assert_eq!(server.version(), Some(4));
}

#[test]
fn required_features_the_peer_lacks_end_the_handshake_on_both_sides() {
    let bit = Features::from_bits(1 << 40);
    let client = SessionConfig::default().with_features(Features::EMPTY, bit);
    let mut pair = Pair::new(client, SessionConfig::default());
    pair.pump();
    assert_eq!(
        pair.client_events(),
        [Event::Closed {
            error: Some(SessionError::PeerLacksFeatures { missing: bit })
        }]
    );
    assert_eq!(
        pair.server_events(),
        [Event::Closed {
            error: Some(SessionError::LacksFeatures { missing: bit })
        }]
    );
    let goaways: Vec<_> = pair
        .sent
        .iter()
        .filter(|(_, h)| h.kind == FrameKind::GoAway)
        .collect();
    assert_eq!(goaways.len(), 2, "each side tells the other why");
}

#[test]
fn features_in_use_are_those_both_offer() {
    let client = SessionConfig::default()
        .with_features(Features::from_bits(0b1011), Features::from_bits(0b0001));
    let server =
        SessionConfig::default().with_features(Features::from_bits(0b0111), Features::EMPTY);
    let pair = Pair::connected_with(client, server);
    assert_eq!(pair.client.features(), Features::from_bits(0b0011));
    assert_eq!(pair.server.features(), Features::from_bits(0b0011));
    assert_eq!(
        pair.server.peer_hello().map(|h| h.required),
        Some(Features::from_bits(0b0001))
    );
}

#[test]
fn handshake_timeout_closes() {
    let config = SessionConfig::default().with_handshake_timeout(Duration::from_secs(3));
    let now = Instant::now();
    let mut client = Session::new(Role::Client, config, hello(), now);
    assert_eq!(client.poll_timeout(), Some(now + Duration::from_secs(3)));
    client.handle_timeout(now + Duration::from_secs(2));
    assert!(drain_events(&mut client).is_empty());
    client.handle_timeout(now + Duration::from_secs(3));
    let events = drain_events(&mut client);
    assert_eq!(
        events,
        [Event::Closed {
            error: Some(SessionError::HandshakeTimeout)
        }]
    );
    let kinds: Vec<_> = drain_frames(&mut client)
        .iter()
        .map(|f| f.header.kind)
        .collect();
    assert_eq!(kinds, [FrameKind::Hello, FrameKind::GoAway]);
}

#[test]
fn handshake_timeout_bounds_a_verdict_that_never_comes() {
    let config = SessionConfig::default().with_handshake_timeout(Duration::from_secs(3));
    let mut pair = Pair::new(config.clone(), config);
    pair.pump();
    assert_eq!(pair.server_events(), [Event::Hello]);
    pair.client_events();
    // Neither side decides: both time out.
    pair.advance(Duration::from_secs(3));
    for events in [pair.client_events(), pair.server_events()] {
        assert_eq!(
            events,
            [Event::Closed {
                error: Some(SessionError::HandshakeTimeout)
            }]
        );
    }
}

#[test]
fn invalid_own_hello_closes_without_sending() {
    let mut bad = hello();
    bad.extensions = vec![
        Extension {
            kind: 1,
            data: Default::default()
        };
        MAX_HELLO_EXTENSIONS + 1
    ];
    let mut client = Session::new(Role::Client, SessionConfig::default(), bad, Instant::now());
    assert!(client.is_closed() && client.poll_transmit().is_none());
    let events = drain_events(&mut client);
    assert!(
        matches!(
            events.as_slice(),
            [Event::Closed {
                error: Some(SessionError::OwnHello(HelloError::TooMany { .. }))
            }]
        ),
        "{events:?}"
    );
}

#[test]
fn invalid_own_accept_closes() {
    let mut pair = Pair::new(SessionConfig::default(), SessionConfig::default());
    pair.pump();
    pair.server_events();
    let too_many = Accept::new(vec![op_entry(); MAX_HELLO_OPS + 1]);
    assert!(pair.server.accept(pair.now, too_many));
    let events = pair.server_events();
    assert!(
        matches!(
            events.as_slice(),
            [Event::Closed {
                error: Some(SessionError::OwnHello(HelloError::TooMany {
                    what: "ops",
                    ..
                }))
            }]
        ),
        "{events:?}"
    );
    assert!(
        !pair
            .kinds_sent_by(Role::Server)
            .contains(&FrameKind::Accept)
    );
    // The invalid ACCEPT is not queued either; a GOAWAY says why.
    let kinds: Vec<FrameKind> = drain_frames(&mut pair.server)
        .iter()
        .map(|frame| frame.header.kind)
        .collect();
    assert_eq!(kinds, [FrameKind::GoAway]);
}

#[test]
fn huge_handshake_timeout_does_not_overflow() {
    let config = SessionConfig::default().with_handshake_timeout(Duration::MAX);
    let mut client = Session::new(Role::Client, config, hello(), Instant::now());
    assert_eq!(client.poll_timeout(), None);
    client.handle_timeout(Instant::now());
    assert!(!client.is_closed());
}
