//! The built-in corpus: types of every shape a codec must carry, their
//! values at the edges, and generated values in between.
//!
//! Every corpus type derives [`Facet`] (for postcard and FlatBuffers) and
//! rkyv's `Archive`, `Serialize` and `Deserialize` (for rkyv), so all the
//! built-in codecs run the same corpus, and so can any codec that carries
//! such types ([`CarriesCorpus`]). Alongside the named types below, the
//! corpus has `u64`, `String`, `Vec<u8>`, `Vec<u32>`, `Vec<String>`,
//! `Vec<Vec<u8>>`, `Option<Option<u32>>` and `(u32, String)` as top-level
//! types.
//!
//! | Shape | Where |
//! |---|---|
//! | integers of every width at 0, MAX, MIN and varint boundaries | [`Ints`], [`Sizes`] |
//! | `f32`/`f64` at ±0, ±∞, MIN, MAX, subnormals and NaNs with payloads | [`Floats`] (compared bit for bit) |
//! | `char` at UTF-8 length and surrogate boundaries, `bool`, `()` | [`Chars`] |
//! | a unit struct | [`Unit`] |
//! | enums with unit, newtype, tuple and struct variants | [`Variants`] |
//! | recursion through `Vec<Self>` and `Option<Box<Self>>` | [`Tree`], [`List`] |
//! | maps and sets, ordered and hashed | [`Maps`] |
//! | tuples, arrays, `Result`, nested options, vectors of options | [`Record`] |
//! | unicode strings: empty, multi-byte, emoji, 100 KB | `String` |
//! | empty and large collections (100,000 elements, a 1 MiB byte payload, 2,000-entry maps) | `Vec<u32>`, `Vec<u8>`, [`Tree`], [`Maps`] |
//!
//! [`Suite::run_corpus`] also checks the declared limits with values from
//! here: deep [`List`]s and [`Tree`]s against [`Limits::max_depth`], big
//! vectors, strings and maps against [`Limits::max_alloc`].
//!
//! [`Limits::max_depth`]: crate::Limits::max_depth
//! [`Limits::max_alloc`]: crate::Limits::max_alloc

// rkyv's derive generates archived and resolver types without `Debug`;
// the archived ones get it from `#[rkyv(derive(Debug))]`.
#![allow(missing_debug_implementations)]

mod sample;
mod variants;

use core::any::type_name;
use core::fmt::Debug;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use facet::Facet;

use super::Suite;
use super::report::{Report, Violation};
use super::rng::{Rng, fnv1a};
use crate::{Codec, Decode, Encode, View};

#[doc(inline)]
pub use self::sample::Sample;
#[doc(inline)]
pub use self::variants::{ArchivedVariants, Variants, VariantsResolver};

/// Every integer width, signed and unsigned.
#[derive(
    Facet, ::rkyv::Archive, ::rkyv::Serialize, ::rkyv::Deserialize, Debug, Clone, PartialEq, Eq,
)]
#[rkyv(derive(Debug), compare(PartialEq))]
pub struct Ints {
    /// A `u8`.
    pub n_u8: u8,
    /// A `u16`.
    pub n_u16: u16,
    /// A `u32`.
    pub n_u32: u32,
    /// A `u64`.
    pub n_u64: u64,
    /// A `u128`.
    pub n_u128: u128,
    /// An `i8`.
    pub n_i8: i8,
    /// An `i16`.
    pub n_i16: i16,
    /// An `i32`.
    pub n_i32: i32,
    /// An `i64`.
    pub n_i64: i64,
    /// An `i128`.
    pub n_i128: i128,
}

/// Pointer-sized integers, apart: their width on the wire differs by codec
/// (rkyv archives them as 32 bits).
#[derive(
    Facet, ::rkyv::Archive, ::rkyv::Serialize, ::rkyv::Deserialize, Debug, Clone, PartialEq, Eq,
)]
#[rkyv(derive(Debug))]
pub struct Sizes {
    /// A `usize`.
    pub n_usize: usize,
    /// An `isize`.
    pub n_isize: isize,
}

