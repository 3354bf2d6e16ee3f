//! The schedule of a harness run: rounds, interleaved and rotated.
//!
//! Every round runs every scenario for every system and placement once;
//! the order of systems and of placements rotates by one each round,
//! so slow drifts of a shared machine (another build starting, a noisy
//! neighbour) land on every system alike instead of on whichever ran last.
//! Allocation counts and idle connections do not depend on placement: they
//! run in the first `fixed_rounds` rounds only, first in their round.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use super::pin::{Cpus, Ends};
use super::plan::Plan;
use super::stats::{Summary, summarize};
use super::systems::Entry;
use super::{Metric, Placement, Scenario, SystemId};

/// One run of one system.
#[derive(Clone, Copy, Debug)]
struct Job {
    round: usize,
    placement: Placement,
    scenario: Scenario,
    system: usize,
}

/// What a harness run measured.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Summaries by system, metric and placement.
    pub summaries: BTreeMap<(SystemId, Metric, Placement), Summary>,
    /// Failures and findings worth reporting.
    pub notes: Vec<String>,
    /// How long the run took.
    pub elapsed: Duration,
}

/// The jobs of a run, in order.
fn schedule(plan: &Plan, systems: &[Box<dyn Entry>], placements: &[Placement]) -> Vec<Job> {
    let mut jobs = Vec::new();
    let mut add = |round: usize, placement: Placement, scenario: Scenario| {
        if !plan.runs(scenario) {
            return;
        }
        let mut order: Vec<usize> = (0..systems.len())
            .filter(|&i| systems[i].supports(scenario))
            .collect();
        if !order.is_empty() {
            let shift = round % order.len();
            order.rotate_left(shift);
        }
        jobs.extend(order.into_iter().map(|system| Job {
            round,
            placement,
            scenario,
            system,
        }));
    };
    for round in 0..plan.rounds {
        if round < plan.fixed_rounds {
            add(round, Placement::SameCpu, Scenario::Memory);
            add(round, Placement::SameCpu, Scenario::Allocs);
        }
        let mut order = placements.to_vec();
        order.rotate_left(round % placements.len().max(1));
        for placement in order {
            for scenario in plan.scenarios() {
                add(round, placement, scenario);
            }
        }
    }
    jobs
}

/// A rough guess of a job's seconds, for the up-front estimate.
fn guess(job: &Job, plan: &Plan) -> f64 {
    let warm = plan.warmup.as_secs_f64();
    0.03 + match job.scenario {
        Scenario::Unary => warm + plan.unary.as_secs_f64(),
        Scenario::InFlight => warm + plan.window.as_secs_f64() * plan.windows as f64,
        Scenario::Echo(len) => (plan.echoes_of(len) + 1) as f64 * len as f64 / 0.4e9,
        Scenario::Allocs => plan.alloc_calls as f64 * 1.25 * 30e-6,
        Scenario::Memory => plan.connections as f64 * 0.6e-3 + 0.15,
    }
}

/// Runs every job, printing progress to stderr.
pub fn run(
    plan: &Plan,
    systems: &[Box<dyn Entry>],
    cpus: Cpus,
    placements: &[Placement],
) -> Outcome {
    let jobs = schedule(plan, systems, placements);
    let expected: f64 = jobs.iter().map(|job| guess(job, plan)).sum();
    eprintln!(
        "{} mode: {} runs in {} rounds, expected about {}",
        plan.mode,
        jobs.len(),
        plan.rounds,
        clock(expected)
    );
    let start = Instant::now();
    let mut samples: BTreeMap<(SystemId, Metric, Placement), Vec<f64>> = BTreeMap::new();
    let mut outcome = Outcome::default();
    for (done, job) in jobs.iter().enumerate() {
        let entry = &systems[job.system];
        let result =
            Ends::start(cpus, job.placement).and_then(|ends| entry.run(job.scenario, &ends, plan));
        let elapsed = start.elapsed().as_secs_f64();
        let eta = elapsed / (done + 1) as f64 * (jobs.len() - done - 1) as f64;
        let head = format!(
            "[{:>6} {:>3}/{} r{}/{} {:<9}] {:<16} {:<24}",
            clock(elapsed),
            done + 1,
            jobs.len(),
            job.round + 1,
            plan.rounds,
            job.placement.name(),
            job.scenario.name(),
            entry.id().to_string(),
        );
        match result {
            Ok(measured) => {
                let mut line = head;
                for (metric, values) in measured {
                    if metric == Metric::ALIGN_COPIES && !entry.id().is_prism() {
                        continue;
                    }
                    if let Some(first) = median(&values) {
                        line.push_str(&format!(" {} {}", short(first), metric.unit));
                    }
                    samples
                        .entry((entry.id(), metric, job.placement))
                        .or_default()
                        .extend(values);
                }
                eprintln!("{line}  (eta {})", clock(eta));
            }
            Err(e) => {
                eprintln!("{head} FAILED: {e}");
                outcome.notes.push(format!(
                    "{} {} ({}) failed in round {}: {e}",
                    entry.id(),
                    job.scenario.name(),
                    job.placement.name(),
                    job.round + 1
                ));
            }
        }
        let _ = std::io::stderr().flush();
    }
    outcome.elapsed = start.elapsed();
    for ((id, metric, placement), mut values) in samples {
        if let Some(summary) = summarize(&mut values, metric.higher_is_better) {
            outcome.summaries.insert((id, metric, placement), summary);
        }
    }
    outcome
}

fn median(values: &[f64]) -> Option<f64> {
    let mut sorted = values.to_vec();
    summarize(&mut sorted, false).map(|s| s.median)
}

/// Seconds as `1m05s` or `42.0s`.
pub fn clock(secs: f64) -> String {
    if secs >= 60.0 {
        format!("{}m{:02}s", (secs / 60.0) as u64, secs as u64 % 60)
    } else {
        format!("{secs:.1}s")
    }
}

/// A number in at most four significant digits, with k/M for large ones.
pub fn short(v: f64) -> String {
    let a = v.abs();
    if a >= 1e6 {
        format!("{:.3}M", v / 1e6)
    } else if a >= 1e4 {
        format!("{:.1}k", v / 1e3)
    } else if a >= 100.0 {
        format!("{v:.0}")
    } else if a >= 10.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.2}")
    }
}
