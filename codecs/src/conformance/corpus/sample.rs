//! Corpus values: fixed ones at the edges of each type, and generated ones
//! drawn from the suite's deterministic generator.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::{Chars, Floats, Ints, List, Maps, Record, Sizes, Tree, Unit, Variants};
use crate::conformance::Rng;

/// A type with sample values: fixed ones at its edges, and a generator
/// for values in between.
///
/// Every corpus type implements it. Implement it for your own types to
/// check them with [`Suite::check_samples`](crate::conformance::Suite::check_samples).
///
/// # Examples
///
/// ```
/// use prism_codecs::conformance::corpus::{Sample, Variants};
/// use prism_codecs::conformance::Rng;
///
/// assert!(Variants::edges().contains(&Variants::Empty));
/// let mut rng = Rng::new(1);
/// let a = Variants::generate(&mut rng, 3);
/// let b = Variants::generate(&mut Rng::new(1), 3);
/// assert_eq!(a, b);
/// ```
pub trait Sample: Sized {
    /// Values at the edges of the type: zero, extremes, empties, big ones.
    fn edges() -> Vec<Self>;
    /// A generated value; `depth` bounds how deep recursive types nest.
    fn generate(rng: &mut Rng, depth: usize) -> Self;
}

/// 1 MiB of patterned bytes.
pub(super) fn megabyte() -> Vec<u8> {
    (0..1usize << 20).map(|i| (i * 31 + 7) as u8).collect()
}

/// About 100 KB of text in 1- to 4-byte characters.
pub(super) fn big_text() -> String {
    "ünïcödé 🦀 текст 文字 ".repeat(3_000)
}

/// Maps and sets with 2,000 entries each.
pub(super) fn big_maps() -> Maps {
    Maps {
        sorted: (0..2_000u32).map(|i| (format!("key-{i:05}"), i)).collect(),
        hashed: (0..2_000u64).map(|i| (i * 7919, format!("v{i}"))).collect(),
        ordered_set: (-1_000..1_000).collect(),
        hashed_set: (0..2_000u16).collect(),
    }
}

/// Random bits of a random width, so small and large numbers both show up.
fn bits(rng: &mut Rng) -> u128 {
    let wide = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
    match rng.below(129) {
        128 => wide,
        width => wide & ((1u128 << width) - 1),
    }
}

/// A random signed number of a random width.
fn signed(rng: &mut Rng) -> i128 {
    let magnitude = bits(rng) as i128;
    if rng.one_in(2) {
        magnitude.wrapping_neg()
    } else {
        magnitude
    }
}

/// A random `char`, evenly over UTF-8 lengths 1 to 4.
fn letter(rng: &mut Rng) -> char {
    let (lo, hi) = *rng
        .pick(&[
            (0u32, 0x7F),
            (0x80, 0x7FF),
            (0x800, 0xFFFF),
            (0x1_0000, 0x10_FFFF),
        ])
        .unwrap_or(&(0, 0x7F));
    loop {
        // Surrogates are not chars: draw again.
        if let Some(c) = char::from_u32(lo + rng.below(u64::from(hi - lo + 1)) as u32) {
            return c;
        }
    }
}

fn text(rng: &mut Rng, max: usize) -> String {
    let len = rng.index(max + 1);
    (0..len).map(|_| letter(rng)).collect()
}

fn list<T>(rng: &mut Rng, max: usize, mut item: impl FnMut(&mut Rng) -> T) -> Vec<T> {
    let len = rng.index(max + 1);
    (0..len).map(|_| item(rng)).collect()
}

impl Sample for Ints {
    fn edges() -> Vec<Self> {
        let all = |u: u128, i: i128| Ints {
            n_u8: u as u8,
            n_u16: u as u16,
            n_u32: u as u32,
            n_u64: u as u64,
            n_u128: u,
            n_i8: i as i8,
            n_i16: i as i16,
            n_i32: i as i32,
            n_i64: i as i64,
            n_i128: i,
        };
        vec![
            all(0, 0),
            all(1, -1),
            // Varint and zigzag boundaries: one byte, then two.
            all(127, 63),
            all(128, -65),
            Ints {
                n_u8: u8::MAX,
                n_u16: u16::MAX,
                n_u32: u32::MAX,
                n_u64: u64::MAX,
                n_u128: u128::MAX,
                n_i8: i8::MAX,
                n_i16: i16::MAX,
                n_i32: i32::MAX,
                n_i64: i64::MAX,
                n_i128: i128::MAX,
            },
            Ints {
                n_u8: u8::MAX,
                n_u16: u16::MAX,
                n_u32: u32::MAX,
                n_u64: u64::MAX,
                n_u128: u128::MAX,
                n_i8: i8::MIN,
                n_i16: i16::MIN,
                n_i32: i32::MIN,
                n_i64: i64::MIN,
                n_i128: i128::MIN,
            },
        ]
    }

