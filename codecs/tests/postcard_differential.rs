//! Differential tests: the postcard codec against `facet-postcard`, the
//! reference, over generated values of every shape the codec carries, and
//! over random and mutated input bytes.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fmt::Debug;
use std::sync::Arc;

use bytes::Bytes;
use facet::Facet;
use prism_codecs::DecodeError;
use prism_codecs::postcard::{from_slice, to_vec};
use proptest::collection::{btree_map, btree_set, hash_map, hash_set, vec};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::TestCaseError;

// ---------------------------------------------------------------------------
// The corpus: one or more types for every shape.
// ---------------------------------------------------------------------------

#[derive(Facet, Debug, PartialEq, Clone)]
struct Scalars {
    a: u8,
    b: u16,
    c: u32,
    d: u64,
    e: u128,
    f: usize,
    g: i8,
    h: i16,
    i: i32,
    j: i64,
    k: i128,
    l: isize,
    m: bool,
    n: char,
    unit: (),
}

/// Compared bitwise (through re-encoding), so every NaN payload is covered.
#[derive(Facet, Debug, Clone)]
struct Floats {
    a: f32,
    b: f64,
    pair: (f64, f32),
}

/// Floats without NaN, compared with `PartialEq`.
#[derive(Facet, Debug, PartialEq, Clone)]
struct FiniteFloats {
    a: f32,
    b: f64,
}

#[derive(Facet, Debug, PartialEq, Clone)]
struct Buffers {
    s: String,
    v: Vec<u8>,
    b: Bytes,
}

#[derive(Facet, Debug, PartialEq, Clone)]
struct Named {
    id: u32,
    name: String,
    tags: Vec<String>,
}

#[derive(Facet, Debug, PartialEq, Clone)]
struct TupleStruct(u8, i64, String);

#[derive(Facet, Debug, PartialEq, Clone)]
struct UnitStruct;

#[derive(Facet, Debug, PartialEq, Clone)]
#[repr(u8)]
enum Message {
    Ping,
    Pair(u32, String),
    Move { dx: i64, dy: Option<u8> },
    Wrapped(Named),
    Nothing(UnitStruct),
}

/// Explicit, negative and out-of-order discriminants: the wire carries the
/// variant's index, not its discriminant.
#[derive(Facet, Debug, PartialEq, Clone, Copy)]
#[repr(i32)]
enum Signed {
    A = 5,
    B = -3,
    C,
    D = 1_000_000,
}

#[derive(Facet, Debug, PartialEq, Clone)]
#[repr(u16)]
enum Wide {
    A = 1000,
    B(u8) = 7,
    C { x: bool, y: i16 } = 2,
}

#[derive(Facet, Debug, PartialEq, Clone)]
struct Options {
    a: Option<u32>,
    b: Option<Option<String>>,
    c: Option<Option<Option<u8>>>,
    d: Option<Named>,
    e: Option<()>,
}

#[derive(Facet, Debug, PartialEq, Clone)]
struct Collections {
    list: Vec<Named>,
    ints: Vec<i64>,
    arr: [u16; 4],
    arr_structs: [TupleStruct; 2],
    empty_arr: [u8; 0],
    btree_map: BTreeMap<String, u64>,
    hash_map: HashMap<u32, String>,
    btree_set: BTreeSet<i16>,
    hash_set: HashSet<String>,
    nested: Vec<Vec<u8>>,
    map_of_lists: BTreeMap<u8, Vec<Message>>,
}

#[derive(Facet, Debug, PartialEq, Clone)]
struct Tuples {
    t: (u8, String, (i32, bool)),
    one: (u64,),
    unit: (),
}

#[derive(Facet, Debug, PartialEq, Clone)]
struct Pointers {
    boxed: Box<Named>,
    arc: Arc<String>,
    arc_struct: Arc<Named>,
    boxed_array: Box<[u16; 4]>,
    boxed_opt: Option<Box<u32>>,
}

#[derive(Facet, Debug, PartialEq, Clone, Copy)]
#[repr(transparent)]
struct UserId(u64);

#[derive(Facet, Debug, PartialEq, Clone)]
#[facet(transparent)]
struct Label(String);

