//! Pings, pongs, keepalive, the frame timeout and the idle timeout.

use std::time::Duration;

use super::*;

#[test]
fn ping_is_answered_and_measures_rtt() {
    let mut pair = Pair::connected();
    pair.client.ping(pair.now);
    let ping = pair.client.poll_transmit();
    assert_eq!(ping.as_ref().map(|f| f.header.kind), Some(FrameKind::Ping));
    if let Some(ping) = ping {
        pair.server.handle_frame(pair.now, ping);
    }
    pair.now += Duration::from_millis(7);
    pair.pump();
    assert_eq!(
        pair.client_events(),
        [Event::Pong {
            rtt: Duration::from_millis(7)
        }]
    );
    assert!(pair.server_events().is_empty());
    let pong = pair.last_sent_by(Role::Server);
    assert_eq!(pong.map(|h| h.kind), Some(FrameKind::Pong));
}

#[test]
fn pong_without_ping_is_ignored() {
    let mut pair = Pair::connected();
    pair.client
        .handle_frame(pair.now, raw(FrameKind::Pong, 0, 99, b""));
    assert!(pair.client_events().is_empty() && !pair.client.is_closed());
    // A pong is answered once only.
    pair.client.ping(pair.now);
    pair.pump();
    assert_eq!(pair.client_events().len(), 1);
    let id = pair.last_sent_by(Role::Server).map_or(0, |h| h.aux);
    pair.client
        .handle_frame(pair.now, raw(FrameKind::Pong, 0, id, b""));
    assert!(pair.client_events().is_empty());
}

#[test]
fn unanswered_pings_are_bounded() {
    let mut pair = Pair::connected();
    for _ in 0..1_000 {
        pair.client.ping(pair.now);
    }
    assert!(pair.client.pings.len() <= 64);
    pair.pump();
    assert_eq!(pair.client_events().len(), 64);
}

#[test]
fn keepalive_probes_an_idle_peer_and_stays_up_when_answered() {
    let config = SessionConfig::default().with_keepalive(Some(Duration::from_secs(5)));
    let mut pair = Pair::connected_with(config, SessionConfig::default());
    assert_eq!(
        pair.client.poll_timeout(),
        Some(pair.now + Duration::from_secs(5))
    );
    pair.advance(Duration::from_secs(60));
    let pings = pair
        .kinds_sent_by(Role::Client)
        .iter()
        .filter(|k| **k == FrameKind::Ping)
        .count();
    assert_eq!(pings, 12);
    assert!(!pair.client.is_closed());
    // Probe pongs are not reported as events.
    assert!(pair.client_events().is_empty());
}

#[test]
fn keepalive_closes_a_silent_peer() {
    let config = SessionConfig::default().with_keepalive(Some(Duration::from_secs(5)));
    let mut pair = Pair::connected_with(config, SessionConfig::default());
    let channel = pair.call(b"req", None);
    pair.pump();
    let start = pair.now;
    // The peer goes silent: frames from the client go nowhere.
    pair.client.handle_timeout(start + Duration::from_secs(5));
    assert!(
        drain_frames(&mut pair.client)
            .iter()
            .any(|f| f.header.kind == FrameKind::Ping)
    );
    assert_eq!(
        pair.client.poll_timeout(),
        Some(start + Duration::from_secs(10))
    );
    pair.client.handle_timeout(start + Duration::from_secs(10));
    let events = pair.client_events();
    assert_eq!(failure(&events[0]), Some((channel, Code::Unavailable)));
    assert_eq!(
        events[1],
        Event::Closed {
            error: Some(SessionError::KeepaliveTimeout)
        }
    );
}

#[test]
fn any_frame_counts_as_liveness() {
    let config = SessionConfig::default().with_keepalive(Some(Duration::from_secs(5)));
    let mut pair = Pair::connected_with(config, SessionConfig::default());
    let start = pair.now;
    pair.client.handle_timeout(start + Duration::from_secs(5));
    drain_frames(&mut pair.client);
    // Something other than the pong arrives: the probe is satisfied.
    pair.client.handle_frame(
        start + Duration::from_secs(6),
        raw(FrameKind::Ping, 0, 1, b""),
    );
    assert_eq!(
        pair.client.poll_timeout(),
        Some(start + Duration::from_secs(11))
    );
}