    fn generate(rng: &mut Rng, _: usize) -> Self {
        Ints {
            n_u8: bits(rng) as u8,
            n_u16: bits(rng) as u16,
            n_u32: bits(rng) as u32,
            n_u64: bits(rng) as u64,
            n_u128: bits(rng),
            n_i8: signed(rng) as i8,
            n_i16: signed(rng) as i16,
            n_i32: signed(rng) as i32,
            n_i64: signed(rng) as i64,
            n_i128: signed(rng),
        }
    }
}

impl Sample for Sizes {
    fn edges() -> Vec<Self> {
        let sizes = |n_usize, n_isize| Sizes { n_usize, n_isize };
        let mut edges = vec![
            sizes(0, 0),
            sizes(1, -1),
            sizes(u32::MAX as usize, i32::MIN as isize),
            sizes(usize::MAX, isize::MIN),
            sizes(usize::MAX, isize::MAX),
        ];
        // The first values that need more than 32 bits, where they exist.
        if let (Some(n_usize), Some(n_isize)) = (
            (u32::MAX as usize).checked_add(1),
            (i32::MIN as isize).checked_sub(1),
        ) {
            edges.insert(3, sizes(n_usize, n_isize));
        }
        edges
    }

    fn generate(rng: &mut Rng, _: usize) -> Self {
        Sizes {
            n_usize: bits(rng) as usize,
            n_isize: signed(rng) as isize,
        }
    }
}

impl Sample for Floats {
    fn edges() -> Vec<Self> {
        let pair = |n_f32, n_f64| Floats { n_f32, n_f64 };
        vec![
            pair(0.0, 0.0),
            pair(-0.0, -0.0),
            pair(1.5, -2.25),
            pair(f32::INFINITY, f64::INFINITY),
            pair(f32::NEG_INFINITY, f64::NEG_INFINITY),
            pair(f32::MIN, f64::MIN),
            pair(f32::MAX, f64::MAX),
            pair(f32::MIN_POSITIVE, f64::MIN_POSITIVE),
            pair(f32::EPSILON, f64::EPSILON),
            // The smallest subnormals.
            pair(f32::from_bits(1), f64::from_bits(1)),
            pair(f32::NAN, f64::NAN),
            // A negative quiet NaN, and NaNs with payloads (one signalling).
            pair(
                f32::from_bits(0xFFC0_0000),
                f64::from_bits(0xFFF8_0000_0000_0000),
            ),
            pair(
                f32::from_bits(0x7FC0_1234),
                f64::from_bits(0x7FF8_0000_DEAD_BEEF),
            ),
            pair(
                f32::from_bits(0x7F80_0001),
                f64::from_bits(0x7FF0_0000_0000_0001),
            ),
        ]
    }

    fn generate(rng: &mut Rng, _: usize) -> Self {
        Floats {
            n_f32: f32::from_bits(rng.next_u64() as u32),
            n_f64: f64::from_bits(rng.next_u64()),
        }
    }
}

impl Sample for Chars {
    fn edges() -> Vec<Self> {
        // UTF-8 length boundaries, the surrogate gap, and the last char.
        let letters = [
            '\0',
            '\u{7F}',
            '\u{80}',
            '\u{7FF}',
            '\u{800}',
            '\u{D7FF}',
            '\u{E000}',
            '\u{FFFD}',
            '\u{FFFF}',
            '\u{10000}',
            char::MAX,
        ];
        letters
            .iter()
            .enumerate()
            .map(|(i, &letter)| Chars {
                letter,
                flag: i % 2 == 0,
                nothing: (),
            })
            .collect()
    }

    fn generate(rng: &mut Rng, _: usize) -> Self {
        Chars {
            letter: letter(rng),
            flag: rng.one_in(2),
            nothing: (),
        }
    }
}

impl Sample for Unit {
    fn edges() -> Vec<Self> {
        vec![Unit]
    }

    fn generate(_: &mut Rng, _: usize) -> Self {
        Unit
    }
}

