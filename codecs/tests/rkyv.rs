//! The rkyv codec: round trips over a corpus, views against owned decodes,
//! determinism, malformed input, limits, and the zero-copy encode path.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;

use bytes::{BufMut, Bytes, BytesMut};
use prism_codecs::rkyv::{Deserializer, TRAILER_LEN, TRAILER_MAGIC, access, to_bytes};
use prism_codecs::{
    Archived, Codec, CodecId, CodecRegistry, Decode, DecodeError, Encode, EncodeBuf, Limits,
    Payload, Rkyv, View,
};
use rkyv::{Archive, Deserialize, Serialize};

// ---------------------------------------------------------------------------
// The corpus
// ---------------------------------------------------------------------------

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Scalars {
    u8: u8,
    u16: u16,
    u32: u32,
    u64: u64,
    u128: u128,
    i8: i8,
    i16: i16,
    i32: i32,
    i64: i64,
    i128: i128,
    f32: f32,
    f64: f64,
    bool: bool,
    char: char,
    unit: (),
}

fn scalars_min() -> Scalars {
    Scalars {
        u8: 0,
        u16: 0,
        u32: 0,
        u64: 0,
        u128: 0,
        i8: i8::MIN,
        i16: i16::MIN,
        i32: i32::MIN,
        i64: i64::MIN,
        i128: i128::MIN,
        f32: f32::MIN,
        f64: f64::NEG_INFINITY,
        bool: false,
        char: '\0',
        unit: (),
    }
}

fn scalars_max() -> Scalars {
    Scalars {
        u8: u8::MAX,
        u16: u16::MAX,
        u32: u32::MAX,
        u64: u64::MAX,
        u128: u128::MAX,
        i8: i8::MAX,
        i16: i16::MAX,
        i32: i32::MAX,
        i64: i64::MAX,
        i128: i128::MAX,
        f32: f32::MAX,
        f64: f64::MIN_POSITIVE,
        bool: true,
        char: char::MAX,
        unit: (),
    }
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Unit;

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Newtype(u64);

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq, Clone)]
enum Shape {
    Empty,
    Circle(f64),
    Pair(i32, String),
    Rect {
        w: u32,
        h: u32,
        label: Option<String>,
    },
    Nested(Inner),
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Inner {
    id: u32,
    tags: Vec<String>,
    flag: Option<bool>,
}

#[derive(Archive, Serialize, Deserialize, Debug, PartialEq, Clone)]
struct Outer {
    name: String,
    inner: Inner,
    shapes: Vec<Shape>,
    maybe: Option<Option<Inner>>,
    by_name: HashMap<String, u32>,
    by_id: BTreeMap<u32, String>,
    bytes: Vec<u8>,
    tuple: (u8, String, Newtype),
    array: [u16; 5],
    unit: Unit,
}

fn outer() -> Outer {
    Outer {
        name: "outer ünïcødé 🦀".into(),
        inner: Inner {
            id: 7,
            tags: vec![
                "a".into(),
                String::new(),
                "a longer tag than eight bytes".into(),
            ],
            flag: Some(false),
        },
        shapes: vec![
            Shape::Empty,
            Shape::Circle(1.5),
            Shape::Pair(-3, "pair".into()),
            Shape::Rect {
                w: 3,
                h: 4,
                label: Some("rect".into()),
            },
            Shape::Rect {
                w: 0,
                h: u32::MAX,
                label: None,
            },
            Shape::Nested(Inner {
                id: 1,
                tags: vec![],
                flag: None,
            }),
        ],
        maybe: Some(None),
        by_name: (0..20).map(|i| (format!("key-{i}"), i)).collect(),
        by_id: (0..20).map(|i| (i * 3, format!("value {i}"))).collect(),
        bytes: (0..=255).collect(),
        tuple: (9, "tuple".into(), Newtype(u64::MAX)),
        array: [1, 2, 3, 4, u16::MAX],
        unit: Unit,
    }
}

/// A recursive type through `Vec` (and so through `Box`-like pointers).
#[derive(Archive, Serialize, Deserialize, Debug, PartialEq, Clone)]
#[rkyv(serialize_bounds(
    __S: rkyv::ser::Writer + rkyv::ser::Allocator,
    __S::Error: rkyv::rancor::Source,
))]
#[rkyv(deserialize_bounds(__D::Error: rkyv::rancor::Source))]
#[rkyv(bytecheck(bounds(
    __C: rkyv::validation::ArchiveContext,
    __C::Error: rkyv::rancor::Source,
)))]
enum Tree {
    Leaf(u32),
    Node(#[rkyv(omit_bounds)] Vec<Tree>),
}

/// A recursive type through `Box`.
#[derive(Archive, Serialize, Deserialize, Debug, PartialEq, Clone)]
#[rkyv(serialize_bounds(
    __S: rkyv::ser::Writer + rkyv::ser::Allocator,
    __S::Error: rkyv::rancor::Source,
))]
#[rkyv(deserialize_bounds(__D::Error: rkyv::rancor::Source))]
#[rkyv(bytecheck(bounds(
    __C: rkyv::validation::ArchiveContext,
    __C::Error: rkyv::rancor::Source,
)))]
struct List {
    value: u32,
    #[rkyv(omit_bounds)]
    next: Option<Box<List>>,
}

