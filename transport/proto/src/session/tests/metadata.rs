//! Call metadata: a block before the request in a CALL flagged
//! `METADATA`, checked before the call is admitted.

use super::*;
use crate::frame::Flags;
use crate::session::{Features, OpenError, OutgoingStream};

fn metadata(entries: &[(&str, &str)]) -> Metadata {
    let mut metadata = Metadata::new();
    for (key, value) in entries {
        metadata.insert(key, value).unwrap();
    }
    metadata
}

fn with_metadata(body: &'static [u8], metadata: Metadata) -> OutgoingCall {
    OutgoingCall {
        metadata,
        ..outgoing(body, None)
    }
}

/// A block in the wire form, whatever its entries: what a peer that does
/// not check them could send.
fn raw_block(entries: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = vec![0u8; 8];
    out[4] = entries.len() as u8;
    for (key, value) in entries {
        out.push(key.len() as u8);
        out.extend_from_slice(key);
        out.extend_from_slice(&(value.len() as u16).to_le_bytes());
        out.extend_from_slice(value);
    }
    out.resize(out.len().div_ceil(16) * 16, 0);
    let len = out.len() as u32;
    out[..4].copy_from_slice(&len.to_le_bytes());
    out
}

/// A CALL of op 7 on `channel` with `flags` and `payload`.
fn call_frame(channel: u32, flags: Flags, payload: Vec<u8>) -> Frame {
    let mut frame = raw(FrameKind::Call, channel, 0, b"");
    frame.header.flags = flags;
    frame.payload = Payload::from(payload);
    frame
}

/// A server past the handshake with a client that offered `features`.
fn server_with_peer_features(features: Features) -> Session {
    server_with(SessionConfig::default(), features)
}

/// A server with `config` past the handshake with a client that offered
/// `features`.
fn server_with(config: SessionConfig, features: Features) -> Session {
    let now = Instant::now();
    let mut server = Session::new(Role::Server, config, Hello::default(), now);
    let mut hello = hello();
    hello.features = features;
    server.handle_frame(now, hello_frame(&hello));
    assert_eq!(drain_events(&mut server), [Event::Hello]);
    assert!(server.accept(now, server_accept()));
    server.handle_frame(now, accept_frame(&Accept::default()));
    assert_eq!(drain_events(&mut server), [Event::Established]);
    drain_frames(&mut server);
    server
}

/// The ERRORs `session` queued, as (channel, code).
fn errors(session: &mut Session) -> Vec<(u32, u64)> {
    drain_frames(session)
        .into_iter()
        .filter(|f| f.header.kind == FrameKind::Error)
        .map(|f| (f.header.channel, f.header.aux))
        .collect()
}

#[test]
fn metadata_reaches_the_server_beside_an_untouched_request() {
    let mut pair = Pair::connected();
    let sent = metadata(&[("request-id", "r-1"), ("tenant-hint", "acme")]);
    let channel = pair
        .client
        .open_call(pair.now, with_metadata(b"ping?", sent.clone()))
        .unwrap();
    pair.pump();
    let header = pair.last_sent_by(Role::Client).unwrap();
    assert!(header.flags.contains(Flags::METADATA));
    let events = pair.server_events();
    let [
        Event::Call {
            payload,
            metadata,
            open: false,
            ..
        },
    ] = events.as_slice()
    else {
        panic!("unexpected {events:?}");
    };
    assert_eq!((&payload[..], metadata), (&b"ping?"[..], &sent));
    // The request after the block keeps its alignment.
    assert_eq!(payload.as_ptr() as usize % Payload::ALIGN, 0);
    assert!(pair.server.respond(channel, ok(1, b"pong")).is_sent());
    pair.pump();
    assert!(pair.client_events().iter().any(is_response));
}

#[test]
fn a_call_without_metadata_sends_no_block() {
    let mut pair = Pair::connected();
    pair.call(b"ping?", None);
    pair.pump();
    let header = pair.last_sent_by(Role::Client).unwrap();
    assert_eq!(header.flags, Flags::NONE);
}