impl Sample for Variants {
    fn edges() -> Vec<Self> {
        vec![
            Variants::Empty,
            Variants::Newtype(0),
            Variants::Newtype(u32::MAX),
            Variants::Tuple(i16::MIN, String::new()),
            Variants::Tuple(-1, "🦀".into()),
            Variants::Struct {
                id: 0,
                name: String::new(),
                tags: Vec::new(),
            },
            Variants::Struct {
                id: u64::MAX,
                name: "nom 名前".into(),
                tags: vec![0, 1, u16::MAX],
            },
            Variants::Last,
        ]
    }

    fn generate(rng: &mut Rng, _: usize) -> Self {
        match rng.below(5) {
            0 => Variants::Empty,
            1 => Variants::Newtype(bits(rng) as u32),
            2 => Variants::Tuple(signed(rng) as i16, text(rng, 8)),
            3 => Variants::Struct {
                id: bits(rng) as u64,
                name: text(rng, 8),
                tags: list(rng, 6, |rng| bits(rng) as u16),
            },
            _ => Variants::Last,
        }
    }
}

impl Sample for Tree {
    fn edges() -> Vec<Self> {
        let leaf = |label| Tree {
            label,
            children: Vec::new(),
        };
        vec![
            leaf(0),
            Tree {
                label: 1,
                children: vec![
                    Tree {
                        label: 2,
                        children: vec![leaf(3), leaf(4)],
                    },
                    leaf(5),
                ],
            },
            Tree::chain(12),
            // Wide: a large collection of recursive values.
            Tree {
                label: u32::MAX,
                children: (0..1_000).map(leaf).collect(),
            },
        ]
    }

    fn generate(rng: &mut Rng, depth: usize) -> Self {
        let max = if depth == 0 { 0 } else { 3 };
        Tree {
            label: bits(rng) as u32,
            children: list(rng, max, |rng| Tree::generate(rng, depth.saturating_sub(1))),
        }
    }
}

impl Sample for List {
    fn edges() -> Vec<Self> {
        vec![List::chain(1), List::chain(2), List::chain(12)]
    }

    fn generate(rng: &mut Rng, depth: usize) -> Self {
        let mut list = List {
            value: signed(rng) as i64,
            next: None,
        };
        for _ in 0..rng.index(2 * depth + 1) {
            list = List {
                value: signed(rng) as i64,
                next: Some(Box::new(list)),
            };
        }
        list
    }
}

impl Sample for Maps {
    fn edges() -> Vec<Self> {
        let empty = Maps {
            sorted: BTreeMap::new(),
            hashed: HashMap::new(),
            ordered_set: BTreeSet::new(),
            hashed_set: HashSet::new(),
        };
        let small = Maps {
            sorted: [
                ("".to_owned(), 0),
                ("é".to_owned(), 1),
                ("🦀".to_owned(), u32::MAX),
            ]
            .into_iter()
            .collect(),
            hashed: [(0, String::new()), (u64::MAX, "max".to_owned())]
                .into_iter()
                .collect(),
            ordered_set: [i32::MIN, -1, 0, i32::MAX].into_iter().collect(),
            hashed_set: [0, 1, u16::MAX].into_iter().collect(),
        };
        vec![empty, small, big_maps()]
    }

    fn generate(rng: &mut Rng, _: usize) -> Self {
        Maps {
            sorted: list(rng, 6, |rng| (text(rng, 6), bits(rng) as u32))
                .into_iter()
                .collect(),
            hashed: list(rng, 6, |rng| (bits(rng) as u64, text(rng, 6)))
                .into_iter()
                .collect(),
            ordered_set: list(rng, 6, |rng| signed(rng) as i32).into_iter().collect(),
            hashed_set: list(rng, 6, |rng| bits(rng) as u16).into_iter().collect(),
        }
    }
}

impl Sample for Record {
    fn edges() -> Vec<Self> {
        let zero = Record {
            id: 0,
            name: String::new(),
            tags: Vec::new(),
            pair: (0, 0),
            grid: [0; 4],
            kind: Variants::Empty,
            history: Vec::new(),
            note: None,
            outcome: Ok(0),
            flags: Vec::new(),
            maybe: Vec::new(),
            nested: None,
            blob: Vec::new(),
            chunks: Vec::new(),
        };
        let full = Record {
            id: u64::MAX,
            name: "record — 記録 🦀".into(),
            tags: vec!["a".into(), String::new(), "ß".into()],
            pair: (u8::MAX, i64::MIN),
            grid: [1, 2, u16::MAX, 0],
            kind: Variants::Tuple(7, "seven".into()),
            history: Variants::edges(),
            note: Some(String::new()),
            outcome: Err("failed: ✗".into()),
            flags: vec![true, false, true],
            maybe: vec![None, Some(0), Some(u8::MAX), None],
            nested: Some(None),
            blob: (0..=255).collect(),
            chunks: vec![Vec::new(), vec![1], vec![2; 40]],
        };
        let some_some = Record {
            nested: Some(Some(0)),
            note: Some("note".into()),
            outcome: Err(String::new()),
            ..zero.clone()
        };
        vec![zero, full, some_some]
    }

