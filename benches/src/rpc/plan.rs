//! How long each scenario runs: the `--quick` and full budgets.

use std::time::Duration;

use super::Scenario;

/// Budgets of one harness run.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// `quick` or `full`.
    pub mode: &'static str,
    /// Rounds; each runs every system once per scenario and placement.
    pub rounds: usize,
    /// Rounds of the placement-free scenarios (allocations, idle connections).
    pub fixed_rounds: usize,
    /// Unwarmed time before measuring a small-message scenario.
    pub warmup: Duration,
    /// Time a unary run measures for, per round.
    pub unary: Duration,
    /// Most round trips a unary run records, per round.
    pub unary_max: usize,
    /// Length of one calls/s sample in the in-flight scenario.
    pub window: Duration,
    /// Samples per in-flight run, per round.
    pub windows: usize,
    /// Round trips per large-payload run, per round: (1 MiB, 64 MiB).
    pub echoes: (usize, usize),
    /// Unary calls counted per allocation run.
    pub alloc_calls: usize,
    /// Idle connections opened per footprint run.
    pub connections: usize,
    /// Which large payloads run.
    pub echo_sizes: Vec<usize>,
    /// When not empty, only the scenarios with these keys run (`--scenario`).
    pub only: Vec<String>,
}

impl Plan {
    /// Under three minutes on the 2-vCPU VMs.
    pub fn quick() -> Plan {
        Plan {
            mode: "quick",
            rounds: 3,
            fixed_rounds: 1,
            warmup: Duration::from_millis(40),
            unary: Duration::from_millis(150),
            unary_max: 50_000,
            window: Duration::from_millis(25),
            windows: 6,
            echoes: (8, 1),
            alloc_calls: 2_000,
            connections: 1_000,
            echo_sizes: vec![Scenario::MIB, 64 * Scenario::MIB],
            only: Vec::new(),
        }
    }

    /// The full run.
    pub fn full() -> Plan {
        Plan {
            mode: "full",
            rounds: 8,
            fixed_rounds: 3,
            warmup: Duration::from_millis(100),
            unary: Duration::from_millis(400),
            unary_max: 200_000,
            window: Duration::from_millis(40),
            windows: 10,
            echoes: (24, 2),
            alloc_calls: 10_000,
            connections: 1_000,
            echo_sizes: vec![Scenario::MIB, 64 * Scenario::MIB],
            only: Vec::new(),
        }
    }

    /// Round trips per large-payload run of `len` bytes.
    pub fn echoes_of(&self, len: usize) -> usize {
        if len >= 64 * Scenario::MIB {
            self.echoes.1
        } else {
            self.echoes.0
        }
    }

    /// Whether `scenario` runs at all.
    pub fn runs(&self, scenario: Scenario) -> bool {
        self.only.is_empty() || self.only.contains(&scenario.key())
    }

    /// The placed scenarios of every round, in order.
    pub fn scenarios(&self) -> Vec<Scenario> {
        let mut all = vec![Scenario::Unary, Scenario::InFlight];
        all.extend(self.echo_sizes.iter().map(|&len| Scenario::Echo(len)));
        all.retain(|&s| self.runs(s));
        all
    }
}
