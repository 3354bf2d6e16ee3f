//! Running the rules on one value: encode it, turn the encoding into the
//! cases of every rule, decode (or view) each with panics caught, and judge.

use core::any::type_name;
use core::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind};

use super::Suite;
use super::cases::{BIG, Case, Expect, Inputs};
use super::report::{Report, Rule, Violation, describe};
use super::rng::{Rng, fnv1a};
use crate::{Codec, Decode, DecodeError, Encode, EncodeBuf, Limits, Payload, View};

/// How much of a value's `Debug` a violation keeps.
const VALUE_CHARS: usize = 200;

/// How many values decoded from mutated inputs are re-encoded and decoded
/// again, per checked value (and per value with a big encoding).
const RECHECKS: usize = 8;
const BIG_RECHECKS: usize = 2;

/// Runs `f`, turning a panic into its message.
pub(super) fn catch<R>(f: impl FnOnce() -> R) -> Result<R, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|panic| {
        if let Some(s) = panic.downcast_ref::<&str>() {
            (*s).to_owned()
        } else if let Some(s) = panic.downcast_ref::<String>() {
            s.clone()
        } else {
            "a panic with a non-string payload".to_owned()
        }
    })
}

/// Encodes a value into its segments.
pub(super) fn encode<C: Codec, T: Encode<C> + ?Sized>(
    value: &T,
    limits: &Limits,
) -> Result<Result<Payload, crate::EncodeError>, String> {
    catch(|| {
        let mut buf = EncodeBuf::new();
        value.encode(&mut buf, limits).map(|()| buf.finish())
    })
}

/// The findings for one value under one suite.
pub(super) struct Run<'s, C: Codec, T: Debug + ?Sized> {
    suite: &'s Suite<C>,
    value: &'s T,
    pub(super) report: Report,
    /// Rules already broken by this value: one violation each is enough.
    broken: Vec<Rule>,
}

impl<'s, C: Codec, T: Debug + ?Sized> Run<'s, C, T> {
    pub(super) fn new(suite: &'s Suite<C>, value: &'s T) -> Self {
        let mut report = Report::new(C::NAME);
        report.values = 1;
        report.waived = suite.waivers();
        Run {
            suite,
            value,
            report,
            broken: Vec::new(),
        }
    }

    /// Records a violation (or a known failure) of `rule`.
    pub(super) fn violate(&mut self, rule: Rule, detail: String) {
        self.broken.push(rule);
        let violation = Violation {
            rule,
            codec: C::NAME,
            type_name: type_name::<T>(),
            value: describe(self.value, VALUE_CHARS),
            detail,
        };
        match self.suite.known_reason(rule, type_name::<T>()) {
            Some(reason) => self.report.known.push((violation, reason)),
            None => self.report.violations.push(violation),
        }
    }

    fn skips(&self, rule: Rule) -> bool {
        self.suite.waived(rule) || self.broken.contains(&rule)
    }

    /// Encodes the value under `limits`, recording a violation on failure.
    pub(super) fn encode(&mut self, limits: &Limits) -> Option<Payload>
    where
        T: Encode<C>,
    {
        match encode::<C, T>(self.value, limits) {
            Ok(Ok(encoded)) => Some(encoded),
            Ok(Err(err)) => {
                self.violate(Rule::RoundTrip, format!("encoding failed: {err}"));
                None
            }
            Err(panic) => {
                self.violate(Rule::Panic, format!("encoding panicked: {panic}"));
                None
            }
        }
    }