#[derive(Facet, Debug, PartialEq, Clone)]
struct Ids {
    user: UserId,
    label: Label,
    users: Vec<UserId>,
}

#[derive(Facet, Debug, PartialEq, Clone)]
struct Results {
    plain: Result<u32, String>,
    nested: Result<Option<u8>, Named>,
    unit: Result<(), ()>,
}

#[derive(Facet, Debug, PartialEq, Clone)]
struct Tree {
    value: i32,
    children: Vec<Tree>,
}

#[derive(Facet, Debug, PartialEq, Clone)]
struct List {
    value: u8,
    next: Option<Box<List>>,
}

impl Drop for List {
    // Unlinks iteratively so long generated chains cannot overflow the stack.
    fn drop(&mut self) {
        let mut next = self.next.take();
        while let Some(mut node) = next {
            next = node.next.take();
        }
    }
}

/// Everything at once, as a service message might mix it.
#[derive(Facet, Debug, PartialEq, Clone)]
struct Everything {
    scalars: Scalars,
    floats: FiniteFloats,
    buffers: Buffers,
    message: Message,
    signed: Signed,
    wide: Wide,
    options: Options,
    tuples: Tuples,
    ids: Ids,
    results: Results,
    tree: Tree,
    unit: UnitStruct,
}

// ---------------------------------------------------------------------------
// Strategies.
// ---------------------------------------------------------------------------

/// Unicode strings, biased towards multi-byte and unusual characters.
fn text() -> impl Strategy<Value = String> {
    vec(any::<char>(), 0..12).prop_map(String::from_iter)
}