impl PartialEq<Sizes> for ArchivedSizes {
    fn eq(&self, other: &Sizes) -> bool {
        // Widened, so a value rkyv could not archive in 32 bits differs.
        u64::from(self.n_usize.to_native()) == other.n_usize as u64
            && i64::from(self.n_isize.to_native()) == other.n_isize as i64
    }
}

/// Floats, compared bit for bit: `-0.0` is not `0.0`, and a NaN equals a
/// NaN with the same payload.
#[derive(Facet, ::rkyv::Archive, ::rkyv::Serialize, ::rkyv::Deserialize, Debug, Clone, Copy)]
#[rkyv(derive(Debug))]
pub struct Floats {
    /// An `f32`.
    pub n_f32: f32,
    /// An `f64`.
    pub n_f64: f64,
}

impl PartialEq for Floats {
    fn eq(&self, other: &Floats) -> bool {
        self.n_f32.to_bits() == other.n_f32.to_bits()
            && self.n_f64.to_bits() == other.n_f64.to_bits()
    }
}

impl PartialEq<Floats> for ArchivedFloats {
    fn eq(&self, other: &Floats) -> bool {
        self.n_f32.to_native().to_bits() == other.n_f32.to_bits()
            && self.n_f64.to_native().to_bits() == other.n_f64.to_bits()
    }
}

/// A `char`, a `bool` and a `()`.
#[derive(
    Facet, ::rkyv::Archive, ::rkyv::Serialize, ::rkyv::Deserialize, Debug, Clone, PartialEq, Eq,
)]
#[rkyv(derive(Debug), compare(PartialEq))]
pub struct Chars {
    /// A `char`.
    pub letter: char,
    /// A `bool`.
    pub flag: bool,
    /// A `()`, which takes no bytes in most formats.
    pub nothing: (),
}

/// A struct without fields.
#[derive(
    Facet, ::rkyv::Archive, ::rkyv::Serialize, ::rkyv::Deserialize, Debug, Clone, PartialEq, Eq,
)]
#[rkyv(derive(Debug), compare(PartialEq))]
pub struct Unit;

/// A tree: recursion through `Vec<Self>`.
#[derive(
    Facet, ::rkyv::Archive, ::rkyv::Serialize, ::rkyv::Deserialize, Debug, Clone, PartialEq, Eq,
)]
#[rkyv(derive(Debug), compare(PartialEq))]
#[rkyv(serialize_bounds(
    __S: ::rkyv::ser::Writer + ::rkyv::ser::Allocator,
    __S::Error: ::rkyv::rancor::Source,
))]
#[rkyv(deserialize_bounds(__D::Error: ::rkyv::rancor::Source))]
#[rkyv(bytecheck(bounds(
    __C: ::rkyv::validation::ArchiveContext,
    __C::Error: ::rkyv::rancor::Source,
)))]
pub struct Tree {
    /// The node's label.
    pub label: u32,
    /// The node's subtrees.
    #[rkyv(omit_bounds)]
    pub children: Vec<Tree>,
}

impl Tree {
    /// A tree `depth` nodes deep with one child per node.
    pub fn chain(depth: usize) -> Tree {
        let mut tree = Tree {
            label: 0,
            children: Vec::new(),
        };
        for label in 1..depth {
            tree = Tree {
                label: label as u32,
                children: vec![tree],
            };
        }
        tree
    }
}

/// A linked list: recursion through `Option<Box<Self>>`.
#[derive(
    Facet, ::rkyv::Archive, ::rkyv::Serialize, ::rkyv::Deserialize, Debug, Clone, PartialEq, Eq,
)]
#[rkyv(derive(Debug), compare(PartialEq))]
#[rkyv(serialize_bounds(
    __S: ::rkyv::ser::Writer + ::rkyv::ser::Allocator,
    __S::Error: ::rkyv::rancor::Source,
))]
#[rkyv(deserialize_bounds(__D::Error: ::rkyv::rancor::Source))]
#[rkyv(bytecheck(bounds(
    __C: ::rkyv::validation::ArchiveContext,
    __C::Error: ::rkyv::rancor::Source,
)))]
pub struct List {
    /// The node's value.
    pub value: i64,
    /// The rest of the list.
    #[rkyv(omit_bounds)]
    pub next: Option<Box<List>>,
}

