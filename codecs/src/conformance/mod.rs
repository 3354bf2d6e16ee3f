//! The codec conformance suite: the rules every codec keeps, checked on
//! any codec, built-in or yours, in a few lines.
//!
//! A [`Suite`] takes a codec as a type parameter and checks values with it:
//! [`Suite::check_value`] runs every rule on one value, [`Suite::check_view`]
//! compares zero-copy views with owned decodes, [`Suite::check_too_deep`]
//! and [`Suite::check_oversized`] check that declared [`Limits`] hold, and
//! [`Suite::run_corpus`] runs all of it over the built-in [`corpus`] for
//! codecs that can carry it. Each returns a [`Report`]; a broken rule is a
//! [`Violation`] whose message names the codec, the [`Rule`], the type and
//! the value, and says what the codec did with which input.
//!
//! # The rules
//!
//! | Rule | What it demands |
//! |---|---|
//! | [`RoundTrip`](Rule::RoundTrip) | decoding an encoding gives back an equal value; so does decoding the re-encoding of anything a mutated input decoded to |
//! | [`Deterministic`](Rule::Deterministic) | encoding a value twice gives the same bytes |
//! | [`Segmented`](Rule::Segmented) | the encoding decodes the same as the encoder's own segments (what the in-memory transport delivers) and split anywhere |
//! | [`Misaligned`](Rule::Misaligned) | the encoding decodes the same from an odd address (copied into an aligned [`Payload`](crate::Payload) by [`Payload::new`](crate::Payload::new)) and as later segments at odd addresses, which payloads never align |
//! | [`Truncated`](Rule::Truncated) | every strict prefix (a sample for encodings over 128 bytes) is an error |
//! | [`BitFlip`](Rule::BitFlip) | single-bit flips (every bit of short encodings, a sample of long ones) never panic |
//! | [`TrailingBytes`](Rule::TrailingBytes) | bytes appended, contiguous or as an extra segment, are an error |
//! | [`Random`](Rule::Random) | random strings and encodings with bytes overwritten, removed or inserted never panic |
//! | [`Oversized`](Rule::Oversized) | a tight [`Limits::max_alloc`] refuses or decodes the same value, never another; a value needing more heap than the budget is refused |
//! | [`TooDeep`](Rule::TooDeep) | a value nesting deeper than [`Limits::max_depth`] is refused, without exhausting the stack |
//! | [`ViewMismatch`](Rule::ViewMismatch) | a view equals the owned decode of the same bytes, and accepts and refuses what it does |
//! | [`Panic`](Rule::Panic) | encoding never panics |
//!
//! Every decode runs under [`catch_unwind`](std::panic::catch_unwind): a
//! panic is reported as a violation of the rule whose input caused it (the
//! default panic hook still prints it). The mutations are drawn from a
//! small deterministic generator ([`Rng`]), seeded per value from the
//! suite's seed and the encoding, so a run repeats exactly.
//!
//! # Checking your codec
//!
//! A user codec needs no more than its `Encode`/`Decode` impls and a few
//! lines per type:
//!
//! ```
//! use bytes::BufMut;
//! use prism_codecs::conformance::{Rule, Suite};
//! use prism_codecs::{
//!     Capabilities, Codec, CodecId, Decode, DecodeError, Encode, EncodeBuf, EncodeError, Limits,
//!     Payload,
//! };
//!
//! /// A temperature in hundredths of a degree.
//! #[derive(Debug, PartialEq)]
//! struct Celsius(i16);
//!
//! /// A codec that carries it as two little-endian bytes.
//! #[derive(Debug)]
//! struct Fixed16;
//!
//! impl Codec for Fixed16 {
//!     const ID: CodecId = CodecId::new(CodecId::USER_RANGE_START + 7);
//!     const NAME: &'static str = "fixed16";
//!     const CAPABILITIES: Capabilities = Capabilities::NONE;
//! }
//!
//! impl Encode<Fixed16> for Celsius {
//!     fn encode(&self, out: &mut EncodeBuf, _: &Limits) -> Result<(), EncodeError> {
//!         out.tail().put_i16_le(self.0);
//!         Ok(())
//!     }
//! }
//!
//! impl Decode<Fixed16> for Celsius {
//!     fn decode(payload: &Payload, _: &Limits) -> Result<Self, DecodeError> {
//!         match payload[..] {
//!             [lo, hi] => Ok(Celsius(i16::from_le_bytes([lo, hi]))),
//!             _ => Err(DecodeError::Codec {
//!                 codec: "fixed16",
//!                 message: format!("expected 2 bytes, got {}", payload.len()),
//!             }),
//!         }
//!     }
//! }
//!
//! let suite = Suite::<Fixed16>::new();
//! for hundredths in [i16::MIN, -4000, 0, 2150, i16::MAX] {
//!     suite.check_value(&Celsius(hundredths)).assert_ok();
//! }
//!
//! // A sloppy decoder that ignores what follows the two bytes breaks a
//! // rule, and the report says which rule, which value and which input.
//! #[derive(Debug)]
//! struct Sloppy;
//! # impl Codec for Sloppy {
//! #     const ID: CodecId = CodecId::new(CodecId::USER_RANGE_START + 8);
//! #     const NAME: &'static str = "sloppy";
//! #     const CAPABILITIES: Capabilities = Capabilities::NONE;
//! # }
//! # impl Encode<Sloppy> for Celsius {
//! #     fn encode(&self, out: &mut EncodeBuf, _: &Limits) -> Result<(), EncodeError> {
//! #         out.tail().put_i16_le(self.0);
//! #         Ok(())
//! #     }
//! # }
//! impl Decode<Sloppy> for Celsius {
//!     fn decode(payload: &Payload, _: &Limits) -> Result<Self, DecodeError> {
//!         match payload[..] {
//!             [lo, hi, ..] => Ok(Celsius(i16::from_le_bytes([lo, hi]))),
//!             _ => Err(DecodeError::UnexpectedEof { at: payload.len(), type_path: "Celsius" }),
//!         }
//!     }
//! }
//!
//! let report = Suite::<Sloppy>::new().check_value(&Celsius(2150));
//! let broken: Vec<Rule> = report.violations().iter().map(|v| v.rule).collect();
//! assert_eq!(broken, [Rule::TrailingBytes]);
//! let message = report.violations()[0].to_string();
//! assert!(message.starts_with(
//!     "sloppy: rule `trailing-bytes` (an encoding with bytes appended is an error) broken by `"
//! ));
//! assert!(message.ends_with(
//!     "value Celsius(2150): the encoding followed by [a5] decoded to Celsius(2150) instead of failing"
//! ));
//! ```
//!
//! A codec that carries the [`corpus`] types (any codec for which every
//! type that derives `Facet` and rkyv's traits implements `Encode` and
//! `Decode`) runs all of it in one line:
//!
//! ```no_run
//! use prism_codecs::conformance::Suite;
//! use prism_codecs::{Postcard, Rkyv};
//!
//! Suite::<Postcard>::new().run_corpus().assert_ok();
//! Suite::<Rkyv>::new().cases(32).run_corpus().assert_ok();
//! ```
//!
//! # Opting out, with a reason
//!
//! A codec that cannot keep a rule by design says so with
//! [`Suite::waive`] (the rule is skipped),
//! [`Suite::trailing_bytes_undetectable`] (appended bytes are then checked
//! for panics only) or [`Suite::optional_padding`] (an encoding cut short
//! by its zero padding only may still decode, to the same value); a bug
//! waiting for a fix is declared with [`Suite::known_failure`] for one
//! type. The reasons are printed in the
//! report, and [`Suite::run_corpus`] fails if a known failure stops
//! happening, so the declaration is removed with the fix.
//!
//! # What no suite can catch
//!
//! A decoder that overflows the stack or asks the allocator for more than
//! it can give aborts the process: the suite cannot turn that into a
//! report (the test run fails, with the input unnamed). Allocations are not
//! measured: [`Rule::Oversized`] uses values whose decoded form needs more
//! heap than the budget, whatever the codec, and demands an error.
//! Undefined behaviour is only visible under Miri or a sanitizer; running
//! the suite there (`cargo +nightly miri test`) extends every rule to it.

