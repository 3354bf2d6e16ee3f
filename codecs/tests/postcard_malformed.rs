//! Malformed and hostile input for the postcard codec: every case names the
//! `DecodeError` (or `EncodeError`) it must produce, and none may panic.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use bytes::Bytes;
use facet::Facet;
use prism_codecs::postcard::{
    SHARE_BYTES_AT, encode_into, from_bytes, from_slice, from_slice_with, to_vec,
};
use prism_codecs::{Decode, DecodeError, EncodeError, Limits, Payload, Postcard};

// ---------------------------------------------------------------------------
// Types.
// ---------------------------------------------------------------------------

#[derive(Facet, Debug, PartialEq, Clone)]
struct Named {
    id: u32,
    name: String,
    tags: Vec<String>,
}

#[derive(Facet, Debug, PartialEq, Clone)]
#[repr(u8)]
enum Message {
    Ping,
    Pair(u32, String),
    Move { dx: i64, dy: Option<u8> },
}

/// One field of nearly every kind, for the truncation test.
#[derive(Facet, Debug, PartialEq, Clone)]
struct Rich {
    a: u8,
    b: u16,
    c: u32,
    d: u64,
    e: u128,
    f: i8,
    g: i16,
    h: i32,
    i: i64,
    j: i128,
    k: f32,
    l: f64,
    m: bool,
    n: char,
    o: usize,
    p: isize,
    s: String,
    v: Vec<u8>,
    bytes: Bytes,
    opt: Option<Named>,
    none: Option<u32>,
    messages: Vec<Message>,
    arr: [u16; 3],
    map: BTreeMap<String, u32>,
    hmap: HashMap<u32, Vec<u8>>,
    tup: (u8, String, bool),
    arc: Arc<Named>,
    res: Result<u32, String>,
    unit: (),
    last: Message,
}

fn rich() -> Rich {
    Rich {
        a: 1,
        b: 300,
        c: 70_000,
        d: u64::MAX,
        e: u128::MAX,
        f: -1,
        g: -300,
        h: i32::MIN,
        i: i64::MAX,
        j: i128::MIN,
        k: 1.5,
        l: -2.25,
        m: true,
        n: '€',
        o: 12_345,
        p: -12_345,
        s: "héllo wörld 🦀".into(),
        v: vec![1, 2, 3],
        bytes: Bytes::from_static(b"xyz"),
        opt: Some(Named {
            id: 9,
            name: "o".into(),
            tags: vec!["t".into(), "ü".into()],
        }),
        none: None,
        messages: vec![
            Message::Ping,
            Message::Pair(1, "b".into()),
            Message::Move {
                dx: -7,
                dy: Some(3),
            },
        ],
        arr: [1, 2, 65_535],
        map: [("k".to_string(), 1), ("kk".to_string(), 300)]
            .into_iter()
            .collect(),
        hmap: [(5, vec![1, 2]), (6, vec![])].into_iter().collect(),
        tup: (9, "t".into(), false),
        arc: Arc::new(Named {
            id: 1,
            name: "arc".into(),
            tags: vec![],
        }),
        res: Err("bad".into()),
        unit: (),
        last: Message::Move { dx: 1, dy: None },
    }
}

/// A recursive type whose every level costs exactly one unit of depth.
#[derive(Facet, Debug, PartialEq)]
#[repr(u8)]
enum Nest {
    Leaf,
    Node(Box<Nest>),
}

impl Nest {
    /// Builds `depth` nodes around a leaf without recursion.
    fn deep(depth: usize) -> Nest {
        let mut nest = Nest::Leaf;
        for _ in 0..depth {
            nest = Nest::Node(Box::new(nest));
        }
        nest
    }
}

impl Drop for Nest {
    // Unlinks iteratively: a recursive drop of a long chain could overflow
    // the test thread's stack.
    fn drop(&mut self) {
        let mut next = match self {
            Nest::Node(inner) => core::mem::replace(&mut **inner, Nest::Leaf),
            Nest::Leaf => return,
        };
        while let Nest::Node(inner) = &mut next {
            next = core::mem::replace(&mut **inner, Nest::Leaf);
        }
    }
}

/// The `Option<Box<Self>>` chain: a struct and an option per level.
#[derive(Facet, Debug, PartialEq)]
struct Chain {
    next: Option<Box<Chain>>,
}