fn finite_f32() -> impl Strategy<Value = f32> {
    use proptest::num::f32::{INFINITE, NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO | INFINITE
}

fn finite_f64() -> impl Strategy<Value = f64> {
    use proptest::num::f64::{INFINITE, NEGATIVE, NORMAL, POSITIVE, SUBNORMAL, ZERO};
    POSITIVE | NEGATIVE | NORMAL | SUBNORMAL | ZERO | INFINITE
}

prop_compose! {
    fn scalars()(
        a in any::<u8>(), b in any::<u16>(), c in any::<u32>(), d in any::<u64>(),
        e in any::<u128>(), f in any::<usize>(), g in any::<i8>(), h in any::<i16>(),
        i in any::<i32>(), j in any::<i64>(), k in any::<i128>(), l in any::<isize>(),
        m in any::<bool>(), n in any::<char>(),
    ) -> Scalars {
        Scalars { a, b, c, d, e, f, g, h, i, j, k, l, m, n, unit: () }
    }
}

prop_compose! {
    // Any bit pattern, NaN payloads and signalling NaNs included.
    fn floats()(a in any::<u32>(), b in any::<u64>(), c in any::<u64>(), d in any::<u32>()) -> Floats {
        Floats {
            a: f32::from_bits(a),
            b: f64::from_bits(b),
            pair: (f64::from_bits(c), f32::from_bits(d)),
        }
    }
}

prop_compose! {
    fn finite_floats()(a in finite_f32(), b in finite_f64()) -> FiniteFloats {
        FiniteFloats { a, b }
    }
}

prop_compose! {
    fn buffers()(s in text(), v in vec(any::<u8>(), 0..64), b in vec(any::<u8>(), 0..64)) -> Buffers {
        Buffers { s, v, b: Bytes::from(b) }
    }
}

prop_compose! {
    fn named()(id in any::<u32>(), name in text(), tags in vec(text(), 0..4)) -> Named {
        Named { id, name, tags }
    }
}

prop_compose! {
    fn tuple_struct()(a in any::<u8>(), b in any::<i64>(), c in text()) -> TupleStruct {
        TupleStruct(a, b, c)
    }
}

fn message() -> impl Strategy<Value = Message> {
    prop_oneof![
        Just(Message::Ping),
        (any::<u32>(), text()).prop_map(|(a, b)| Message::Pair(a, b)),
        (any::<i64>(), any::<Option<u8>>()).prop_map(|(dx, dy)| Message::Move { dx, dy }),
        named().prop_map(Message::Wrapped),
        Just(Message::Nothing(UnitStruct)),
    ]
}

fn signed() -> impl Strategy<Value = Signed> {
    prop_oneof![
        Just(Signed::A),
        Just(Signed::B),
        Just(Signed::C),
        Just(Signed::D)
    ]
}

fn wide() -> impl Strategy<Value = Wide> {
    prop_oneof![
        Just(Wide::A),
        any::<u8>().prop_map(Wide::B),
        (any::<bool>(), any::<i16>()).prop_map(|(x, y)| Wide::C { x, y }),
    ]
}

prop_compose! {
    fn options()(
        a in any::<Option<u32>>(),
        b in proptest::option::of(proptest::option::of(text())),
        c in any::<Option<Option<Option<u8>>>>(),
        d in proptest::option::of(named()),
        e in any::<Option<()>>(),
    ) -> Options {
        Options { a, b, c, d, e }
    }
}

prop_compose! {
    fn collections()(
        list in vec(named(), 0..4),
        ints in vec(any::<i64>(), 0..16),
        arr in any::<[u16; 4]>(),
        arr_structs in [tuple_struct(), tuple_struct()],
        btree_map in btree_map(text(), any::<u64>(), 0..6),
        hash_map in hash_map(any::<u32>(), text(), 0..6),
        btree_set in btree_set(any::<i16>(), 0..8),
        hash_set in hash_set(text(), 0..6),
        nested in vec(vec(any::<u8>(), 0..8), 0..4),
        map_of_lists in btree_map(any::<u8>(), vec(message(), 0..3), 0..3),
    ) -> Collections {
        Collections {
            list, ints, arr, arr_structs, empty_arr: [], btree_map, hash_map, btree_set,
            hash_set, nested, map_of_lists,
        }
    }
}

prop_compose! {
    fn tuples()(a in any::<u8>(), b in text(), c in any::<(i32, bool)>(), d in any::<u64>()) -> Tuples {
        Tuples { t: (a, b, c), one: (d,), unit: () }
    }
}

prop_compose! {
    fn pointers()(
        boxed in named(), arc in text(), arc_struct in named(),
        boxed_array in any::<[u16; 4]>(), boxed_opt in any::<Option<u32>>(),
    ) -> Pointers {
        Pointers {
            boxed: Box::new(boxed),
            arc: Arc::new(arc),
            arc_struct: Arc::new(arc_struct),
            boxed_array: Box::new(boxed_array),
            boxed_opt: boxed_opt.map(Box::new),
        }
    }
}

prop_compose! {
    fn ids()(user in any::<u64>(), label in text(), users in vec(any::<u64>(), 0..6)) -> Ids {
        Ids { user: UserId(user), label: Label(label), users: users.into_iter().map(UserId).collect() }
    }
}

fn results() -> impl Strategy<Value = Results> {
    let plain = prop_oneof![any::<u32>().prop_map(Ok), text().prop_map(Err)];
    let nested = prop_oneof![any::<Option<u8>>().prop_map(Ok), named().prop_map(Err)];
    let unit = prop_oneof![Just(Ok(())), Just(Err(()))];
    (plain, nested, unit).prop_map(|(plain, nested, unit)| Results {
        plain,
        nested,
        unit,
    })
}

/// Trees up to 5 levels deep: far inside the reference decoder's stack budget.
fn tree() -> impl Strategy<Value = Tree> {
    let leaf = any::<i32>().prop_map(|value| Tree {
        value,
        children: Vec::new(),
    });
    leaf.prop_recursive(4, 48, 4, |inner| {
        (any::<i32>(), vec(inner, 0..4)).prop_map(|(value, children)| Tree { value, children })
    })
}

/// Linked lists up to 40 long (80 levels of nesting: under the default limit).
fn list() -> impl Strategy<Value = List> {
    vec(any::<u8>(), 1..40).prop_map(|values| {
        let mut head: Option<Box<List>> = None;
        for value in values.into_iter().rev() {
            head = Some(Box::new(List { value, next: head }));
        }
        *head.expect("at least one value")
    })
}

prop_compose! {
    fn everything()(
        scalars in scalars(), floats in finite_floats(), buffers in buffers(), message in message(),
        signed in signed(), wide in wide(), options in options(), tuples in tuples(), ids in ids(),
        results in results(), tree in tree(),
    ) -> Everything {
        Everything {
            scalars, floats, buffers, message, signed, wide, options, tuples, ids, results, tree,
            unit: UnitStruct,
        }
    }
}

// ---------------------------------------------------------------------------
// Properties.
// ---------------------------------------------------------------------------

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig::with_cases(cases)
}