impl List {
    /// A list of `len` nodes (at least one).
    pub fn chain(len: usize) -> List {
        let mut list = List {
            value: 0,
            next: None,
        };
        for value in 1..len {
            list = List {
                value: value as i64 * -3,
                next: Some(Box::new(list)),
            };
        }
        list
    }
}

/// Maps and sets, ordered and hashed.
#[derive(
    Facet, ::rkyv::Archive, ::rkyv::Serialize, ::rkyv::Deserialize, Debug, Clone, PartialEq, Eq,
)]
#[rkyv(derive(Debug))]
pub struct Maps {
    /// An ordered map.
    pub sorted: BTreeMap<String, u32>,
    /// A hashed map.
    pub hashed: HashMap<u64, String>,
    /// An ordered set.
    pub ordered_set: BTreeSet<i32>,
    /// A hashed set.
    pub hashed_set: HashSet<u16>,
}

impl PartialEq<Maps> for ArchivedMaps {
    /// Compares the way maps are read: by looking keys up, both ways.
    fn eq(&self, other: &Maps) -> bool {
        use ::rkyv::rend::{i32_le, u16_le, u64_le};
        self.sorted.len() == other.sorted.len()
            && other
                .sorted
                .iter()
                .all(|(k, v)| self.sorted.get(k.as_str()).is_some_and(|a| *a == *v))
            && self
                .sorted
                .iter()
                .all(|(k, a)| other.sorted.get(k.as_str()).is_some_and(|v| *a == *v))
            && self.hashed.len() == other.hashed.len()
            && other.hashed.iter().all(|(k, v)| {
                self.hashed
                    .get(&u64_le::from_native(*k))
                    .is_some_and(|a| a == v)
            })
            && self
                .hashed
                .iter()
                .all(|(k, a)| other.hashed.get(&k.to_native()).is_some_and(|v| a == v))
            && self.ordered_set.len() == other.ordered_set.len()
            && other
                .ordered_set
                .iter()
                .all(|k| self.ordered_set.contains_key(&i32_le::from_native(*k)))
            && self
                .ordered_set
                .iter()
                .all(|k| other.ordered_set.contains(&k.to_native()))
            && self.hashed_set.len() == other.hashed_set.len()
            && other
                .hashed_set
                .iter()
                .all(|k| self.hashed_set.contains(&u16_le::from_native(*k)))
            && self
                .hashed_set
                .iter()
                .all(|k| other.hashed_set.contains(&k.to_native()))
    }
}

/// A message of mixed shapes, the way real ones look.
#[derive(
    Facet, ::rkyv::Archive, ::rkyv::Serialize, ::rkyv::Deserialize, Debug, Clone, PartialEq, Eq,
)]
#[rkyv(derive(Debug), compare(PartialEq))]
pub struct Record {
    /// An id.
    pub id: u64,
    /// A name.
    pub name: String,
    /// Tags, possibly empty.
    pub tags: Vec<String>,
    /// A tuple.
    pub pair: (u8, i64),
    /// An array.
    pub grid: [u16; 4],
    /// An enum.
    pub kind: Variants,
    /// A vector of enums.
    pub history: Vec<Variants>,
    /// An optional string.
    pub note: Option<String>,
    /// A `Result`.
    pub outcome: Result<u32, String>,
    /// A vector of `bool`s.
    pub flags: Vec<bool>,
    /// A vector of options.
    pub maybe: Vec<Option<u8>>,
    /// A nested option.
    pub nested: Option<Option<u32>>,
    /// Bytes.
    pub blob: Vec<u8>,
    /// Vectors of bytes.
    pub chunks: Vec<Vec<u8>>,
}