#[test]
fn a_stream_open_carries_metadata_and_nothing_else() {
    let mut pair = Pair::connected();
    let sent = metadata(&[("trace", "00-abc-01")]);
    let stream = OutgoingStream {
        op: 7,
        codec: CodecId::new(1),
        deadline: None,
        priority: Priority::DEFAULT,
        metadata: sent.clone(),
    };
    pair.client.open_stream(pair.now, stream).unwrap();
    pair.pump();
    let events = pair.server_events();
    let [
        Event::Call {
            payload,
            metadata,
            open: true,
            ..
        },
    ] = events.as_slice()
    else {
        panic!("unexpected {events:?}");
    };
    assert!(payload.is_empty());
    assert_eq!(metadata, &sent);
}

#[test]
fn metadata_and_a_request_past_one_chunk_open_the_request_direction() {
    let config = SessionConfig::default().with_max_chunk(1000);
    let mut pair = Pair::connected_with(config.clone(), config);
    // The request alone fits a chunk; with the block it does not.
    let request: &'static [u8] = &[9u8; 990];
    let sent = metadata(&[("request-id", "r-2")]);
    pair.client
        .open_call(pair.now, with_metadata(request, sent.clone()))
        .unwrap();
    pair.pump();
    let events = pair.server_events();
    let Event::Call {
        metadata,
        open: true,
        payload,
        ..
    } = &events[0]
    else {
        panic!("unexpected {events:?}");
    };
    assert_eq!((metadata, payload.len()), (&sent, 0));
    let Event::Data { chunk, .. } = &events[1] else {
        panic!("unexpected {events:?}");
    };
    assert_eq!(&chunk.payload[..], request);
    assert!(matches!(events[2], Event::End { .. }), "{events:?}");
}

#[test]
fn metadata_the_peer_cannot_take_is_refused_before_it_leaves() {
    let client = SessionConfig {
        features: Features::PACKED,
        ..SessionConfig::default()
    };
    let mut pair = Pair::connected_with(client, SessionConfig::default());
    let refused = pair
        .client
        .open_call(pair.now, with_metadata(b"x", metadata(&[("a", "b")])));
    assert_eq!(refused, Err(OpenError::NoMetadata));
    // Without metadata the call goes.
    pair.call(b"x", None);

    let small = SessionConfig::default().with_max_chunk(16);
    let mut pair = Pair::connected_with(SessionConfig::default(), small);
    let refused = pair.client.open_call(
        pair.now,
        with_metadata(b"x", metadata(&[("key", "a value longer than 16")])),
    );
    assert_eq!(
        refused,
        Err(OpenError::MetadataTooLarge { len: 48, max: 16 })
    );
    assert_eq!(pair.client.open_channels(), 0);
}

#[test]
fn data_past_the_window_of_a_refused_open_is_still_a_flow_error() {
    // A window of 1 KiB, and frames of at most 256 bytes.
    let config = (SessionConfig::default())
        .with_windows(1024, 1 << 20)
        .with_max_chunk(256);
    let mut server = server_with(config, Features::METADATA);
    let block = raw_block(&[(b"cookie", b"id=1")]);
    let open = Flags::OPEN.with(Flags::METADATA);
    server.handle_frame(Instant::now(), call_frame(1, open, block));
    assert_eq!(errors(&mut server), [(1, Code::InvalidArgument as u64)]);
    // The window's worth (and the one frame that may overdraw it) is
    // discarded quietly; the next frame is past it.
    let item: &'static [u8] = &[0u8; 224]; // costs 256 with its header
    for _ in 0..5 {
        server.handle_frame(Instant::now(), raw(FrameKind::Data, 1, 0, item));
        assert!(drain_events(&mut server).is_empty());
    }
    server.handle_frame(Instant::now(), raw(FrameKind::Data, 1, 0, item));
    server.handle_frame(Instant::now(), raw(FrameKind::Data, 1, 0, item));
    let events = drain_events(&mut server);
    assert!(
        matches!(
            events.last(),
            Some(Event::Closed {
                error: Some(SessionError::FlowControl { .. })
            })
        ),
        "{events:?}"
    );
}

