//! [`Gaps`]: the peer's channel ids still on their way, on a link whose
//! channel opens may arrive out of order (QUIC, a stream per channel).
//!
//! A window of one bit per id, ending at the peer's highest id so far: an
//! open that skips ids marks them expected, an expected id that arrives
//! clears its bit, and ids that fall out of the window are forgotten. Each
//! open costs one bit per id it moves the window, however far apart the
//! peer spaces its ids; memory is fixed at the window's size.

/// Expected ids among the `window` ids of the peer's parity up to its
/// highest (that one included).
#[derive(Debug, Default)]
pub(crate) struct Gaps {
    /// One bit per id, at `index % window` (an id's index is `id / 2`:
    /// ids of one parity map to consecutive indices).
    bits: Vec<u64>,
    /// Ids the window spans; 0 before the first open.
    window: u64,
    /// The index of the peer's highest id.
    top: u64,
    /// Bits set.
    expected: usize,
}

impl Gaps {
    /// The peer opened `id`, above every id before it; `first` is the id
    /// it would have used next (the same parity, at most `id`). The ids
    /// from `first` up to `id` are on their way, and the latest `cap` of
    /// all expected ids are remembered: the window spans `cap` ids below
    /// `id`. A different `cap` than before starts an empty window.
    pub(crate) fn jump(&mut self, first: u32, id: u32, cap: usize) {
        let window = u64::try_from(cap).unwrap_or(u64::MAX).saturating_add(1);
        if window != self.window {
            let words = usize::try_from(window.div_ceil(64)).unwrap_or(usize::MAX);
            *self = Gaps {
                bits: vec![0; words],
                window,
                top: 0,
                expected: 0,
            };
        }
        let to = u64::from(id / 2);
        // Ids more than a window below `id` would be forgotten at once.
        let from = u64::from(first / 2).max(to.saturating_sub(window - 1));
        for index in from..=to {
            // The id a window below, which this bit stood for, is
            // forgotten: it falls out of the window.
            if self.replace(index, index != to) {
                self.expected -= 1;
            }
            if index != to {
                self.expected += 1;
            }
        }
        self.top = to;
    }

    /// An id below the highest arrived: true when it was expected (it is
    /// not any more), false when it arrived before or fell out of the
    /// window.
    pub(crate) fn arrive(&mut self, id: u32) -> bool {
        let index = u64::from(id / 2);
        if self.window == 0 || index >= self.top || self.top - index >= self.window {
            return false;
        }
        let was = self.replace(index, false);
        if was {
            self.expected -= 1;
        }
        was
    }

    /// Whether any id is expected.
    pub(crate) fn is_empty(&self) -> bool {
        self.expected == 0
    }

    /// Sets the bit of `index` to `expected`; returns what it was.
    fn replace(&mut self, index: u64, expected: bool) -> bool {
        let at = index % self.window;
        let (word, bit) = ((at / 64) as usize, 1u64 << (at % 64));
        let Some(word) = self.bits.get_mut(word) else {
            return false;
        };
        let was = *word & bit != 0;
        if expected {
            *word |= bit;
        } else {
            *word &= !bit;
        }
        was
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_ids_are_expected_once_each() {
        let mut gaps = Gaps::default();
        assert!(gaps.is_empty());
        gaps.jump(1, 7, 64);
        assert!(!gaps.is_empty());
        assert!(gaps.arrive(3));
        assert!(!gaps.arrive(3), "arrived already");
        assert!(!gaps.arrive(7), "the highest arrived with the jump");
        assert!(!gaps.arrive(9), "above the highest");
        assert!(gaps.arrive(1) && gaps.arrive(5));
        assert!(gaps.is_empty());
        // In-order opens leave nothing expected.
        for id in (9..1_000).step_by(2) {
            gaps.jump(id, id, 64);
        }
        assert!(gaps.is_empty());
    }

    #[test]
    fn the_window_keeps_the_latest_cap_ids() {
        let mut gaps = Gaps::default();
        // 3 ..= 3 + 2 * 63 are expected: exactly `cap` ids.
        gaps.jump(3, 3 + 2 * 64, 64);
        assert!(gaps.arrive(3), "the oldest still fits");
        gaps.jump(3 + 2 * 65, 3 + 2 * 66, 64);
        // 5 fell out as the window moved two ids; 7 is the oldest left.
        assert!(!gaps.arrive(5));
        assert!(gaps.arrive(7));
        for id in (9..3 + 2 * 64).step_by(2) {
            assert!(gaps.arrive(id), "{id}");
        }
        assert!(gaps.arrive(3 + 2 * 65));
        assert!(gaps.is_empty());
    }

    #[test]
    fn far_jumps_cost_a_bit_per_id_and_forget_the_oldest() {
        let mut gaps = Gaps::default();
        let cap = 4096;
        let mut id = 1;
        for _ in 0..1_000 {
            let next = id + 2 * (cap as u32 + 1);
            gaps.jump(id + 2, next, cap);
            id = next;
        }
        // Only the last jump's ids are remembered, all of them.
        assert!(!gaps.arrive(id - 2 * (cap as u32 + 1)));
        for back in 1..=cap as u32 {
            assert!(gaps.arrive(id - 2 * back), "{back}");
        }
        assert!(gaps.is_empty());
    }
}
