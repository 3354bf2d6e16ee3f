//! The types and value generators the FlatBuffers tests share: one type per
//! part of the mapping (scalars, strings and bytes, nested tables, vectors
//! of tables, options, enums as unions, maps and sets, recursive types).

#![allow(dead_code, unreachable_pub)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::Bytes;
use facet::Facet;
use proptest::prelude::*;

#[derive(Facet, Debug, PartialEq, Clone)]
pub struct Scalars {
    pub flag: bool,
    pub a: u8,
    pub b: u16,
    pub c: u32,
    pub d: u64,
    pub e: i8,
    pub f: i16,
    pub g: i32,
    pub h: i64,
    pub x: f32,
    pub y: f64,
    pub ch: char,
    pub size: usize,
    pub off: isize,
    pub big: u128,
    pub neg: i128,
}

#[derive(Facet, Debug, PartialEq, Clone)]
pub struct Blob {
    pub name: String,
    pub payload: Vec<u8>,
    pub raw: Bytes,
    pub tags: Vec<String>,
}

#[derive(Facet, Debug, PartialEq, Clone)]
pub struct Point {
    pub x: i32,
    pub y: i32,
}

#[derive(Facet, Debug, PartialEq, Clone)]
pub struct Inner {
    pub label: String,
    pub at: Point,
}

/// A unit struct: an empty table.
#[derive(Facet, Debug, PartialEq, Clone)]
pub struct Marker;

/// A tuple struct: a table with field `f0`.
#[derive(Facet, Debug, PartialEq, Clone)]
pub struct Meters(pub f64);

#[derive(Facet, Debug, PartialEq, Clone)]
pub struct Nested {
    pub id: u64,
    pub inner: Inner,
    pub boxed: Box<Point>,
    pub pair: (u8, String),
    pub marker: Marker,
    pub meters: Meters,
}

#[derive(Facet, Debug, PartialEq, Clone)]
pub struct Item {
    pub id: u32,
    pub name: String,
    pub weight: f32,
}

#[derive(Facet, Debug, PartialEq, Clone)]
pub struct Batch {
    pub items: Vec<Item>,
    pub grid: Vec<Vec<u16>>,
    pub chunks: Vec<Vec<u8>>,
    pub arr: [i16; 3],
}

#[derive(Facet, Debug, PartialEq, Clone)]
pub struct Maybe {
    pub count: Option<u32>,
    pub name: Option<String>,
    pub at: Option<Point>,
    pub flag: Option<bool>,
    pub nested: Option<Option<u8>>,
    pub list: Option<Vec<u16>>,
    pub names: Vec<Option<String>>,
}

#[derive(Facet, Debug, PartialEq, Clone)]
#[repr(u8)]
pub enum Shape {
    Circle { r: f64 },
    Rect(f32, f32),
    Label(String),
    Empty,
}

#[derive(Facet, Debug, PartialEq, Clone, Copy)]
#[repr(u8)]
pub enum Color {
    Red,
    Green,
    Blue,
}

#[derive(Facet, Debug, PartialEq, Clone)]
pub struct Drawing {
    pub main: Shape,
    pub shapes: Vec<Shape>,
    pub extra: Option<Shape>,
    pub color: Color,
    pub palette: Vec<Color>,
    pub fill: Option<Color>,
    pub outcome: Result<u32, String>,
}

#[derive(Facet, Debug, PartialEq, Clone)]
pub struct Maps {
    pub by_name: HashMap<String, u32>,
    pub by_id: BTreeMap<u64, Point>,
    pub ids: BTreeSet<i32>,
    pub words: HashSet<String>,
    pub blobs: BTreeMap<String, Vec<u8>>,
}

#[derive(Facet, Debug, PartialEq, Clone)]
pub struct Tree {
    pub label: String,
    pub children: Vec<Tree>,
    pub next: Option<Box<Tree>>,
}

#[derive(Facet, Debug, PartialEq, Clone)]
#[repr(u8)]
pub enum Expr {
    Lit(i64),
    Neg(Box<Expr>),
    Add(Box<Expr>, Box<Expr>),
}