#[test]
fn zero_keepalive_is_off() {
    let config = SessionConfig::default()
        .with_keepalive(Some(Duration::ZERO))
        .with_idle_timeout(None);
    let pair = Pair::connected_with(config, SessionConfig::default());
    assert_eq!(pair.client.poll_timeout(), None);
}

#[test]
fn keepalive_is_on_by_default_and_lets_a_vanished_peer_go() {
    let mut pair = Pair::connected();
    let start = pair.now;
    assert_eq!(pair.client.poll_timeout(), Some(start + DEFAULT_KEEPALIVE));
    // The peer vanished: nothing the client sends is answered.
    pair.client.handle_timeout(start + DEFAULT_KEEPALIVE);
    assert!(
        drain_frames(&mut pair.client)
            .iter()
            .any(|f| f.header.kind == FrameKind::Ping)
    );
    pair.client.handle_timeout(start + 2 * DEFAULT_KEEPALIVE);
    assert_eq!(
        pair.client_events(),
        [Event::Closed {
            error: Some(SessionError::KeepaliveTimeout)
        }]
    );
}

#[test]
fn a_partial_frame_must_be_completed_within_the_frame_timeout() {
    let timeout = Duration::from_secs(4);
    let config = SessionConfig::default()
        .with_keepalive(None)
        .with_idle_timeout(None)
        .with_frame_timeout(Some(timeout));
    let mut pair = Pair::connected_with(SessionConfig::default(), config);
    let start = pair.now;
    assert_eq!(pair.server.poll_timeout(), None);
    pair.server.handle_partial_frame(start);
    assert_eq!(pair.server.poll_timeout(), Some(start + timeout));
    // Reported again while the same frame is still partial: the first
    // report counts.
    pair.server
        .handle_partial_frame(start + Duration::from_secs(3));
    assert_eq!(pair.server.poll_timeout(), Some(start + timeout));
    pair.server
        .handle_timeout(start + timeout - Duration::from_millis(1));
    assert!(!pair.server.is_closed());
    pair.server.handle_timeout(start + timeout);
    assert_eq!(
        pair.server_events(),
        [Event::Closed {
            error: Some(SessionError::FrameTimeout { timeout })
        }]
    );
    let goaway = drain_frames(&mut pair.server)
        .into_iter()
        .find(|f| f.header.kind == FrameKind::GoAway)
        .expect("a GOAWAY says why");
    let (code, reason) = wire::parse_goaway(&goaway.payload).expect("goaway");
    assert_eq!(code, Code::DeadlineExceeded);
    assert!(reason.contains("part of a frame"), "{reason}");
}

#[test]
fn a_link_that_times_its_own_reads_closes_the_session_as_a_frame_timeout() {
    closes_as_its_own_clock_would(
        Session::handle_frame_timeout,
        |timeout| SessionError::FrameTimeout { timeout },
        "part of a frame",
    );
}

#[test]
fn a_whole_frame_clears_the_frame_timer() {
    let config = SessionConfig::default()
        .with_keepalive(None)
        .with_idle_timeout(None);
    let mut pair = Pair::connected_with(SessionConfig::default(), config);
    let start = pair.now;
    pair.server.handle_partial_frame(start);
    // The frame completes: a PING arrives whole.
    pair.server.handle_frame(
        start + Duration::from_secs(29),
        raw(FrameKind::Ping, 0, 1, b""),
    );
    assert_eq!(pair.server.poll_timeout(), None);
    pair.server.handle_timeout(start + Duration::from_secs(60));
    assert!(!pair.server.is_closed());
    // The next partial frame starts its own clock.
    let later = start + Duration::from_secs(61);
    pair.server.handle_partial_frame(later);
    assert_eq!(
        pair.server.poll_timeout(),
        Some(later + DEFAULT_FRAME_TIMEOUT)
    );
}

