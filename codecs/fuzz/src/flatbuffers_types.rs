//! Types for `flatbuffers_decode`: tables with strings, bytes, vectors
//! (of vectors and of options), options (nested too), unit enums, unions,
//! `Result`, tuples, arrays, 128-bit integers, `usize`, floats, maps and
//! sets, and two recursive types.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use bytes::Bytes;
use facet::Facet;

/// A unit-only enum: a FlatBuffers `enum`.
#[derive(Facet, Debug, PartialEq)]
#[repr(u8)]
pub enum Color {
    Red,
    Green,
    Blue,
}

/// A table with scalars, a string, a string vector and an option.
#[derive(Facet, Debug, PartialEq)]
pub struct Named {
    pub id: u32,
    pub name: String,
    pub tags: Vec<String>,
    pub flag: Option<bool>,
    pub color: Color,
}

/// An enum with data: a FlatBuffers `union`.
#[derive(Facet, Debug, PartialEq)]
#[repr(u8)]
pub enum Shape {
    Empty,
    Circle { r: f64 },
    Pair(i32, String),
    Nested(Named),
}

/// A bit of everything except maps.
#[derive(Facet, Debug, PartialEq)]
pub struct Mixed {
    pub bytes: Vec<u8>,
    pub raw: Bytes,
    pub words: Vec<Option<String>>,
    pub nested: Option<Option<u8>>,
    pub shape: Shape,
    pub shapes: Vec<Shape>,
    pub extra: Option<Shape>,
    pub tuple: (u8, i64, char),
    pub arr: [u16; 3],
    pub grid: Vec<Vec<u16>>,
    pub big: u128,
    pub neg: i128,
    pub size: usize,
    pub ratio: f32,
    pub res: Result<u32, String>,
    pub boxed: Box<Named>,
    pub unit: (),
}

/// Maps and sets: vectors of `MapEntry` tables, sorted by key.
#[derive(Facet, Debug, PartialEq)]
pub struct Maps {
    pub by_name: HashMap<String, u32>,
    pub by_id: BTreeMap<u64, Named>,
    pub ids: BTreeSet<i32>,
    pub words: HashSet<String>,
    pub blobs: BTreeMap<String, Vec<u8>>,
}

/// Recursive through a vector and an option.
#[derive(Facet, Debug, PartialEq)]
pub struct Tree {
    pub label: String,
    pub children: Vec<Tree>,
    pub next: Option<Box<Tree>>,
}

/// Recursive through unions.
#[derive(Facet, Debug, PartialEq)]
#[repr(u8)]
pub enum Expr {
    Lit(i64),
    Neg(Box<Expr>),
    Add(Box<Expr>, Box<Expr>),
    Call { name: String, args: Vec<Expr> },
}

/// A `Named` with `n` tags.
pub fn named(n: usize) -> Named {
    Named {
        id: n as u32 * 7 + 1,
        name: "a name".into(),
        tags: (0..n).map(|i| "t".repeat(i)).collect(),
        flag: (n % 3 != 0).then_some(n % 2 == 0),
        color: match n % 3 {
            0 => Color::Red,
            1 => Color::Green,
            _ => Color::Blue,
        },
    }
}

pub fn samples_named() -> Vec<Named> {
    vec![named(0), named(1), named(4)]
}

pub fn samples_shape() -> Vec<Shape> {
    vec![
        Shape::Empty,
        Shape::Circle { r: 1.5 },
        Shape::Pair(-3, "pair".into()),
        Shape::Nested(named(2)),
    ]
}

pub fn samples_mixed() -> Vec<Mixed> {
    vec![Mixed {
        bytes: (0..40).collect(),
        raw: Bytes::from_static(b"raw bytes"),
        words: vec![Some("w".into()), None, Some(String::new())],
        nested: Some(None),
        shape: Shape::Pair(7, "p".into()),
        shapes: samples_shape(),
        extra: Some(Shape::Empty),
        tuple: (9, -1, 'λ'),
        arr: [1, 0, u16::MAX],
        grid: vec![vec![1, 2], vec![], vec![3]],
        big: u128::MAX - 1,
        neg: i128::MIN,
        size: 12345,
        ratio: -0.5,
        res: Err("bad".into()),
        boxed: Box::new(named(3)),
        unit: (),
    }]
}

pub fn samples_maps() -> Vec<Maps> {
    vec![Maps {
        by_name: (0..6).map(|i| (format!("key-{i}"), i)).collect(),
        by_id: (0..3u32)
            .map(|i| (u64::from(i) * 10, named(i as usize)))
            .collect(),
        ids: [-5, 0, 9].into(),
        words: ["x".to_string(), "yy".to_string()].into(),
        blobs: [("a".to_string(), vec![1, 2]), ("b".to_string(), vec![])].into(),
    }]
}

/// A tree `depth` levels deep.
pub fn tree(depth: u32) -> Tree {
    Tree {
        label: format!("level {depth}"),
        children: if depth == 0 {
            vec![]
        } else {
            vec![tree(depth - 1), tree(0)]
        },
        next: (depth % 2 == 1).then(|| Box::new(tree(0))),
    }
}

pub fn samples_expr() -> Vec<Expr> {
    vec![
        Expr::Lit(5),
        Expr::Add(
            Box::new(Expr::Neg(Box::new(Expr::Lit(1)))),
            Box::new(Expr::Call {
                name: "f".into(),
                args: vec![Expr::Lit(2), Expr::Lit(-3)],
            }),
        ),
    ]
}