    /// The cases of every rule for `encoded`, each passed to `judge`, which
    /// returns the rule and detail of a violation.
    fn each_case(
        &mut self,
        encoded: &Payload,
        mut judge: impl FnMut(&Case) -> Option<(Rule, String)>,
    ) {
        let bytes = encoded.to_vec();
        let mut inputs = Inputs {
            encoded,
            bytes: &bytes,
            limits: self.suite.limits,
            mutations: self.suite.mutations,
            trailing_detectable: self.suite.trailing_undetectable.is_none(),
            optional_padding: self.suite.optional_padding.map_or(0, |(max, _)| max),
            rng: Rng::new(self.suite.seed ^ fnv1a(&bytes)),
        };
        let waived = |rule| self.suite.waived(rule);
        let mut found: Vec<(Rule, String)> = Vec::new();
        let mut inputs_run = 0;
        inputs.run(&waived, &mut |case| {
            if found.iter().any(|(rule, _)| *rule == case.rule) {
                return false;
            }
            // A value that does not round-trip is reported once, under
            // `RoundTrip`, not again by every rule that expects it back.
            let wants_value = matches!(case.expect, Expect::Value | Expect::ValueOrError);
            if wants_value && found.iter().any(|(rule, _)| *rule == Rule::RoundTrip) {
                return true;
            }
            inputs_run += 1;
            match judge(&case) {
                Some(violation) => {
                    let stop = violation.0 == case.rule;
                    found.push(violation);
                    !stop
                }
                None => true,
            }
        });
        self.report.inputs += inputs_run;
        for (rule, detail) in found {
            if !self.skips(rule) {
                self.violate(rule, detail);
            }
        }
    }
}

impl<C: Codec> Suite<C> {
    /// Runs every rule on one value and reports what broke.
    ///
    /// The value is encoded with the suite's [`Limits`], twice (the two
    /// encodings must match); then its encoding is decoded as is, in other
    /// segmentations, at odd addresses, truncated at every length (a sample
    /// of lengths for long encodings), with bytes appended, with single
    /// bits flipped, under tight allocation budgets, and mangled at random.
    /// Every decode runs under [`catch_unwind`], so a panicking codec
    /// yields a [`Violation`], not an aborted test. Values that mutated
    /// inputs decode to must round-trip too.
    ///
    /// At most one violation per rule is reported for a value.
    ///
    /// # Examples
    ///
    /// ```
    /// use prism_codecs::Postcard;
    /// use prism_codecs::conformance::Suite;
    ///
    /// let suite = Suite::<Postcard>::new();
    /// suite.check_value(&vec![Some(1u64), None, Some(u64::MAX)]).assert_ok();
    /// suite.check_value(&(String::from("🦀"), -1i32)).assert_ok();
    /// ```
    pub fn check_value<T>(&self, value: &T) -> Report
    where
        T: Encode<C> + Decode<C> + PartialEq + Debug,
    {
        let mut run = Run::new(self, value);
        let Some(encoded) = run.encode(&self.limits) else {
            return run.report;
        };
        if !self.waived(Rule::Deterministic) {
            self.check_deterministic(&mut run, &encoded);
        }
        // A value unequal to itself (a NaN inside) cannot be compared after
        // a round trip; say so instead of reporting every case.
        if !reflexive(value) {
            run.violate(
                Rule::RoundTrip,
                "the value does not equal itself (a NaN?), so round trips cannot be checked".into(),
            );
            return run.report;
        }
        // Counts down the re-encodings left.
        let mut rechecks = if encoded.len() > BIG {
            BIG_RECHECKS
        } else {
            RECHECKS
        };
        run.each_case(&encoded, |case| {
            let outcome = catch(|| T::decode(&case.payload, &case.limits));
            judge_owned(self, case, value, outcome, &mut rechecks)
        });
        run.report
    }

