//! What a conformance run finds: the rules, one [`Violation`] per broken
//! rule and value, and the [`Report`] that collects them.

use core::fmt;

/// A rule every codec must keep. Each names one property of
/// [`Encode`](crate::Encode) / [`Decode`](crate::Decode) /
/// [`View`](crate::View) implementations; a [`Violation`] says which.
///
/// A decode that panics breaks the rule its input was made for (a panic on
/// a truncated input is a [`Rule::Truncated`] violation, with the panic
/// message in the detail). [`Rule::Panic`] is for panics outside any
/// decode: the encoder, or the view comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Rule {
    /// Decoding a value's encoding gives back an equal value; encoding does
    /// not fail. Values that a mutated input decoded to round-trip too.
    RoundTrip,
    /// Encoding the same value twice gives the same bytes.
    Deterministic,
    /// The encoding decodes the same when it arrives in several segments:
    /// the encoder's own (as the in-memory transport hands them over) or
    /// split anywhere.
    Segmented,
    /// The encoding decodes the same when its bytes sit at an odd address:
    /// copied into an aligned [`Payload`](crate::Payload) by
    /// [`Payload::new`](crate::Payload::new), or as segments after the
    /// first, which a payload never aligns. Never undefined behaviour.
    Misaligned,
    /// Every strict prefix of an encoding is an error, never a panic.
    Truncated,
    /// An encoding with one bit flipped decodes to some value or fails,
    /// never panics.
    BitFlip,
    /// An encoding with bytes appended is an error (or, for a codec that
    /// declares it cannot tell, at least not a panic).
    TrailingBytes,
    /// Random bytes, and encodings with random bytes overwritten, inserted
    /// or removed, never make the decoder panic.
    Random,
    /// [`Limits::max_alloc`](crate::Limits::max_alloc) holds: a value that
    /// needs more heap than the budget is refused, and a tight budget never
    /// changes what an accepted input decodes to.
    Oversized,
    /// [`Limits::max_depth`](crate::Limits::max_depth) holds: a value
    /// nesting deeper than the limit is refused, without exhausting the stack.
    TooDeep,
    /// A zero-copy view of an encoding equals the owned decode of the same
    /// bytes, and views accept and refuse what owned decodes do.
    ViewMismatch,
    /// Encoding (or comparing a view) panicked.
    Panic,
}

impl Rule {
    /// Every rule, in the order a value is checked.
    pub const ALL: &'static [Rule] = &[
        Rule::Panic,
        Rule::RoundTrip,
        Rule::Deterministic,
        Rule::Segmented,
        Rule::Misaligned,
        Rule::Truncated,
        Rule::BitFlip,
        Rule::TrailingBytes,
        Rule::Random,
        Rule::Oversized,
        Rule::TooDeep,
        Rule::ViewMismatch,
    ];

    /// A short kebab-case name, as messages show it.
    pub const fn name(self) -> &'static str {
        match self {
            Rule::RoundTrip => "round-trip",
            Rule::Deterministic => "deterministic",
            Rule::Segmented => "segmented",
            Rule::Misaligned => "misaligned",
            Rule::Truncated => "truncated",
            Rule::BitFlip => "bit-flip",
            Rule::TrailingBytes => "trailing-bytes",
            Rule::Random => "random",
            Rule::Oversized => "oversized",
            Rule::TooDeep => "too-deep",
            Rule::ViewMismatch => "view-mismatch",
            Rule::Panic => "panic",
        }
    }

    /// What the rule demands, in one line.
    pub const fn statement(self) -> &'static str {
        match self {
            Rule::RoundTrip => "decoding an encoding gives back the value",
            Rule::Deterministic => "encoding a value twice gives the same bytes",
            Rule::Segmented => "an encoding decodes the same in any segmentation",
            Rule::Misaligned => "an encoding decodes the same from an odd address",
            Rule::Truncated => "a truncated encoding is an error, never a panic",
            Rule::BitFlip => "a bit-flipped encoding never panics",
            Rule::TrailingBytes => "an encoding with bytes appended is an error",
            Rule::Random => "random input never panics",
            Rule::Oversized => "decoding never allocates past Limits::max_alloc",
            Rule::TooDeep => "decoding never nests past Limits::max_depth",
            Rule::ViewMismatch => "a view equals the owned decode",
            Rule::Panic => "encoding never panics",
        }
    }
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One broken rule: which codec, rule, type and value, and what happened.
///
/// `Display` gives the whole story on one line, for example:
///
/// ```text
/// postcard: rule `truncated` (a truncated encoding is an error, never a panic)
/// broken by `alloc::string::String` value "héllo": the first 3 of 7 bytes
/// decoded to "hé" instead of failing
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Violation {
    /// The rule broken.
    pub rule: Rule,
    /// The codec that broke it ([`Codec::NAME`](crate::Codec::NAME)).
    pub codec: &'static str,
    /// The Rust type of the value.
    pub type_name: &'static str,
    /// The value, as `Debug` prints it, cut to about 200 characters.
    pub value: String,
    /// What the codec did: the input it was given and what came out.
    pub detail: String,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: rule `{}` ({}) broken by `{}` value {}: {}",
            self.codec,
            self.rule,
            self.rule.statement(),
            self.type_name,
            self.value,
            self.detail
        )
    }
}

