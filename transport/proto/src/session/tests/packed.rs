//! Packed DATA: small messages sharing a frame, their credit, and every
//! way a peer can get the layout wrong.

use super::streams::{consume, open_stream};
use super::*;
use crate::frame::Flags;
use crate::session::{Features, Packer, SendError};

fn packer(messages: &[&[u8]]) -> Packer {
    let mut packer = Packer::default();
    for message in messages {
        packer.push(&Payload::copy_from_slice(message));
    }
    packer
}

#[test]
fn packed_messages_arrive_in_order_and_give_back_their_whole_frame() {
    let mut pair = Pair::connected();
    assert!(pair.client.packs() && pair.server.packs());
    let channel = pair.call(b"filter", None);
    pair.pump();
    pair.server_events();
    let mut pack = packer(&[b"a", b"", &[9; 100]]);
    let codec = CodecId::new(1);
    assert_eq!(pair.server.send_packed(channel, codec, &mut pack), Ok(true));
    assert!(pack.is_empty(), "the packer is taken");
    assert_eq!(
        pair.server
            .send(channel, codec, Payload::from(&b"alone"[..])),
        Ok(true)
    );
    pair.pump();
    let header = pair.last_sent_by(Role::Server).expect("frames");
    assert_eq!((header.flags, header.aux), (Flags::NONE, 0), "the lone one");
    let events = pair.client_events();
    let items = consume(&mut pair.client, &events, channel);
    assert_eq!(
        items,
        [b"a".to_vec(), Vec::new(), vec![9; 100], b"alone".to_vec()]
    );
    let packed = pair
        .sent
        .iter()
        .filter(|(role, h)| *role == Role::Server && h.flags == Flags::PACKED)
        .map(|(_, h)| h.aux)
        .collect::<Vec<_>>();
    assert_eq!(packed, [3], "one frame of three messages");
    // Everything consumed went back: the window is whole again.
    pair.pump();
    assert_eq!(pair.client.buffered().0, 0);
}

#[test]
fn a_pack_waits_for_credit_like_any_message() {
    let config = SessionConfig::default().with_windows(1024, 1 << 20);
    let mut pair = Pair::connected_with(config.clone(), config);
    let channel = open_stream(&mut pair);
    pair.pump();
    pair.server_events();
    let codec = CodecId::new(1);
    // A message and its header spend the whole window: the pack waits.
    let big = Payload::from(vec![1u8; 992]);
    assert_eq!(pair.client.send(channel, codec, big), Ok(true));
    let mut pack = packer(&[&[2; 40], &[3; 40]]);
    assert_eq!(
        pair.client.send_packed(channel, codec, &mut pack),
        Ok(false)
    );
    pair.pump();
    let events = pair.server_events();
    assert_eq!(consume(&mut pair.server, &events, channel).len(), 1);
    pair.pump();
    let events = pair.server_events();
    assert_eq!(
        consume(&mut pair.server, &events, channel),
        [vec![2; 40], vec![3; 40]]
    );
    assert!(
        events.contains(&Event::Writable { channel }) || pair.client.is_writable(channel),
        "the sender may send again"
    );
}

#[test]
fn a_pack_larger_than_a_chunk_or_empty_is_refused_before_anything_is_sent() {
    let config = SessionConfig::default().with_max_chunk(256);
    let mut pair = Pair::connected_with(config.clone(), config);
    let channel = open_stream(&mut pair);
    pair.pump();
    assert_eq!(pair.client.pack_limit(), 256);
    let codec = CodecId::new(1);
    let mut empty = Packer::default();
    assert!(matches!(
        pair.client.send_packed(channel, codec, &mut empty),
        Err(SendError::TooLarge { len: 0, .. })
    ));
    let mut pack = packer(&[&[1; 200], &[2; 200]]);
    assert_eq!(
        pair.client.send_packed(channel, codec, &mut pack),
        Err(SendError::TooLarge { len: 448, max: 256 })
    );
    assert!(pair.client.is_writable(channel), "nothing was queued");
}

#[test]
fn a_peer_that_does_not_unpack_gets_no_packs() {
    let config = SessionConfig::default().with_features(Features::EMPTY, Features::EMPTY);
    let mut pair = Pair::connected_with(SessionConfig::default(), config);
    assert!(!pair.client.packs() && !pair.server.packs());
    assert_eq!(pair.client.pack_limit(), 0);
    let channel = open_stream(&mut pair);
    let mut pack = packer(&[b"x"]);
    assert!(matches!(
        pair.client.send_packed(channel, CodecId::new(1), &mut pack),
        Err(SendError::TooLarge { max: 0, .. })
    ));
}