impl Drop for Chain {
    fn drop(&mut self) {
        let mut next = self.next.take();
        while let Some(mut node) = next {
            next = node.next.take();
        }
    }
}

#[derive(Facet, Debug, PartialEq)]
struct Tree {
    value: u8,
    children: Vec<Tree>,
}

fn eof_or_bounds(result: &Result<impl core::fmt::Debug, DecodeError>) -> bool {
    matches!(
        result,
        Err(DecodeError::UnexpectedEof { .. } | DecodeError::LengthOutOfBounds { .. })
    )
}

/// A varint of `value`, as postcard writes it.
fn varint(mut value: u64) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

// ---------------------------------------------------------------------------
// Truncation and trailing bytes.
// ---------------------------------------------------------------------------

#[test]
fn every_strict_prefix_of_a_rich_struct_is_an_error() {
    let value = rich();
    let bytes = to_vec(&value).unwrap();
    assert_eq!(bytes, facet_postcard::to_vec(&value).unwrap());
    assert_eq!(from_slice::<Rich>(&bytes).unwrap(), value);
    for end in 0..bytes.len() {
        let result = from_slice::<Rich>(&bytes[..end]);
        assert!(
            eof_or_bounds(&result),
            "prefix of {end}/{} bytes gave {result:?}",
            bytes.len()
        );
    }
}

#[test]
fn empty_input_is_eof_for_anything_with_bytes() {
    assert!(matches!(
        from_slice::<u32>(&[]),
        Err(DecodeError::UnexpectedEof { at: 0, .. })
    ));
    assert!(matches!(
        from_slice::<Named>(&[]),
        Err(DecodeError::UnexpectedEof { at: 0, .. })
    ));
    assert!(matches!(
        from_slice::<f64>(&[0; 7]),
        Err(DecodeError::UnexpectedEof { .. })
    ));
    // Zero-sized values need no bytes at all.
    from_slice::<()>(&[]).unwrap();
    from_slice::<[u8; 0]>(&[]).unwrap();
}

#[test]
fn trailing_bytes_are_rejected() {
    assert!(matches!(
        from_slice::<u32>(&[1, 0]),
        Err(DecodeError::TrailingBytes {
            remaining: 1,
            len: 2
        })
    ));
    assert!(matches!(
        from_slice::<()>(&[0]),
        Err(DecodeError::TrailingBytes {
            remaining: 1,
            len: 1
        })
    ));
    let mut bytes = to_vec(&rich()).unwrap();
    let len = bytes.len();
    bytes.extend([0, 0, 0]);
    assert!(matches!(
        from_slice::<Rich>(&bytes),
        Err(DecodeError::TrailingBytes { remaining: 3, len: l }) if l == len + 3
    ));
}

// ---------------------------------------------------------------------------
// Length prefixes.
// ---------------------------------------------------------------------------

#[test]
fn length_prefix_longer_than_input_is_out_of_bounds() {
    assert!(matches!(
        from_slice::<String>(&[5, b'a']),
        Err(DecodeError::LengthOutOfBounds {
            len: 5,
            remaining: 1,
            at: 0,
            ..
        })
    ));
    assert!(matches!(
        from_slice::<Vec<u8>>(&[2, 1]),
        Err(DecodeError::LengthOutOfBounds {
            len: 2,
            remaining: 1,
            ..
        })
    ));
    assert!(matches!(
        from_slice::<Bytes>(&[200, 1, 1]),
        Err(DecodeError::LengthOutOfBounds {
            len: 200,
            remaining: 1,
            ..
        })
    ));
    // A `Named` takes at least 3 bytes (id, name length, tags length): two
    // of them cannot fit in 5 bytes, whatever those bytes are.
    assert!(matches!(
        from_slice::<Vec<Named>>(&[2, 0, 0, 0, 0, 0]),
        Err(DecodeError::LengthOutOfBounds {
            len: 2,
            remaining: 5,
            ..
        })
    ));
    // Each map entry takes at least 2 bytes here.
    assert!(matches!(
        from_slice::<BTreeMap<u32, u32>>(&[3, 1, 1, 2, 2]),
        Err(DecodeError::LengthOutOfBounds {
            len: 3,
            remaining: 4,
            ..
        })
    ));
    assert!(matches!(
        from_slice::<HashMap<String, u8>>(&[1, 0]),
        Err(DecodeError::LengthOutOfBounds { len: 1, .. })
    ));
    // A length inside a nested value reports where it starts.
    let mut bytes = vec![7, 3, b'a'];
    bytes.push(0);
    assert!(matches!(
        from_slice::<Named>(&bytes),
        Err(DecodeError::LengthOutOfBounds { len: 3, at: 1, .. })
    ));
}

