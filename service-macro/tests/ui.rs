//! Compile-fail cases: every error message of `#[prism::service]` and
//! `#[prism::message]`, with its span, under `tests/ui/<category>/`.
//! Regenerate the `.stderr` files with
//! `TRYBUILD=overwrite cargo test -p prism-macros --test ui` and review them.

#[test]
fn ui() {
    let cases = trybuild::TestCases::new();
    cases.compile_fail("tests/ui/*/*.rs");
}