mod cases;
mod check;
pub mod corpus;
mod report;
mod rng;
#[cfg(test)]
mod tests;

use core::any::type_name;
use core::fmt;
use core::marker::PhantomData;

use crate::{Codec, Limits};

#[doc(inline)]
pub use corpus::CarriesCorpus;
#[doc(inline)]
pub use report::{Report, Rule, Violation, Waiver};
#[doc(inline)]
pub use rng::Rng;

/// A conformance suite for codec `C`: configuration plus the checks.
///
/// The defaults suit a test in debug builds: [`Limits::default`], 8
/// generated values per corpus type, 64 random mutations of each kind per
/// value (fewer for encodings over 16 KiB), and a fixed seed.
///
/// # Examples
///
/// ```
/// use prism_codecs::conformance::Suite;
/// use prism_codecs::{Limits, Postcard};
///
/// let suite = Suite::<Postcard>::new()
///     .limits(Limits::default().with_max_depth(32))
///     .mutations(16)
///     .seed(42);
/// suite.check_value(&Some(String::from("héllo"))).assert_ok();
/// ```
pub struct Suite<C: Codec> {
    limits: Limits,
    cases: usize,
    mutations: usize,
    seed: u64,
    trailing_undetectable: Option<&'static str>,
    optional_padding: Option<(usize, &'static str)>,
    waivers: Vec<Waiver>,
    known: Vec<Waiver>,
    _codec: PhantomData<fn() -> C>,
}

impl<C: Codec> Suite<C> {
    /// The default seed: any fixed number would do.
    pub const DEFAULT_SEED: u64 = 0x5EED_C0DE_C0DE_C0DE;