#[test]
fn huge_lengths_are_out_of_bounds() {
    let max = varint(u64::MAX);
    assert_eq!(max.len(), 10);
    for input in [max.clone(), [max.clone(), vec![0; 16]].concat()] {
        assert!(matches!(
            from_slice::<String>(&input),
            Err(DecodeError::LengthOutOfBounds { len: u64::MAX, .. })
        ));
        assert!(matches!(
            from_slice::<Vec<u8>>(&input),
            Err(DecodeError::LengthOutOfBounds { len: u64::MAX, .. })
        ));
        assert!(matches!(
            from_slice::<Vec<Named>>(&input),
            Err(DecodeError::LengthOutOfBounds { len: u64::MAX, .. })
        ));
        assert!(matches!(
            from_slice::<BTreeMap<u8, u8>>(&input),
            Err(DecodeError::LengthOutOfBounds { len: u64::MAX, .. })
        ));
        assert!(matches!(
            from_slice::<Vec<()>>(&input),
            Err(DecodeError::LengthOutOfBounds { len: u64::MAX, .. })
        ));
    }
}

#[test]
fn zero_sized_elements_cannot_claim_huge_lengths() {
    // No input length bounds a `Vec<()>`: a 2^40 length must fail fast
    // rather than loop for hours.
    let input = varint(1 << 40);
    let started = std::time::Instant::now();
    assert!(matches!(
        from_slice::<Vec<()>>(&input),
        Err(DecodeError::LengthOutOfBounds { len, .. }) if len == 1 << 40
    ));
    assert!(matches!(
        from_slice::<Vec<[u8; 0]>>(&input),
        Err(DecodeError::LengthOutOfBounds { .. })
    ));
    assert!(started.elapsed() < std::time::Duration::from_secs(1));
    // Modest lengths still decode.
    assert_eq!(from_slice::<Vec<()>>(&varint(1000)).unwrap().len(), 1000);
}

// ---------------------------------------------------------------------------
// Varints and scalar values.
// ---------------------------------------------------------------------------

#[test]
fn overlong_varints_are_malformed() {
    // u16::MAX + 1 does not fit a u16, nor does a fourth byte.
    assert!(matches!(
        from_slice::<u16>(&[0x80, 0x80, 0x04]),
        Err(DecodeError::MalformedVarint { at: 0, .. })
    ));
    assert!(matches!(
        from_slice::<u16>(&[0x80, 0x80, 0x80, 0x00]),
        Err(DecodeError::MalformedVarint { .. })
    ));
    assert_eq!(from_slice::<u16>(&[0xff, 0xff, 0x03]).unwrap(), u16::MAX);
    // u32: a value over u32::MAX, and a sixth byte.
    assert!(matches!(
        from_slice::<u32>(&[0xff, 0xff, 0xff, 0xff, 0x10]),
        Err(DecodeError::MalformedVarint { .. })
    ));
    assert!(matches!(
        from_slice::<u32>(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]),
        Err(DecodeError::MalformedVarint { .. })
    ));
    assert_eq!(
        from_slice::<u32>(&[0xff, 0xff, 0xff, 0xff, 0x0f]).unwrap(),
        u32::MAX
    );
    // u64: an eleventh byte, and a tenth byte carrying more than one bit.
    let mut eleven = vec![0x80; 10];
    eleven.push(0x00);
    assert!(matches!(
        from_slice::<u64>(&eleven),
        Err(DecodeError::MalformedVarint { .. })
    ));
    let mut max = vec![0xff; 9];
    max.push(0x02);
    assert!(matches!(
        from_slice::<u64>(&max),
        Err(DecodeError::MalformedVarint { .. })
    ));
    // Signed types share the unsigned limits after zigzag.
    assert!(matches!(
        from_slice::<i16>(&[0x80, 0x80, 0x04]),
        Err(DecodeError::MalformedVarint { .. })
    ));
    assert!(matches!(
        from_slice::<i64>(&eleven),
        Err(DecodeError::MalformedVarint { .. })
    ));
    // u128: twenty bytes is too many.
    let mut twenty = vec![0x80; 19];
    twenty.push(0x00);
    assert!(matches!(
        from_slice::<u128>(&twenty),
        Err(DecodeError::MalformedVarint { .. })
    ));
    // A malformed varint inside a struct reports its own offset.
    assert!(matches!(
        from_slice::<(u8, u16)>(&[1, 0x80, 0x80, 0x04]),
        Err(DecodeError::MalformedVarint { at: 1, .. })
    ));
    // A varint cut short is a truncation, not malformed.
    assert!(matches!(
        from_slice::<u64>(&[0x80, 0x80]),
        Err(DecodeError::UnexpectedEof { .. })
    ));
}