#[derive(Facet, Debug, PartialEq, Clone)]
pub struct Program {
    pub name: String,
    pub body: Expr,
    pub tree: Tree,
}

// ---------------------------------------------------------------------------
// Generators.
// ---------------------------------------------------------------------------

/// Floats without NaN, so values compare equal to themselves.
pub fn f32s() -> impl Strategy<Value = f32> {
    any::<f32>().prop_filter("not NaN", |v| !v.is_nan())
}

pub fn f64s() -> impl Strategy<Value = f64> {
    any::<f64>().prop_filter("not NaN", |v| !v.is_nan())
}

pub fn scalars() -> impl Strategy<Value = Scalars> {
    (
        (
            any::<bool>(),
            any::<u8>(),
            any::<u16>(),
            any::<u32>(),
            any::<u64>(),
        ),
        (any::<i8>(), any::<i16>(), any::<i32>(), any::<i64>()),
        (f32s(), f64s(), any::<char>()),
        (any::<usize>(), any::<isize>(), any::<u128>(), any::<i128>()),
    )
        .prop_map(
            |((flag, a, b, c, d), (e, f, g, h), (x, y, ch), (size, off, big, neg))| Scalars {
                flag,
                a,
                b,
                c,
                d,
                e,
                f,
                g,
                h,
                x,
                y,
                ch,
                size,
                off,
                big,
                neg,
            },
        )
}

pub fn text() -> impl Strategy<Value = String> {
    prop_oneof![".{0,12}", "[a-z]{0,4}", Just(String::new())]
}

pub fn blob() -> impl Strategy<Value = Blob> {
    (
        text(),
        prop::collection::vec(any::<u8>(), 0..64),
        prop::collection::vec(any::<u8>(), 0..16),
        prop::collection::vec(text(), 0..4),
    )
        .prop_map(|(name, payload, raw, tags)| Blob {
            name,
            payload,
            raw: Bytes::from(raw),
            tags,
        })
}

pub fn point() -> impl Strategy<Value = Point> {
    (any::<i32>(), any::<i32>()).prop_map(|(x, y)| Point { x, y })
}

pub fn nested() -> impl Strategy<Value = Nested> {
    (
        any::<u64>(),
        text(),
        point(),
        point(),
        any::<u8>(),
        text(),
        f64s(),
    )
        .prop_map(|(id, label, at, boxed, n, s, m)| Nested {
            id,
            inner: Inner { label, at },
            boxed: Box::new(boxed),
            pair: (n, s),
            marker: Marker,
            meters: Meters(m),
        })
}

pub fn batch() -> impl Strategy<Value = Batch> {
    let item =
        (any::<u32>(), text(), f32s()).prop_map(|(id, name, weight)| Item { id, name, weight });
    (
        prop::collection::vec(item, 0..5),
        prop::collection::vec(prop::collection::vec(any::<u16>(), 0..4), 0..4),
        prop::collection::vec(prop::collection::vec(any::<u8>(), 0..4), 0..4),
        any::<[i16; 3]>(),
    )
        .prop_map(|(items, grid, chunks, arr)| Batch {
            items,
            grid,
            chunks,
            arr,
        })
}

pub fn maybe() -> impl Strategy<Value = Maybe> {
    (
        any::<Option<u32>>(),
        prop::option::of(text()),
        prop::option::of(point()),
        any::<Option<bool>>(),
        any::<Option<Option<u8>>>(),
        prop::option::of(prop::collection::vec(any::<u16>(), 0..4)),
        prop::collection::vec(prop::option::of(text()), 0..4),
    )
        .prop_map(|(count, name, at, flag, nested, list, names)| Maybe {
            count,
            name,
            at,
            flag,
            nested,
            list,
            names,
        })
}

pub fn shape() -> impl Strategy<Value = Shape> {
    prop_oneof![
        f64s().prop_map(|r| Shape::Circle { r }),
        (f32s(), f32s()).prop_map(|(w, h)| Shape::Rect(w, h)),
        text().prop_map(Shape::Label),
        Just(Shape::Empty),
    ]
}