/// Runs the reference on a thread with a large stack. In debug builds
/// `facet-postcard` needs ~64 KiB of stack per level of nesting (a 30-deep
/// list overflows the 2 MiB of a test thread), and it has no depth limit:
/// only values our own limits admitted are ever handed to it.
fn reference<R: Send>(f: impl FnOnce() -> R + Send) -> R {
    std::thread::scope(|s| {
        std::thread::Builder::new()
            .stack_size(256 << 20)
            .spawn_scoped(s, f)
            .expect("spawn reference thread")
            .join()
            .expect("reference thread panicked")
    })
}

fn reference_encode<T: Facet<'static> + Sync>(v: &T) -> Result<Vec<u8>, TestCaseError> {
    reference(|| facet_postcard::to_vec(v))
        .map_err(|e| TestCaseError::fail(format!("reference encode: {e}")))
}

fn reference_decode<T: Facet<'static> + Send>(input: &[u8]) -> Result<T, String> {
    reference(|| facet_postcard::from_slice::<T>(input).map_err(|e| e.to_string()))
}

/// Ours encodes like the reference, and both decoders give the value back.
fn check<T>(v: &T) -> Result<(), TestCaseError>
where
    T: Facet<'static> + PartialEq + Debug + Send + Sync,
{
    let ours = to_vec(v).map_err(|e| TestCaseError::fail(format!("encode: {e}")))?;
    let theirs = reference_encode(v)?;
    prop_assert_eq!(&ours, &theirs, "encoding differs for {:?}", v);
    let back: T = from_slice(&ours).map_err(|e| TestCaseError::fail(format!("decode: {e}")))?;
    prop_assert_eq!(&back, v);
    let reference: T = reference_decode(&ours)
        .map_err(|e| TestCaseError::fail(format!("reference decode: {e}")))?;
    prop_assert_eq!(&reference, v);
    Ok(())
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn scalars_match_reference(v in scalars()) { check(&v)?; }

    #[test]
    fn each_scalar_alone_matches_reference(
        a in any::<u8>(), b in any::<u16>(), c in any::<u32>(), d in any::<u64>(), e in any::<u128>(),
        f in any::<i8>(), g in any::<i16>(), h in any::<i32>(), i in any::<i64>(), j in any::<i128>(),
        k in any::<usize>(), l in any::<isize>(), m in any::<bool>(), n in any::<char>(),
        o in finite_f32(), p in finite_f64(),
    ) {
        check(&a)?; check(&b)?; check(&c)?; check(&d)?; check(&e)?;
        check(&f)?; check(&g)?; check(&h)?; check(&i)?; check(&j)?;
        check(&k)?; check(&l)?; check(&m)?; check(&n)?; check(&o)?; check(&p)?;
        check(&())?;
    }

    #[test]
    fn finite_floats_match_reference(v in finite_floats()) { check(&v)?; }

    #[test]
    fn float_bits_survive(v in floats()) {
        let ours = to_vec(&v).unwrap();
        prop_assert_eq!(&ours, &reference_encode(&v)?);
        let back: Floats = from_slice(&ours).unwrap();
        prop_assert_eq!(back.a.to_bits(), v.a.to_bits());
        prop_assert_eq!(back.b.to_bits(), v.b.to_bits());
        prop_assert_eq!(back.pair.0.to_bits(), v.pair.0.to_bits());
        prop_assert_eq!(back.pair.1.to_bits(), v.pair.1.to_bits());
        let reference: Floats = reference_decode(&ours).unwrap();
        prop_assert!(same_floats(&reference, &v), "reference decoded {:?}", reference);
    }

    #[test]
    fn buffers_and_unicode_match_reference(v in buffers()) { check(&v)?; check(&v.s)?; }

    #[test]
    fn structs_match_reference(v in named(), t in tuple_struct()) {
        check(&v)?;
        check(&t)?;
        check(&UnitStruct)?;
    }

    #[test]
    fn enums_match_reference(m in message(), s in signed(), w in wide()) {
        check(&m)?;
        check(&s)?;
        check(&w)?;
    }

    #[test]
    fn options_match_reference(v in options()) { check(&v)?; }

    #[test]
    fn collections_match_reference(v in collections()) { check(&v)?; }

    #[test]
    fn tuples_match_reference(v in tuples()) { check(&v)?; check(&v.t)?; }

    #[test]
    fn pointers_match_reference(v in pointers()) { check(&v)?; }

    #[test]
    fn transparent_newtypes_match_reference(v in ids()) {
        check(&v)?;
        check(&v.user)?;
        check(&v.label)?;
        // Both spellings of "transparent" cost nothing on the wire.
        prop_assert_eq!(to_vec(&v.user).unwrap(), to_vec(&v.user.0).unwrap());
        prop_assert_eq!(to_vec(&v.label).unwrap(), to_vec(&v.label.0).unwrap());
    }

    #[test]
    fn results_match_reference(v in results()) { check(&v)?; }

    #[test]
    fn recursive_types_match_reference(t in tree(), l in list()) {
        check(&t)?;
        check(&l)?;
    }

    #[test]
    fn everything_matches_reference(v in everything()) { check(&v)?; }
}

