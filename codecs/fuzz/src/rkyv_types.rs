//! Types for `rkyv_decode`: structs with strings, bytes, vectors, options,
//! enums, tuples, arrays, 128-bit integers, floats, maps, and two recursive
//! types. No `usize`/`isize`: rkyv archives them as 32 bits and truncates
//! wider values (README, "Choosing a codec").

use std::collections::{BTreeMap, HashMap};

use rkyv::{Archive, Deserialize, Serialize};

/// A record with a string, a list of strings and an option.
#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct Named {
    pub id: u32,
    pub name: String,
    pub tags: Vec<String>,
    pub flag: Option<bool>,
}

/// An enum with unit, tuple, struct and nested variants.
#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub enum Shape {
    Empty,
    Circle(f64),
    Pair(i32, String),
    Rect {
        w: u32,
        h: u32,
        label: Option<String>,
    },
    Nested(Named),
}

/// A bit of everything except maps.
#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct Mixed {
    pub bytes: Vec<u8>,
    pub words: Vec<Option<String>>,
    pub maybe: Option<Option<Named>>,
    pub shapes: Vec<Shape>,
    pub tuple: (u8, i64, char),
    pub arr: [u16; 3],
    pub big: u128,
    pub neg: i128,
    pub ratio: f32,
    pub boxed: Box<Shape>,
    pub unit: (),
}

/// Hash and B-tree maps.
#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
pub struct Maps {
    pub by_name: HashMap<String, u32>,
    pub by_id: BTreeMap<u64, Named>,
    pub blobs: BTreeMap<String, Vec<u8>>,
}

/// Recursive through `Vec`.
#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
#[rkyv(serialize_bounds(
    __S: rkyv::ser::Writer + rkyv::ser::Allocator,
    __S::Error: rkyv::rancor::Source,
))]
#[rkyv(deserialize_bounds(__D::Error: rkyv::rancor::Source))]
#[rkyv(bytecheck(bounds(
    __C: rkyv::validation::ArchiveContext,
    __C::Error: rkyv::rancor::Source,
)))]
pub enum Tree {
    Leaf(u32),
    Node(#[rkyv(omit_bounds)] Vec<Tree>),
}

/// Recursive through `Option<Box<_>>`.
#[derive(Archive, Serialize, Deserialize, Debug, PartialEq)]
#[rkyv(serialize_bounds(
    __S: rkyv::ser::Writer + rkyv::ser::Allocator,
    __S::Error: rkyv::rancor::Source,
))]
#[rkyv(deserialize_bounds(__D::Error: rkyv::rancor::Source))]
#[rkyv(bytecheck(bounds(
    __C: rkyv::validation::ArchiveContext,
    __C::Error: rkyv::rancor::Source,
)))]
pub struct List {
    pub value: u32,
    pub label: String,
    #[rkyv(omit_bounds)]
    pub next: Option<Box<List>>,
}

/// A `Named` with `n` tags.
pub fn named(n: usize) -> Named {
    Named {
        id: n as u32 * 7 + 1,
        name: "a name longer than eight bytes".into(),
        tags: (0..n).map(|i| "t".repeat(i)).collect(),
        flag: (n % 3 != 0).then_some(n % 2 == 0),
    }
}

pub fn samples_named() -> Vec<Named> {
    vec![named(0), named(1), named(4)]
}

pub fn samples_shape() -> Vec<Shape> {
    vec![
        Shape::Empty,
        Shape::Circle(1.5),
        Shape::Pair(-3, "pair".into()),
        Shape::Rect {
            w: 3,
            h: 4,
            label: Some("rect".into()),
        },
        Shape::Nested(named(2)),
    ]
}

pub fn samples_mixed() -> Vec<Mixed> {
    vec![Mixed {
        bytes: (0..40).collect(),
        words: vec![Some("w".into()), None, Some("a longer word".into())],
        maybe: Some(Some(named(1))),
        shapes: samples_shape(),
        tuple: (9, -1, 'λ'),
        arr: [1, 2, u16::MAX],
        big: u128::MAX - 1,
        neg: i128::MIN,
        ratio: 0.25,
        boxed: Box::new(Shape::Pair(1, "boxed".into())),
        unit: (),
    }]
}

pub fn samples_maps() -> Vec<Maps> {
    vec![
        Maps {
            by_name: HashMap::new(),
            by_id: BTreeMap::new(),
            blobs: BTreeMap::new(),
        },
        Maps {
            by_name: (0..12).map(|i| (format!("key-{i}"), i)).collect(),
            by_id: (0..3u32)
                .map(|i| (u64::from(i) * 10, named(i as usize)))
                .collect(),
            blobs: [("a".to_string(), vec![1, 2]), ("b".to_string(), vec![])].into(),
        },
    ]
}

/// A tree `depth` levels deep.
pub fn tree(depth: u32) -> Tree {
    if depth == 0 {
        Tree::Leaf(42)
    } else {
        Tree::Node(vec![Tree::Leaf(depth), tree(depth - 1), Tree::Node(vec![])])
    }
}

/// A list of `len` links.
pub fn list(len: u32) -> List {
    let mut head = List {
        value: 0,
        label: String::new(),
        next: None,
    };
    for value in 1..len {
        head = List {
            value,
            label: format!("link {value}"),
            next: Some(Box::new(head)),
        };
    }
    head
}
