//! Malformed and hostile input for the FlatBuffers codec: truncation at
//! every length, every single-bit flip, random bytes, huge offsets, values
//! the verifier cannot judge (bools, chars, enum and union indices), shared
//! sub-objects, trailing bytes. Every case is an error, never a panic, and a
//! view is accepted exactly when the owned decode is.

mod flatbuffers_corpus;

use ::flatbuffers::{FlatBufferBuilder, UnionWIPOffset, WIPOffset};
use facet::Facet;
use flatbuffers_corpus::*;
use prism_codecs::flatbuffers::{self as fb, FlatView};
use prism_codecs::{DecodeError, Limits, Payload};
use proptest::prelude::*;

/// Decodes `bytes` as a `T` both ways (owned and view) and checks they agree.
fn decode_both<T>(bytes: &[u8]) -> Result<T, DecodeError>
where
    T: Facet<'static> + PartialEq + core::fmt::Debug,
{
    let owned = fb::from_slice::<T>(bytes);
    let view = FlatView::<T>::new(Payload::copy_from_slice(bytes), &Limits::default());
    match (&owned, view) {
        (Ok(value), Ok(view)) => {
            let from_view = view.to_owned().expect("view decodes");
            // Or equal by `Debug`, for a NaN that a bit flip produced.
            assert!(
                from_view == *value || format!("{from_view:?}") == format!("{value:?}"),
                "view decoded {from_view:?}, owned {value:?}"
            );
        }
        (Err(_), Err(_)) => {}
        (owned, view) => panic!("owned decode {owned:?} but view {view:?}"),
    }
    owned
}

/// Every prefix is an error, or (when only alignment padding was cut off)
/// the same value.
fn truncations<T>(value: &T)
where
    T: Facet<'static> + PartialEq + core::fmt::Debug,
{
    let bytes = fb::to_vec(value).unwrap();
    for len in 0..bytes.len() {
        match decode_both::<T>(&bytes[..len]) {
            Err(_) => {}
            Ok(back) => {
                assert_eq!(
                    &back, value,
                    "prefix of {len} bytes decoded to another value"
                );
                assert!(
                    bytes.len() - len <= 7,
                    "prefix of {len}/{} bytes decoded",
                    bytes.len()
                );
                assert!(
                    bytes[len..].iter().all(|&b| b == 0),
                    "only padding may be cut"
                );
            }
        }
    }
}

/// Every single-bit flip decodes to something or fails; never panics.
fn bit_flips<T>(value: &T)
where
    T: Facet<'static> + PartialEq + core::fmt::Debug,
{
    let bytes = fb::to_vec(value).unwrap();
    let mut copy = bytes.clone();
    for i in 0..bytes.len() * 8 {
        copy[i / 8] ^= 1 << (i % 8);
        let _ = decode_both::<T>(&copy);
        copy[i / 8] ^= 1 << (i % 8);
    }
}

#[test]
fn truncated_at_every_length() {
    sample_scalars().iter().for_each(truncations);
    sample_blobs().iter().for_each(truncations);
    sample_nested().iter().for_each(truncations);
    sample_batches().iter().for_each(truncations);
    sample_maybes().iter().for_each(truncations);
    sample_drawings().iter().for_each(truncations);
    sample_maps().iter().for_each(truncations);
    sample_programs().iter().for_each(truncations);
    truncations(&String::from("root"));
    truncations(&Shape::Label("x".into()));
}

#[test]
fn every_bit_flipped() {
    sample_scalars().iter().for_each(bit_flips);
    bit_flips(&sample_blobs()[1]);
    sample_nested().iter().for_each(bit_flips);
    sample_batches().iter().for_each(bit_flips);
    sample_maybes().iter().for_each(bit_flips);
    sample_drawings().iter().for_each(bit_flips);
    sample_maps().iter().for_each(bit_flips);
    sample_programs().iter().for_each(bit_flips);
}

#[test]
fn tiny_inputs_are_errors() {
    for input in [
        &[][..],
        &[0],
        &[0, 0, 0],
        &[0, 0, 0, 0],
        &[4, 0, 0, 0],
        &[0xff; 4],
        &[0xff; 8],
    ] {
        assert!(decode_both::<Program>(input).is_err(), "{input:?}");
        assert!(decode_both::<Option<u32>>(input).is_err(), "{input:?}");
        assert!(decode_both::<()>(input).is_err(), "{input:?}");
    }
}