impl std::error::Error for Violation {}

/// A rule a suite does not check, and why (see
/// [`Suite::waive`](super::Suite::waive) and
/// [`Suite::known_failure`](super::Suite::known_failure)).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Waiver {
    /// The rule.
    pub rule: Rule,
    /// The one type it is waived for, or `None` for every type.
    pub type_name: Option<&'static str>,
    /// Whether the rule is still checked, in a weaker form (as with
    /// [`Suite::trailing_bytes_undetectable`](super::Suite::trailing_bytes_undetectable)).
    pub partly: bool,
    /// Why, as the codec's author wrote it.
    pub reason: &'static str,
}

impl fmt::Display for Waiver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let partly = if self.partly { " in part" } else { "" };
        match self.type_name {
            Some(ty) => write!(f, "`{}`{partly} for `{ty}`: {}", self.rule, self.reason),
            None => write!(f, "`{}`{partly}: {}", self.rule, self.reason),
        }
    }
}

/// How many violations `Display` lists before summarising the rest.
const SHOWN: usize = 50;

/// The outcome of a conformance run: counts, violations, and the rules that
/// were waived or failed as known.
///
/// # Examples
///
/// ```
/// use prism_codecs::Postcard;
/// use prism_codecs::conformance::Suite;
///
/// let report = Suite::<Postcard>::new().check_value(&String::from("héllo"));
/// assert!(report.is_ok(), "{report}");
/// assert!(report.inputs_checked() > 50);
/// report.assert_ok();
/// ```
#[derive(Debug, Clone, Default)]
pub struct Report {
    pub(super) codec: &'static str,
    pub(super) values: usize,
    pub(super) inputs: usize,
    pub(super) violations: Vec<Violation>,
    pub(super) known: Vec<(Violation, &'static str)>,
    pub(super) waived: Vec<Waiver>,
}

impl Report {
    pub(super) fn new(codec: &'static str) -> Report {
        Report {
            codec,
            ..Report::default()
        }
    }

    /// No rule was broken (known failures and waived rules aside).
    pub fn is_ok(&self) -> bool {
        self.violations.is_empty()
    }

    /// The rules broken, at most one per rule and value.
    pub fn violations(&self) -> &[Violation] {
        &self.violations
    }

    /// Violations that a [`Suite::known_failure`](super::Suite::known_failure)
    /// declared, with its reason: reported, but not failures.
    pub fn known_failures(&self) -> impl Iterator<Item = (&Violation, &'static str)> {
        self.known.iter().map(|(v, reason)| (v, *reason))
    }