    fn generate(rng: &mut Rng, depth: usize) -> Self {
        Record {
            id: bits(rng) as u64,
            name: text(rng, 12),
            tags: list(rng, 4, |rng| text(rng, 6)),
            pair: (bits(rng) as u8, signed(rng) as i64),
            grid: [
                bits(rng) as u16,
                bits(rng) as u16,
                bits(rng) as u16,
                bits(rng) as u16,
            ],
            kind: Variants::generate(rng, depth),
            history: list(rng, 4, |rng| Variants::generate(rng, depth)),
            note: rng.one_in(2).then(|| text(rng, 8)),
            outcome: if rng.one_in(2) {
                Ok(bits(rng) as u32)
            } else {
                Err(text(rng, 8))
            },
            flags: list(rng, 8, |rng| rng.one_in(2)),
            maybe: list(rng, 6, |rng| rng.one_in(2).then(|| bits(rng) as u8)),
            nested: Option::<Option<u32>>::generate(rng, depth),
            blob: list(rng, 40, |rng| bits(rng) as u8),
            chunks: list(rng, 3, |rng| list(rng, 8, |rng| bits(rng) as u8)),
        }
    }
}

impl Sample for u64 {
    fn edges() -> Vec<Self> {
        vec![
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            u64::from(u32::MAX) + 1,
            u64::MAX,
        ]
    }

    fn generate(rng: &mut Rng, _: usize) -> Self {
        bits(rng) as u64
    }
}

impl Sample for String {
    fn edges() -> Vec<Self> {
        [
            "",
            "a",
            "héllo wörld",
            "日本語のテキスト",
            "🦀🚀👩‍👩‍👧‍👦",
            "\0nul\0",
            "\u{7FF}\u{800}\u{FFFD}\u{10000}\u{10FFFF}",
        ]
        .into_iter()
        .map(String::from)
        .chain([big_text()])
        .collect()
    }

    fn generate(rng: &mut Rng, _: usize) -> Self {
        text(rng, 16)
    }
}

impl Sample for Vec<u8> {
    fn edges() -> Vec<Self> {
        vec![Vec::new(), vec![0], vec![0xFF; 31], megabyte()]
    }

    fn generate(rng: &mut Rng, _: usize) -> Self {
        let len = rng.index(64);
        rng.bytes(len)
    }
}

impl Sample for Vec<u32> {
    fn edges() -> Vec<Self> {
        vec![
            Vec::new(),
            vec![0, u32::MAX],
            (0..100_000u32)
                .map(|i| i.wrapping_mul(2_654_435_761))
                .collect(),
        ]
    }

    fn generate(rng: &mut Rng, _: usize) -> Self {
        list(rng, 16, |rng| bits(rng) as u32)
    }
}

impl Sample for Vec<String> {
    fn edges() -> Vec<Self> {
        vec![
            Vec::new(),
            vec![String::new()],
            vec!["a".into(), String::new(), "🦀".into()],
        ]
    }

    fn generate(rng: &mut Rng, _: usize) -> Self {
        list(rng, 6, |rng| text(rng, 8))
    }
}

impl Sample for Vec<Vec<u8>> {
    fn edges() -> Vec<Self> {
        vec![
            Vec::new(),
            vec![Vec::new()],
            vec![vec![1, 2, 3], Vec::new(), vec![255]],
        ]
    }

    fn generate(rng: &mut Rng, _: usize) -> Self {
        list(rng, 4, |rng| {
            let len = rng.index(12);
            rng.bytes(len)
        })
    }
}

impl Sample for Option<Option<u32>> {
    fn edges() -> Vec<Self> {
        vec![None, Some(None), Some(Some(0)), Some(Some(u32::MAX))]
    }

    fn generate(rng: &mut Rng, _: usize) -> Self {
        match rng.below(3) {
            0 => None,
            1 => Some(None),
            _ => Some(Some(bits(rng) as u32)),
        }
    }
}

impl Sample for (u32, String) {
    fn edges() -> Vec<Self> {
        vec![(0, String::new()), (u32::MAX, "🦀".into())]
    }

    fn generate(rng: &mut Rng, _: usize) -> Self {
        (bits(rng) as u32, text(rng, 8))
    }
}