/// A server whose client (which offered packing) opened stream 1.
fn server_with_stream() -> Session {
    let now = Instant::now();
    let mut server = Session::new(
        Role::Server,
        SessionConfig::default(),
        Hello::default(),
        now,
    );
    let mut client = hello();
    client.features = Features::PACKED;
    server.handle_frame(now, hello_frame(&client));
    assert!(server.accept(now, server_accept()));
    server.handle_frame(now, accept_frame(&Accept::default()));
    let mut call = raw(FrameKind::Call, 1, 0, b"");
    call.header.flags = Flags::OPEN;
    server.handle_frame(now, call);
    drain_frames(&mut server);
    drain_events(&mut server);
    assert!(server.packs());
    server
}

fn packed_frame(flags: Flags, aux: u64, body: Vec<u8>) -> Frame {
    let mut header = FrameHeader::new(FrameKind::Data);
    header.channel = 1;
    header.codec = 1;
    header.flags = flags;
    header.aux = aux;
    Frame::new(header, Payload::from(body))
}

fn feed(server: &mut Session, frame: Frame) -> Vec<Event> {
    server.handle_frame(Instant::now(), frame);
    drain_events(server)
}

fn two_messages() -> Vec<u8> {
    packer(&[b"abc", b"de"]).take().0.to_vec()
}

#[test]
fn a_well_formed_pack_from_a_raw_peer_is_raised_as_one_chunk() {
    let mut server = server_with_stream();
    let events = feed(&mut server, packed_frame(Flags::PACKED, 2, two_messages()));
    match &events[..] {
        [Event::Data { chunk, .. }] => assert!(chunk.packed && chunk.is_whole()),
        other => panic!("expected one packed chunk, got {other:?}"),
    }
}

#[test]
fn a_bad_pack_is_a_protocol_error() {
    let cut = {
        let mut body = two_messages();
        body.pop();
        body
    };
    let lying = {
        let mut body = two_messages();
        body[..4].copy_from_slice(&1000u32.to_le_bytes());
        body
    };
    let cases = [
        (
            "count too high",
            packed_frame(Flags::PACKED, 3, two_messages()),
        ),
        ("count of zero", packed_frame(Flags::PACKED, 0, Vec::new())),
        ("cut short", packed_frame(Flags::PACKED, 2, cut)),
        (
            "length beyond the frame",
            packed_frame(Flags::PACKED, 2, lying),
        ),
        (
            "with other flags",
            packed_frame(Flags::PACKED.with(Flags::APP_ERROR), 2, two_messages()),
        ),
        (
            "with more chunks",
            packed_frame(Flags::PACKED.with(Flags::MORE), 2, two_messages()),
        ),
    ];
    for (case, frame) in cases {
        let mut server = server_with_stream();
        let events = feed(&mut server, frame);
        match events.last() {
            Some(Event::Closed {
                error: Some(SessionError::Protocol { .. }),
            }) => {}
            other => panic!("{case}: expected a protocol error, got {other:?}"),
        }
    }
}

#[test]
fn a_pack_inside_a_chunked_message_is_a_protocol_error() {
    let mut server = server_with_stream();
    let first = packed_frame(Flags::MORE, 100, vec![0; 10]);
    assert!(matches!(
        &feed(&mut server, first)[..],
        [Event::Data { .. }]
    ));
    let events = feed(&mut server, packed_frame(Flags::PACKED, 2, two_messages()));
    assert_protocol_error(&events);
}

#[test]
fn a_pack_where_none_was_negotiated_is_a_protocol_error() {
    // The raw client's HELLO offers nothing.
    let now = Instant::now();
    let mut server = Session::new(
        Role::Server,
        SessionConfig::default(),
        Hello::default(),
        now,
    );
    server.handle_frame(now, hello_frame(&hello()));
    assert!(server.accept(now, server_accept()));
    server.handle_frame(now, accept_frame(&Accept::default()));
    let mut call = raw(FrameKind::Call, 1, 0, b"");
    call.header.flags = Flags::OPEN;
    server.handle_frame(now, call);
    drain_events(&mut server);
    assert!(!server.packs());
    let events = feed(&mut server, packed_frame(Flags::PACKED, 2, two_messages()));
    assert_protocol_error(&events);
}