#[test]
fn no_frame_timeout_when_it_is_off() {
    for off in [None, Some(Duration::ZERO)] {
        let config = SessionConfig::default()
            .with_keepalive(None)
            .with_idle_timeout(None)
            .with_frame_timeout(off);
        let mut pair = Pair::connected_with(SessionConfig::default(), config);
        pair.server.handle_partial_frame(pair.now);
        assert_eq!(pair.server.poll_timeout(), None);
    }
}

#[test]
fn a_partial_handshake_times_out_too() {
    let config = SessionConfig::default().with_frame_timeout(Some(Duration::from_secs(2)));
    let now = Instant::now();
    let mut server = Session::new(Role::Server, config, Hello::default(), now);
    server.handle_partial_frame(now);
    // Sooner than the handshake timeout.
    assert_eq!(server.poll_timeout(), Some(now + Duration::from_secs(2)));
    server.handle_timeout(now + Duration::from_secs(2));
    assert!(server.is_closed());
}

#[test]
fn a_pause_in_reading_is_not_the_peers_silence() {
    let config = SessionConfig::default().with_keepalive(Some(Duration::from_secs(5)));
    let mut pair = Pair::connected_with(SessionConfig::default(), config);
    let start = pair.now;
    pair.server.handle_partial_frame(start);
    // The driver stops reading for a minute (its writes are backed up):
    // neither keepalive nor the frame timeout may blame the peer.
    let later = start + Duration::from_secs(60);
    pair.server.handle_read_paused(later);
    pair.server.handle_timeout(later);
    assert!(!pair.server.is_closed());
    assert_eq!(
        pair.server.poll_timeout(),
        Some(later + Duration::from_secs(5))
    );
    // Reading resumed and nothing came: keepalive counts from the pause.
    pair.server.handle_timeout(later + Duration::from_secs(5));
    assert!(!pair.server.is_closed(), "a probe first");
}

/// A server that closes connections after `idle` without a channel, and a
/// client that never does.
fn idle_pair(idle: Duration) -> Pair {
    let client = SessionConfig::default().with_idle_timeout(None);
    let server = SessionConfig::default().with_idle_timeout(Some(idle));
    Pair::connected_with(client, server)
}

/// The GOAWAY `session` sent, as (code, reason).
fn goaway_of(session: &mut Session) -> (Code, String) {
    let goaway = drain_frames(session)
        .into_iter()
        .find(|f| f.header.kind == FrameKind::GoAway)
        .expect("a GOAWAY");
    wire::parse_goaway(&goaway.payload).expect("goaway")
}

#[test]
fn an_idle_connection_is_closed_with_ok_and_the_peer_sees_why() {
    let idle = Duration::from_secs(60);
    let mut pair = idle_pair(idle);
    let start = pair.now;
    assert_eq!(pair.server.poll_timeout(), Some(start + DEFAULT_KEEPALIVE));
    // Keepalive pings and pongs pass meanwhile: they are not use.
    pair.advance(idle - Duration::from_millis(1));
    assert!(!pair.server.is_closed());
    assert_eq!(pair.server.poll_timeout(), Some(start + idle));
    pair.server.handle_timeout(start + idle);
    assert_eq!(
        pair.server_events(),
        [Event::Closed {
            error: Some(SessionError::IdleTimeout { timeout: idle })
        }]
    );
    let (code, reason) = goaway_of(&mut pair.server);
    assert_eq!(code, Code::Ok);
    assert!(reason.contains("idle"), "{reason}");
}

#[test]
fn a_peer_told_of_an_idle_close_goes_away_gracefully() {
    let idle = Duration::from_secs(60);
    let mut pair = idle_pair(idle);
    pair.advance(idle);
    assert!(pair.server.is_closed());
    let events = pair.client_events();
    let Some(Event::Closed {
        error: Some(SessionError::PeerGoneAway { code, reason }),
    }) = events.last()
    else {
        panic!("unexpected {events:?}");
    };
    assert_eq!(*code, Code::Ok);
    assert!(reason.contains("idle"), "{reason}");
}