    /// A suite with the default settings.
    pub fn new() -> Self {
        Suite {
            limits: Limits::default(),
            cases: 8,
            mutations: 64,
            seed: Self::DEFAULT_SEED,
            trailing_undetectable: None,
            optional_padding: None,
            waivers: Vec::new(),
            known: Vec::new(),
            _codec: PhantomData,
        }
    }

    /// The limits values are encoded and decoded under.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// How many generated values [`Suite::run_corpus`] checks per corpus
    /// type, on top of the fixed ones.
    pub fn cases(mut self, cases: usize) -> Self {
        self.cases = cases;
        self
    }

    /// How many random mutations of each kind (bit flips, truncation
    /// lengths, random strings, mangled encodings) each value gets.
    pub fn mutations(mut self, mutations: usize) -> Self {
        self.mutations = mutations;
        self
    }

    /// The seed of every random choice.
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Declares that the format cannot tell a message from one with bytes
    /// appended (it records no length and has no end marker), so
    /// [`Rule::TrailingBytes`] checks only that such input never panics.
    pub fn trailing_bytes_undetectable(mut self, reason: &'static str) -> Self {
        self.trailing_undetectable = Some(reason);
        self
    }

    /// Declares that the codec ends some encodings with up to `max` zero
    /// bytes of alignment padding that its decoder does not need, so
    /// [`Rule::Truncated`] lets a prefix that cuts off only such zeros
    /// decode to the very same value (anything else must still fail).
    pub fn optional_padding(mut self, max: usize, reason: &'static str) -> Self {
        self.optional_padding = Some((max, reason));
        self
    }

    /// Skips `rule` for every value, because the codec cannot keep it by
    /// design. The reason is printed in every report.
    ///
    /// # Examples
    ///
    /// ```
    /// use prism_codecs::Postcard;
    /// use prism_codecs::conformance::{Rule, Suite};
    ///
    /// let suite = Suite::<Postcard>::new().waive(Rule::Random, "fuzzed separately");
    /// let report = suite.check_value(&1u8);
    /// assert!(report.to_string().contains("waived `random`: fuzzed separately"));
    /// ```
    pub fn waive(mut self, rule: Rule, reason: &'static str) -> Self {
        self.waivers.push(Waiver {
            rule,
            type_name: None,
            partly: false,
            reason,
        });
        self
    }

    /// Declares a known bug: violations of `rule` by values of type `T` are
    /// reported as known failures instead of failing the run.
    /// [`Suite::run_corpus`] reports a violation if a declared known
    /// failure of a corpus type no longer happens.
    pub fn known_failure<T: ?Sized>(mut self, rule: Rule, reason: &'static str) -> Self {
        self.known.push(Waiver {
            rule,
            type_name: Some(type_name::<T>()),
            partly: false,
            reason,
        });
        self
    }

    fn waived(&self, rule: Rule) -> bool {
        self.waivers.iter().any(|w| w.rule == rule)
    }

    fn known_reason(&self, rule: Rule, type_name: &str) -> Option<&'static str> {
        self.known
            .iter()
            .find(|k| k.rule == rule && k.type_name == Some(type_name))
            .map(|k| k.reason)
    }

    /// The waivers a report lists.
    fn waivers(&self) -> Vec<Waiver> {
        let mut waivers = self.waivers.clone();
        if let Some(reason) = self.trailing_undetectable {
            waivers.push(Waiver {
                rule: Rule::TrailingBytes,
                type_name: None,
                partly: true,
                reason,
            });
        }
        if let Some((_, reason)) = self.optional_padding {
            waivers.push(Waiver {
                rule: Rule::Truncated,
                type_name: None,
                partly: true,
                reason,
            });
        }
        waivers
    }
}

impl<C: Codec> Default for Suite<C> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Codec> Clone for Suite<C> {
    fn clone(&self) -> Self {
        Suite {
            limits: self.limits,
            cases: self.cases,
            mutations: self.mutations,
            seed: self.seed,
            trailing_undetectable: self.trailing_undetectable,
            optional_padding: self.optional_padding,
            waivers: self.waivers.clone(),
            known: self.known.clone(),
            _codec: PhantomData,
        }
    }
}

impl<C: Codec> fmt::Debug for Suite<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Suite")
            .field("codec", &C::NAME)
            .field("limits", &self.limits)
            .field("cases", &self.cases)
            .field("mutations", &self.mutations)
            .field("seed", &self.seed)
            .field("trailing_undetectable", &self.trailing_undetectable)
            .field("optional_padding", &self.optional_padding)
            .field("waivers", &self.waivers)
            .field("known", &self.known)
            .finish()
    }
}
