//! [`Gaps`]: the peer's channel ids still on their way, on a link whose
//! channel opens may arrive out of order (QUIC, a stream per channel).
//!
//! The ids are kept as runs (an open that skips ids adds one run; an id
//! that arrives from the middle of a run splits it), so an open costs the
//! same however many ids it skips. At most a given number of ids are
//! remembered: past it the oldest are forgotten first, however far below
//! the highest the rest lie (a call whose packet was lost may arrive after
//! thousands of later calls came and went).

use std::collections::BTreeMap;

/// The peer's expected ids: runs of ids of its parity.
#[derive(Debug, Default)]
pub(crate) struct Gaps {
    /// Each run's first id, and the id after its last (ids step by 2).
    runs: BTreeMap<u32, u32>,
    /// Ids in all runs.
    expected: usize,
}

impl Gaps {
    /// The peer opened an id above every one before it, skipping the ids
    /// from `first` up to `end` (not included): they are expected now. Of
    /// all expected ids, the latest `cap` are remembered.
    pub(crate) fn skip(&mut self, first: u32, end: u32, cap: usize) {
        if first < end {
            // Above every run: ids only increase.
            self.runs.insert(first, end);
            self.expected += ids(first, end);
        }
        while self.expected > cap {
            let Some((start, end)) = self.runs.pop_first() else {
                break;
            };
            let len = ids(start, end);
            let excess = self.expected - cap;
            if len <= excess {
                self.expected -= len;
            } else {
                // The oldest `excess` ids of this run go; the rest stay.
                let kept = u32::try_from(excess).map_or(end, |n| start.saturating_add(2 * n));
                self.runs.insert(kept, end);
                self.expected -= excess;
            }
        }
    }

    /// An id below the peer's highest arrived: true when it was expected
    /// (it is not any more), false when it arrived before or was
    /// forgotten.
    pub(crate) fn arrive(&mut self, id: u32) -> bool {
        let Some((&start, &end)) = self.runs.range(..=id).next_back() else {
            return false;
        };
        if id >= end || !(id - start).is_multiple_of(2) {
            return false;
        }
        self.runs.remove(&start);
        if start < id {
            self.runs.insert(start, id);
        }
        if let Some(next) = id.checked_add(2).filter(|&next| next < end) {
            self.runs.insert(next, end);
        }
        self.expected -= 1;
        true
    }

    /// Whether any id is expected.
    pub(crate) fn is_empty(&self) -> bool {
        self.expected == 0
    }
}

/// Ids of one parity from `start` up to `end` (not included).
fn ids(start: u32, end: u32) -> usize {
    (end.saturating_sub(start)).div_ceil(2) as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipped_ids_are_expected_once_each() {
        let mut gaps = Gaps::default();
        assert!(gaps.is_empty());
        gaps.skip(1, 7, 64);
        assert!(!gaps.is_empty());
        assert!(gaps.arrive(3), "from the middle of a run");
        assert!(!gaps.arrive(3), "arrived already");
        assert!(!gaps.arrive(7), "the highest was never expected");
        assert!(!gaps.arrive(4), "another parity");
        assert!(gaps.arrive(1) && gaps.arrive(5));
        assert!(gaps.is_empty());
        assert!(gaps.runs.is_empty());
    }

    #[test]
    fn past_the_cap_the_oldest_are_forgotten_however_far_below_the_rest_lie() {
        let mut gaps = Gaps::default();
        gaps.skip(1, 3, 4);
        // Thousands of later ids come in order: 1 stays expected.
        for id in (5..100_000).step_by(2) {
            gaps.skip(id, id, 4);
        }
        assert!(gaps.arrive(1), "a late call far below the highest");
        // Five more expected than the cap of four: the oldest goes.
        gaps.skip(100_001, 100_011, 4);
        assert!(!gaps.arrive(100_001));
        for id in [100_003, 100_005, 100_007, 100_009] {
            assert!(gaps.arrive(id), "{id}");
        }
        assert!(gaps.is_empty());
    }

    #[test]
    fn a_far_jump_is_one_run_and_trims_whole_runs_first() {
        let mut gaps = Gaps::default();
        let cap = 4096;
        let mut next = 1;
        for _ in 0..1_000 {
            let id = next + 2 * cap as u32;
            gaps.skip(next, id, cap);
            next = id + 2;
        }
        // Only the last jump's ids are remembered, in one run.
        assert_eq!(gaps.runs.len(), 1);
        assert_eq!(gaps.expected, cap);
        // The last id of the run before it.
        assert!(!gaps.arrive(next - 2 - 2 * cap as u32 - 4), "forgotten");
        assert!(gaps.arrive(next - 4));
        assert_eq!(gaps.runs.len(), 1, "the run's last id went");
        assert!(gaps.arrive(next - 2 - 2 * cap as u32));
        assert_eq!(gaps.expected, cap - 2);
    }
}