// ---------------------------------------------------------------------------
// Untrusted input: random bytes and mutated valid encodings.
// ---------------------------------------------------------------------------

/// Whatever our decoder accepts re-encodes canonically: no longer than the
/// input (non-canonical varints and duplicate map keys only shrink), exactly
/// as the reference encodes it, and decodes again to an equal value. The
/// reference decoder accepts the same input and agrees on the value.
///
/// Byte equality with the input does not hold in general: postcard
/// decoders accept overlong varints such as `[0x80, 0x00]` for 0, and a map
/// with a repeated key keeps only the last entry.
fn accepted_is_canonical<T>(input: &[u8], same: fn(&T, &T) -> bool) -> Result<(), TestCaseError>
where
    T: Facet<'static> + Debug + Send + Sync,
{
    let Ok(v) = from_slice::<T>(input) else {
        return Ok(());
    };
    let re = to_vec(&v).map_err(|e| TestCaseError::fail(format!("re-encode: {e}")))?;
    prop_assert!(
        re.len() <= input.len(),
        "re-encoding grew: {:?} -> {:?}",
        input,
        re
    );
    prop_assert_eq!(&re, &reference_encode(&v)?);
    let back: T = from_slice(&re).map_err(|e| TestCaseError::fail(format!("re-decode: {e}")))?;
    prop_assert!(same(&back, &v), "re-decoded {:?} != {:?}", back, v);
    let reference = reference_decode::<T>(input).map_err(|e| {
        TestCaseError::fail(format!(
            "reference rejects {input:?} that we accept as {v:?}: {e}"
        ))
    })?;
    prop_assert!(
        same(&reference, &v),
        "reference decoded {:?}, we decoded {:?}",
        reference,
        v
    );
    Ok(())
}

fn eq<T: PartialEq>(a: &T, b: &T) -> bool {
    a == b
}

/// `facet-postcard` decodes a signalling `f32` NaN as the matching quiet NaN
/// (it sets bit 22); ours keeps every bit. Comparisons with the reference
/// forgive exactly that.
fn quiet32(x: f32) -> f32 {
    if x.is_nan() {
        f32::from_bits(x.to_bits() | 0x0040_0000)
    } else {
        x
    }
}

fn quiet64(x: f64) -> f64 {
    if x.is_nan() {
        f64::from_bits(x.to_bits() | 0x0008_0000_0000_0000)
    } else {
        x
    }
}

/// Bitwise equality of the floats, up to NaN quieting.
fn same_floats(a: &Floats, b: &Floats) -> bool {
    let quiet = |f: &Floats| {
        to_vec(&Floats {
            a: quiet32(f.a),
            b: quiet64(f.b),
            pair: (quiet64(f.pair.0), quiet32(f.pair.1)),
        })
        .unwrap()
    };
    quiet(a) == quiet(b)
}

