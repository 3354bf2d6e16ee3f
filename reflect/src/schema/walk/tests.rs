//! What the walker makes of each kind of shape facet reports.

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;
use std::sync::Arc;

use facet::Facet;

use crate::error::{ReflectError, Unsupported};
use crate::schema::{Schema, Ty, TypeDefKind, VariantKind};

fn root<'a, T: Facet<'a>>() -> Ty {
    Schema::of::<T>().unwrap().root
}

fn list(t: Ty) -> Ty {
    Ty::List(Box::new(t))
}

#[derive(Facet)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Facet)]
#[repr(transparent)]
struct Meters(f64);

#[derive(Facet)]
#[facet(transparent)]
struct Name(String);

#[derive(Facet)]
struct Pair(u32, String);

#[derive(Facet)]
struct Marker;

#[derive(Facet)]
struct Skips {
    a: u32,
    #[facet(skip)]
    b: u32,
    #[facet(skip_serializing)]
    c: u32,
    #[facet(rename = "dee")]
    d: u8,
}

#[derive(Facet)]
#[repr(u8)]
#[allow(dead_code)]
enum Shape {
    Circle(f64),
    Rect { w: f64, h: f64 },
    Empty,
}

#[derive(Facet)]
struct Node {
    children: Vec<Node>,
}

#[derive(Facet)]
#[repr(u8)]
#[allow(dead_code)]
enum List {
    Nil,
    Cons(u32, Box<List>),
}

#[derive(Facet)]
struct A {
    b: Option<Box<B>>,
}

#[derive(Facet)]
struct B {
    a: Vec<A>,
    again: Vec<A>,
}

#[derive(Facet)]
#[repr(u8)]
#[facet(untagged)]
#[allow(dead_code)]
enum Untagged {
    A(u32),
    B(String),
}

#[derive(Facet)]
struct HasPath {
    ok: u32,
    path: std::path::PathBuf,
}

#[test]
fn scalars_and_folding() {
    assert_eq!(root::<()>(), Ty::Unit);
    assert_eq!(root::<bool>(), Ty::Bool);
    assert_eq!(root::<u128>(), Ty::U128);
    assert_eq!(root::<i16>(), Ty::I16);
    assert_eq!(root::<usize>(), Ty::U64);
    assert_eq!(root::<isize>(), Ty::I64);
    assert_eq!(root::<char>(), Ty::Char);
    assert_eq!(root::<f32>(), Ty::F32);
}