fn list(len: u32) -> List {
    let mut head = List {
        value: 0,
        next: None,
    };
    for value in 1..len {
        head = List {
            value,
            next: Some(Box::new(head)),
        };
    }
    head
}

fn tree(depth: u32) -> Tree {
    if depth == 0 {
        Tree::Leaf(42)
    } else {
        Tree::Node(vec![Tree::Leaf(depth), tree(depth - 1), Tree::Node(vec![])])
    }
}

// ---------------------------------------------------------------------------
// Helpers: what a generic caller writes
// ---------------------------------------------------------------------------

/// Encodes through the `Encode` trait, the way the runtime does.
fn encode<T: Encode<Rkyv>>(value: &T) -> Payload {
    let mut buf = EncodeBuf::new();
    value.encode(&mut buf, &Limits::default()).expect("encodes");
    let encoded = buf.finish();
    assert_eq!(encoded.segments().count(), 1, "one owned segment");
    assert!(
        encoded.is_contiguous_aligned(),
        "the segment is 16-byte aligned"
    );
    encoded
}

/// Round trip through owned decode and the view; both must equal `value`.
fn round_trip<T>(value: &T) -> Payload
where
    T: Encode<Rkyv> + Decode<Rkyv> + View<Rkyv, View = Archived<T>> + PartialEq + Debug,
    T: Archive<Archived: Deserialize<T, Deserializer> + Sync>,
{
    let payload = encode(value);
    let limits = Limits::default();
    let owned = T::decode(&payload, &limits).expect("decodes");
    assert_eq!(&owned, value);
    let view = <T as View<Rkyv>>::view(payload.clone(), &limits).expect("views");
    assert_eq!(&view.deserialize().expect("deserializes"), value);
    assert_eq!(view.payload(), &payload);
    payload
}

fn decode<T: Decode<Rkyv>>(bytes: &[u8]) -> Result<T, DecodeError> {
    T::decode(&Payload::copy_from_slice(bytes), &Limits::default())
}

/// A small deterministic generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

// ---------------------------------------------------------------------------
// The codec
// ---------------------------------------------------------------------------

#[test]
fn the_codec_is_registered_as_zero_copy() {
    assert_eq!(Rkyv::ID, CodecId::RKYV);
    assert_eq!(Rkyv::NAME, "rkyv");
    let registry = CodecRegistry::with_builtins();
    let info = registry.by_name("rkyv").expect("built in");
    assert_eq!(info.id, CodecId::RKYV);
    assert!(info.capabilities.zero_copy());
    assert!(!info.capabilities.cross_language());
    assert!(!info.capabilities.self_describing());
}

