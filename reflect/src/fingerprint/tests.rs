//! Golden values and invariance properties of fingerprints.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;

use facet::Facet;

use super::*;

fn fp<'a, T: Facet<'a>>() -> u64 {
    fingerprint(T::SHAPE).unwrap()
}

mod v1 {
    use facet::Facet;

    #[derive(Facet)]
    pub(super) struct Point {
        pub(super) x: i32,
        pub(super) y: i32,
    }
}

mod renamed_field {
    use facet::Facet;

    #[derive(Facet)]
    pub(super) struct Point {
        pub(super) x: i32,
        pub(super) why: i32,
    }
}

mod reordered {
    use facet::Facet;

    #[derive(Facet)]
    pub(super) struct Point {
        pub(super) y: i32,
        pub(super) x: i32,
    }
}

mod retyped {
    use facet::Facet;

    #[derive(Facet)]
    pub(super) struct Point {
        pub(super) x: i32,
        pub(super) y: i64,
    }
}

mod renamed_type {
    use facet::Facet;

    /// Docs are not part of the fingerprint either.
    #[derive(Facet)]
    pub(super) struct Location {
        pub(super) x: i32,
        pub(super) y: i32,
    }
}

mod skipped {
    use facet::Facet;

    #[derive(Facet)]
    pub(super) struct Point {
        pub(super) x: i32,
        #[facet(skip)]
        pub(super) cache: String,
        pub(super) y: i32,
    }
}

#[derive(Facet)]
#[repr(u8)]
#[allow(dead_code)]
enum Shape {
    Circle(f64),
    Rect { w: f64, h: f64 },
}

#[derive(Facet)]
#[repr(u8)]
#[allow(dead_code)]
enum ShapeSwapped {
    Rect { w: f64, h: f64 },
    Circle(f64),
}

#[derive(Facet)]
#[repr(u8)]
#[allow(dead_code)]
enum List {
    Nil,
    Cons(u32, Box<List>),
}

#[derive(Facet)]
struct Node {
    children: Vec<Node>,
}

#[derive(Facet)]
struct WithBox {
    p: Box<v1::Point>,
}

#[derive(Facet)]
struct WithArc {
    p: Arc<v1::Point>,
}

#[derive(Facet)]
struct WithPlain {
    p: v1::Point,
}

// Cross-checked against an independent Python encoder of the documented
// canonical form. Hard-coded on purpose: a change here means every peer's fingerprints
// change. Only update together with the version tag.
#[test]
fn golden_values() {
    assert_eq!(fp::<u32>(), 0x8398_56c0_422b_1888);
    assert_eq!(fp::<String>(), 0x2e06_abba_df82_85b7);
    assert_eq!(fp::<Vec<u8>>(), 0x9a9c_565d_4ae7_8fa4);
    assert_eq!(fp::<v1::Point>(), 0x849d_1261_8ec5_5d11);
    assert_eq!(fp::<Shape>(), 0x368d_6b05_77fe_a442);
    assert_eq!(fp::<List>(), 0x85f8_1f6d_405e_659a);
    assert_eq!(fp::<Node>(), 0x1896_dc17_e4eb_2a2d);
    assert_eq!(fp::<Option<Vec<String>>>(), 0xf20d_a55c_94cf_44c6);
    assert_eq!(fp::<BTreeMap<String, u64>>(), 0x87e5_8e38_3c59_6a68);
}

#[test]
fn canonical_form_bytes() {
    let bytes = canonical_form(&Schema::of::<Option<u32>>().unwrap());
    let mut expected = b"prism-fp/1\0".to_vec();
    expected.extend([0x20, 0x05]);
    expected.extend(0u64.to_le_bytes());
    assert_eq!(bytes, expected);

    let bytes = canonical_form(&Schema::of::<Node>().unwrap());
    let mut expected = b"prism-fp/1\0".to_vec();
    expected.push(0x30);
    expected.extend(0u64.to_le_bytes()); // root = ref 0
    expected.extend(1u64.to_le_bytes()); // one def
    expected.push(0x40);
    expected.extend(1u64.to_le_bytes()); // one field
    expected.extend(8u64.to_le_bytes());
    expected.extend(b"children");
    expected.extend([0x21, 0x30]);
    expected.extend(0u64.to_le_bytes()); // list<ref 0>
    assert_eq!(bytes, expected);
}

#[test]
fn wire_changes_change_the_fingerprint() {
    let base = fp::<v1::Point>();
    assert_ne!(base, fp::<renamed_field::Point>(), "field rename");
    assert_ne!(base, fp::<reordered::Point>(), "field reorder");
    assert_ne!(base, fp::<retyped::Point>(), "field type");
    assert_ne!(fp::<Shape>(), fp::<ShapeSwapped>(), "variant order");
    assert_ne!(fp::<[u8; 4]>(), fp::<[u8; 5]>(), "array length");
    assert_ne!(
        fp::<Vec<u32>>(),
        fp::<std::collections::BTreeSet<u32>>(),
        "container kind"
    );
    assert_ne!(fp::<Option<u32>>(), fp::<u32>());
    assert_ne!(fp::<(u32, u8)>(), fp::<(u8, u32)>());
}

#[test]
fn names_and_representations_do_not() {
    assert_eq!(
        fp::<v1::Point>(),
        fp::<renamed_type::Location>(),
        "type rename"
    );
    assert_eq!(fp::<v1::Point>(), fp::<skipped::Point>(), "skipped field");
    assert_eq!(fp::<WithPlain>(), fp::<WithBox>());
    assert_eq!(fp::<WithPlain>(), fp::<WithArc>());
    assert_eq!(fp::<v1::Point>(), fp::<Rc<v1::Point>>());
    assert_eq!(fp::<String>(), fp::<&str>());
    assert_eq!(fp::<String>(), fp::<Cow<'static, str>>());
    assert_eq!(fp::<String>(), fp::<Box<str>>());
    assert_eq!(fp::<Vec<u8>>(), fp::<bytes::Bytes>());
    assert_eq!(fp::<Vec<u8>>(), fp::<&[u8]>());
    assert_eq!(fp::<HashMap<String, u64>>(), fp::<BTreeMap<String, u64>>());
    assert_eq!(fp::<usize>(), fp::<u64>());
}

#[test]
fn cache_agrees_with_fresh_computation() {
    let first = fp::<Shape>();
    assert_eq!(first, fp::<Shape>());
    assert_eq!(first, Schema::of::<Shape>().unwrap().fingerprint());
}

#[test]
fn errors_are_not_cached_as_values() {
    assert!(fingerprint(<std::path::PathBuf as Facet>::SHAPE).is_err());
    assert!(fingerprint(<std::path::PathBuf as Facet>::SHAPE).is_err());
}

#[test]
fn op_fingerprint_depends_on_every_part() {
    let base = op_fingerprint(OpKind::Unary, 1, 2, None);
    assert_ne!(base, op_fingerprint(OpKind::ServerStream, 1, 2, None));
    assert_ne!(base, op_fingerprint(OpKind::Unary, 2, 1, None));
    assert_ne!(base, op_fingerprint(OpKind::Unary, 1, 2, Some(0)));
    assert_ne!(
        op_fingerprint(OpKind::Unary, 1, 2, Some(3)),
        op_fingerprint(OpKind::Unary, 1, 2, Some(4))
    );
}