#[test]
fn strings_collapse() {
    assert_eq!(root::<String>(), Ty::String);
    assert_eq!(root::<&str>(), Ty::String);
    assert_eq!(root::<Cow<'static, str>>(), Ty::String);
    assert_eq!(root::<Box<str>>(), Ty::String);
    assert_eq!(root::<Arc<str>>(), Ty::String);
}

#[test]
fn bytes_collapse() {
    assert_eq!(root::<Vec<u8>>(), Ty::Bytes);
    assert_eq!(root::<bytes::Bytes>(), Ty::Bytes);
    assert_eq!(root::<bytes::BytesMut>(), Ty::Bytes);
    assert_eq!(root::<&[u8]>(), Ty::Bytes);
    assert_eq!(root::<Cow<'static, [u8]>>(), Ty::Bytes);
    assert_eq!(root::<Vec<Vec<u8>>>(), list(Ty::Bytes));
    // Fixed arrays stay arrays: postcard writes no length for them.
    assert_eq!(
        root::<[u8; 4]>(),
        Ty::Array {
            elem: Box::new(Ty::U8),
            len: 4
        }
    );
}

#[test]
fn pointers_and_newtypes_collapse() {
    assert_eq!(root::<Box<u32>>(), Ty::U32);
    assert_eq!(root::<Arc<u32>>(), Ty::U32);
    assert_eq!(root::<Rc<u32>>(), Ty::U32);
    assert_eq!(root::<&u32>(), Ty::U32);
    assert_eq!(root::<Box<[u32]>>(), list(Ty::U32));
    assert_eq!(root::<Meters>(), Ty::F64);
    assert_eq!(root::<Name>(), Ty::String);
    assert_eq!(
        Schema::of::<Box<Point>>().unwrap(),
        Schema::of::<Point>().unwrap()
    );
}

#[test]
fn containers() {
    let b = Box::new;
    assert_eq!(root::<Option<u8>>(), Ty::Option(b(Ty::U8)));
    assert_eq!(root::<Vec<String>>(), list(Ty::String));
    assert_eq!(root::<HashSet<u32>>(), Ty::Set(b(Ty::U32)));
    assert_eq!(root::<BTreeSet<u32>>(), Ty::Set(b(Ty::U32)));
    let map = Ty::Map {
        key: b(Ty::String),
        value: b(Ty::U32),
    };
    assert_eq!(root::<HashMap<String, u32>>(), map);
    assert_eq!(root::<BTreeMap<String, u32>>(), map);
    assert_eq!(
        root::<(u32, String)>(),
        Ty::Tuple(vec![Ty::U32, Ty::String])
    );
    assert_eq!(root::<(u32,)>(), Ty::Tuple(vec![Ty::U32]));
    assert_eq!(
        root::<Result<u32, String>>(),
        Ty::Result {
            ok: b(Ty::U32),
            err: b(Ty::String)
        }
    );
}

#[test]
fn struct_kinds() {
    let s = Schema::of::<Pair>().unwrap();
    let TypeDefKind::TupleStruct { fields } = &s.types[0].kind else {
        panic!("{s:?}")
    };
    assert_eq!(
        fields.iter().map(|f| f.name.as_str()).collect::<Vec<_>>(),
        ["0", "1"]
    );
    assert_eq!(
        Schema::of::<Marker>().unwrap().types[0].kind,
        TypeDefKind::UnitStruct
    );
    let s = Schema::of::<Point>().unwrap();
    assert!(s.types[0].path.ends_with("::Point"), "{}", s.types[0].path);
    assert!(matches!(&s.types[0].kind, TypeDefKind::Struct { fields } if fields.len() == 2));
}

#[test]
fn skipped_fields_are_left_out_and_renames_apply() {
    let s = Schema::of::<Skips>().unwrap();
    let TypeDefKind::Struct { fields } = &s.types[0].kind else {
        panic!("{s:?}")
    };
    let names: Vec<_> = fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["a", "dee"]);
}

#[test]
fn enum_variants_by_position() {
    let s = Schema::of::<Shape>().unwrap();
    let TypeDefKind::Enum { variants } = &s.types[0].kind else {
        panic!("{s:?}")
    };
    let got: Vec<_> = variants
        .iter()
        .map(|v| (v.index, v.name.as_str(), v.kind, v.fields.len()))
        .collect();
    assert_eq!(
        got,
        [
            (0, "Circle", VariantKind::Tuple, 1),
            (1, "Rect", VariantKind::Struct, 2),
            (2, "Empty", VariantKind::Unit, 0)
        ]
    );
}

#[test]
fn recursion_emits_back_references() {
    let s = Schema::of::<Node>().unwrap();
    assert_eq!(s.root, Ty::Named(0));
    assert_eq!(s.types.len(), 1);
    let TypeDefKind::Struct { fields } = &s.types[0].kind else {
        panic!()
    };
    assert_eq!(fields[0].ty, list(Ty::Named(0)));

    let s = Schema::of::<List>().unwrap();
    let TypeDefKind::Enum { variants } = &s.types[0].kind else {
        panic!()
    };
    assert_eq!(variants[1].fields[1].ty, Ty::Named(0));

    // Mutual recursion, and a type reached twice is one definition.
    let s = Schema::of::<A>().unwrap();
    assert_eq!(s.types.len(), 2);
    let TypeDefKind::Struct { fields } = &s.types[1].kind else {
        panic!()
    };
    assert_eq!(fields[0].ty, list(Ty::Named(0)));
    assert_eq!(fields[1].ty, list(Ty::Named(0)));
}

#[test]
fn docs_are_recorded() {
    /// A documented type.
    #[derive(Facet)]
    struct Documented {
        /// The only field.
        only: u8,
    }
    let s = Schema::of::<Documented>().unwrap();
    assert_eq!(s.types[0].doc, ["A documented type."]);
    let TypeDefKind::Struct { fields } = &s.types[0].kind else {
        panic!()
    };
    assert_eq!(fields[0].doc, ["The only field."]);
}

#[test]
fn unsupported_shapes_are_typed_errors() {
    let err = Schema::of::<Untagged>().unwrap_err();
    assert!(
        matches!(&err, ReflectError::Unsupported { reason: Unsupported::UntaggedEnum, type_path, .. } if type_path.ends_with("Untagged")),
        "{err}"
    );

    let err = Schema::of::<HasPath>().unwrap_err();
    let ReflectError::Unsupported {
        type_path,
        at,
        reason,
    } = &err
    else {
        panic!("{err}")
    };
    assert_eq!(type_path, "std::path::PathBuf");
    assert!(at.ends_with("HasPath.path"), "{at}");
    assert_eq!(*reason, Unsupported::UnknownScalar);
    assert!(err.to_string().contains("std::path::PathBuf"), "{err}");

    let err = Schema::of::<std::sync::Mutex<u32>>().unwrap_err();
    assert!(
        matches!(&err, ReflectError::Unsupported { reason: Unsupported::Pointer { kind }, .. } if kind == "Mutex"),
        "{err}"
    );

    let err = Schema::of::<std::time::Duration>().unwrap_err();
    assert!(
        matches!(
            &err,
            ReflectError::Unsupported {
                reason: Unsupported::ContainerProxy,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn flattened_fields_are_refused() {
    #[derive(Facet)]
    struct Outer {
        #[facet(flatten)]
        inner: Point,
    }
    let err = Schema::of::<Outer>().unwrap_err();
    assert!(
        matches!(&err, ReflectError::Unsupported { reason: Unsupported::FlattenedField { field }, .. } if field == "inner"),
        "{err}"
    );
}