#[test]
fn non_canonical_varints_are_accepted_like_postcard() {
    // Postcard (and facet-postcard) accept zero-padded varints that fit.
    assert_eq!(from_slice::<u32>(&[0x80, 0x00]).unwrap(), 0);
    assert_eq!(from_slice::<u64>(&[0x81, 0x80, 0x00]).unwrap(), 1);
    assert_eq!(facet_postcard::from_slice::<u32>(&[0x80, 0x00]).unwrap(), 0);
}

#[test]
fn invalid_bools_and_option_tags_are_invalid_values() {
    assert!(matches!(
        from_slice::<bool>(&[2]),
        Err(DecodeError::InvalidValue {
            at: 0,
            type_path: "bool",
            ..
        })
    ));
    assert!(matches!(
        from_slice::<(u8, bool)>(&[0, 0xff]),
        Err(DecodeError::InvalidValue { at: 1, .. })
    ));
    assert!(matches!(
        from_slice::<Option<u8>>(&[2, 0]),
        Err(DecodeError::InvalidValue {
            at: 0,
            type_path: "Option",
            ..
        })
    ));
    assert!(matches!(
        from_slice::<Option<Option<u8>>>(&[1, 2]),
        Err(DecodeError::InvalidValue { at: 1, .. })
    ));
}

#[test]
fn unknown_variants_are_rejected() {
    assert!(matches!(
        from_slice::<Message>(&[3]),
        Err(DecodeError::UnknownVariant {
            index: 3,
            at: 0,
            ..
        })
    ));
    assert!(matches!(
        from_slice::<Message>(&[0xff, 0xff, 0xff, 0xff, 0x0f]),
        Err(DecodeError::UnknownVariant {
            index: 0xffff_ffff,
            ..
        })
    ));
    // A variant index wider than 32 bits is not a varint postcard writes.
    assert!(matches!(
        from_slice::<Message>(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x01]),
        Err(DecodeError::MalformedVarint { .. })
    ));
    assert!(matches!(
        from_slice::<Result<u8, u8>>(&[2, 0]),
        Err(DecodeError::UnknownVariant {
            index: 2,
            type_path: "Result",
            ..
        })
    ));
    assert!(matches!(
        from_slice::<Vec<Message>>(&[2, 0, 7]),
        Err(DecodeError::UnknownVariant {
            index: 7,
            at: 2,
            ..
        })
    ));
}

#[test]
fn invalid_utf8_is_rejected() {
    assert!(matches!(
        from_slice::<String>(&[2, 0xc3, 0x28]),
        Err(DecodeError::InvalidUtf8 { at: 0 })
    ));
    // A surrogate encoded as if it were a character.
    assert!(matches!(
        from_slice::<String>(&[3, 0xed, 0xa0, 0x80]),
        Err(DecodeError::InvalidUtf8 { .. })
    ));
    assert!(matches!(
        from_slice::<(u8, String)>(&[1, 1, 0xff]),
        Err(DecodeError::InvalidUtf8 { at: 1 })
    ));
    assert!(matches!(
        from_slice::<Named>(&[1, 0, 1, 1, 0x80]),
        Err(DecodeError::InvalidUtf8 { at: 3 })
    ));
}

