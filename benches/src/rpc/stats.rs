//! Median, tail and range of a set of samples.

use serde::Serialize;

/// What a set of samples comes to.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Summary {
    /// The median.
    pub median: f64,
    /// The slow tail: the 99th percentile for times and counts, the 1st
    /// percentile for rates (where higher is better).
    pub p99: f64,
    /// The smallest sample.
    pub min: f64,
    /// The largest sample.
    pub max: f64,
    /// How many samples there were.
    pub samples: usize,
}

/// Summarises `samples` (sorted in place); `None` when there are none.
///
/// Percentiles are nearest-rank.
pub fn summarize(samples: &mut [f64], higher_is_better: bool) -> Option<Summary> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let tail = if higher_is_better { 0.01 } else { 0.99 };
    Some(Summary {
        median: percentile(samples, 0.5),
        p99: percentile(samples, tail),
        min: samples[0],
        max: samples[samples.len() - 1],
        samples: samples.len(),
    })
}

/// The nearest-rank percentile `q` (0..=1) of sorted samples.
fn percentile(sorted: &[f64], q: f64) -> f64 {
    let rank = (q * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        let s = summarize(&mut v, false).unwrap();
        assert_eq!((s.median, s.p99, s.min, s.max), (50.0, 99.0, 1.0, 100.0));
        let s = summarize(&mut v, true).unwrap();
        assert_eq!(s.p99, 1.0);
        assert!(summarize(&mut [], false).is_none());
    }
}
