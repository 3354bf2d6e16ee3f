//! Descriptors built in `static` context, as the service macro emits them.

use facet::Facet;

use super::*;
use crate::ServiceDescriptor;
use crate::Ty;

#[derive(Facet)]
struct AddRequest {
    a: i64,
    b: i64,
}

#[derive(Facet)]
#[repr(u8)]
#[allow(dead_code)]
enum CalcError {
    Overflow,
}

const ADD_ID: OpId = OpId::from_name("demo", "Calc", "add");

static ADD: OpDescriptor = OpDescriptor::new(
    "Calc",
    "add",
    ADD_ID,
    OpKind::Unary,
    <AddRequest as Facet>::SHAPE,
    <i64 as Facet>::SHAPE,
)
.with_package("demo")
.with_error(<CalcError as Facet>::SHAPE)
.with_codecs(&[CodecId::RKYV, CodecId::POSTCARD])
.with_permission("calc.use")
.with_doc("Adds.");

static ADD_NO_ERROR: OpDescriptor = OpDescriptor::new(
    "Calc",
    "add",
    ADD_ID,
    OpKind::Unary,
    <AddRequest as Facet>::SHAPE,
    <i64 as Facet>::SHAPE,
);

static OPS: [OpDescriptor; 1] = [ADD];
static CALC: ServiceDescriptor = ServiceDescriptor::new("demo", "Calc", &OPS)
    .with_version("2")
    .with_doc("A calculator.");

#[test]
fn getters_and_names() {
    assert_eq!(ADD.full_name(), "demo.Calc/add");
    assert_eq!(ADD_NO_ERROR.full_name(), "Calc/add");
    assert_eq!(
        (ADD.package(), ADD.service(), ADD.method()),
        ("demo", "Calc", "add")
    );
    assert_eq!(ADD.id(), ADD_ID);
    assert_eq!(ADD.kind(), OpKind::Unary);
    assert_eq!(ADD.codecs(), [CodecId::RKYV, CodecId::POSTCARD]);
    assert_eq!(ADD_NO_ERROR.codecs(), [CodecId::POSTCARD]);
    assert_eq!(ADD.permission(), Some("calc.use"));
    assert_eq!(ADD_NO_ERROR.permission(), None);
    assert_eq!(ADD.access(), Some(Access::Permission("calc.use")));
    assert_eq!(ADD_NO_ERROR.access(), None, "declared nowhere");
    assert_eq!(ADD_NO_ERROR.public().access(), Some(Access::Public));
    assert_eq!(ADD_NO_ERROR.public().permission(), None);
    assert_eq!(ADD.doc(), "Adds.");
    assert!(ADD.error().is_some() && ADD_NO_ERROR.error().is_none());
    assert_eq!(CALC.full_name(), "demo.Calc");
    assert_eq!(ServiceDescriptor::new("", "Calc", &OPS).full_name(), "Calc");
    assert_eq!(
        (CALC.version(), CALC.doc(), CALC.ops().len()),
        (Some("2"), "A calculator.", 1)
    );
}

#[test]
fn schemas_and_fingerprints() {
    assert_eq!(ADD.response_schema().unwrap().root, Ty::I64);
    assert_eq!(ADD.request_schema().unwrap().types.len(), 1);
    assert!(ADD.error_schema().unwrap().is_some());
    assert!(ADD_NO_ERROR.error_schema().unwrap().is_none());
    assert_eq!(
        ADD.request_fingerprint().unwrap(),
        fingerprint(<AddRequest as Facet>::SHAPE).unwrap()
    );
    assert_eq!(
        ADD.response_fingerprint().unwrap(),
        fingerprint(<i64 as Facet>::SHAPE).unwrap()
    );
    // The error type is part of the op fingerprint; names and codecs are not.
    assert_ne!(
        ADD.fingerprint().unwrap(),
        ADD_NO_ERROR.fingerprint().unwrap()
    );
    let renamed = ADD_NO_ERROR.with_package("other").with_codecs(&[]);
    assert_eq!(
        renamed.fingerprint().unwrap(),
        ADD_NO_ERROR.fingerprint().unwrap()
    );
}

#[test]
fn unsupported_types_surface_as_errors() {
    let op = ADD_NO_ERROR.with_error(<std::path::PathBuf as Facet>::SHAPE);
    assert!(op.fingerprint().is_err());
    assert!(op.error_schema().is_err());
}

#[test]
fn debug_prints_names_not_shapes() {
    let text = format!("{ADD:?}");
    assert!(
        text.contains("\"demo.Calc/add\"") && text.contains("AddRequest"),
        "{text}"
    );
    assert!(
        text.contains("CalcError") && text.contains("calc.use"),
        "{text}"
    );
    assert!(!text.contains("vtable"), "{text}");
    let text = format!("{CALC:?}");
    assert!(
        text.starts_with("ServiceDescriptor { name: \"demo.Calc\""),
        "{text}"
    );
}