#[test]
fn views_are_send_sync_static_and_clone() {
    fn assert_view<V: Send + Sync + 'static + Clone + Debug>() {}
    assert_view::<Archived<Outer>>();
    assert_view::<Archived<Tree>>();
    assert_view::<<Outer as View<Rkyv>>::View>();
}

// ---------------------------------------------------------------------------
// Round trips
// ---------------------------------------------------------------------------

#[test]
fn scalars_at_their_limits_round_trip() {
    round_trip(&scalars_min());
    round_trip(&scalars_max());
    round_trip(&0u8);
    round_trip(&u64::MAX);
    round_trip(&i128::MIN);
    round_trip(&true);
    round_trip(&'\u{10FFFF}');
    round_trip(&());
    round_trip(&Unit);
    round_trip(&Newtype(0));
}

#[test]
fn float_bit_patterns_survive() {
    for bits in [
        f64::NAN.to_bits(),
        f64::NAN.to_bits() | 1,
        (-0.0f64).to_bits(),
        f64::INFINITY.to_bits(),
        1,
    ] {
        let payload = encode(&f64::from_bits(bits));
        let back = <f64 as Decode<Rkyv>>::decode(&payload, &Limits::default()).expect("decodes");
        assert_eq!(back.to_bits(), bits);
    }
}

#[test]
fn usize_is_carried_in_32_bits() {
    // rkyv's default format stores `usize` as a 32-bit integer and
    // truncates wider values without an error: carry `u64` instead.
    round_trip(&(u32::MAX as usize));
    let payload = encode(&(u64::from(u32::MAX) as usize + 2));
    let back = <usize as Decode<Rkyv>>::decode(&payload, &Limits::default()).expect("decodes");
    assert_eq!(back, 1, "truncated, as documented");
}

#[test]
fn strings_round_trip() {
    for s in [
        "",
        "a",
        "exactly8",
        "nine byte",
        "nul \0 inside",
        "héllo wörld",
        "🦀🦀🦀",
        "日本語のテキスト",
        "\u{FEFF}\u{200B}\u{10FFFF}",
    ] {
        let payload = round_trip(&s.to_string());
        let view = <String as View<Rkyv>>::view(payload, &Limits::default()).expect("views");
        assert_eq!(view.as_str(), s);
    }
    round_trip(&"x".repeat(100_000));
}

#[test]
fn a_mebibyte_of_bytes_round_trips() {
    let value: Vec<u8> = (0..1 << 20).map(|i: u32| (i * 31 % 251) as u8).collect();
    let payload = round_trip(&value);
    let view = <Vec<u8> as View<Rkyv>>::view(payload, &Limits::default()).expect("views");
    assert_eq!(view.as_slice(), &value[..]);
}

#[test]
fn nested_structs_enums_options_and_maps_round_trip() {
    let value = outer();
    let payload = round_trip(&value);
    round_trip(&value.inner);
    for shape in &value.shapes {
        round_trip(shape);
    }
    round_trip(&vec![value.inner.clone(); 100]);
    round_trip(&Some(Some(1u8)));
    round_trip(&Some(None::<u8>));
    round_trip(&None::<Option<u8>>);
    round_trip(&Vec::<Inner>::new());
    round_trip(&HashMap::<String, Vec<u8>>::new());
    round_trip(&BTreeMap::<u64, String>::new());

    // The view reads fields in place and agrees with the value.
    let view = Archived::<Outer>::new(payload, &Limits::default()).expect("views");
    assert_eq!(view.name.as_str(), value.name);
    assert_eq!(view.inner.id.to_native(), 7);
    assert_eq!(view.inner.tags.len(), 3);
    assert_eq!(view.shapes.len(), value.shapes.len());
    assert!(matches!(view.shapes[0], ArchivedShape::Empty));
    match &view.shapes[3] {
        ArchivedShape::Rect { w, h, label } => {
            assert_eq!((w.to_native(), h.to_native()), (3, 4));
            assert_eq!(label.as_ref().map(|l| l.as_str()), Some("rect"));
        }
        _ => panic!("expected a rect"),
    }
    assert_eq!(view.by_name.len(), 20);
    assert_eq!(view.by_name.get("key-7").map(|v| v.to_native()), Some(7));
    let key = rkyv::rend::u32_le::from_native(9);
    assert_eq!(view.by_id.get(&key).map(|v| v.as_str()), Some("value 3"));
    assert_eq!(view.bytes.as_slice(), &value.bytes[..]);
    assert_eq!(view.tuple.2.0.to_native(), u64::MAX);
    assert!(matches!(view.maybe.as_ref(), Some(inner) if inner.is_none()));
}