// ---------------------------------------------------------------------------
// Hand-built buffers.
// ---------------------------------------------------------------------------

/// Fields `on` (slot 0), `c` (1), `color` (2), `shape` (3 and 4), `name` (5).
#[derive(Facet, Debug, PartialEq)]
struct Probe {
    on: bool,
    c: char,
    color: Color,
    shape: Option<Shape>,
    name: String,
}

const ON: u16 = 4;
const C: u16 = 6;
const COLOR: u16 = 8;
const SHAPE_TYPE: u16 = 10;
const SHAPE: u16 = 12;
const NAME: u16 = 14;

/// Builds a `Probe`-like table: `name` is written unless `with_name` is
/// false, then `fill` pushes whatever else the case needs.
fn probe(
    with_name: bool,
    fill: impl FnOnce(&mut FlatBufferBuilder<'static>, Option<WIPOffset<UnionWIPOffset>>),
) -> Vec<u8> {
    let mut fbb = FlatBufferBuilder::new();
    let name = fbb.create_string("n");
    let empty = {
        let t = fbb.start_table();
        fbb.end_table(t)
    };
    let start = fbb.start_table();
    if with_name {
        fbb.push_slot_always(NAME, name);
    }
    fill(&mut fbb, Some(WIPOffset::new(empty.value())));
    let root = fbb.end_table(start);
    fbb.finish_minimal(root);
    fbb.finished_data().to_vec()
}

#[test]
fn hand_built_probe_decodes() {
    let bytes = probe(true, |fbb, empty| {
        fbb.push_slot_always(ON, true);
        fbb.push_slot_always(C, u32::from('λ'));
        fbb.push_slot_always(COLOR, 2u8);
        fbb.push_slot_always(SHAPE_TYPE, 4u8);
        fbb.push_slot_always(SHAPE, empty.unwrap());
    });
    let value = decode_both::<Probe>(&bytes).unwrap();
    assert_eq!(
        value,
        Probe {
            on: true,
            c: 'λ',
            color: Color::Blue,
            shape: Some(Shape::Empty),
            name: "n".into(),
        }
    );
}

#[test]
fn values_the_verifier_cannot_judge() {
    let bad_bool = probe(true, |fbb, _| fbb.push_slot_always(ON, 2u8));
    assert!(
        matches!(
            decode_both::<Probe>(&bad_bool),
            Err(DecodeError::InvalidValue {
                type_path: "bool",
                ..
            })
        ),
        "{:?}",
        decode_both::<Probe>(&bad_bool)
    );

    let surrogate = probe(true, |fbb, _| fbb.push_slot_always(C, 0xD800u32));
    assert!(matches!(
        decode_both::<Probe>(&surrogate),
        Err(DecodeError::InvalidValue {
            type_path: "char",
            ..
        })
    ));
    let too_big = probe(true, |fbb, _| fbb.push_slot_always(C, 0x11_0000u32));
    assert!(matches!(
        decode_both::<Probe>(&too_big),
        Err(DecodeError::InvalidValue { .. })
    ));

    let bad_enum = probe(true, |fbb, _| fbb.push_slot_always(COLOR, 3u8));
    assert!(matches!(
        decode_both::<Probe>(&bad_enum),
        Err(DecodeError::UnknownVariant { index: 3, .. })
    ));

    let bad_union = probe(true, |fbb, empty| {
        fbb.push_slot_always(SHAPE_TYPE, 9u8);
        fbb.push_slot_always(SHAPE, empty.unwrap());
    });
    assert!(matches!(
        decode_both::<Probe>(&bad_union),
        Err(DecodeError::UnknownVariant { index: 9, .. })
    ));

    // A union variant whose table lacks a required field: Label needs `f0`.
    let missing_in_variant = probe(true, |fbb, empty| {
        fbb.push_slot_always(SHAPE_TYPE, 3u8);
        fbb.push_slot_always(SHAPE, empty.unwrap());
    });
    let err = decode_both::<Probe>(&missing_in_variant).unwrap_err();
    assert!(err.to_string().contains("`f0`"), "{err}");
}

#[test]
fn structural_errors_name_what_is_wrong() {
    let no_name = probe(false, |_, _| {});
    let err = decode_both::<Probe>(&no_name).unwrap_err();
    assert!(
        matches!(&err, DecodeError::Codec { codec: "flatbuffers", message } if message.contains("required field `name`")),
        "{err:?}"
    );

    let type_without_value = probe(true, |fbb, _| fbb.push_slot_always(SHAPE_TYPE, 1u8));
    let err = decode_both::<Probe>(&type_without_value).unwrap_err();
    assert!(err.to_string().contains("union `shape`"), "{err}");

    let value_without_type = probe(true, |fbb, empty| {
        fbb.push_slot_always(SHAPE, empty.unwrap())
    });
    assert!(decode_both::<Probe>(&value_without_type).is_err());

    // A type NONE written out explicitly is an absent union.
    let explicit_none = probe(true, |fbb, _| fbb.push_slot_always(SHAPE_TYPE, 0u8));
    assert_eq!(decode_both::<Probe>(&explicit_none).unwrap().shape, None);

    // Invalid UTF-8 in a string.
    let mut fbb = FlatBufferBuilder::new();
    let bad = fbb.create_vector(&[0xffu8, 0xfe]);
    let start = fbb.start_table();
    fbb.push_slot_always(NAME, bad);
    let root = fbb.end_table(start);
    fbb.finish_minimal(root);
    let err = decode_both::<Probe>(fbb.finished_data()).unwrap_err();
    assert!(matches!(err, DecodeError::InvalidUtf8 { .. }), "{err:?}");

    // An array whose vector has the wrong length.
    #[derive(Facet, Debug, PartialEq)]
    struct Arr {
        a: [u8; 3],
    }
    let mut fbb = FlatBufferBuilder::new();
    let two = fbb.create_vector(&[1u8, 2]);
    let start = fbb.start_table();
    fbb.push_slot_always(4, two);
    let root = fbb.end_table(start);
    fbb.finish_minimal(root);
    let err = decode_both::<Arr>(fbb.finished_data()).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::InvalidValue {
                type_path: "array",
                ..
            }
        ),
        "{err:?}"
    );
}

