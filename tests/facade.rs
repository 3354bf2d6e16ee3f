//! Users depend on `prism` alone: reflection and the default codec through
//! the facade, with no direct `facet` dependency in the user's code.

use prism::Limits;
use prism::codec::{Decode, Encode, EncodeBuf, Payload, Postcard};
use prism::reflect::{OpDescriptor, OpId, OpKind, OpTable};

#[prism::message]
#[derive(Debug, PartialEq)]
struct Add {
    a: i64,
    b: i64,
}

#[prism::message]
#[derive(Debug, PartialEq)]
struct Sum {
    total: i64,
}

/// `#[prism::message]` gives an enum the `repr` facet needs.
#[prism::message]
#[derive(Debug, PartialEq)]
enum Shape {
    Dot,
    Line { len: u32 },
}

/// The derive spelled out still works.
#[derive(prism::Facet, Debug, PartialEq)]
#[facet(crate = prism::facet)]
struct Spelled {
    x: u8,
}

static OPS: [OpDescriptor; 1] = [OpDescriptor::new(
    "Calc",
    "add",
    OpId::from_name("demo", "Calc", "add"),
    OpKind::Unary,
    <Add as prism::Facet>::SHAPE,
    <Sum as prism::Facet>::SHAPE,
)
.with_package("demo")];

static CALC: prism::reflect::ServiceDescriptor =
    prism::reflect::ServiceDescriptor::new("demo", "Calc", &OPS);

fn round_trip<T: Encode<Postcard> + Decode<Postcard>>(value: &T) -> T {
    let mut buf = EncodeBuf::new();
    value.encode(&mut buf, &Limits::default()).expect("encode");
    let payload: Payload = buf.finish();
    T::decode(&payload, &Limits::default()).expect("decode")
}

#[test]
fn encode_and_decode_through_the_codec_traits() {
    assert_eq!(round_trip(&Add { a: 2, b: -3 }), Add { a: 2, b: -3 });
    assert_eq!(round_trip(&Shape::Line { len: 9 }), Shape::Line { len: 9 });
    assert_eq!(round_trip(&Shape::Dot), Shape::Dot);
    assert_eq!(round_trip(&Spelled { x: 4 }), Spelled { x: 4 });
}

#[test]
fn descriptors_register_and_fingerprint() {
    let mut table = OpTable::new();
    table.register(&CALC).expect("register");
    let op = table
        .get(OpId::from_name("demo", "Calc", "add"))
        .expect("op");
    assert_eq!(op.full_name(), "demo.Calc/add");
    assert_ne!(op.fingerprint().expect("fingerprint"), 0);
    let manifest = prism::reflect::PermissionManifest::from_services(&[&CALC]);
    assert!(manifest.to_json_string().contains("demo.Calc/add"));
}