pub fn color() -> impl Strategy<Value = Color> {
    prop_oneof![Just(Color::Red), Just(Color::Green), Just(Color::Blue)]
}

pub fn drawing() -> impl Strategy<Value = Drawing> {
    (
        shape(),
        prop::collection::vec(shape(), 0..4),
        prop::option::of(shape()),
        color(),
        prop::collection::vec(color(), 0..4),
        prop::option::of(color()),
        prop_oneof![any::<u32>().prop_map(Ok), text().prop_map(Err)],
    )
        .prop_map(
            |(main, shapes, extra, color, palette, fill, outcome)| Drawing {
                main,
                shapes,
                extra,
                color,
                palette,
                fill,
                outcome,
            },
        )
}

pub fn maps() -> impl Strategy<Value = Maps> {
    (
        prop::collection::hash_map(text(), any::<u32>(), 0..5),
        prop::collection::btree_map(any::<u64>(), point(), 0..4),
        prop::collection::btree_set(any::<i32>(), 0..5),
        prop::collection::hash_set(text(), 0..5),
        prop::collection::btree_map(text(), prop::collection::vec(any::<u8>(), 0..4), 0..3),
    )
        .prop_map(|(by_name, by_id, ids, words, blobs)| Maps {
            by_name,
            by_id,
            ids,
            words,
            blobs,
        })
}

pub fn tree() -> impl Strategy<Value = Tree> {
    let leaf = text().prop_map(|label| Tree {
        label,
        children: Vec::new(),
        next: None,
    });
    leaf.prop_recursive(4, 24, 3, |inner| {
        (
            text(),
            prop::collection::vec(inner.clone(), 0..3),
            prop::option::of(inner),
        )
            .prop_map(|(label, children, next)| Tree {
                label,
                children,
                next: next.map(Box::new),
            })
    })
}

pub fn expr() -> impl Strategy<Value = Expr> {
    any::<i64>()
        .prop_map(Expr::Lit)
        .prop_recursive(5, 32, 2, |inner| {
            prop_oneof![
                inner.clone().prop_map(|e| Expr::Neg(Box::new(e))),
                (inner.clone(), inner).prop_map(|(a, b)| Expr::Add(Box::new(a), Box::new(b))),
            ]
        })
}

pub fn program() -> impl Strategy<Value = Program> {
    (text(), expr(), tree()).prop_map(|(name, body, tree)| Program { name, body, tree })
}

// ---------------------------------------------------------------------------
// Fixed values, one or more per type, with the edge cases spelled out.
// ---------------------------------------------------------------------------

pub fn sample_scalars() -> Vec<Scalars> {
    vec![
        Scalars {
            flag: true,
            a: u8::MAX,
            b: u16::MAX,
            c: u32::MAX,
            d: u64::MAX,
            e: i8::MIN,
            f: i16::MIN,
            g: i32::MIN,
            h: i64::MIN,
            x: -1.5,
            y: 1e300,
            ch: '🦀',
            size: usize::MAX,
            off: isize::MIN,
            big: u128::MAX,
            neg: i128::MIN,
        },
        Scalars {
            flag: false,
            a: 0,
            b: 0,
            c: 0,
            d: 0,
            e: 0,
            f: 0,
            g: 0,
            h: 0,
            x: 0.0,
            y: 0.0,
            ch: '\0',
            size: 0,
            off: 0,
            big: 0,
            neg: 0,
        },
        Scalars {
            flag: true,
            a: 7,
            b: 300,
            c: 70_000,
            d: 1 << 40,
            e: -7,
            f: -300,
            g: -70_000,
            h: -(1 << 40),
            x: 0.25,
            y: -2.5,
            ch: 'é',
            size: 12,
            off: -12,
            big: (1 << 64) + 5,
            neg: -(1 << 70),
        },
    ]
}

pub fn sample_blobs() -> Vec<Blob> {
    vec![
        Blob {
            name: "héllo wörld".into(),
            payload: (0..=255).collect(),
            raw: Bytes::from_static(b"\x00raw\xff"),
            tags: vec!["a".into(), String::new(), "ccc".into()],
        },
        Blob {
            name: String::new(),
            payload: Vec::new(),
            raw: Bytes::new(),
            tags: Vec::new(),
        },
    ]
}