#[test]
fn recursive_types_round_trip() {
    round_trip(&tree(0));
    round_trip(&tree(20));
    round_trip(&list(1));
    round_trip(&list(100));
}

#[test]
fn generated_values_round_trip() {
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    for _ in 0..200 {
        let len = (rng.next() % 40) as usize;
        let value = Inner {
            id: rng.next() as u32,
            tags: (0..len % 7)
                .map(|_| {
                    let n = (rng.next() % 20) as usize;
                    (0..n)
                        .map(|_| char::from_u32((rng.next() % 0x3000) as u32).unwrap_or('?'))
                        .collect()
                })
                .collect(),
            flag: match rng.next() % 3 {
                0 => None,
                1 => Some(false),
                _ => Some(true),
            },
        };
        round_trip(&value);
        round_trip(&rng.bytes(len));
    }
}

// ---------------------------------------------------------------------------
// Determinism and the encode path
// ---------------------------------------------------------------------------

#[test]
fn encoding_is_deterministic() {
    let value = outer();
    let first = to_bytes(&value).expect("encodes");
    let second = to_bytes(&value).expect("encodes");
    assert_eq!(first, second);
    assert_eq!(first, encode(&value).into_bytes());
    // Equal values built separately encode alike (no `HashMap` here: its
    // iteration order, and so its archive, follows the map's random seed).
    assert_eq!(
        to_bytes(&(tree(5), list(10), value.by_id.clone())).expect("encodes"),
        to_bytes(&(tree(5), list(10), value.by_id.clone())).expect("encodes"),
    );
}

#[test]
fn the_message_ends_with_the_trailer() {
    let bytes = to_bytes(&outer()).expect("encodes");
    let (archive, trailer) = bytes.split_at(bytes.len() - TRAILER_LEN);
    assert_eq!(trailer[..4], (archive.len() as u32).to_le_bytes());
    assert_eq!(trailer[4..], TRAILER_MAGIC);
    // The archive alone is a plain rkyv archive.
    let plain = rkyv::access::<ArchivedOuter, rkyv::rancor::Error>(archive).expect("valid");
    assert_eq!(plain.name, "outer ünïcødé 🦀");
}

#[test]
fn the_encoded_segment_is_handed_over_not_copied() {
    let value: Vec<u8> = vec![0xAB; 1 << 20];
    // A frame header already in the buffer: a copy would append the archive
    // right after it, in the same allocation, at an unaligned address.
    let mut header = BytesMut::with_capacity(64);
    header.put_slice(b"HDR");
    let mut buf = EncodeBuf::from_bytes_mut(header);
    Encode::<Rkyv>::encode(&value, &mut buf, &Limits::default()).expect("encodes");
    let encoded = buf.finish();
    let segments: Vec<&Bytes> = encoded.segments().collect();
    assert_eq!(segments.len(), 2);
    assert_eq!(&segments[0][..], b"HDR");
    let archive = segments[1];
    assert_eq!(archive.as_ptr().align_offset(Payload::ALIGN), 0);
    // The receiving side takes it as is.
    let payload = Payload::new(archive.clone());
    assert!(payload.is_contiguous_aligned());
    assert_eq!(payload.as_ptr(), archive.as_ptr());
    let view = <Vec<u8> as View<Rkyv>>::view(payload, &Limits::default()).expect("views");
    assert_eq!(view.len(), 1 << 20);
    assert_eq!(view.as_slice().as_ptr(), archive.as_ptr(), "read in place");
}

