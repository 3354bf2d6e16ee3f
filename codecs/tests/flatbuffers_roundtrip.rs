//! Round trips, determinism, views and schema export for the FlatBuffers
//! codec, over the shared corpus and generated values.

mod flatbuffers_corpus;

use std::collections::HashMap;

use bytes::Bytes;
use facet::Facet;
use flatbuffers_corpus::*;
use prism_codecs::flatbuffers::{self as fb, FlatView};
use prism_codecs::{
    Codec, Decode, DecodeError, Encode, EncodeBuf, EncodeError, FlatBuffers, Limits, Payload, View,
};
use proptest::prelude::*;

/// Encodes, decodes, checks the bytes are stable, and returns them.
fn round_trip<T>(value: &T) -> Vec<u8>
where
    T: Facet<'static> + PartialEq + core::fmt::Debug,
{
    let bytes = fb::to_vec(value).expect("encode");
    let back: T = fb::from_slice(&bytes).expect("decode");
    assert_eq!(&back, value);
    assert_eq!(
        fb::to_vec(value).expect("encode again"),
        bytes,
        "deterministic"
    );
    // Through the trait impls and an aligned payload, as a transport would.
    let mut buf = EncodeBuf::new();
    Encode::<FlatBuffers>::encode(value, &mut buf, &Limits::default()).expect("encode trait");
    let payload = Payload::new(buf.finish().into_bytes());
    assert_eq!(&payload[..], &bytes[..]);
    let back: T =
        <T as Decode<FlatBuffers>>::decode(&payload, &Limits::default()).expect("decode trait");
    assert_eq!(&back, value);
    // The view accepts exactly what decodes, and decodes the same.
    let view = <T as View<FlatBuffers>>::view(payload, &Limits::default()).expect("view");
    assert_eq!(&view.to_owned().expect("view to owned"), value);
    // An unaligned copy decodes too: FlatBuffers alignment is relative to the buffer.
    let mut shifted = vec![0u8; bytes.len() + 1];
    shifted[1..].copy_from_slice(&bytes);
    let back: T = fb::from_slice(&shifted[1..]).expect("decode unaligned");
    assert_eq!(&back, value);
    bytes
}

#[test]
fn codec_constants() {
    assert_eq!(FlatBuffers::ID, prism_codecs::CodecId::FLATBUFFERS);
    assert_eq!(FlatBuffers::NAME, "flatbuffers");
    assert!(FlatBuffers::CAPABILITIES.cross_language());
    assert!(FlatBuffers::CAPABILITIES.zero_copy());
    assert!(!FlatBuffers::CAPABILITIES.self_describing());
    assert!(
        prism_codecs::BUILTIN_CODECS
            .iter()
            .any(|c| c.id == FlatBuffers::ID && c.name == "flatbuffers")
    );
}

#[test]
fn samples_round_trip() {
    sample_scalars().iter().for_each(|v| drop(round_trip(v)));
    sample_blobs().iter().for_each(|v| drop(round_trip(v)));
    sample_nested().iter().for_each(|v| drop(round_trip(v)));
    sample_batches().iter().for_each(|v| drop(round_trip(v)));
    sample_maybes().iter().for_each(|v| drop(round_trip(v)));
    sample_drawings().iter().for_each(|v| drop(round_trip(v)));
    sample_maps().iter().for_each(|v| drop(round_trip(v)));
    sample_programs().iter().for_each(|v| drop(round_trip(v)));
}

#[test]
fn non_table_roots_round_trip() {
    round_trip(&0u64);
    round_trip(&u64::MAX);
    round_trip(&String::from("just a string"));
    round_trip(&vec![Point { x: 1, y: 2 }]);
    round_trip(&Shape::Label("root union".into()));
    round_trip(&Color::Green);
    round_trip(&Some(5u32));
    round_trip(&None::<u32>);
    round_trip(&(1u8, String::from("tuple root")));
    round_trip(&());
    round_trip(&Marker);
    round_trip(&Ok::<u8, String>(3));
    round_trip(&vec![vec![1u8], vec![]]);
    round_trip(&Bytes::from_static(b"bytes root"));
    round_trip(&[1u128, 2, 3]);
    round_trip(&'x');
}

