//! Users depend on `prism` alone: reflection and the default codec through
//! the facade, with no direct `facet` dependency in the user's code.

use prism::{
    Decode, Encode, EncodeBuf, Facet, Limits, OpDescriptor, OpId, OpKind, OpTable, Payload,
    Postcard,
};

#[derive(Facet, Debug, PartialEq)]
#[facet(crate = prism::facet)]
struct Add {
    a: i64,
    b: i64,
}

#[derive(Facet, Debug, PartialEq)]
#[facet(crate = prism::facet)]
struct Sum {
    total: i64,
}

static OPS: [OpDescriptor; 1] = [OpDescriptor::new(
    "Calc",
    "add",
    OpId::from_name("demo", "Calc", "add"),
    OpKind::Unary,
    Add::SHAPE,
    Sum::SHAPE,
)
.with_package("demo")];

static CALC: prism::ServiceDescriptor = prism::ServiceDescriptor::new("demo", "Calc", &OPS);

#[test]
fn encode_and_decode_through_the_codec_traits() {
    let mut buf = EncodeBuf::new();
    Encode::<Postcard>::encode(&Add { a: 2, b: -3 }, &mut buf, &Limits::default()).expect("encode");
    let payload = Payload::new(buf.finish().into_contiguous());
    let back = <Add as Decode<Postcard>>::decode(&payload, &Limits::default()).expect("decode");
    assert_eq!(back, Add { a: 2, b: -3 });
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
    let manifest = prism::PermissionManifest::from_services(&[&CALC]);
    assert!(manifest.to_json_string().contains("demo.Calc/add"));
}