#[test]
fn a_segmented_payload_is_joined_once_and_viewed() {
    // An in-process link may deliver a message as several segments.
    let value = outer();
    let bytes = to_bytes(&value).expect("encodes");
    let (head, tail) = (bytes.slice(..100), bytes.slice(100..));
    let payload = Payload::from_segments(head, vec![tail]);
    assert_eq!(payload.segment_count(), 2);
    let view = <Outer as View<Rkyv>>::view(payload, &Limits::default()).expect("views");
    assert_eq!(view.name.as_str(), value.name);
    let clone = view.clone();
    drop(view);
    assert_eq!(clone.deserialize().expect("deserializes"), value);
}

// ---------------------------------------------------------------------------
// Malformed input: errors, never panics
// ---------------------------------------------------------------------------

#[test]
fn every_truncation_is_an_error() {
    for bytes in [
        to_bytes(&outer()).expect("encodes"),
        to_bytes(&list(10)).expect("encodes"),
        to_bytes(&vec![0u8; 1024]).expect("encodes"),
        to_bytes(&scalars_max()).expect("encodes"),
    ] {
        for len in 0..bytes.len() {
            let err = decode::<Outer>(&bytes[..len]).err();
            assert!(err.is_some(), "prefix of {len} bytes decoded");
            assert!(decode::<List>(&bytes[..len]).is_err());
            assert!(decode::<Vec<u8>>(&bytes[..len]).is_err());
            assert!(decode::<Scalars>(&bytes[..len]).is_err());
        }
    }
}

#[test]
fn a_zero_filled_vector_truncated_at_the_root_is_an_error() {
    // Without the trailer, the last 8 zero bytes would read as an empty
    // vector (offset 0, length 0) and this would decode to `[]`.
    let bytes = to_bytes(&vec![0u8; 1024]).expect("encodes");
    let err = decode::<Vec<u8>>(&bytes[..bytes.len() - TRAILER_LEN - 8]).unwrap_err();
    assert!(err.to_string().contains("trailer"), "{err}");
}

#[test]
fn trailing_garbage_is_an_error() {
    let bytes = to_bytes(&outer()).expect("encodes");
    let mut rng = XorShift(7);
    for extra in [1, 2, 4, 8, 16, 64] {
        for garbage in [vec![0u8; extra], vec![0xFF; extra], rng.bytes(extra)] {
            let mut long = bytes.to_vec();
            long.extend_from_slice(&garbage);
            assert!(decode::<Outer>(&long).is_err(), "{extra} bytes appended");
        }
        // A second copy of the trailer appended: the length no longer matches.
        let mut long = bytes.to_vec();
        long.extend_from_slice(&bytes[bytes.len() - TRAILER_LEN..]);
        assert!(matches!(
            decode::<Outer>(&long),
            Err(DecodeError::TrailingBytes { .. })
        ));
    }
    // Two messages back to back are not one.
    let mut twice = bytes.to_vec();
    twice.extend_from_slice(&bytes);
    assert!(decode::<Outer>(&twice).is_err());
}

/// A comparable rendering: maps in key order, NaN equal to itself.
fn canonical(value: &Outer) -> String {
    let by_name: BTreeMap<_, _> = value.by_name.iter().collect();
    let rest = Outer {
        by_name: HashMap::new(),
        ..value.clone()
    };
    format!("{by_name:?} {rest:?}")
}