#[test]
fn an_open_call_keeps_a_connection_from_being_idle() {
    let idle = Duration::from_secs(60);
    let mut pair = idle_pair(idle);
    let start = pair.now;
    let channel = pair.call(b"slow", None);
    pair.pump();
    assert_eq!(pair.server_events().len(), 1);
    // The handler runs for three idle timeouts.
    pair.advance(3 * idle);
    assert!(!pair.server.is_closed());
    assert!(pair.server.respond(channel, ok(2, b"done")).is_sent());
    pair.pump();
    // The clock starts when the last channel closed, not at the call.
    let closed_at = pair.now;
    assert!(closed_at >= start + 3 * idle);
    pair.advance(idle - Duration::from_millis(1));
    assert!(!pair.server.is_closed());
    pair.advance(Duration::from_millis(1));
    assert!(pair.server.is_closed());
}

#[test]
fn each_call_restarts_the_idle_clock() {
    let idle = Duration::from_secs(60);
    let mut pair = idle_pair(idle);
    for _ in 0..5 {
        pair.advance(idle / 2);
        let channel = pair.call(b"tick", None);
        pair.pump();
        assert!(pair.server.respond(channel, ok(2, b"tock")).is_sent());
        pair.pump();
    }
    assert!(!pair.server.is_closed());
    pair.advance(idle);
    assert!(pair.server.is_closed());
}

#[test]
fn the_idle_timeout_can_be_off() {
    for off in [None, Some(Duration::ZERO)] {
        let config = SessionConfig::default().with_idle_timeout(off);
        let mut pair = Pair::connected_with(config.clone(), config);
        pair.advance(Duration::from_secs(24 * 3600));
        assert!(!pair.server.is_closed() && !pair.client.is_closed());
    }
}

#[test]
fn the_idle_timeout_is_on_by_default() {
    let mut pair = Pair::connected();
    pair.advance(DEFAULT_IDLE_TIMEOUT);
    assert!(pair.client.is_closed() && pair.server.is_closed());
}

#[test]
fn with_equal_settings_the_client_closes_first() {
    let idle = Duration::from_secs(100);
    let config = SessionConfig::default().with_idle_timeout(Some(idle));
    let mut pair = Pair::connected_with(config.clone(), config);
    pair.advance(idle * 9 / 10 - Duration::from_millis(1));
    assert!(!pair.client.is_closed());
    pair.advance(Duration::from_millis(1));
    assert!(pair.client.is_closed() && pair.server.is_closed());
    // The server closed on the client's GOAWAY, not on its own timer.
    let events = pair.server_events();
    assert!(
        matches!(
            events.last(),
            Some(Event::Closed {
                error: Some(SessionError::PeerGoneAway { code: Code::Ok, .. })
            })
        ),
        "{events:?}"
    );
}

#[test]
fn idleness_counts_from_the_time_the_driver_gives_after_an_answer() {
    let idle = Duration::from_secs(60);
    let client = SessionConfig::default()
        .with_idle_timeout(None)
        .with_keepalive(None);
    let server = SessionConfig::default()
        .with_idle_timeout(Some(idle))
        .with_keepalive(None);
    let mut pair = Pair::connected_with(client, server);
    let channel = pair.call(b"slow", None);
    pair.pump();
    assert_eq!(pair.server_events().len(), 1);
    // A handler that takes three idle timeouts, with no frame meanwhile.
    pair.advance(3 * idle);
    assert!(pair.server.respond(channel, ok(2, b"done")).is_sent());
    // The answer carries no clock; the driver's turn ends at `now`.
    pair.server.note_time(pair.now);
    pair.pump();
    pair.advance(idle - Duration::from_millis(1));
    assert!(
        !pair.server.is_closed(),
        "idle from the answer, not the call"
    );
    pair.advance(Duration::from_millis(1));
    assert!(pair.server.is_closed());
}

