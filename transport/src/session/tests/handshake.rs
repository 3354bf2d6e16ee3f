//! The HELLO exchange and what breaks it.

use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};

use super::*;
use crate::Code;
use crate::session::{Extension, HelloError, MAX_HELLO_EXTENSIONS, PROTOCOL_VERSION};

#[test]
fn handshake_exchanges_hellos_with_config_limits() {
    let client_config = SessionConfig::default()
        .with_max_channels(9)
        .with_max_frame(1 << 20);
    let mut pair = Pair::new(client_config, SessionConfig::default());
    assert!(!pair.client.is_established() && pair.client.poll_timeout().is_some());
    assert_eq!(
        pair.client.open_call(pair.now, outgoing(b"x", None)),
        Err(crate::session::OpenError::NotEstablished)
    );
    pair.pump();
    assert_eq!(pair.client_events(), [Event::Established]);
    assert_eq!(pair.server_events(), [Event::Established]);
    assert!(pair.client.is_established() && pair.server.is_established());
    let seen_by_server = pair.server.peer_hello().cloned();
    assert_eq!(
        seen_by_server
            .as_ref()
            .map(|h| (h.max_channels, h.max_frame)),
        Some((9, 1 << 20))
    );
    assert_eq!(seen_by_server.map(|h| h.ops), Some(hello().ops));
    assert_eq!(
        pair.client.peer_hello().map(|h| h.version),
        Some(PROTOCOL_VERSION)
    );
    assert_eq!(pair.kinds_sent_by(Role::Client), [FrameKind::Hello]);
    // Established, no keepalive and no calls: no timer at all.
    assert_eq!(pair.client.poll_timeout(), None);
}

#[test]
fn call_before_handshake_is_a_protocol_error() {
    let now = Instant::now();
    let mut server = Session::new(Role::Server, SessionConfig::default(), hello(), now);
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
    let again = Frame::new(FrameHeader::new(FrameKind::Hello), hello().encode().into());
    server.handle_frame(Instant::now(), again);
    assert_protocol_error(&drain_events(&mut server));
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
    let mut bytes = BytesMut::from(&hello().encode()[..]);
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
        frames.last().map(|f| (f.header.kind, f.body.len() > 2)),
        Some((FrameKind::GoAway, true))
    );
}

#[test]
fn other_version_closes_with_version_mismatch() {
    let now = Instant::now();
    let mut server = Session::new(Role::Server, SessionConfig::default(), hello(), now);
    let mut payload = BytesMut::new();
    payload.put_slice(b"PRSM");
    payload.put_u16_le(2);
    payload.put_slice(b"whatever version 2 carries");
    server.handle_frame(
        now,
        Frame::new(FrameHeader::new(FrameKind::Hello), payload.freeze().into()),
    );
    let events = drain_events(&mut server);
    let expected = SessionError::VersionMismatch { ours: 1, theirs: 2 };
    assert_eq!(
        events,
        [Event::Closed {
            error: Some(expected)
        }]
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
fn huge_handshake_timeout_does_not_overflow() {
    let config = SessionConfig::default().with_handshake_timeout(Duration::MAX);
    let mut client = Session::new(Role::Client, config, hello(), Instant::now());
    assert_eq!(client.poll_timeout(), None);
    client.handle_timeout(Instant::now());
    assert!(!client.is_closed());
}