#[test]
fn bit_flips_never_panic_and_are_caught_in_structure() {
    let value = outer();
    let bytes = to_bytes(&value).expect("encodes").to_vec();
    let trailer_start = bytes.len() - TRAILER_LEN;
    let (mut errors, mut changed, mut same) = (0, 0, 0);
    for bit in 0..bytes.len() * 8 {
        let mut flipped = bytes.clone();
        flipped[bit / 8] ^= 1 << (bit % 8);
        let payload = Payload::copy_from_slice(&flipped);
        let view = <Outer as View<Rkyv>>::view(payload.clone(), &Limits::default());
        match Outer::decode(&payload, &Limits::default()) {
            Err(err) => {
                errors += 1;
                assert!(view.is_err(), "the view accepted what decode refused");
                assert!(matches!(
                    err,
                    DecodeError::Codec { codec: "rkyv", .. }
                        | DecodeError::TrailingBytes { .. }
                        | DecodeError::UnexpectedEof { .. }
                ));
            }
            // rkyv has no checksum: a flip inside scalar data (or padding)
            // gives a different (or the same) valid value. Integrity is the
            // transport's job; structure and the trailer are always checked.
            Ok(decoded) => {
                assert!(
                    bit / 8 < trailer_start,
                    "a flip in the trailer was accepted"
                );
                let view = view.expect("the view agrees with the owned decode");
                let from_view = view.deserialize().expect("deserializes");
                assert_eq!(canonical(&from_view), canonical(&decoded));
                if decoded == value {
                    same += 1;
                } else {
                    changed += 1;
                }
            }
        }
    }
    assert!(
        errors > 0 && changed > 0,
        "{errors} errors, {changed} changed, {same} same"
    );
}

#[test]
fn random_input_never_panics() {
    let mut rng = XorShift(0xDEAD_BEEF);
    let limits = Limits::default();
    for round in 0..3_000 {
        let len = (rng.next() % 300) as usize;
        let mut bytes = rng.bytes(len);
        // Half the inputs get a well-formed trailer, so that rkyv's own
        // validation sees random archives instead of the trailer check
        // refusing them all.
        if round % 2 == 0 {
            bytes.extend_from_slice(&(len as u32).to_le_bytes());
            bytes.extend_from_slice(&TRAILER_MAGIC);
        }
        let payload = Payload::copy_from_slice(&bytes);
        let _ = Outer::decode(&payload, &limits);
        let _ = Tree::decode(&payload, &limits);
        let _ = List::decode(&payload, &limits);
        let _ = Shape::decode(&payload, &limits);
        let _ = <String as Decode<Rkyv>>::decode(&payload, &limits);
        let _ = <Outer as View<Rkyv>>::view(payload.clone(), &limits);
        if round % 2 == 1 {
            assert!(Outer::decode(&payload, &limits).is_err());
        }
    }
}

/// Where `field` lies in `payload`, in bytes.
fn offset_of<F>(payload: &Payload, field: &F) -> usize {
    field as *const F as usize - payload.as_ptr() as usize
}

#[test]
fn errors_name_the_type_and_field_and_hide_addresses() {
    // Corrupt the `bool` inside `flag: Option<bool>`: the archived option is
    // a tag byte, then the value.
    let value = Inner {
        id: 1,
        tags: vec![],
        flag: Some(true),
    };
    let payload = encode(&value);
    let view = Archived::<Inner>::new(payload.clone(), &Limits::default()).expect("views");
    let flag_value = offset_of(&payload, &view.flag) + 1;
    let mut bytes = payload.to_vec();
    assert_eq!(bytes[flag_value], 1);
    bytes[flag_value] = 2;
    let err = decode::<Inner>(&bytes).unwrap_err();
    let message = err.to_string();
    assert!(
        message.starts_with("rkyv codec: invalid archive for `"),
        "{message}"
    );
    assert!(message.contains("Inner"), "{message}");
    assert!(message.contains("bool"), "{message}");
    assert!(message.contains("flag"), "{message}");

    // A pointer out of range: the tag vector's offset points far away.
    let value = Inner {
        id: 1,
        tags: vec!["x".repeat(20)],
        flag: None,
    };
    let payload = encode(&value);
    let view = Archived::<Inner>::new(payload.clone(), &Limits::default()).expect("views");
    let tags = offset_of(&payload, &view.tags);
    let mut bytes = payload.to_vec();
    bytes[tags..tags + 4].copy_from_slice(&0x4000_0000i32.to_le_bytes());
    let message = decode::<Inner>(&bytes).unwrap_err().to_string();
    assert!(message.contains("byte "), "{message}");
    let pointer_width_hex = message.split("0x").skip(1).any(|rest| {
        rest.bytes().take_while(u8::is_ascii_hexdigit).count() == (usize::BITS / 4) as usize
    });
    assert!(!pointer_width_hex, "an address leaked: {message}");
}

