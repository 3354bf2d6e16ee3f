//! Hash maps keyed by integers on the per-call path: channel ids, tickets
//! and op ids. A multiplicative hash costs a multiply where SipHash costs
//! rounds. The peer picks its own channel ids, so the hash must not let
//! chosen keys pile into one bucket: the product's high bits, which depend
//! on every bit of the key, are rotated down to where the table picks the
//! bucket. (The session also caps the open channels, `max_channels`.)

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` with [`IntHasher`].
pub type IntMap<K, V> = HashMap<K, V, BuildHasherDefault<IntHasher>>;

/// Fibonacci hashing for integer keys: a multiply spreads each key over the
/// high bits, and [`finish`](Hasher::finish) rotates them down, so both the
/// low bits (which pick the bucket) and the top bits (which the table
/// probes with) depend on the whole key.
#[derive(Debug, Default, Clone, Copy)]
pub struct IntHasher(u64);

impl Hasher for IntHasher {
    fn finish(&self) -> u64 {
        self.0.rotate_left(26)
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

    #[test]
    fn keys_alike_in_their_low_bits_still_spread_over_buckets() {
        // Ids a peer could pick to share their low 20 bits: the bucket
        // (the hash's low bits, here 10 of them) must still differ.
        let bucket = |n: u64| {
            let mut h = IntHasher::default();
            h.write_u64(n);
            h.finish() & 1023
        };
        let distinct: std::collections::HashSet<u64> =
            (0..1024).map(|n| bucket(1 + (n << 20))).collect();
        assert!(
            distinct.len() > 512,
            "only {} distinct buckets",
            distinct.len()
        );
    }
}
