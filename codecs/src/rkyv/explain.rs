//! Turning a failed validation into a message a person can act on.
//!
//! The fast path validates with `rancor::Error`, which in release builds
//! carries no message. Only after it fails is the archive validated again
//! with [`TracedError`], which keeps the root cause and the path to it.

use core::fmt::{self, Write as _};

use rkyv::rancor::{Source, Trace};

/// A [`rancor`](rkyv::rancor) error that keeps the root cause and every
/// trace (the fields and indices being checked, innermost first).
///
/// It is the error type of the second, explaining validation run after a
/// fast check failed; its `Display` reads like
/// `invalid UTF-8, while checking field 'name' of struct 'User'`.
/// Messages may hold raw addresses; [`access`](super::access) rewrites them
/// to offsets in the payload before they reach a
/// [`DecodeError`](crate::DecodeError).
///
/// # Examples
///
/// ```
/// use prism_codecs::rkyv::TracedError;
/// use rkyv::rancor::{Source, Trace};
///
/// let err = TracedError::new(std::fmt::Error).trace("while checking field 'x'");
/// assert_eq!(err.to_string(), "an error occurred when formatting an argument, while checking field 'x'");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TracedError {
    cause: String,
    trace: Vec<String>,
}

impl fmt::Display for TracedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.cause)?;
        for step in &self.trace {
            write!(f, ", {step}")?;
        }
        Ok(())
    }
}

impl std::error::Error for TracedError {}

impl Trace for TracedError {
    fn trace<R>(mut self, trace: R) -> Self
    where
        R: fmt::Debug + fmt::Display + Send + Sync + 'static,
    {
        self.trace.push(trace.to_string());
        self
    }
}

impl Source for TracedError {
    fn new<T: std::error::Error + Send + Sync + 'static>(source: T) -> Self {
        TracedError {
            cause: source.to_string(),
            trace: Vec::new(),
        }
    }
}

/// Rewrites the absolute addresses rkyv prints (`0x` and exactly one
/// `usize` worth of hex digits) as signed offsets from `base`, and folds
/// newlines: error messages may travel to a remote peer, and heap addresses
/// must not.
pub(super) fn rewrite_addresses(text: &str, base: usize) -> String {
    const DIGITS: usize = (usize::BITS / 4) as usize;
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("0x") {
        out.push_str(&rest[..at]);
        let digits = &rest[at + 2..];
        let run = digits.bytes().take_while(u8::is_ascii_hexdigit).count();
        match usize::from_str_radix(&digits[..run], 16) {
            Ok(address) if run == DIGITS => {
                // Offsets may be negative or past the end: they came from
                // the (untrusted) archive, and say nothing about `base`.
                let offset = address.wrapping_sub(base) as isize;
                let _ = write!(out, "byte {offset}");
            }
            _ => out.push_str(&rest[at..at + 2 + run]),
        }
        rest = &digits[run..];
    }
    out.push_str(rest);
    out.replace('\n', " ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn pointer_width_addresses_become_offsets() {
        let base = 0x7f00_1000usize;
        let text = format!(
            "ptr {:#018x} size 8 in range {:#018x}..{:#018x}",
            base + 40,
            base - 8,
            base + 32
        );
        assert_eq!(
            rewrite_addresses(&text, base),
            "ptr byte 40 size 8 in range byte -8..byte 32"
        );
    }

    #[test]
    fn other_hex_numbers_are_kept() {
        assert_eq!(
            rewrite_addresses("tag 0x1f and 0x and 0xzz\nnext", 0),
            "tag 0x1f and 0x and 0xzz next"
        );
    }

    #[test]
    fn traces_follow_the_cause_innermost_first() {
        let err = TracedError::new(fmt::Error)
            .trace("while checking field 'a' of struct 'Inner'")
            .trace("while checking field 'inner' of struct 'Outer'");
        assert_eq!(
            err.to_string(),
            "an error occurred when formatting an argument, \
             while checking field 'a' of struct 'Inner', \
             while checking field 'inner' of struct 'Outer'"
        );
    }
}