#[test]
fn a_peer_that_takes_nothing_written_is_let_go_after_the_frame_timeout() {
    let timeout = Duration::from_secs(30);
    let config = SessionConfig::default()
        .with_keepalive(None)
        .with_idle_timeout(None);
    let mut pair = Pair::connected_with(config.clone(), config);
    let start = pair.now;
    assert_eq!(pair.server.poll_timeout(), None);
    pair.server.handle_send_stalled(start);
    assert_eq!(pair.server.poll_timeout(), Some(start + timeout));
    // Reported again while nothing moves: the first report counts.
    pair.server
        .handle_send_stalled(start + Duration::from_secs(10));
    assert_eq!(pair.server.poll_timeout(), Some(start + timeout));
    // The peer takes something: the clock stops, and starts afresh.
    pair.server.handle_send_progress();
    assert_eq!(pair.server.poll_timeout(), None);
    let later = start + Duration::from_secs(20);
    pair.server.handle_send_stalled(later);
    pair.server
        .handle_timeout(later + timeout - Duration::from_millis(1));
    assert!(!pair.server.is_closed());
    pair.server.handle_timeout(later + timeout);
    assert_eq!(
        pair.server_events(),
        [Event::Closed {
            error: Some(SessionError::SendTimeout { timeout })
        }]
    );
    let goaway = drain_frames(&mut pair.server)
        .into_iter()
        .find(|f| f.header.kind == FrameKind::GoAway)
        .expect("a GOAWAY says why (a driver whose link is stuck drops it)");
    let (code, reason) = wire::parse_goaway(&goaway.payload).expect("goaway");
    assert_eq!(code, Code::DeadlineExceeded);
    assert!(reason.contains("took nothing"), "{reason}");
}

#[test]
fn a_link_that_times_its_own_writes_closes_the_session_as_a_send_timeout() {
    closes_as_its_own_clock_would(
        Session::handle_send_timeout,
        |timeout| SessionError::SendTimeout { timeout },
        "took nothing",
    );
}

/// A link that times itself (QUIC) reports a timeout with `report`: the
/// server's open call is told to stop, the session closes with `error`,
/// a second report changes nothing, and the GOAWAY's reason `says` why.
fn closes_as_its_own_clock_would(
    report: fn(&mut Session, Duration),
    error: fn(Duration) -> SessionError,
    says: &str,
) {
    let config = SessionConfig::default()
        .with_keepalive(None)
        .with_idle_timeout(None);
    let mut pair = Pair::connected_with(config.clone(), config);
    let channel = pair.call(b"answer me", None);
    pair.pump();
    assert_eq!(pair.server_events().len(), 1);
    let timeout = Duration::from_millis(300);
    report(&mut pair.server, timeout);
    // The open call's handler is told to stop, then the session closes.
    assert_eq!(
        pair.server_events(),
        [
            Event::Cancelled {
                channel,
                code: Code::Unavailable
            },
            Event::Closed {
                error: Some(error(timeout))
            }
        ]
    );
    assert!(pair.server.is_closed());
    // The call is over, and a second report changes nothing.
    assert!(!pair.server.respond(channel, ok(2, b"late")).is_sent());
    report(&mut pair.server, timeout);
    assert!(pair.server_events().is_empty());
    let (code, reason) = goaway_of(&mut pair.server);
    assert_eq!(code, Code::DeadlineExceeded);
    assert!(reason.contains(says), "{reason}");
}

#[test]
fn without_a_frame_timeout_a_stalled_peer_is_not_timed() {
    let config = SessionConfig::default()
        .with_keepalive(None)
        .with_idle_timeout(None)
        .with_frame_timeout(None);
    let mut pair = Pair::connected_with(config.clone(), config);
    pair.server.handle_send_stalled(pair.now);
    assert_eq!(pair.server.poll_timeout(), None);
    pair.server
        .handle_timeout(pair.now + Duration::from_secs(3600));
    assert!(!pair.server.is_closed());
}