#[test]
fn invalid_chars_are_rejected() {
    for input in [
        &[2, 0xc3, 0x28][..],         // not UTF-8
        &[3, 0xed, 0xa0, 0x80],       // a surrogate
        &[0],                         // no character
        &[2, b'a', b'b'],             // two characters
        &[5, b'a', 0, 0, 0, 0],       // longer than any character
        &[4, 0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
    ] {
        let result = from_slice::<char>(input);
        assert!(
            matches!(
                result,
                Err(DecodeError::InvalidValue {
                    at: 0,
                    type_path: "char",
                    ..
                })
            ),
            "{input:?} gave {result:?}"
        );
    }
    assert!(matches!(
        from_slice::<char>(&[2, 0xc3]),
        Err(DecodeError::LengthOutOfBounds { .. })
    ));
    assert_eq!(from_slice::<char>(&[3, 0xe2, 0x82, 0xac]).unwrap(), '€');
}

// ---------------------------------------------------------------------------
// Depth.
// ---------------------------------------------------------------------------

/// Runs `f` on a thread with a 256 MiB stack (reserved, touched only as
/// used). These tests check the depth *limit*; whether the default limit
/// also keeps a 2 MiB thread safe is `tests/postcard_stack.rs`'s question:
/// in debug builds a level of nesting costs the decoder ~20 KiB of stack.
fn on_big_stack(f: impl FnOnce() + Send) {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(s, f)
            .expect("spawn")
            .join()
            .expect("test body panicked");
    });
}

/// `Nest` bytes: `depth` node tags (variant 1) and a leaf (variant 0).
fn nest_bytes(depth: usize) -> Vec<u8> {
    let mut bytes = vec![1; depth];
    bytes.push(0);
    bytes
}

#[test]
fn deep_nesting_hits_the_depth_limit() {
    on_big_stack(|| {
        // 10,000 levels of each recursive shape, built as raw bytes.
        assert!(matches!(
            from_slice::<Nest>(&nest_bytes(10_000)),
            Err(DecodeError::DepthLimitExceeded { limit: 128, .. })
        ));
        let mut chain = vec![1u8; 10_000];
        chain.push(0);
        assert!(matches!(
            from_slice::<Chain>(&chain),
            Err(DecodeError::DepthLimitExceeded { limit: 128, .. })
        ));
        let mut tree = [7u8, 1].repeat(10_000);
        tree.extend([7, 0]);
        assert!(matches!(
            from_slice::<Tree>(&tree),
            Err(DecodeError::DepthLimitExceeded { limit: 128, .. })
        ));
    });
}

#[test]
fn nesting_at_the_limit_decodes_and_one_more_fails() {
    on_big_stack(|| {
        // Each `Nest` level is one enum: `depth` nodes and a leaf nest depth + 1 deep.
        for depth in [0, 1, 10, 127, 500] {
            let bytes = nest_bytes(depth);
            let at = Limits::default().with_max_depth(depth + 1);
            let under = Limits::default().with_max_depth(depth);
            let value = from_slice_with::<Nest>(&bytes, &at).unwrap();
            assert_eq!(to_vec_with(&value, &at).unwrap(), bytes);
            assert!(matches!(
                from_slice_with::<Nest>(&bytes, &under),
                Err(DecodeError::DepthLimitExceeded { limit, .. }) if limit == depth
            ));
        }
        // With the default limit of 128, 127 nodes and a leaf fit.
        from_slice::<Nest>(&nest_bytes(127)).unwrap();
        assert!(matches!(
            from_slice::<Nest>(&nest_bytes(128)),
            Err(DecodeError::DepthLimitExceeded {
                limit: 128,
                at: 128
            })
        ));
    });
}

fn to_vec_with<T: Facet<'static>>(value: &T, limits: &Limits) -> Result<Vec<u8>, EncodeError> {
    let mut out = bytes::BytesMut::new();
    encode_into(value, &mut out, limits)?;
    Ok(out.to_vec())
}

#[test]
fn encoding_a_value_deeper_than_the_limit_fails() {
    on_big_stack(|| {
        let deep = Nest::deep(1000);
        assert!(matches!(
            to_vec(&deep),
            Err(EncodeError::DepthLimitExceeded { limit: 128, .. })
        ));
        let wide_open = Limits::default().with_max_depth(1001);
        assert_eq!(to_vec_with(&deep, &wide_open).unwrap(), nest_bytes(1000));
        assert!(matches!(
            to_vec_with(&deep, &Limits::default().with_max_depth(1000)),
            Err(EncodeError::DepthLimitExceeded { limit: 1000, .. })
        ));

        let mut chain = Chain { next: None };
        for _ in 0..1000 {
            chain = Chain {
                next: Some(Box::new(chain)),
            };
        }
        assert!(matches!(
            to_vec(&chain),
            Err(EncodeError::DepthLimitExceeded { limit: 128, .. })
        ));
        // Through the `Encode` trait too.
        let mut buf = prism_codecs::EncodeBuf::new();
        assert!(matches!(
            <Nest as prism_codecs::Encode<Postcard>>::encode(&deep, &mut buf, &Limits::default()),
            Err(EncodeError::DepthLimitExceeded { .. })
        ));
    });
}