/// `Everything` holds no hash containers, so equal values encode equally;
/// a mutated input can turn its floats into NaNs.
fn same_everything(a: &Everything, b: &Everything) -> bool {
    let quiet = |e: &Everything| {
        let mut e = e.clone();
        e.floats.a = quiet32(e.floats.a);
        e.floats.b = quiet64(e.floats.b);
        to_vec(&e).unwrap()
    };
    quiet(a) == quiet(b)
}

/// Decodes `input` as every type of the corpus. None may panic.
fn decode_as_everything(input: &[u8]) -> Result<(), TestCaseError> {
    accepted_is_canonical::<Scalars>(input, eq)?;
    accepted_is_canonical::<Floats>(input, same_floats)?;
    accepted_is_canonical::<Buffers>(input, eq)?;
    accepted_is_canonical::<Named>(input, eq)?;
    accepted_is_canonical::<Message>(input, eq)?;
    accepted_is_canonical::<Signed>(input, eq)?;
    accepted_is_canonical::<Wide>(input, eq)?;
    accepted_is_canonical::<Options>(input, eq)?;
    accepted_is_canonical::<Collections>(input, eq)?;
    accepted_is_canonical::<Tuples>(input, eq)?;
    accepted_is_canonical::<Pointers>(input, eq)?;
    accepted_is_canonical::<Ids>(input, eq)?;
    accepted_is_canonical::<Results>(input, eq)?;
    accepted_is_canonical::<Tree>(input, eq)?;
    accepted_is_canonical::<List>(input, eq)?;
    accepted_is_canonical::<Vec<Message>>(input, eq)?;
    accepted_is_canonical::<BTreeMap<u8, Option<u16>>>(input, eq)?;
    accepted_is_canonical::<HashSet<i32>>(input, eq)?;
    accepted_is_canonical::<String>(input, eq)?;
    accepted_is_canonical::<char>(input, eq)?;
    accepted_is_canonical::<(u16, u32, u64)>(input, eq)?;
    accepted_is_canonical::<Vec<()>>(input, eq)?;
    Ok(())
}

#[derive(Debug, Clone)]
enum Mutation {
    Set(Index, u8),
    Insert(Index, u8),
    Remove(Index),
    Truncate(Index),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
        (any::<Index>(), any::<u8>()).prop_map(|(i, b)| Mutation::Insert(i, b)),
        any::<Index>().prop_map(Mutation::Remove),
        any::<Index>().prop_map(Mutation::Truncate),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len();
        match m {
            Mutation::Set(i, b) if len > 0 => bytes[i.index(len)] = *b,
            Mutation::Insert(i, b) => bytes.insert(i.index(len + 1), *b),
            Mutation::Remove(i) if len > 0 => {
                bytes.remove(i.index(len));
            }
            Mutation::Truncate(i) => bytes.truncate(i.index(len + 1)),
            _ => {}
        }
    }
    bytes
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn random_bytes_never_panic(input in vec(any::<u8>(), 0..256)) {
        decode_as_everything(&input)?;
    }

    #[test]
    fn mutated_encodings_never_panic(v in everything(), mutations in vec(mutation(), 1..4)) {
        let input = mutate(to_vec(&v).unwrap(), &mutations);
        accepted_is_canonical::<Everything>(&input, same_everything)?;
    }

    #[test]
    fn mutated_collections_never_panic(v in collections(), mutations in vec(mutation(), 1..4)) {
        let input = mutate(to_vec(&v).unwrap(), &mutations);
        accepted_is_canonical::<Collections>(&input, eq)?;
    }

    #[test]
    fn mutated_recursive_values_never_panic(t in tree(), l in list(), mutations in vec(mutation(), 1..4)) {
        accepted_is_canonical::<Tree>(&mutate(to_vec(&t).unwrap(), &mutations), eq)?;
        accepted_is_canonical::<List>(&mutate(to_vec(&l).unwrap(), &mutations), eq)?;
    }

    #[test]
    fn strict_prefixes_are_errors(v in everything()) {
        let bytes = to_vec(&v).unwrap();
        for end in 0..bytes.len() {
            let result = from_slice::<Everything>(&bytes[..end]);
            prop_assert!(
                matches!(result, Err(DecodeError::UnexpectedEof { .. } | DecodeError::LengthOutOfBounds { .. })),
                "prefix of {} bytes gave {:?}", end, result
            );
        }
    }
}
