//! Hash maps keyed by integers on the per-call path: channel ids, tickets
//! and op ids. The default SipHash protects against collision attacks on
//! keys an attacker chooses; these keys are ids we assign (channel ids,
//! tickets) or a fixed table (op ids), so a multiplicative hash is enough
//! and costs a multiply instead of a SipHash round.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`IntHasher`].
pub type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

/// Fibonacci hashing for integer keys: spreads sequential ids over the
/// whole word, so the top bits the table probes with differ.
#[derive(Debug, Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.write_u64(u64::from(n));
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0 ^ n).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }

    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequential_ids_spread_over_the_top_bits() {
        let top = |n: u64| {
            let mut h = IntHasher::default();
            h.write_u64(n);
            h.finish() >> 57
        };
        let distinct: std::collections::HashSet<u64> = (0..64).map(|n| top(n * 2 + 1)).collect();
        assert!(
            distinct.len() > 32,
            "only {} distinct top bits",
            distinct.len()
        );
    }
}