pub fn sample_nested() -> Vec<Nested> {
    vec![Nested {
        id: 42,
        inner: Inner {
            label: "inner".into(),
            at: Point { x: -1, y: 2 },
        },
        boxed: Box::new(Point { x: 0, y: i32::MAX }),
        pair: (9, "nine".into()),
        marker: Marker,
        meters: Meters(3.5),
    }]
}

pub fn sample_batches() -> Vec<Batch> {
    vec![
        Batch {
            items: vec![
                Item {
                    id: 1,
                    name: "one".into(),
                    weight: 0.5,
                },
                Item {
                    id: 2,
                    name: "two".into(),
                    weight: -8.0,
                },
            ],
            grid: vec![vec![1, 2], vec![], vec![65535]],
            chunks: vec![vec![0xde, 0xad], vec![]],
            arr: [-1, 0, 1],
        },
        Batch {
            items: Vec::new(),
            grid: Vec::new(),
            chunks: Vec::new(),
            arr: [0, 0, 0],
        },
    ]
}

pub fn sample_maybes() -> Vec<Maybe> {
    vec![
        Maybe {
            count: Some(0),
            name: Some(String::new()),
            at: Some(Point { x: 3, y: 4 }),
            flag: Some(false),
            nested: Some(None),
            list: Some(Vec::new()),
            names: vec![Some("x".into()), None, Some(String::new())],
        },
        Maybe {
            count: None,
            name: None,
            at: None,
            flag: None,
            nested: None,
            list: None,
            names: Vec::new(),
        },
        Maybe {
            count: Some(7),
            name: Some("seven".into()),
            at: None,
            flag: Some(true),
            nested: Some(Some(0)),
            list: Some(vec![1, 2]),
            names: vec![None],
        },
    ]
}

pub fn sample_drawings() -> Vec<Drawing> {
    vec![
        Drawing {
            main: Shape::Circle { r: 2.0 },
            shapes: vec![
                Shape::Rect(1.0, 0.5),
                Shape::Label("tag".into()),
                Shape::Empty,
            ],
            extra: None,
            color: Color::Blue,
            palette: vec![Color::Green, Color::Red],
            fill: Some(Color::Red),
            outcome: Ok(17),
        },
        Drawing {
            main: Shape::Empty,
            shapes: Vec::new(),
            extra: Some(Shape::Label(String::new())),
            color: Color::Red,
            palette: Vec::new(),
            fill: None,
            outcome: Err("failed".into()),
        },
    ]
}

pub fn sample_maps() -> Vec<Maps> {
    vec![
        Maps {
            by_name: [("zeta", 26), ("alpha", 1), ("mid", 13), ("", 0)]
                .into_iter()
                .map(|(k, v)| (k.to_owned(), v))
                .collect(),
            by_id: [(u64::MAX, Point { x: 1, y: 1 }), (0, Point { x: 0, y: 0 })]
                .into_iter()
                .collect(),
            ids: [5, -3, 0, i32::MIN].into_iter().collect(),
            words: ["b", "a", "c"].into_iter().map(str::to_owned).collect(),
            blobs: [("k".to_owned(), vec![1, 2])].into_iter().collect(),
        },
        Maps {
            by_name: HashMap::new(),
            by_id: BTreeMap::new(),
            ids: BTreeSet::new(),
            words: HashSet::new(),
            blobs: BTreeMap::new(),
        },
    ]
}

pub fn sample_programs() -> Vec<Program> {
    let leaf = |label: &str| Tree {
        label: label.into(),
        children: Vec::new(),
        next: None,
    };
    vec![Program {
        name: "calc".into(),
        body: Expr::Add(
            Box::new(Expr::Lit(1)),
            Box::new(Expr::Neg(Box::new(Expr::Lit(-2)))),
        ),
        tree: Tree {
            label: "root".into(),
            children: vec![leaf("a"), leaf("b")],
            next: Some(Box::new(Tree {
                label: "next".into(),
                children: vec![leaf("c")],
                next: None,
            })),
        },
    }]
}