    /// Runs [`Suite::check_value`] on each value and merges the reports.
    ///
    /// # Examples
    ///
    /// ```
    /// use prism_codecs::Postcard;
    /// use prism_codecs::conformance::Suite;
    ///
    /// let report = Suite::<Postcard>::new().check_values(&[0u16, 1, 127, 128, u16::MAX]);
    /// assert_eq!(report.values_checked(), 5);
    /// report.assert_ok();
    /// ```
    pub fn check_values<'a, T>(&self, values: impl IntoIterator<Item = &'a T>) -> Report
    where
        T: Encode<C> + Decode<C> + PartialEq + Debug + 'a,
    {
        let mut report = Report::new(C::NAME);
        for value in values {
            report.merge(self.check_value(value));
        }
        report
    }

    /// Checks that the zero-copy view of a value's encoding agrees with its
    /// owned decode, on every input [`Suite::check_value`] makes.
    ///
    /// Views are codec-specific types, so `eq` says when a view shows a
    /// value. The rules: where the owned decode must give the value, the
    /// view must exist and `eq` it; where decoding must fail (truncated
    /// input, trailing bytes), viewing must fail too; on any other input
    /// (bit flips, random bytes) viewing must not panic, a view must `eq`
    /// the owned decode of the same bytes, and the view must not refuse
    /// bytes the owned decode accepts. (A view may accept bytes the owned
    /// decode refuses when the type itself checks invariants the format
    /// does not know.)
    ///
    /// # Examples
    ///
    /// ```
    /// use prism_codecs::Rkyv;
    /// use prism_codecs::conformance::Suite;
    ///
    /// #[derive(rkyv::Archive, rkyv::Serialize, rkyv::Deserialize, Debug, PartialEq)]
    /// struct Chunk {
    ///     name: String,
    ///     data: Vec<u8>,
    /// }
    ///
    /// let chunk = Chunk { name: "part-1".into(), data: vec![1, 2, 3] };
    /// Suite::<Rkyv>::new()
    ///     .check_view(&chunk, |view, value| view.name == value.name && view.data[..] == value.data[..])
    ///     .assert_ok();
    /// ```
    pub fn check_view<T, F>(&self, value: &T, eq: F) -> Report
    where
        T: View<C> + Encode<C> + Decode<C> + Debug,
        F: Fn(&T::View, &T) -> bool,
    {
        let mut run = Run::new(self, value);
        let Some(encoded) = run.encode(&self.limits) else {
            return run.report;
        };
        run.each_case(&encoded, |case| {
            let view = catch(|| T::view(case.payload.clone(), &case.limits));
            let owned = catch(|| T::decode(&case.payload, &case.limits));
            judge_view(case, value, view, owned, &eq)
        });
        run.report
    }

    /// Checks that decoding `value`'s encoding under a nesting limit of
    /// `max_depth` fails ([`Rule::TooDeep`]), and never panics.
    ///
    /// The value is encoded with the suite's limits, its depth limit
    /// raised so that the deep value can be written at all.
    ///
    /// # Examples
    ///
    /// ```
    /// use prism_codecs::Postcard;
    /// use prism_codecs::conformance::Suite;
    ///
    /// let nested: Vec<Vec<Vec<Vec<u8>>>> = vec![vec![vec![vec![1]]]];
    /// Suite::<Postcard>::new().check_too_deep(&nested, 2).assert_ok();
    /// ```
    pub fn check_too_deep<T>(&self, value: &T, max_depth: usize) -> Report
    where
        T: Encode<C> + Decode<C> + Debug,
    {
        let limits = self.limits.with_max_depth(max_depth);
        self.check_refused(
            value,
            Rule::TooDeep,
            limits,
            &format!("max_depth of {max_depth}"),
        )
    }

    /// Checks that decoding `value`'s encoding under an allocation budget
    /// of `max_alloc` bytes fails ([`Rule::Oversized`]), and never panics.
    /// Pick a value that needs more heap than that when decoded: a
    /// `Vec<u32>` of 100,000 elements needs at least 400,000 bytes.
    ///
    /// # Examples
    ///
    /// ```
    /// use prism_codecs::Postcard;
    /// use prism_codecs::conformance::Suite;
    ///
    /// let big = vec![7u32; 100_000];
    /// Suite::<Postcard>::new().check_oversized(&big, 64 << 10).assert_ok();
    /// ```
    pub fn check_oversized<T>(&self, value: &T, max_alloc: usize) -> Report
    where
        T: Encode<C> + Decode<C> + Debug,
    {
        let limits = self.limits.with_max_alloc(max_alloc);
        self.check_refused(
            value,
            Rule::Oversized,
            limits,
            &format!("max_alloc of {max_alloc} bytes"),
        )
    }

    fn check_refused<T>(&self, value: &T, rule: Rule, limits: Limits, limit: &str) -> Report
    where
        T: Encode<C> + Decode<C> + Debug,
    {
        let mut run = Run::new(self, value);
        if self.waived(rule) {
            return run.report;
        }
        let generous = self
            .limits
            .with_max_depth(self.limits.max_depth().max(1 << 16))
            .with_max_alloc(usize::MAX);
        let Some(encoded) = run.encode(&generous) else {
            return run.report;
        };
        let bytes = encoded.to_vec();
        let (first, rest) = encoded.into_parts();
        let inputs = [
            ("the encoding", Payload::copy_from_slice(&bytes)),
            (
                "the encoder's segments",
                Payload::from_segments(first, rest),
            ),
        ];
        for (what, payload) in inputs {
            run.report.inputs += 1;
            let detail = match catch(|| T::decode(&payload, &limits)) {
                Ok(Err(_)) => continue,
                Ok(Ok(decoded)) => format!(
                    "{what} ({} bytes) decoded under a {limit} instead of failing, to {}",
                    bytes.len(),
                    describe(&decoded, VALUE_CHARS)
                ),
                Err(panic) => format!("decoding {what} under a {limit} panicked: {panic}"),
            };
            run.violate(rule, detail);
            break;
        }
        run.report
    }

    fn check_deterministic<T: Encode<C> + Debug + ?Sized>(
        &self,
        run: &mut Run<'_, C, T>,
        encoded: &Payload,
    ) {
        let detail = match encode::<C, T>(run.value, &self.limits) {
            Ok(Ok(again)) => {
                let (a, b) = (encoded.to_vec(), again.to_vec());
                if a == b {
                    return;
                }
                let at = a
                    .iter()
                    .zip(&b)
                    .position(|(x, y)| x != y)
                    .unwrap_or(a.len().min(b.len()));
                format!(
                    "two encodings differ: {} and {} bytes, first difference at byte {at}",
                    a.len(),
                    b.len()
                )
            }
            Ok(Err(err)) => format!("encoding succeeded once, then failed: {err}"),
            Err(panic) => format!("encoding succeeded once, then panicked: {panic}"),
        };
        run.violate(Rule::Deterministic, detail);
    }
}

