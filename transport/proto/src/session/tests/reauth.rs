//! In-band re-authentication: AUTH frames between two sessions, and every
//! way a peer can send them wrong.

use super::*;
use crate::session::{Features, Lifetime, MAX_AUTH_PROOF, ReauthError};

fn proof(bytes: &'static [u8]) -> Payload {
    Payload::from(bytes)
}

/// A pair whose client presented `bytes` and whose server raised it.
fn presented(pair: &mut Pair, bytes: &'static [u8]) {
    pair.client
        .reauthenticate(pair.now, proof(bytes))
        .expect("the proof goes out");
    pair.pump();
    assert_eq!(
        pair.server_events(),
        [Event::Reauthenticate {
            proof: proof(bytes)
        }]
    );
}

#[test]
fn a_proof_is_answered_with_the_new_lifetime_while_calls_go_on() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"slow", None);
    pair.pump();
    let Some(Event::Call {
        channel: incoming, ..
    }) = pair.server_events().pop()
    else {
        panic!("no call");
    };

    presented(&mut pair, b"token-1");
    let lifetime = Lifetime::new(Duration::from_secs(600));
    pair.server.confirm_reauth(pair.now, Some(lifetime));
    pair.pump();
    assert_eq!(
        pair.client_events(),
        [Event::Reauthenticated {
            lifetime: Some(lifetime)
        }]
    );
    // The open call was not disturbed.
    pair.server.respond(incoming, ok(1, b"done"));
    pair.pump();
    assert!(matches!(&pair.client_events()[..], [e] if is_response(e)));
    let _ = channel;

    // A second proof, numbered 2, answered without a lifetime.
    presented(&mut pair, b"token-2");
    pair.server.confirm_reauth(pair.now, None);
    pair.pump();
    assert_eq!(
        pair.client_events(),
        [Event::Reauthenticated { lifetime: None }]
    );
    let auths: Vec<u64> = (pair.sent.iter())
        .filter(|(_, h)| h.kind == FrameKind::Auth)
        .map(|(role, h)| {
            if *role == Role::Client {
                h.aux
            } else {
                100 + h.aux
            }
        })
        .collect();
    assert_eq!(auths, [1, 101, 2, 102]);
}

#[test]
fn a_server_asks_for_a_proof() {
    let mut pair = Pair::connected();
    let within = Lifetime::new(Duration::from_secs(10));
    pair.server.request_reauth(pair.now, Some(within));
    pair.pump();
    assert_eq!(
        pair.client_events(),
        [Event::ReauthRequested {
            within: Some(within)
        }]
    );
    // A confirmation with no proof waiting sends nothing.
    pair.server.confirm_reauth(pair.now, None);
    assert!(drain_frames(&mut pair.server).is_empty());
}

#[test]
fn a_refused_proof_closes_both_sides() {
    let mut pair = Pair::connected();
    let channel = pair.call(b"open", None);
    pair.pump();
    pair.server_events();
    presented(&mut pair, b"someone else");
    pair.server
        .close(pair.now, Code::Unauthenticated, "the subject changed");
    pair.pump();
    let server = pair.server_events();
    assert!(matches!(server.last(), Some(Event::Closed { error: None })));
    let client = pair.client_events();
    assert!(
        client.iter().any(|e| matches!(
            e,
            Event::GoAway { code: Code::Unauthenticated, reason } if reason == "the subject changed"
        )),
        "{client:?}"
    );
    pair.client.handle_link_closed(pair.now);
    let failed: Vec<_> = pair.client_events().iter().filter_map(failure).collect();
    assert_eq!(failed, [(channel, Code::Unavailable)]);
}

#[test]
fn a_client_presents_one_proof_at_a_time_and_only_when_it_may() {
    let mut pair = Pair::connected();
    let now = pair.now;
    pair.client.reauthenticate(now, proof(b"a")).unwrap();
    assert_eq!(
        pair.client.reauthenticate(now, proof(b"b")),
        Err(ReauthError::Pending)
    );
    assert_eq!(
        pair.server.reauthenticate(now, proof(b"b")),
        Err(ReauthError::WrongRole)
    );
    let big = Payload::from(vec![0u8; MAX_AUTH_PROOF + 1]);
    let mut fresh = Pair::connected();
    assert_eq!(
        fresh.client.reauthenticate(now, big),
        Err(ReauthError::TooLarge {
            len: MAX_AUTH_PROOF + 1,
            max: MAX_AUTH_PROOF
        })
    );

    let mut early = Pair::new(SessionConfig::default(), SessionConfig::default());
    assert_eq!(
        early.client.reauthenticate(now, proof(b"a")),
        Err(ReauthError::NotEstablished)
    );

    let without = SessionConfig::default().with_features(Features::PACKED, Features::EMPTY);
    let mut old = Pair::connected_with(without, SessionConfig::default());
    assert_eq!(
        old.client.reauthenticate(now, proof(b"a")),
        Err(ReauthError::NotNegotiated)
    );
    old.client.close(now, Code::Ok, "bye");
    assert_eq!(
        old.client.reauthenticate(now, proof(b"a")),
        Err(ReauthError::Closed)
    );
}