#[test]
fn borrowed_values_encode_like_owned_ones() {
    #[derive(Facet)]
    struct Borrowed<'a> {
        name: &'a str,
        payload: Vec<u8>,
    }
    #[derive(Facet, Debug, PartialEq)]
    struct Owned {
        name: String,
        payload: Vec<u8>,
    }
    let text = String::from("borrowed");
    let borrowed = Borrowed {
        name: &text,
        payload: vec![1, 2, 3],
    };
    let bytes = fb::to_vec(&borrowed).unwrap();
    let owned = Owned {
        name: text.clone(),
        payload: vec![1, 2, 3],
    };
    assert_eq!(bytes, fb::to_vec(&owned).unwrap());
    assert_eq!(fb::from_slice::<Owned>(&bytes).unwrap(), owned);
}

#[test]
fn negative_zero_and_infinities_keep_their_bits() {
    let bits = |v: &Scalars| (v.x.to_bits(), v.y.to_bits());
    for (x, y) in [(-0.0f32, -0.0f64), (f32::INFINITY, f64::NEG_INFINITY)] {
        let mut v = sample_scalars().remove(1);
        v.x = x;
        v.y = y;
        let back: Scalars = fb::from_slice(&fb::to_vec(&v).unwrap()).unwrap();
        assert_eq!(bits(&back), bits(&v));
    }
    let nan = f64::from_bits(0x7ff8_dead_beef_0001);
    let back: f64 = fb::from_slice(&fb::to_vec(&nan).unwrap()).unwrap();
    assert_eq!(back.to_bits(), nan.to_bits());
}