/// Whether a value equals itself: not so for a value holding a NaN, which
/// no round trip can then be checked on.
#[allow(clippy::eq_op)] // Comparing a value with itself is the point.
fn reflexive<T: PartialEq>(value: &T) -> bool {
    value == value
}

/// Judges an owned decode of one case.
fn judge_owned<C: Codec, T>(
    suite: &Suite<C>,
    case: &Case,
    value: &T,
    outcome: Result<Result<T, DecodeError>, String>,
    rechecks: &mut usize,
) -> Option<(Rule, String)>
where
    T: Encode<C> + Decode<C> + PartialEq + Debug,
{
    let what = &case.what;
    let decoded = match outcome {
        Err(panic) => return Some((case.rule, format!("decoding {what} panicked: {panic}"))),
        Ok(Err(err)) => {
            return match case.expect {
                Expect::Value => Some((case.rule, format!("decoding {what} failed: {err}"))),
                _ => None,
            };
        }
        Ok(Ok(decoded)) => decoded,
    };
    let shown = || describe(&decoded, VALUE_CHARS);
    match case.expect {
        Expect::Value | Expect::ValueOrError if decoded == *value => None,
        Expect::Value | Expect::ValueOrError => {
            Some((case.rule, format!("{what} decoded to {} instead", shown())))
        }
        Expect::Error => Some((
            case.rule,
            format!("{what} decoded to {} instead of failing", shown()),
        )),
        Expect::NoPanic if *rechecks > 0 && reflexive(&decoded) => {
            *rechecks -= 1;
            recheck(suite, what, &decoded).map(|detail| (Rule::RoundTrip, detail))
        }
        Expect::NoPanic => None,
    }
}

