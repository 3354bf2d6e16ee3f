//! FNV-1a 64: the small, `const`-evaluable hash behind op ids and fingerprints.
//!
//! FNV-1a is not collision resistant against an adversary; Prism uses it for
//! names and schemas chosen by the service author, and turns every collision it
//! can see (two ops with one id in a server) into a registration error.

/// The FNV-1a 64 offset basis.
const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
/// The FNV-1a 64 prime.
const PRIME: u64 = 0x0000_0100_0000_01b3;

/// Hashes `bytes` with FNV-1a 64.
///
/// # Examples
///
/// ```
/// use prism_reflect::fnv1a_64;
///
/// const EMPTY: u64 = fnv1a_64(b"");
/// assert_eq!(EMPTY, 0xcbf2_9ce4_8422_2325);
/// assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
/// ```
pub const fn fnv1a_64(bytes: &[u8]) -> u64 {
    Fnv1a64::new().write(bytes).finish()
}

/// An incremental FNV-1a 64 hasher usable in `const` code.
///
/// Feeding several slices in turn gives the same hash as feeding their
/// concatenation once.
///
/// # Examples
///
/// ```
/// use prism_reflect::{Fnv1a64, fnv1a_64};
///
/// const H: u64 = Fnv1a64::new().write(b"demo.").write(b"Calc").finish();
/// assert_eq!(H, fnv1a_64(b"demo.Calc"));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fnv1a64 {
    state: u64,
}

impl Fnv1a64 {
    /// A hasher that has seen no bytes yet.
    pub const fn new() -> Self {
        Fnv1a64 {
            state: OFFSET_BASIS,
        }
    }

    /// Feeds `bytes` into the hash.
    #[must_use]
    pub const fn write(mut self, bytes: &[u8]) -> Self {
        let mut i = 0;
        while i < bytes.len() {
            self.state ^= bytes[i] as u64;
            self.state = self.state.wrapping_mul(PRIME);
            i += 1;
        }
        self
    }

    /// The hash of every byte fed so far.
    pub const fn finish(self) -> u64 {
        self.state
    }
}

impl Default for Fnv1a64 {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn published_test_vectors() {
        // From the FNV reference test suite (draft-eastlake-fnv).
        assert_eq!(fnv1a_64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a_64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a_64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn incremental_equals_one_shot() {
        let h = Fnv1a64::new()
            .write(b"foo")
            .write(b"")
            .write(b"bar")
            .finish();
        assert_eq!(h, fnv1a_64(b"foobar"));
    }
}