// ---------------------------------------------------------------------------
// Allocation budget.
// ---------------------------------------------------------------------------

#[test]
fn allocation_amplification_is_budgeted() {
    // Each `[u64; 64]` takes 64 bytes on the wire and 512 in memory.
    let mut input = varint(100);
    input.extend(vec![0; 100 * 64]);
    let small = Limits::default().with_max_alloc(10_000);
    assert!(matches!(
        from_slice_with::<Vec<[u64; 64]>>(&input, &small),
        Err(DecodeError::AllocLimitExceeded { limit: 10_000, .. })
    ));
    assert_eq!(from_slice::<Vec<[u64; 64]>>(&input).unwrap().len(), 100);
    // The budget covers the whole message, not each collection.
    let two = [input.clone(), input.clone()].concat();
    let enough_for_one = Limits::default().with_max_alloc(100 * 512 + 10);
    from_slice_with::<Vec<[u64; 64]>>(&input, &enough_for_one).unwrap();
    assert!(matches!(
        from_slice_with::<(Vec<[u64; 64]>, Vec<[u64; 64]>)>(&two, &enough_for_one),
        Err(DecodeError::AllocLimitExceeded { .. })
    ));
    // Strings and byte buffers count too.
    let tiny = Limits::default().with_max_alloc(4);
    assert!(matches!(
        from_slice_with::<String>(&[5, b'a', b'b', b'c', b'd', b'e'], &tiny),
        Err(DecodeError::AllocLimitExceeded { limit: 4, .. })
    ));
    assert!(matches!(
        from_slice_with::<Vec<u8>>(&[5, 1, 2, 3, 4, 5], &tiny),
        Err(DecodeError::AllocLimitExceeded { .. })
    ));
    // Zero-sized elements still cost something, so they are bounded too.
    assert!(matches!(
        from_slice_with::<Vec<()>>(&varint(1000), &Limits::default().with_max_alloc(999)),
        Err(DecodeError::AllocLimitExceeded { .. })
    ));
}

// ---------------------------------------------------------------------------
// Zero-copy `Bytes`.
// ---------------------------------------------------------------------------

#[derive(Facet, Debug, PartialEq)]
struct Frame {
    id: u32,
    body: Bytes,
    trailer: Option<Bytes>,
}

fn within(inner: &[u8], outer: &[u8]) -> bool {
    let outer = outer.as_ptr_range();
    let inner = inner.as_ptr_range();
    outer.start <= inner.start && inner.end <= outer.end
}

#[test]
fn large_bytes_fields_share_the_payload_buffer_and_small_ones_are_copied() {
    let big = SHARE_BYTES_AT + 100;
    let frame = Frame {
        id: 7,
        body: Bytes::from(vec![0xab; big]),
        trailer: Some(Bytes::from_static(b"end")),
    };
    let encoded = to_vec(&frame).unwrap();

    let payload = Payload::copy_from_slice(&encoded);
    let decoded = <Frame as Decode<Postcard>>::decode(&payload, &Limits::default()).unwrap();
    assert_eq!(decoded, frame);
    // The body is most of the message: shared. The 3-byte trailer is
    // copied, so keeping it does not keep the payload alive.
    assert!(within(&decoded.body, &payload));
    assert!(!within(decoded.trailer.as_ref().unwrap(), &payload));

    let shared = Bytes::from(encoded.clone());
    let decoded: Frame = from_bytes(&shared, &Limits::default()).unwrap();
    assert_eq!(decoded, frame);
    assert!(within(&decoded.body, &shared));
    // The slice keeps the buffer alive after the input handle is gone.
    drop(shared);
    assert_eq!(decoded.body, vec![0xab; big]);

    // A field below the threshold, or less than half its message, is
    // copied even from shared bytes.
    for (body, padding) in [
        (SHARE_BYTES_AT - 1, 0),
        (SHARE_BYTES_AT, 3 * SHARE_BYTES_AT),
    ] {
        let frame = Frame {
            id: 1,
            body: Bytes::from(vec![1; body]),
            trailer: Some(Bytes::from(vec![2; padding])),
        };
        let shared = Bytes::from(to_vec(&frame).unwrap());
        let decoded: Frame = from_bytes(&shared, &Limits::default()).unwrap();
        assert_eq!(decoded, frame);
        assert!(
            !within(&decoded.body, &shared),
            "body {body}, rest {padding}"
        );
    }

    // From a plain slice there is nothing to share: the bytes are copied.
    let copied: Frame = from_slice(&encoded).unwrap();
    assert_eq!(copied, frame);
    assert!(!within(&copied.body, &encoded));
}