/// Checks that a value a mutated input decoded to round-trips as well.
fn recheck<C: Codec, T>(suite: &Suite<C>, what: &str, decoded: &T) -> Option<String>
where
    T: Encode<C> + Decode<C> + PartialEq + Debug,
{
    let shown = || describe(decoded, VALUE_CHARS);
    let encoded = match encode::<C, T>(decoded, &suite.limits) {
        Ok(Ok(encoded)) => encoded,
        Ok(Err(err)) => {
            return Some(format!(
                "{what} decoded to {}, which does not encode: {err}",
                shown()
            ));
        }
        Err(panic) => {
            return Some(format!(
                "{what} decoded to {}, whose encoding panics: {panic}",
                shown()
            ));
        }
    };
    let payload = Payload::copy_from_slice(&encoded.to_vec());
    match catch(|| T::decode(&payload, &suite.limits)) {
        Ok(Ok(again)) if again == *decoded => None,
        Ok(Ok(again)) => Some(format!(
            "{what} decoded to {}, which round-trips to {}",
            shown(),
            describe(&again, VALUE_CHARS)
        )),
        Ok(Err(err)) => Some(format!(
            "{what} decoded to {}, whose encoding does not decode: {err}",
            shown()
        )),
        Err(panic) => Some(format!(
            "{what} decoded to {}, whose encoding panics when decoded: {panic}",
            shown()
        )),
    }
}

/// Judges a view, and the owned decode of the same bytes, for one case.
fn judge_view<T, V>(
    case: &Case,
    value: &T,
    view: Result<Result<V, DecodeError>, String>,
    owned: Result<Result<T, DecodeError>, String>,
    eq: &dyn Fn(&V, &T) -> bool,
) -> Option<(Rule, String)>
where
    T: Debug,
{
    let what = &case.what;
    let view = match view {
        Err(panic) => return Some((case.rule, format!("viewing {what} panicked: {panic}"))),
        Ok(view) => view,
    };
    let owned = match owned {
        Err(panic) => return Some((case.rule, format!("decoding {what} panicked: {panic}"))),
        Ok(owned) => owned,
    };
    // Compares, turning a panicking comparison into a violation.
    let equal = |view: &V, other: &T, whom: &str| -> Option<(Rule, String)> {
        match catch(|| eq(view, other)) {
            Ok(true) => None,
            Ok(false) => Some((
                Rule::ViewMismatch,
                format!(
                    "the view of {what} does not equal {whom} {}",
                    describe(other, VALUE_CHARS)
                ),
            )),
            Err(panic) => Some((
                Rule::Panic,
                format!("comparing the view of {what} panicked: {panic}"),
            )),
        }
    };
    match (case.expect, view) {
        (Expect::Value, Err(err)) => Some((case.rule, format!("the view refused {what}: {err}"))),
        (Expect::Value, Ok(view)) => equal(&view, value, "the value").or_else(|| {
            owned
                .ok()
                .and_then(|owned| equal(&view, &owned, "the owned decode"))
        }),
        (Expect::Error, Ok(_)) => Some((case.rule, format!("the view accepted {what}"))),
        (Expect::Error, Err(_)) | (Expect::ValueOrError, Err(_)) => None,
        (Expect::ValueOrError, Ok(view)) => equal(&view, value, "the value"),
        (Expect::NoPanic, Ok(view)) => owned
            .ok()
            .and_then(|owned| equal(&view, &owned, "the owned decode")),
        (Expect::NoPanic, Err(err)) => owned.ok().map(|owned| {
            (
                Rule::ViewMismatch,
                format!(
                    "the view refused {what} ({err}), which the owned decode accepts as {}",
                    describe(&owned, VALUE_CHARS)
                ),
            )
        }),
    }
}