/// Reads a little-endian u32 at `at`.
fn u32_at(bytes: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap())
}

#[test]
fn huge_offsets_and_lengths() {
    let blob = &sample_blobs()[0];
    let bytes = fb::to_vec(blob).unwrap();
    let root = u32_at(&bytes, 0) as usize;
    let vtable = (root as i64
        - i64::from(i32::from_le_bytes(
            bytes[root..root + 4].try_into().unwrap(),
        ))) as usize;
    let name_at = root + usize::from(u16::from_le_bytes([bytes[vtable + 4], bytes[vtable + 5]]));
    let string_at = name_at + u32_at(&bytes, name_at) as usize;

    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let mut set = |what: &'static str, at: usize, value: &[u8]| {
        let mut b = bytes.clone();
        b[at..at + value.len()].copy_from_slice(value);
        cases.push((what, b));
    };
    set("root offset", 0, &u32::MAX.to_le_bytes());
    set(
        "root offset past the end",
        0,
        &(bytes.len() as u32).to_le_bytes(),
    );
    set("vtable offset", root, &i32::MIN.to_le_bytes());
    set(
        "vtable offset forward",
        root,
        &(-(bytes.len() as i32)).to_le_bytes(),
    );
    set("vtable length", vtable, &u16::MAX.to_le_bytes());
    set("odd vtable length", vtable, &5u16.to_le_bytes());
    set("inline size", vtable + 2, &u16::MAX.to_le_bytes());
    set("field offset", vtable + 4, &u16::MAX.to_le_bytes());
    set("string offset", name_at, &u32::MAX.to_le_bytes());
    set("string length", string_at, &0x7fff_ffffu32.to_le_bytes());
    set("string length", string_at, &u32::MAX.to_le_bytes());
    set("missing NUL", string_at + 4 + blob.name.len(), b"x");
    for (what, bad) in cases {
        assert!(decode_both::<Blob>(&bad).is_err(), "{what} was accepted");
    }
}

