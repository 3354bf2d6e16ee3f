//! Decodes arbitrary bytes as several types with Prism's postcard codec and
//! checks it against `facet-postcard`, the reference.
//!
//! For every type: decoding never panics; whatever we accept re-encodes to
//! exactly what the reference encodes for the same value, is no longer than
//! the input, and decodes again to the same value; the reference decoder
//! accepts the same input and agrees on the value.
//!
//! For most non-recursive types the reference also decodes inputs we reject: if it
//! accepts one we rejected for a reason other than trailing bytes (which it
//! ignores) or an overlong varint (it reads every varint as a u64 of up to
//! ten bytes and truncates it to the field's width, where serde's `postcard`
//! and we reject), that is a divergence. Recursive types never reach the
//! reference unless our depth limit has already bounded them:
//! `facet-postcard` has no depth limit and overflows the stack on deep input.
//! Types holding `bytes::Bytes` do not either: facet-postcard 0.46.1 leaks a
//! `Bytes` it built when a later field fails (facet's `Bytes` shape has no
//! drop function), and LeakSanitizer would blame this target.

#![no_main]

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Debug;
use std::sync::Arc;

use bytes::Bytes;
use facet::Facet;
use libfuzzer_sys::fuzz_target;
use prism_codecs::postcard::{from_bytes, from_slice, to_vec};
use prism_codecs::{DecodeError, Limits};

#[derive(Facet, Debug, PartialEq)]
struct Named {
    id: u32,
    name: String,
    tags: Vec<String>,
}

#[derive(Facet, Debug, PartialEq)]
#[repr(u8)]
enum Message {
    Ping,
    Pair(u32, String),
    Move { dx: i64, dy: Option<u8> },
    Wrapped(Named),
}

#[derive(Facet, Debug, PartialEq)]
#[repr(i16)]
enum Signed {
    A = 5,
    B = -3,
    C(u8) = 40,
}

#[derive(Facet, Debug, PartialEq)]
struct Scalars {
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
    k: usize,
    l: isize,
    m: bool,
    n: char,
    unit: (),
}

#[derive(Facet, Debug)]
struct Floats {
    a: f32,
    b: f64,
}

#[derive(Facet, Debug, PartialEq)]
struct Mixed {
    bytes: Bytes,
    raw: Vec<u8>,
    opt: Option<Option<Named>>,
    res: Result<Signed, String>,
    arr: [i16; 3],
    tup: (u8, Message),
    arc: Arc<str_wrapper::Label>,
    boxed: Box<Message>,
}

mod str_wrapper {
    use facet::Facet;

    #[derive(Facet, Debug, PartialEq)]
    #[facet(transparent)]
    pub(crate) struct Label(pub(crate) String);
}

#[derive(Facet, Debug, PartialEq)]
struct Collections {
    list: Vec<Named>,
    btree: BTreeMap<u16, Vec<u8>>,
    hash: HashMap<String, i32>,
    set: BTreeSet<i64>,
}

#[derive(Facet, Debug, PartialEq)]
struct Tree {
    value: i32,
    children: Vec<Tree>,
}

#[derive(Facet, Debug, PartialEq)]
#[repr(u8)]
enum Expr {
    Lit(i64),
    Neg(Box<Expr>),
    Add(Box<Expr>, Box<Expr>),
    Call { name: String, args: Vec<Expr> },
    Maybe(Option<Box<Expr>>),
}

/// Value equality as this harness needs it.
trait Same: Sized {
    fn same(&self, other: &Self) -> bool;
}

macro_rules! same_by_eq {
    ($($t:ty),* $(,)?) => {$(
        impl Same for $t {
            fn same(&self, other: &Self) -> bool {
                self == other
            }
        }
    )*};
}

same_by_eq!(
    Named,
    Message,
    Signed,
    Scalars,
    Mixed,
    Collections,
    Tree,
    Expr,
    String,
    Vec<Option<u16>>
);

impl Same for Floats {
    // Bitwise, except that `facet-postcard` quiets signalling `f32` NaNs.
    fn same(&self, other: &Self) -> bool {
        let quiet = |x: f32| {
            if x.is_nan() {
                x.to_bits() | 0x0040_0000
            } else {
                x.to_bits()
            }
        };
        quiet(self.a) == quiet(other.a) && self.b.to_bits() == other.b.to_bits()
    }
}

/// When the reference decoder may see an input.
#[derive(Clone, Copy, PartialEq)]
enum Reference {
    /// Every input: for non-recursive types without `Bytes`.
    Always,
    /// Only inputs our decoder accepted (within our limits).
    WhenAccepted,
}

fn check<T>(data: &[u8], reference: Reference)
where
    T: Facet<'static> + Same + Debug,
{
    let ours = from_slice::<T>(data);
    match &ours {
        Ok(value) => {
            let re = to_vec(value).expect("re-encode what we decoded");
            let reference_bytes = facet_postcard::to_vec(value).expect("reference encode");
            assert_eq!(re, reference_bytes, "encodings differ for {value:?}");
            assert!(
                re.len() <= data.len(),
                "re-encoding grew: {data:?} -> {re:?}"
            );
            let back = from_slice::<T>(&re).expect("re-decode our own encoding");
            assert!(back.same(value), "re-decoded {back:?} != {value:?}");
            // Our depth limit bounded `value`, so the reference is safe here.
            match facet_postcard::from_slice::<T>(data) {
                Ok(reference) => assert!(
                    reference.same(value),
                    "reference {reference:?} != ours {value:?}"
                ),
                Err(e) => panic!("reference rejects {data:?}, which we decode as {value:?}: {e}"),
            }
        }
        Err(err) if reference == Reference::Always => {
            if let Ok(reference) = facet_postcard::from_slice::<T>(data) {
                assert!(
                    matches!(
                        err,
                        DecodeError::TrailingBytes { .. } | DecodeError::MalformedVarint { .. }
                    ),
                    "we reject {data:?} ({err}) but the reference decodes {reference:?}"
                );
            }
        }
        Err(_) => {}
    }
    // Sharing the input buffer changes nothing but where `Bytes` point.
    let shared = Bytes::copy_from_slice(data);
    match (from_bytes::<T>(&shared, &Limits::default()), &ours) {
        (Ok(a), Ok(b)) => assert!(a.same(b)),
        (Err(a), Err(b)) => assert_eq!(&a, b),
        (a, b) => panic!("from_bytes gave {a:?}, from_slice gave {b:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    use Reference::{Always, WhenAccepted};
    check::<Named>(data, Always);
    check::<Message>(data, Always);
    check::<Signed>(data, Always);
    check::<Scalars>(data, Always);
    check::<Floats>(data, Always);
    check::<Mixed>(data, WhenAccepted);
    check::<Collections>(data, Always);
    check::<String>(data, Always);
    check::<Vec<Option<u16>>>(data, Always);
    check::<Tree>(data, WhenAccepted);
    check::<Expr>(data, WhenAccepted);
});