#[test]
fn a_credential_in_metadata_fails_the_call_unread_and_the_session_goes_on() {
    let mut server = server_with_peer_features(Features::METADATA);
    let jwt = b"eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln";
    for (channel, key, value) in [
        (1, &b"authorization"[..], &b"anything"[..]),
        (3, b"x-trace", jwt),
        (5, b"x-trace", b"Bearer abc123def456"),
    ] {
        let mut payload = raw_block(&[(key, value)]);
        payload.extend_from_slice(b"request");
        server.handle_frame(
            Instant::now(),
            call_frame(channel, Flags::METADATA, payload),
        );
        assert!(drain_events(&mut server).is_empty());
        assert_eq!(
            errors(&mut server),
            [(channel, Code::InvalidArgument as u64)]
        );
    }
    // A refused stream open: its DATA is discarded, not a protocol error.
    let block = raw_block(&[(b"cookie", b"id=1")]);
    let open = Flags::OPEN.with(Flags::METADATA);
    server.handle_frame(Instant::now(), call_frame(7, open, block));
    assert_eq!(errors(&mut server), [(7, Code::InvalidArgument as u64)]);
    server.handle_frame(Instant::now(), raw(FrameKind::Data, 7, 0, b"item"));
    let events = drain_events(&mut server);
    assert!(events.is_empty() && !server.is_closed(), "{events:?}");
    // The next call is served.
    server.handle_frame(Instant::now(), raw(FrameKind::Call, 9, 0, b"ok"));
    let events = drain_events(&mut server);
    assert!(matches!(events[..], [Event::Call { .. }]), "{events:?}");
}

#[test]
fn a_malformed_block_fails_the_call_and_the_session_goes_on() {
    let mut server = server_with_peer_features(Features::METADATA);
    let good = raw_block(&[(b"k", b"v")]);
    let mut cut = good.clone();
    cut.truncate(10);
    let mut bad_key = raw_block(&[(b"K", b"v")]);
    bad_key.extend_from_slice(b"request");
    let twice = raw_block(&[(b"k", b"1"), (b"k", b"2")]);
    let mut padded = good.clone();
    *padded.last_mut().unwrap() = 1;
    for (i, payload) in [Vec::new(), cut, bad_key, twice, padded]
        .into_iter()
        .enumerate()
    {
        let channel = 1 + 2 * i as u32;
        server.handle_frame(
            Instant::now(),
            call_frame(channel, Flags::METADATA, payload),
        );
        assert!(drain_events(&mut server).is_empty(), "case {i}");
        assert_eq!(
            errors(&mut server),
            [(channel, Code::InvalidArgument as u64)],
            "case {i}"
        );
    }
    assert!(!server.is_closed());
}

#[test]
fn metadata_from_a_peer_that_did_not_offer_it_is_a_protocol_error() {
    let mut server = server_with_peer_features(Features::EMPTY);
    let payload = raw_block(&[(b"k", b"v")]);
    server.handle_frame(Instant::now(), call_frame(1, Flags::METADATA, payload));
    assert_protocol_error(&drain_events(&mut server));
}

#[test]
fn an_open_call_with_a_request_after_its_block_is_a_protocol_error() {
    let mut server = server_with_peer_features(Features::METADATA);
    let mut payload = raw_block(&[(b"k", b"v")]);
    payload.extend_from_slice(b"request");
    let open = Flags::OPEN.with(Flags::METADATA);
    server.handle_frame(Instant::now(), call_frame(1, open, payload));
    assert_protocol_error(&drain_events(&mut server));
}