#[test]
fn trailing_bytes() {
    let value = &sample_nested()[0];
    let bytes = fb::to_vec(value).unwrap();
    for tail in [&[1u8][..], &[0, 0, 0, 7], &[0; 8], &[0; 64], &[0xff; 3]] {
        let mut long = bytes.clone();
        long.extend_from_slice(tail);
        let err = decode_both::<Nested>(&long).unwrap_err();
        assert!(
            matches!(err, DecodeError::TrailingBytes { len, .. } if len == long.len()),
            "{tail:?}: {err:?}"
        );
    }
    // Zero bytes are accepted only as the padding a builder writes after
    // the last object: to align it to 4 or to 8, nothing more.
    let extent = (0..=bytes.len())
        .find(|&len| fb::from_slice::<Nested>(&bytes[..len]).is_ok())
        .expect("the encoding decodes");
    let builder_padding =
        |tail: usize| [0, (4 - extent % 4) % 4, (8 - extent % 8) % 8].contains(&tail);
    let mut accepted = 0;
    for extra in 1..=8 {
        let mut padded = bytes.clone();
        padded.resize(bytes.len() + extra, 0);
        let tail = padded.len() - extent;
        match decode_both::<Nested>(&padded) {
            Ok(decoded) => {
                assert!(builder_padding(tail), "{tail} zero bytes accepted");
                assert_eq!(&decoded, value);
                accepted += 1;
            }
            Err(err) => {
                assert!(!builder_padding(tail), "{tail} zero bytes refused: {err:?}");
                assert!(matches!(err, DecodeError::TrailingBytes { .. }), "{err:?}");
            }
        }
    }
    assert!(accepted <= 2, "at most the two alignments");
}

#[test]
fn shared_sub_objects_cannot_multiply_work() {
    // Each level holds its child twice: 2^40 trees in about 700 bytes.
    let mut fbb = FlatBufferBuilder::new();
    let label = fbb.create_string("x");
    let empty = fbb.create_vector::<WIPOffset<UnionWIPOffset>>(&[]);
    let start = fbb.start_table();
    fbb.push_slot_always(4, label);
    fbb.push_slot_always(6, empty);
    let mut node = fbb.end_table(start);
    for _ in 0..40 {
        let kids = fbb.create_vector(&[node, node]);
        let start = fbb.start_table();
        fbb.push_slot_always(4, label);
        fbb.push_slot_always(6, kids);
        node = fbb.end_table(start);
    }
    fbb.finish_minimal(node);
    let started = std::time::Instant::now();
    let err = decode_both::<Tree>(fbb.finished_data()).unwrap_err();
    assert!(
        started.elapsed().as_secs() < 5,
        "took {:?}",
        started.elapsed()
    );
    assert!(err.to_string().contains("tables"), "{err}");
}

#[test]
fn limits_apply_to_hostile_input() {
    let blob = Blob {
        name: String::new(),
        payload: vec![1; 4096],
        raw: Default::default(),
        tags: Vec::new(),
    };
    let bytes = fb::to_vec(&blob).unwrap();
    let err =
        fb::from_slice_with::<Blob>(&bytes, &Limits::default().with_max_alloc(512)).unwrap_err();
    assert!(
        matches!(err, DecodeError::AllocLimitExceeded { limit: 512, .. }),
        "{err:?}"
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = decode_both::<Program>(&bytes);
        let _ = decode_both::<Drawing>(&bytes);
        let _ = decode_both::<Maps>(&bytes);
        let _ = decode_both::<Maybe>(&bytes);
        let _ = decode_both::<Scalars>(&bytes);
        let _ = decode_both::<Option<String>>(&bytes);
    }

    /// Random bytes behind a plausible root offset and vtable reach deeper
    /// than fully random input does.
    #[test]
    fn random_tails_never_panic(
        root in 4u32..64,
        tail in prop::collection::vec(any::<u8>(), 0..192),
    ) {
        let mut bytes = root.to_le_bytes().to_vec();
        bytes.extend_from_slice(&tail);
        let _ = decode_both::<Program>(&bytes);
        let _ = decode_both::<Batch>(&bytes);
        let _ = decode_both::<Maps>(&bytes);
    }

    /// Valid messages with a few random bytes overwritten.
    #[test]
    fn corrupted_messages_never_panic(
        value in drawing(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
    ) {
        let mut bytes = fb::to_vec(&value).unwrap();
        for (at, b) in edits {
            let i = at.index(bytes.len());
            bytes[i] = b;
        }
        let _ = decode_both::<Drawing>(&bytes);
    }
}