/// Codecs that can carry every corpus type, and so run
/// [`Suite::run_corpus`].
///
/// Implemented for every codec `C` for which each corpus type implements
/// `Encode<C>` and `Decode<C>`: postcard, rkyv and FlatBuffers, and any
/// codec that carries all types deriving `Facet` (or all rkyv types).
pub trait CarriesCorpus: Codec + Sized {
    /// Runs the corpus; call [`Suite::run_corpus`] instead.
    #[doc(hidden)]
    fn run_corpus_into(suite: &Suite<Self>, report: &mut Report);
}

macro_rules! corpus {
    ($($ty:ty),+ $(,)?) => {
        impl<C: Codec> CarriesCorpus for C
        where
            $($ty: Encode<C> + Decode<C>,)+
        {
            fn run_corpus_into(suite: &Suite<C>, report: &mut Report) {
                $(report.merge(suite.check_samples::<$ty>());)+
                check_limits::<C>(suite, report);
            }
        }

        /// The Rust names of the corpus types.
        fn type_names() -> Vec<&'static str> {
            vec![$(type_name::<$ty>()),+]
        }
    };
}

corpus!(
    Ints,
    Sizes,
    Floats,
    Chars,
    Unit,
    Variants,
    Tree,
    List,
    Maps,
    Record,
    u64,
    String,
    Vec<u8>,
    Vec<u32>,
    Vec<String>,
    Vec<Vec<u8>>,
    Option<Option<u32>>,
    (u32, String),
);

impl<C: Codec> Suite<C> {
    /// Runs [`Suite::check_value`] on the edge values of `T`, then on
    /// [`Suite::cases`] generated ones.
    ///
    /// # Examples
    ///
    /// ```
    /// use prism_codecs::Postcard;
    /// use prism_codecs::conformance::Suite;
    /// use prism_codecs::conformance::corpus::Variants;
    ///
    /// Suite::<Postcard>::new().check_samples::<Variants>().assert_ok();
    /// ```
    pub fn check_samples<T>(&self) -> Report
    where
        T: Sample + Encode<C> + Decode<C> + PartialEq + Debug,
    {
        let mut report = Report::new(C::NAME);
        for value in self.samples::<T>() {
            report.merge(self.check_value(&value));
        }
        report
    }

    /// Runs [`Suite::check_view`] on the edge values of `T`, then on
    /// [`Suite::cases`] generated ones.
    ///
    /// # Examples
    ///
    /// ```
    /// use prism_codecs::Rkyv;
    /// use prism_codecs::conformance::Suite;
    /// use prism_codecs::conformance::corpus::Variants;
    ///
    /// // rkyv's archived corpus types compare with the owned ones in place.
    /// Suite::<Rkyv>::new()
    ///     .check_sample_views::<Variants, _>(|view, value| **view == *value)
    ///     .assert_ok();
    /// ```
    pub fn check_sample_views<T, F>(&self, eq: F) -> Report
    where
        T: Sample + View<C> + Encode<C> + Decode<C> + Debug,
        F: Fn(&T::View, &T) -> bool,
    {
        let mut report = Report::new(C::NAME);
        for value in self.samples::<T>() {
            report.merge(self.check_view(&value, &eq));
        }
        report
    }

    fn samples<T: Sample>(&self) -> Vec<T> {
        let mut values = T::edges();
        let mut rng = Rng::new(self.seed ^ fnv1a(type_name::<T>().as_bytes()));
        values.extend((0..self.cases).map(|_| T::generate(&mut rng, 3)));
        values
    }