#[test]
fn a_server_refuses_auth_frames_that_break_the_rules() {
    let auth = |aux, body| raw(FrameKind::Auth, 0, aux, body);
    let cases: [(&str, Vec<Frame>); 5] = [
        ("on a channel", vec![raw(FrameKind::Auth, 1, 1, b"t")]),
        ("out of sequence", vec![auth(2, b"t")]),
        ("sequence zero", vec![auth(0, b"t")]),
        (
            "a second before the answer",
            vec![auth(1, b"t"), auth(2, b"t")],
        ),
        (
            "too large",
            vec![Frame::new(
                {
                    let mut h = FrameHeader::new(FrameKind::Auth);
                    h.aux = 1;
                    h
                },
                Payload::from(vec![0u8; MAX_AUTH_PROOF + 1]),
            )],
        ),
    ];
    for (case, frames) in cases {
        let mut pair = Pair::connected();
        for frame in frames {
            pair.server.handle_frame(pair.now, frame);
        }
        let events = pair.server_events();
        assert!(
            matches!(
                events.last(),
                Some(Event::Closed {
                    error: Some(SessionError::Protocol { .. })
                })
            ),
            "{case}: {events:?}"
        );
    }

    // Without the feature (this HELLO offered none) the kind is not spoken.
    let mut server = established_server();
    server.handle_frame(Instant::now(), auth(1, b"t"));
    assert_protocol_error(&drain_events(&mut server));

    // Before the handshake finished.
    let now = Instant::now();
    let mut fresh = Session::new(
        Role::Server,
        SessionConfig::default(),
        Hello::default(),
        now,
    );
    fresh.handle_frame(now, hello_frame(&hello()));
    fresh.handle_frame(now, auth(1, b"t"));
    assert_protocol_error(&drain_events(&mut fresh));
}

#[test]
fn a_client_refuses_answers_to_no_proof_and_malformed_lifetimes() {
    let auth = |aux, body| raw(FrameKind::Auth, 0, aux, body);
    for (case, frame) in [
        ("answer to no proof", auth(1, b"")),
        ("malformed lifetime", auth(0, b"\x01\x02\x03")),
    ] {
        let mut pair = Pair::connected();
        pair.client.handle_frame(pair.now, frame);
        let events = pair.client_events();
        assert!(
            matches!(
                events.last(),
                Some(Event::Closed {
                    error: Some(SessionError::Protocol { .. })
                })
            ),
            "{case}: {events:?}"
        );
    }
    // An answer naming another proof than the one waiting.
    let mut pair = Pair::connected();
    pair.client.reauthenticate(pair.now, proof(b"t")).unwrap();
    drain_frames(&mut pair.client);
    pair.client.handle_frame(pair.now, auth(2, b""));
    assert_protocol_error(&pair.client_events());
}

#[test]
fn lifetimes_round_down_to_milliseconds_and_saturate() {
    let lifetime = Lifetime::new(Duration::from_micros(1_999));
    assert_eq!(lifetime.remaining(), Duration::from_millis(1));
    assert_eq!(Lifetime::decode(&lifetime.encode()), Ok(lifetime));
    let huge = Lifetime::new(Duration::MAX);
    assert_eq!(Lifetime::decode(&huge.encode()), Ok(huge));
    assert!(Lifetime::decode(&[0; 9]).is_err());
    assert!(Lifetime::decode(&[]).is_err());
}

#[test]
fn debug_never_shows_a_proof() {
    let event = Event::Reauthenticate {
        proof: proof(b"secret-token"),
    };
    let shown = format!("{event:?}");
    assert!(!shown.contains("secret"), "{shown}");
}
