//! The segments codec: segments travel without copies, the layout is checked
//! before use, and bad input is an error, never a panic.

use bytes::Bytes;
use facet::Facet;
use prism_codecs::postcard::SHARE_BYTES_AT;
use prism_codecs::segments::{self, Segmented, Segments};
use prism_codecs::{Decode, DecodeError, Encode, EncodeBuf, Limits, Payload};

#[derive(Facet, Debug, Clone, PartialEq)]
struct Range {
    file: String,
    offsets: Vec<u64>,
}

fn message(sizes: &[usize]) -> Segmented<Range> {
    Segmented {
        header: Range {
            file: "data.bin".into(),
            offsets: sizes.iter().map(|&s| s as u64).collect(),
        },
        segments: sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| Bytes::from(vec![i as u8 + 1; n]))
            .collect(),
    }
}

fn encode(message: &Segmented<Range>) -> Payload {
    let mut buf = EncodeBuf::new();
    Encode::<Segments>::encode(message, &mut buf, &Limits::default()).expect("encode");
    buf.finish()
}

fn decode(payload: &Payload) -> Result<Segmented<Range>, DecodeError> {
    Decode::<Segments>::decode(payload, &Limits::default())
}

#[test]
fn round_trips_over_a_contiguous_buffer_with_aligned_segments() {
    for sizes in [&[][..], &[0], &[1], &[16], &[17, 0, 4096], &[1 << 20, 3]] {
        let message = message(sizes);
        let payload = Payload::new(encode(&message).into_bytes());
        let back = decode(&payload).expect("decode");
        assert_eq!(back, message);
        for segment in back.segments.iter().filter(|s| !s.is_empty()) {
            assert_eq!(segment.as_ptr().align_offset(16), 0, "segment not aligned");
            // A large segment is a slice of the received buffer, not a
            // copy; a small one is copied, so keeping it does not keep the
            // buffer alive.
            let base = payload.as_ptr() as usize;
            let at = segment.as_ptr() as usize;
            let inside = at >= base && at + segment.len() <= base + payload.len();
            assert_eq!(inside, segment.len() >= SHARE_BYTES_AT, "{sizes:?}");
        }
    }
}

#[test]
fn segments_are_never_copied_on_the_way_out_or_in_when_kept_apart() {
    let message = message(&[5000, 70_000]);
    let encoded = encode(&message);
    let sent: Vec<*const u8> = message.segments.iter().map(|s| s.as_ptr()).collect();
    assert!(
        sent.iter()
            .all(|p| encoded.segments().any(|s| s.as_ptr() == *p))
    );
    // As an in-process link hands them over: the same buffers, in pieces.
    let (first, rest) = encoded.into_parts();
    let payload = Payload::from_segments(first, rest);
    assert!(payload.segment_count() > 1);
    let back = decode(&payload).expect("decode");
    assert_eq!(back, message);
    let received: Vec<*const u8> = back.segments.iter().map(|s| s.as_ptr()).collect();
    assert_eq!(
        received, sent,
        "the decoded segments are copies, not the buffers that were sent"
    );
}

#[test]
fn truncated_and_padded_inputs_are_errors() {
    let bytes = encode(&message(&[33, 7])).into_bytes();
    for len in 0..bytes.len() {
        assert!(
            decode(&Payload::copy_from_slice(&bytes[..len])).is_err(),
            "prefix {len} decoded"
        );
    }
    let mut longer = bytes.to_vec();
    longer.extend_from_slice(&[0; 16]);
    assert!(decode(&Payload::copy_from_slice(&longer)).is_err());
}

#[test]
fn padding_that_is_not_zero_is_an_error() {
    let bytes = encode(&message(&[33, 7])).into_bytes();
    assert!(decode(&Payload::copy_from_slice(&bytes)).is_ok());
    // The first segment (33 bytes of 1) starts at the first 16-byte
    // boundary after the header; the second (7 bytes of 2) ends the
    // payload, padded to 16.
    let first = bytes
        .iter()
        .position(|&b| b == 1)
        .expect("the first segment");
    assert_eq!(first % 16, 0);
    assert_eq!(bytes[first - 1], 0, "the header is padded");
    let cases = [
        ("after the header", first - 1),
        ("after a segment", first + 33),
        ("at the end", bytes.len() - 1),
    ];
    for (what, at) in cases {
        let mut bad = bytes.to_vec();
        bad[at] = 0x77;
        let err = decode(&Payload::copy_from_slice(&bad)).expect_err(what);
        assert!(err.to_string().contains("not zero"), "{what}: {err}");
    }
}

#[test]
fn lying_lengths_are_errors_not_allocations() {
    // A huge segment count with no room for its lengths.
    let mut bytes = vec![0u8; 16];
    bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(decode(&Payload::copy_from_slice(&bytes)).is_err());
    // A segment length past the end.
    let good = encode(&message(&[8])).to_vec();
    let mut bad = good.clone();
    bad[8..16].copy_from_slice(&u64::MAX.to_le_bytes());
    assert!(decode(&Payload::copy_from_slice(&bad)).is_err());
    // A header length past the end.
    let mut bad = good;
    bad[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
    assert!(decode(&Payload::copy_from_slice(&bad)).is_err());
}

#[test]
fn random_bytes_never_panic() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    for round in 0..5000 {
        let len = (round % 97) + 1;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                (state >> 24) as u8
            })
            .collect();
        let _ = decode(&Payload::copy_from_slice(&bytes));
    }
}

#[test]
fn write_and_read_build_custom_codecs() {
    let data = Bytes::from_static(&[1, 2, 3, 4]);
    let mut buf = EncodeBuf::new();
    segments::write(
        &mut buf,
        &42u32,
        std::slice::from_ref(&data),
        &Limits::default(),
    )
    .expect("write");
    let payload = Payload::new(buf.finish().into_bytes());
    let (header, segments): (u32, Vec<Bytes>) =
        segments::read(&payload, &Limits::default()).expect("read");
    assert_eq!(header, 42);
    assert_eq!(segments, vec![data]);
}