    /// Runs every rule on every corpus value (the fixed ones at the edges,
    /// then [`Suite::cases`] generated ones per type), and checks that the
    /// declared limits hold for deep and big corpus values.
    ///
    /// Fails, as well, for each [`Suite::known_failure`] of a corpus type
    /// that no value triggered: the bug was fixed, so the declaration goes.
    ///
    /// # Examples
    ///
    /// ```no_run
    /// use prism_codecs::conformance::Suite;
    /// use prism_codecs::{FlatBuffers, Postcard};
    ///
    /// Suite::<Postcard>::new().run_corpus().assert_ok();
    /// Suite::<FlatBuffers>::new().cases(4).run_corpus().assert_ok();
    /// ```
    pub fn run_corpus(&self) -> Report
    where
        C: CarriesCorpus,
    {
        let mut report = Report::new(C::NAME);
        report.waived = self.waivers();
        C::run_corpus_into(self, &mut report);
        let names = type_names();
        for known in &self.known {
            let (rule, Some(ty)) = (known.rule, known.type_name) else {
                continue;
            };
            let happened = report
                .known
                .iter()
                .any(|(v, _)| v.rule == rule && v.type_name == ty);
            if names.contains(&ty) && !happened {
                report.violations.push(Violation {
                    rule,
                    codec: C::NAME,
                    type_name: ty,
                    value: "(every corpus value)".into(),
                    detail: format!(
                        "declared a known failure ({}), but no corpus value broke the rule: \
                         remove the declaration",
                        known.reason
                    ),
                });
            }
        }
        report
    }
}

/// Budgets for the limit checks, and the tight limits shallow and small
/// values must still pass.
const TIGHT_DEPTH: usize = 16;
const TIGHT_ALLOC: usize = 64 << 10;

/// Deep values against `max_depth`, big ones against `max_alloc`, and
/// shallow, small ones under the same tight limits.
fn check_limits<C>(suite: &Suite<C>, report: &mut Report)
where
    C: Codec,
    List: Encode<C> + Decode<C>,
    Tree: Encode<C> + Decode<C>,
    Record: Encode<C> + Decode<C>,
    Maps: Encode<C> + Decode<C>,
    String: Encode<C> + Decode<C>,
    Vec<u8>: Encode<C> + Decode<C>,
    Vec<u32>: Encode<C> + Decode<C>,
    Vec<String>: Encode<C> + Decode<C>,
{
    // Far deeper than the limit however a codec counts levels (one per
    // `Box` or `Vec` hop at least), yet shallow enough for encoders, which
    // recurse, to write on a test thread's stack in a debug build.
    report.merge(suite.check_too_deep(&List::chain(4 * TIGHT_DEPTH), TIGHT_DEPTH));
    report.merge(suite.check_too_deep(&Tree::chain(4 * TIGHT_DEPTH), TIGHT_DEPTH));
    let depth = suite.limits.max_depth();
    if depth <= 256 {
        report.merge(suite.check_too_deep(&List::chain(depth + 8), depth));
    }
    let shallow = suite
        .clone()
        .limits(suite.limits.with_max_depth(TIGHT_DEPTH));
    report.merge(shallow.check_value(&List::chain(3)));
    report.merge(shallow.check_value(&Tree::chain(3)));
    report.merge(shallow.check_value(&Record::edges().swap_remove(0)));

    // Each needs at least twice the budget to decode: 400,000 bytes of
    // `u32`s, 1 MiB of bytes, about 100 KB of text, 240,000 bytes of
    // `String`s for a 20 KB encoding, and 8,000 map and set entries.
    report.merge(suite.check_oversized(&(0..100_000u32).collect::<Vec<u32>>(), TIGHT_ALLOC));
    report.merge(suite.check_oversized(&sample::megabyte(), TIGHT_ALLOC));
    report.merge(suite.check_oversized(&sample::big_text(), TIGHT_ALLOC / 2));
    report.merge(suite.check_oversized(&vec![String::from("x"); 10_000], 100_000));
    report.merge(suite.check_oversized(&sample::big_maps(), TIGHT_ALLOC / 2));
    let small = suite
        .clone()
        .limits(suite.limits.with_max_alloc(TIGHT_ALLOC));
    report.merge(small.check_value(&vec![7u32; 10]));
    report.merge(small.check_value(&String::from("héllo 🦀")));
    report.merge(small.check_value(&Record::edges().swap_remove(1)));
    report.merge(small.check_value(&vec![String::from("x"); 10]));
}