#[test]
fn hash_collections_encode_in_key_order() {
    // The same map built in different orders and capacities encodes the same.
    let keys: Vec<String> = (0..50).map(|i| format!("key{i}")).collect();
    let forward: HashMap<String, u32> = keys.iter().cloned().zip(0..).collect();
    let mut backward = HashMap::with_capacity(1000);
    for (k, v) in keys.iter().cloned().zip(0u32..50).rev() {
        backward.insert(k, v);
    }
    let mut a = sample_maps().remove(1);
    let mut b = a.clone();
    a.by_name = forward;
    b.by_name = backward;
    assert_eq!(fb::to_vec(&a).unwrap(), fb::to_vec(&b).unwrap());

    // Numbers sort numerically, strings bytewise.
    let value = sample_maps().remove(0);
    let view = FlatView::<Maps>::new(
        Payload::copy_from_slice(&fb::to_vec(&value).unwrap()),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(view.root().type_name(), "Maps");
    let json_order: Vec<_> = {
        let mut keys: Vec<_> = value.by_name.keys().cloned().collect();
        keys.sort();
        keys
    };
    assert_eq!(json_order, ["", "alpha", "mid", "zeta"]);
}

#[test]
fn views_read_in_place() {
    let blob = &sample_blobs()[0];
    let bytes = fb::to_vec(blob).unwrap();
    let payload = Payload::copy_from_slice(&bytes);
    let start = payload.as_ptr() as usize;
    let end = start + payload.len();
    let view = FlatView::<Blob>::new(payload, &Limits::default()).unwrap();
    let name = view.str("name").unwrap();
    assert_eq!(name, blob.name);
    let at = name.as_ptr() as usize;
    assert!(
        at >= start && at < end,
        "the string is borrowed from the payload"
    );
    assert_eq!(view.bytes("payload"), Some(&blob.payload[..]));
    assert_eq!(view.bytes("raw"), Some(&blob.raw[..]));
    // Wrong kind or unknown names are `None`, not a panic.
    assert_eq!(view.str("payload"), None);
    assert_eq!(view.bytes("name"), None);
    assert_eq!(view.str("nope"), None);
    assert_eq!(view.scalar::<u32>("name"), None);
    assert_eq!(
        format!("{view:?}"),
        format!(
            "FlatView {{ type: \"flatbuffers_roundtrip::flatbuffers_corpus::Blob\", len: {} }}",
            bytes.len()
        )
    );

    let nested = &sample_nested()[0];
    let view = FlatView::<Nested>::new(
        Payload::copy_from_slice(&fb::to_vec(nested).unwrap()),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(view.scalar::<u64>("id"), Some(42));
    assert_eq!(view.scalar::<i64>("id"), None, "kind must match");
    let inner = view.table("inner").unwrap();
    assert_eq!(inner.str("label"), Some("inner"));
    assert_eq!(inner.table("at").unwrap().scalar::<i32>("x"), Some(-1));
    assert_eq!(view.table("pair").unwrap().str("f1"), Some("nine"));
    assert_eq!(view.table("meters").unwrap().scalar::<f64>("f0"), Some(3.5));
    assert_eq!(inner.field_names().collect::<Vec<_>>(), ["label", "at"]);

    let scalars = &sample_scalars()[1];
    let view = FlatView::<Scalars>::new(
        Payload::copy_from_slice(&fb::to_vec(scalars).unwrap()),
        &Limits::default(),
    )
    .unwrap();
    // Zeros are left out of the buffer and read back as the default.
    assert_eq!(view.scalar::<bool>("flag"), Some(false));
    assert_eq!(view.scalar::<char>("ch"), Some('\0'));
    assert_eq!(view.scalar::<u64>("size"), Some(0));

    let maybe = &sample_maybes()[1];
    let view = FlatView::<Maybe>::new(
        Payload::copy_from_slice(&fb::to_vec(maybe).unwrap()),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(view.scalar::<u32>("count"), None, "absent option");
    assert_eq!(view.str("name"), None);
    assert!(view.table("at").is_none());

    let drawing = &sample_drawings()[0];
    let view = FlatView::<Drawing>::new(
        Payload::copy_from_slice(&fb::to_vec(drawing).unwrap()),
        &Limits::default(),
    )
    .unwrap();
    let (variant, body) = view.variant("main").unwrap();
    assert_eq!(variant, "Circle");
    assert_eq!(body.scalar::<f64>("r"), Some(2.0));
    assert!(view.variant("extra").is_none());

    // A root that is not a table reads through its `value` field.
    let view = FlatView::<String>::new(
        Payload::copy_from_slice(&fb::to_vec(&String::from("root")).unwrap()),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(view.str("value"), Some("root"));
}

#[test]
fn views_are_send_and_sync() {
    fn check<T: Send + Sync + 'static>() {}
    check::<FlatView<Program>>();
    check::<<Program as View<FlatBuffers>>::View>();
}

#[test]
fn schema_is_deterministic_and_complete() {
    let a = fb::fbs_schema_of::<Program>().unwrap();
    let b = fb::fbs_schema(<Program as Facet>::SHAPE).unwrap();
    assert_eq!(a, b);
    assert!(a.contains("namespace flatbuffers_roundtrip.flatbuffers_corpus;"));
    assert!(a.contains("union Expr {\n  Lit: Expr_Lit,\n  Neg: Expr_Neg,\n  Add: Expr_Add,\n}"));
    assert!(a.contains("table Expr_Add {\n  f0: Expr (required);\n  f1: Expr (required);\n}"));
    assert!(a.contains("table Tree {\n  label: string (required);\n  children: [Tree] (required);\n  next: Tree;\n}"));
    assert!(a.ends_with("root_type Program;\n"));
    assert_eq!(fb::root_type_name::<Program>().unwrap(), "Program");
    assert_eq!(fb::root_type_name::<u64>().unwrap(), "Root");

    let maps = fb::fbs_schema_of::<Maps>().unwrap();
    assert!(maps.contains(
        "table Map_String_U32Entry {\n  key: string (required, key);\n  value: uint;\n}"
    ));
    let scalars = fb::fbs_schema_of::<Scalars>().unwrap();
    assert!(scalars.contains("struct U128 {\n  lo: ulong;\n  hi: ulong;\n}"));
    assert!(scalars.contains("  big: U128;\n  neg: I128;\n"));
}

#[test]
fn types_flatbuffers_cannot_name_are_refused() {
    #[derive(Facet, Debug)]
    struct Keyword {
        table: u32,
    }
    #[derive(Facet)]
    struct Clash {
        kind: Shape,
        kind_type: u8,
    }
    let err = fb::to_vec(&Keyword { table: 1 }).unwrap_err();
    let EncodeError::Unsupported(plan) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(plan.codec, "flatbuffers");
    assert!(plan.reason.contains("identifier"), "{err}");
    assert!(err.to_string().contains("Keyword"), "{err}");

    let err = fb::fbs_schema_of::<Clash>().unwrap_err();
    assert!(
        err.reason.contains("kind_type") || err.reason.contains("_type"),
        "{err}"
    );

    let err = fb::from_slice::<Keyword>(&[0; 16]).unwrap_err();
    assert!(matches!(err, DecodeError::Unsupported(_)), "{err:?}");
}

#[test]
fn skipped_and_renamed_fields() {
    #[derive(Facet, Debug, PartialEq)]
    struct Tagged {
        id: u32,
        #[facet(skip, default)]
        cache: Vec<u8>,
        #[facet(rename = "displayName")]
        display_name: String,
    }
    let value = Tagged {
        id: 3,
        cache: vec![1, 2, 3],
        display_name: "x".into(),
    };
    let bytes = fb::to_vec(&value).unwrap();
    let back: Tagged = fb::from_slice(&bytes).unwrap();
    assert_eq!(
        back,
        Tagged {
            cache: Vec::new(),
            ..value
        }
    );
    let fbs = fb::fbs_schema_of::<Tagged>().unwrap();
    assert!(
        fbs.contains("table Tagged {\n  id: uint;\n  displayName: string (required);\n}"),
        "{fbs}"
    );
}

#[test]
fn limits_hold_on_both_sides() {
    let deep = sample_programs().remove(0);
    let tight = Limits::default().with_max_depth(2);
    let mut buf = EncodeBuf::new();
    let err = Encode::<FlatBuffers>::encode(&deep, &mut buf, &tight).unwrap_err();
    assert!(
        matches!(err, EncodeError::DepthLimitExceeded { limit: 2, .. }),
        "{err:?}"
    );

    let bytes = fb::to_vec(&deep).unwrap();
    let err = fb::from_slice_with::<Program>(&bytes, &tight).unwrap_err();
    assert!(
        matches!(err, DecodeError::DepthLimitExceeded { limit: 2, .. }),
        "{err:?}"
    );
    let err = FlatView::<Program>::new(Payload::copy_from_slice(&bytes), &tight).unwrap_err();
    assert!(
        matches!(err, DecodeError::DepthLimitExceeded { limit: 2, .. }),
        "{err:?}"
    );

    let blob = Blob {
        name: "x".repeat(10_000),
        payload: vec![7; 10_000],
        raw: Bytes::new(),
        tags: Vec::new(),
    };
    let bytes = fb::to_vec(&blob).unwrap();
    let small = Limits::default().with_max_alloc(1000);
    let err = fb::from_slice_with::<Blob>(&bytes, &small).unwrap_err();
    assert!(
        matches!(err, DecodeError::AllocLimitExceeded { limit: 1000, .. }),
        "{err:?}"
    );
}

#[test]
fn large_payloads_round_trip() {
    let blob = Blob {
        name: "big".into(),
        payload: (0..(1 << 20)).map(|i| i as u8).collect(),
        raw: Bytes::from(vec![3u8; 1 << 20]),
        tags: vec!["t".into(); 1000],
    };
    round_trip(&blob);
    let many: Vec<Point> = (0..10_000).map(|i| Point { x: i, y: -i }).collect();
    round_trip(&many);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn scalars_round_trip(v in scalars()) { round_trip(&v); }

    #[test]
    fn blobs_round_trip(v in blob()) { round_trip(&v); }

    #[test]
    fn nested_round_trip(v in nested()) { round_trip(&v); }

    #[test]
    fn batches_round_trip(v in batch()) { round_trip(&v); }

    #[test]
    fn maybes_round_trip(v in maybe()) { round_trip(&v); }

    #[test]
    fn drawings_round_trip(v in drawing()) { round_trip(&v); }

    #[test]
    fn maps_round_trip(v in maps()) { round_trip(&v); }

    #[test]
    fn programs_round_trip(v in program()) { round_trip(&v); }

    #[test]
    fn views_match_owned_decodes(v in blob()) {
        let bytes = fb::to_vec(&v).unwrap();
        let view = FlatView::<Blob>::new(Payload::copy_from_slice(&bytes), &Limits::default()).unwrap();
        prop_assert_eq!(view.str("name"), Some(v.name.as_str()));
        prop_assert_eq!(view.bytes("payload"), Some(&v.payload[..]));
        prop_assert_eq!(view.bytes("raw"), Some(&v.raw[..]));
        prop_assert_eq!(view.to_owned().unwrap(), v);
    }
}
