//! A first end-to-end check of the postcard plan against facet-postcard.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use facet::Facet;
use prism_codecs::postcard;

#[derive(Facet, Debug, PartialEq, Clone)]
struct Inner {
    name: String,
    tags: Vec<String>,
}

#[derive(Facet, Debug, PartialEq, Clone)]
#[repr(u8)]
enum Kind {
    A,
    B(u32, String),
    C { x: i64, inner: Box<Inner> },
}

#[derive(Facet, Debug, PartialEq, Clone)]
struct Unit;

#[derive(Facet, Debug, PartialEq, Clone)]
struct Tuple(u8, i16, f32);

#[derive(Facet, Debug, PartialEq, Clone)]
struct Big {
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
    bytes: bytes::Bytes,
    opt: Option<Inner>,
    none: Option<u32>,
    kinds: Vec<Kind>,
    arr: [u16; 3],
    map: BTreeMap<String, u32>,
    hmap: HashMap<u32, Vec<u8>>,
    set: BTreeSet<i32>,
    tup: (u8, String, bool),
    unit: Unit,
    tuple: Tuple,
    arc: Arc<Inner>,
    res: Result<u32, String>,
    res2: Result<u32, String>,
    unit2: (),
}

#[derive(Facet, Debug, PartialEq, Clone)]
struct Node {
    value: u32,
    children: Vec<Node>,
}

fn check<T: for<'a> Facet<'a> + PartialEq + std::fmt::Debug>(v: &T) {
    let ours = postcard::to_vec(v).expect("encode");
    let theirs = facet_postcard::to_vec(v).expect("reference encode");
    assert_eq!(ours, theirs, "encoding differs for {v:?}");
    let back: T = postcard::from_slice(&ours).expect("decode");
    assert_eq!(&back, v);
}

#[test]
fn smoke() {
    check(&Inner {
        name: "x".into(),
        tags: vec!["a".into(), "bc".into()],
    });
    check(&Kind::A);
    check(&Kind::B(7, "s".into()));
    check(&Kind::C {
        x: -5,
        inner: Box::new(Inner {
            name: "n".into(),
            tags: vec![],
        }),
    });
    let mut hmap = HashMap::new();
    hmap.insert(5, vec![1, 2]);
    hmap.insert(6, vec![]);
    let big = Big {
        a: 1,
        b: 300,
        c: 70000,
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
        n: 'é',
        o: 12345,
        p: -12345,
        s: "hello".into(),
        v: vec![1, 2, 3],
        bytes: bytes::Bytes::from_static(b"xyz"),
        opt: Some(Inner {
            name: "o".into(),
            tags: vec!["t".into()],
        }),
        none: None,
        kinds: vec![Kind::A, Kind::B(1, "b".into())],
        arr: [1, 2, 65535],
        map: [("k".to_string(), 1u32)].into_iter().collect(),
        hmap,
        set: [3, -4].into_iter().collect(),
        tup: (9, "t".into(), false),
        unit: Unit,
        tuple: Tuple(1, -2, 3.5),
        arc: Arc::new(Inner {
            name: "arc".into(),
            tags: vec![],
        }),
        res: Ok(5),
        res2: Err("bad".into()),
        unit2: (),
    };
    check(&big);
    check(&Node {
        value: 1,
        children: vec![Node {
            value: 2,
            children: vec![],
        }],
    });
}