#[test]
fn invalid_utf8_is_an_error() {
    let text = "a string longer than eight bytes";
    let mut bytes = to_bytes(&text.to_string()).expect("encodes").to_vec();
    let at = bytes
        .windows(text.len())
        .position(|w| w == text.as_bytes())
        .expect("the text is in the archive");
    bytes[at] = 0xFF;
    let message = decode::<String>(&bytes).unwrap_err().to_string();
    assert!(message.contains("UTF-8"), "{message}");
}

#[test]
fn misaligned_slices_are_errors_not_ub() {
    let bytes = to_bytes(&outer()).expect("encodes");
    let mut shifted = prism_core::aligned::aligned_buffer(bytes.len() + 1);
    shifted.put_u8(0);
    shifted.put_slice(&bytes);
    let err = access::<Outer>(&shifted[1..], &Limits::default())
        .err()
        .expect("a misaligned archive is refused");
    assert!(err.to_string().contains("unaligned"), "{err}");
    assert!(access::<Outer>(&shifted[..], &Limits::default()).is_err());
}

// ---------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------

#[test]
fn oversized_payloads_are_refused_before_reading() {
    let payload = encode(&vec![1u8; 4096]);
    let tight = Limits::default().with_max_alloc(4095);
    assert!(matches!(
        <Vec<u8> as Decode<Rkyv>>::decode(&payload, &tight),
        Err(DecodeError::AllocLimitExceeded { limit: 4095, .. })
    ));
    assert!(<Vec<u8> as View<Rkyv>>::view(payload.clone(), &tight).is_err());
    let exact = Limits::default().with_max_alloc(payload.len());
    assert!(<Vec<u8> as Decode<Rkyv>>::decode(&payload, &exact).is_ok());
}

#[test]
fn nesting_is_bounded_by_max_depth() {
    // Each `Box` is one out-of-line hop.
    let payload = encode(&list(200));
    let err = List::decode(&payload, &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("max_depth is 128"), "{err}");
    assert!(<List as View<Rkyv>>::view(payload.clone(), &Limits::default()).is_err());
    let deep = Limits::default().with_max_depth(256);
    assert_eq!(List::decode(&payload, &deep).expect("decodes"), list(200));

    // `max_depth` counts hops below the root: a list of n nodes has n - 1.
    let payload = encode(&list(5));
    assert!(List::decode(&payload, &Limits::default().with_max_depth(4)).is_ok());
    assert!(List::decode(&payload, &Limits::default().with_max_depth(3)).is_err());

    // Inline data needs no depth at all.
    let flat = Limits::default().with_max_depth(0);
    assert!(Scalars::decode(&encode(&scalars_max()), &flat).is_ok());
    assert!(<Vec<u8> as Decode<Rkyv>>::decode(&encode(&vec![1u8; 3]), &flat).is_err());
}

#[test]
fn a_hostile_deep_archive_is_refused_without_overflowing_the_stack() {
    // 100_000 nested boxes: validation stops at the depth limit instead of
    // recursing through all of them.
    let mut value = list(1);
    for i in 0..100_000 {
        value = List {
            value: i,
            next: Some(Box::new(value)),
        };
    }
    let payload = std::thread::Builder::new()
        .stack_size(256 << 20) // rkyv's serializer recurses: give the encoder room
        .spawn(move || {
            let mut value = value;
            let payload = encode(&value);
            // Dropping a 100_000-deep `Box` chain recurses too.
            let mut next = value.next.take();
            while let Some(mut node) = next {
                next = node.next.take();
            }
            payload
        })
        .expect("spawns")
        .join()
        .expect("encodes");
    let err = List::decode(&payload, &Limits::default()).unwrap_err();
    assert!(err.to_string().contains("depth"), "{err}");
}