    /// The rules this run did not check, or checked only in part.
    pub fn waivers(&self) -> &[Waiver] {
        &self.waived
    }

    /// How many values were checked.
    pub fn values_checked(&self) -> usize {
        self.values
    }

    /// How many inputs were decoded (or viewed) in all.
    pub fn inputs_checked(&self) -> usize {
        self.inputs
    }

    /// Adds another report's findings to this one.
    pub fn merge(&mut self, other: Report) {
        if self.codec.is_empty() {
            self.codec = other.codec;
        }
        self.values += other.values;
        self.inputs += other.inputs;
        self.violations.extend(other.violations);
        self.known.extend(other.known);
        for waiver in other.waived {
            if !self.waived.contains(&waiver) {
                self.waived.push(waiver);
            }
        }
    }

    /// Panics, listing every violation, unless the run broke no rule.
    ///
    /// # Panics
    ///
    /// When [`Report::is_ok`] is false.
    #[track_caller]
    pub fn assert_ok(&self) {
        if !self.is_ok() {
            panic!("{self}");
        }
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let codec = if self.codec.is_empty() {
            "?"
        } else {
            self.codec
        };
        write!(
            f,
            "codec `{codec}`: {} values, {} inputs, {} violations",
            self.values,
            self.inputs,
            self.violations.len()
        )?;
        if !self.known.is_empty() {
            write!(f, ", {} known failures", self.known.len())?;
        }
        for (i, violation) in self.violations.iter().enumerate() {
            if i == SHOWN {
                write!(f, "\n  … and {} more", self.violations.len() - SHOWN)?;
                break;
            }
            write!(f, "\n  - {violation}")?;
        }
        for (violation, reason) in self.known.iter().take(SHOWN) {
            write!(f, "\n  known ({reason}): {violation}")?;
        }
        for waiver in &self.waived {
            write!(f, "\n  waived {waiver}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Report {}

/// `Debug` of a value, cut to about `max` characters without formatting
/// the rest (a 1 MiB vector is not printed to be thrown away).
pub(super) fn describe<T: fmt::Debug + ?Sized>(value: &T, max: usize) -> String {
    struct Capped {
        out: String,
        max: usize,
        cut: bool,
    }
    impl fmt::Write for Capped {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            let room = self.max.saturating_sub(self.out.len());
            if s.len() <= room {
                self.out.push_str(s);
                return Ok(());
            }
            let mut end = room;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            self.out.push_str(&s[..end]);
            self.cut = true;
            Err(fmt::Error)
        }
    }
    let mut capped = Capped {
        out: String::new(),
        max,
        cut: false,
    };
    // An error here only means the output was cut short.
    let _ = fmt::write(&mut capped, format_args!("{value:?}"));
    if capped.cut {
        capped.out.push('…');
    }
    capped.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_without_formatting_everything() {
        let big = vec![7u8; 1 << 20];
        let text = describe(&big, 20);
        assert!(text.starts_with("[7, 7, 7"));
        assert!(text.ends_with('…'));
        assert!(text.len() <= 24);
        assert_eq!(describe("héllo", 200), "\"héllo\"");
        // Cutting never splits a character.
        assert_eq!(describe("ééééé", 4), "\"é…");
    }

    #[test]
    fn display_names_the_codec_rule_type_and_value() {
        let violation = Violation {
            rule: Rule::Truncated,
            codec: "demo",
            type_name: "u32",
            value: "7".into(),
            detail: "the first 0 of 1 bytes decoded to 0 instead of failing".into(),
        };
        let text = violation.to_string();
        assert!(text.starts_with("demo: rule `truncated` ("), "{text}");
        assert!(
            text.contains("broken by `u32` value 7: the first 0"),
            "{text}"
        );
        let mut report = Report::new("demo");
        report.violations.push(violation);
        assert!(!report.is_ok());
        assert!(report.to_string().contains("1 violations\n  - demo: rule"));
    }
}