#[test]
fn large_bytes_fields_are_sent_as_segments_of_their_own() {
    use prism_codecs::{Encode, EncodeBuf};

    let body = Bytes::from(vec![0xcd; SHARE_BYTES_AT]);
    let trailer = Bytes::from(vec![0xef; SHARE_BYTES_AT + 1]);
    let frame = Frame {
        id: 9,
        body: body.clone(),
        trailer: Some(trailer.clone()),
    };
    // After a header already in the buffer, as a frame writer starts.
    let mut out = EncodeBuf::from_bytes_mut(bytes::BytesMut::from(&b"head"[..]));
    Encode::<Postcard>::encode(&frame, &mut out, &Limits::default()).unwrap();
    let payload = out.finish();
    // head+id+prefix, the body, the option tag and prefix, the trailer.
    let segments: Vec<&Bytes> = payload.segments().collect();
    assert_eq!(segments.len(), 4, "{payload:?}");
    assert_eq!(
        segments[1].as_ptr(),
        body.as_ptr(),
        "the body is not copied"
    );
    assert_eq!(
        segments[3].as_ptr(),
        trailer.as_ptr(),
        "the trailer is not copied"
    );
    // The bytes are exactly what the copying encoder writes.
    let mut expected = b"head".to_vec();
    expected.extend(to_vec(&frame).unwrap());
    assert_eq!(payload.to_vec(), expected);
    let decoded: Frame = from_slice(&payload.to_vec()[4..]).unwrap();
    assert_eq!(decoded, frame);

    // A producer reusing its buffer keeps the room it had.
    let mut out = EncodeBuf::with_capacity(4096);
    Encode::<Postcard>::encode(&frame, &mut out, &Limits::default()).unwrap();
    assert_eq!(out.split().len(), expected.len() - 4);
    assert!(out.spare_capacity() >= 4000, "{}", out.spare_capacity());

    // Below the threshold, one contiguous segment.
    let small = Frame {
        id: 1,
        body: Bytes::from(vec![1; SHARE_BYTES_AT - 1]),
        trailer: None,
    };
    let mut out = EncodeBuf::new();
    Encode::<Postcard>::encode(&small, &mut out, &Limits::default()).unwrap();
    assert_eq!(out.finish().segment_count(), 1);
}

// ---------------------------------------------------------------------------
// Skipped fields.
// ---------------------------------------------------------------------------

#[derive(Facet, Debug, PartialEq)]
struct WithSkip {
    a: u8,
    #[facet(skip)]
    cache: Vec<u32>,
    b: String,
    #[facet(skip, default = 7)]
    seven: u16,
}

#[test]
fn skipped_fields_stay_off_the_wire_and_decode_to_their_default() {
    // Compared with hand-written bytes: facet-postcard does not round-trip
    // skipped fields.
    let value = WithSkip {
        a: 1,
        cache: vec![9, 9],
        b: "x".into(),
        seven: 1234,
    };
    let bytes = to_vec(&value).unwrap();
    assert_eq!(bytes, [1, 1, b'x']);
    let back: WithSkip = from_slice(&bytes).unwrap();
    assert_eq!(
        back,
        WithSkip {
            a: 1,
            cache: vec![],
            b: "x".into(),
            seven: 7,
        }
    );
    assert!(matches!(
        from_slice::<WithSkip>(&[1, 1, b'x', 0]),
        Err(DecodeError::TrailingBytes { remaining: 1, .. })
    ));
}
