//! Clean-up when decoding fails part-way: every value built before the
//! error is dropped exactly once, and `Bytes` views of the input are released.

use std::cell::Cell;
use std::collections::BTreeMap;

use bytes::Bytes;
use facet::Facet;
use prism_codecs::postcard::{from_bytes, from_slice};
use prism_codecs::{Limits, Payload};

#[derive(Facet, Debug, PartialEq)]
struct Frame {
    id: u32,
    body: Bytes,
    trailer: Option<Bytes>,
}

thread_local! {
    static DROPS: Cell<usize> = const { Cell::new(0) };
}

#[derive(Facet, Debug, PartialEq)]
struct Counted(u32);

impl Drop for Counted {
    fn drop(&mut self) {
        DROPS.with(|d| d.set(d.get() + 1));
    }
}

#[derive(Facet, Debug, PartialEq)]
struct Pair {
    a: Counted,
    b: Counted,
    ok: bool,
}

/// A named decode, the drops it should cause, and whether it went as expected.
type Case = (&'static str, usize, Box<dyn Fn() -> bool>);

/// Runs `f` and returns how many `Counted` values were dropped meanwhile.
fn drops(f: impl FnOnce()) -> usize {
    let before = DROPS.with(Cell::get);
    f();
    DROPS.with(Cell::get) - before
}

#[test]
fn partial_values_are_dropped_exactly_once_on_error() {
    let cases: [Case; 8] = [
        // Struct: two fields built, the third invalid.
        (
            "struct",
            2,
            Box::new(|| from_slice::<Pair>(&[1, 2, 5]).is_err()),
        ),
        // List: two elements built, the third truncated.
        (
            "vec",
            2,
            Box::new(|| from_slice::<Vec<Counted>>(&[3, 1, 2, 0x80]).is_err()),
        ),
        // Array: same, without a length prefix.
        (
            "array",
            2,
            Box::new(|| from_slice::<[Counted; 3]>(&[1, 2, 0x80]).is_err()),
        ),
        // Map: one entry in, then a value fails after its key and half of itself.
        (
            "map",
            2,
            Box::new(|| {
                from_slice::<BTreeMap<u8, (Counted, bool)>>(&[2, 0, 1, 1, 1, 2, 9]).is_err()
            }),
        ),
        // Option and Box around a failing struct.
        (
            "option",
            2,
            Box::new(|| from_slice::<Option<Box<Pair>>>(&[1, 1, 2, 5]).is_err()),
        ),
        // Enum payload: a tuple variant's fields.
        (
            "result",
            1,
            Box::new(|| from_slice::<Result<(Counted, bool), u8>>(&[0, 1, 3]).is_err()),
        ),
        // A complete value followed by junk is dropped too.
        (
            "trailing",
            2,
            Box::new(|| from_slice::<Vec<Counted>>(&[2, 1, 2, 0]).is_err()),
        ),
        // And a value that succeeds drops each element once when it goes.
        (
            "ok",
            3,
            Box::new(|| from_slice::<Vec<Counted>>(&[3, 1, 2, 3]).is_ok()),
        ),
    ];
    for (name, expected, case) in cases {
        let mut failed_as_expected = false;
        let dropped = drops(|| failed_as_expected = case());
        assert!(failed_as_expected, "{name}: unexpected result");
        assert_eq!(
            dropped, expected,
            "{name}: dropped {dropped}, expected {expected}"
        );
    }
    let ok = from_slice::<Pair>(&[1, 2, 1]).unwrap();
    assert_eq!(drops(|| drop(ok)), 2);
}

/// Decodes `input` from a shared buffer as `T`, expecting an error, and
/// reports whether the buffer is unshared again afterwards: a `Bytes` view
/// built before the error must be released, not leaked.
fn releases_views_on_error<T: Facet<'static> + core::fmt::Debug>(input: &[u8]) -> bool {
    let shared = Payload::copy_from_slice(input).into_bytes();
    assert!(shared.is_unique());
    let result = from_bytes::<T>(&shared, &Limits::default());
    assert!(result.is_err(), "{input:?} decoded as {result:?}");
    shared.is_unique()
}

#[test]
fn bytes_views_are_released_when_a_later_field_fails() {
    // Each input holds a valid `Bytes` ([2, 0xaa, 0xbb]) and then fails.
    let leaks: Vec<&str> = [
        (
            "struct field",
            releases_views_on_error::<Frame>(&[7, 2, 0xaa, 0xbb, 9]),
        ),
        (
            "tuple field",
            releases_views_on_error::<(Bytes, bool)>(&[2, 0xaa, 0xbb, 2]),
        ),
        (
            "array element",
            releases_views_on_error::<[Bytes; 2]>(&[2, 0xaa, 0xbb, 9]),
        ),
        (
            "map key",
            releases_views_on_error::<BTreeMap<Bytes, bool>>(&[1, 2, 0xaa, 0xbb, 2]),
        ),
        (
            "option payload",
            releases_views_on_error::<Option<(Bytes, bool)>>(&[1, 2, 0xaa, 0xbb, 2]),
        ),
        // Inside a list, the list's own drop glue releases it.
        (
            "list element",
            releases_views_on_error::<Vec<Bytes>>(&[2, 2, 0xaa, 0xbb, 9]),
        ),
    ]
    .into_iter()
    .filter_map(|(name, released)| (!released).then_some(name))
    .collect();
    assert!(
        leaks.is_empty(),
        "a decoded `Bytes` leaked after a later error in: {leaks:?}"
    );
}
