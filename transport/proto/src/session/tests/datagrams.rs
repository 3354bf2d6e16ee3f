//! Datagram ops: DATAGRAM frames from a client, and every way one can come
//! wrong or at the wrong time.

use super::*;
use crate::frame::Flags;
use crate::session::{DatagramError, Features, OutgoingDatagram};

fn datagram(body: &'static [u8]) -> OutgoingDatagram {
    OutgoingDatagram {
        op: 7,
        codec: CodecId::POSTCARD,
        payload: Payload::from(body),
    }
}

/// A DATAGRAM frame of op 7 on `channel`.
fn datagram_frame(channel: u32, body: &'static [u8]) -> Frame {
    let mut frame = raw(FrameKind::Datagram, channel, 0, body);
    frame.header.op = 7;
    frame.header.codec = CodecId::POSTCARD.get();
    frame
}

/// A server past the handshake with a client that offered datagrams.
fn server_taking_datagrams(now: Instant, established: bool) -> Session {
    let mut server = Session::new(
        Role::Server,
        SessionConfig::default(),
        Hello::default(),
        now,
    );
    let mut hello = hello();
    hello.features = Features::DATAGRAM;
    server.handle_frame(now, hello_frame(&hello));
    assert_eq!(drain_events(&mut server), [Event::Hello]);
    if established {
        assert!(server.accept(now, server_accept()));
        server.handle_frame(now, accept_frame(&Accept::default()));
        assert_eq!(drain_events(&mut server), [Event::Established]);
    }
    drain_frames(&mut server);
    server
}

#[test]
fn a_datagram_reaches_the_server_with_no_channel_and_no_answer() {
    let mut pair = Pair::connected();
    pair.client
        .send_datagram(pair.now, datagram(b"tick"))
        .unwrap();
    pair.pump();
    assert_eq!(
        pair.server_events(),
        [Event::Datagram {
            op: 7,
            codec: CodecId::POSTCARD,
            payload: Payload::from(&b"tick"[..]),
        }]
    );
    // Nothing came back, and nothing is open on either side.
    assert_eq!(
        pair.kinds_sent_by(Role::Server).last(),
        Some(&FrameKind::Accept)
    );
    assert_eq!(pair.client.open_channels(), 0);
    assert_eq!(pair.server.open_channels(), 0);
    // Calls go on beside datagrams.
    pair.call(b"call", None);
    pair.client
        .send_datagram(pair.now, datagram(b"tock"))
        .unwrap();
    pair.pump();
    let events = pair.server_events();
    assert!(matches!(events[0], Event::Call { .. }), "{events:?}");
    assert!(matches!(events[1], Event::Datagram { .. }), "{events:?}");
}

#[test]
fn a_datagram_larger_than_one_chunk_is_refused_before_it_leaves() {
    let config = SessionConfig::default().with_max_chunk(1024);
    let mut pair = Pair::connected_with(SessionConfig::default(), config);
    assert_eq!(pair.client.max_datagram(), 1024);
    let big = OutgoingDatagram {
        payload: Payload::from(vec![0u8; 1025]),
        ..datagram(b"")
    };
    assert_eq!(
        pair.client.send_datagram(pair.now, big),
        Err(DatagramError::TooLarge {
            len: 1025,
            max: 1024
        })
    );
    assert!(drain_frames(&mut pair.client).is_empty());
}

#[test]
fn datagrams_need_the_feature_on_both_sides() {
    let without = SessionConfig::default().with_features(Features::PACKED, Features::EMPTY);
    let mut pair = Pair::connected_with(SessionConfig::default(), without);
    assert_eq!(
        pair.client.send_datagram(pair.now, datagram(b"x")),
        Err(DatagramError::NotNegotiated)
    );
    // A client that sends one anyway breaks the protocol.
    pair.server.handle_frame(pair.now, datagram_frame(0, b"x"));
    assert_protocol_error(&pair.server_events());
}

#[test]
fn a_datagram_on_a_channel_with_flags_or_from_a_server_is_a_protocol_error() {
    let mut server = server_taking_datagrams(Instant::now(), true);
    server.handle_frame(Instant::now(), datagram_frame(1, b"x"));
    assert_protocol_error(&drain_events(&mut server));
    for (flags, aux) in [(Flags::MORE, 0), (Flags::NONE, 5)] {
        let mut server = server_taking_datagrams(Instant::now(), true);
        let mut frame = datagram_frame(0, b"x");
        (frame.header.flags, frame.header.aux) = (flags, aux);
        server.handle_frame(Instant::now(), frame);
        assert_protocol_error(&drain_events(&mut server));
    }

    let mut pair = Pair::connected();
    pair.client.handle_frame(pair.now, datagram_frame(0, b"x"));
    assert_protocol_error(&pair.client_events());
    assert_eq!(
        pair.server.send_datagram(pair.now, datagram(b"x")),
        Err(DatagramError::WrongRole)
    );
}

#[test]
fn a_datagram_that_overtook_the_handshake_or_came_while_draining_is_dropped() {
    // The client's HELLO arrived; its ACCEPT has not (a datagram on a
    // link of its own can overtake it).
    let now = Instant::now();
    let mut server = server_taking_datagrams(now, false);
    server.handle_frame(now, datagram_frame(0, b"early"));
    assert!(drain_events(&mut server).is_empty());
    assert!(!server.is_closed());
    assert_eq!(server.dropped_datagrams(), 1);

    // Before any HELLO, it is the first frame and not a HELLO.
    let mut fresh = Session::new(
        Role::Server,
        SessionConfig::default(),
        Hello::default(),
        now,
    );
    fresh.handle_frame(now, datagram_frame(0, b"first"));
    assert_protocol_error(&drain_events(&mut fresh));

    // A server going away takes no new work, datagrams included.
    let mut pair = Pair::connected();
    pair.call(b"open", None);
    pair.pump();
    pair.server_events();
    pair.server.go_away(pair.now, Code::Unavailable, "bye");
    pair.server
        .handle_frame(pair.now, datagram_frame(0, b"late"));
    assert!(
        !pair
            .server_events()
            .iter()
            .any(|e| matches!(e, Event::Datagram { .. })),
        "a draining server raised a datagram"
    );
    assert_eq!(pair.server.dropped_datagrams(), 1);
    pair.pump();
    assert_eq!(
        pair.client.send_datagram(pair.now, datagram(b"x")),
        Err(DatagramError::GoingAway)
    );
}

#[test]
fn datagrams_are_activity_for_the_idle_timeout() {
    let idle = Duration::from_secs(10);
    let config = SessionConfig::default()
        .with_idle_timeout(Some(idle))
        .with_keepalive(None);
    let mut pair = Pair::connected_with(config.clone(), config);
    for _ in 0..5 {
        pair.advance(Duration::from_secs(6));
        pair.client
            .send_datagram(pair.now, datagram(b"alive"))
            .unwrap();
        pair.pump();
        pair.client.note_time(pair.now);
        pair.server.note_time(pair.now);
    }
    assert!(!pair.client.is_closed() && !pair.server.is_closed());
    pair.advance(Duration::from_secs(11));
    assert!(pair.client.is_closed() && pair.server.is_closed());
}
