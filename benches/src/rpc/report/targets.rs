//! Issue 4's targets, checked against a run. Reported, never asserted.

use super::Report;
use crate::rpc::run::short;
use crate::rpc::{Metric, Placement, SystemId};

/// What a target asks of a ratio `prism / other` of medians.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Goal {
    AtMost(f64),
    AtLeast(f64),
    /// Strictly below 1.
    Below,
}

/// One target's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The target, in words.
    pub target: String,
    /// Where it was measured.
    pub placement: Placement,
    /// The measured ratio and both medians, in words.
    pub measured: String,
    /// Whether it was met; `None` when a figure is missing.
    pub met: Option<bool>,
    /// By how much it was met or missed.
    pub gap: String,
}

struct Spec {
    target: &'static str,
    prism: (&'static str, &'static str, Option<&'static str>),
    other: (&'static str, &'static str),
    metric: Metric,
    goal: Goal,
    placements: &'static [Placement],
}

const ALL: &[Placement] = &Placement::ALL;
const SAME: &[Placement] = &[Placement::SameCpu];

const SPECS: &[Spec] = &[
    Spec {
        target: "unary RTT <= 1.25x raw TCP echo",
        prism: ("prism", "tcp", None),
        other: ("raw", "tcp"),
        metric: Metric::UNARY,
        goal: Goal::AtMost(1.25),
        placements: ALL,
    },
    Spec {
        target: "calls/s at 32 in flight >= 3x tarpc",
        prism: ("prism", "tcp", None),
        other: ("tarpc", "tcp"),
        metric: Metric::IN_FLIGHT,
        goal: Goal::AtLeast(3.0),
        placements: ALL,
    },
    Spec {
        target: "calls/s at 32 in flight >= 10x tonic",
        prism: ("prism", "tcp", None),
        other: ("tonic", "tcp"),
        metric: Metric::IN_FLIGHT,
        goal: Goal::AtLeast(10.0),
        placements: ALL,
    },
    Spec {
        target: "in-memory RTT <= 2x mpsc + oneshot",
        prism: ("prism", "mem", None),
        other: ("tokio", "in-process"),
        metric: Metric::UNARY,
        goal: Goal::AtMost(2.0),
        placements: ALL,
    },
    Spec {
        target: "64 MiB echo >= 80% of raw TCP GB/s",
        prism: ("prism", "tcp", None),
        other: ("raw", "tcp"),
        metric: Metric::ECHO_64MIB,
        goal: Goal::AtLeast(0.8),
        placements: ALL,
    },
    Spec {
        target: "64 MiB echo >= 80% of raw TCP GB/s, segments codec (context)",
        prism: ("prism", "tcp", Some("segments")),
        other: ("raw", "tcp"),
        metric: Metric::ECHO_64MIB,
        goal: Goal::AtLeast(0.8),
        placements: ALL,
    },
    Spec {
        target: "fewer allocations per call than tarpc",
        prism: ("prism", "tcp", None),
        other: ("tarpc", "tcp"),
        metric: Metric::ALLOCS,
        goal: Goal::Below,
        placements: SAME,
    },
];

/// Every target at every placement it applies to. The issue states the
/// RTT targets for both ends on one CPU (`same-thread` and `same-cpu`);
/// the cross-CPU rows are context.
pub fn verdicts(report: &Report<'_>) -> Vec<Verdict> {
    let mut out = Vec::new();
    for spec in SPECS {
        for &placement in spec.placements {
            let prism = report.find(spec.prism.0, spec.prism.1, spec.prism.2);
            let other = report.find(spec.other.0, spec.other.1, None);
            out.push(verdict(report, spec, prism, other, placement));
        }
    }
    out
}

fn verdict(
    report: &Report<'_>,
    spec: &Spec,
    prism: Option<SystemId>,
    other: Option<SystemId>,
    placement: Placement,
) -> Verdict {
    let figures = prism.zip(other).and_then(|(p, o)| {
        let a = report.get(p, spec.metric, placement)?.median;
        let b = report.get(o, spec.metric, placement)?.median;
        Some((p, o, a, b))
    });
    let Some((p, o, a, b)) = figures else {
        return Verdict {
            target: spec.target.into(),
            placement,
            measured: "not measured".into(),
            met: None,
            gap: "-".into(),
        };
    };
    let r = a / b;
    let unit = spec.metric.unit;
    let measured = format!(
        "{r:.2}x ({p} {} {unit} / {o} {} {unit})",
        short(a),
        short(b)
    );
    let (met, gap) = match spec.goal {
        Goal::AtMost(limit) if r <= limit => (
            true,
            format!("{} under the limit", percent(1.0 - r / limit)),
        ),
        Goal::AtMost(limit) => (
            false,
            format!(
                "{} over; needs {} less",
                percent(r / limit - 1.0),
                percent(1.0 - limit / r)
            ),
        ),
        Goal::AtLeast(limit) if r >= limit => {
            (true, format!("{} above the bar", percent(r / limit - 1.0)))
        }
        Goal::AtLeast(limit) => (
            false,
            format!(
                "reaches {} of it; needs {:.2}x more",
                percent(r / limit),
                limit / r
            ),
        ),
        Goal::Below if r < 1.0 => (true, format!("{:.1} fewer per call", b - a)),
        Goal::Below => (false, format!("{:.1} more per call", a - b)),
    };
    Verdict {
        target: spec.target.into(),
        placement,
        measured,
        met: Some(met),
        gap,
    }
}

/// A fraction as a percentage, with a decimal below 10%.
fn percent(fraction: f64) -> String {
    let p = fraction * 100.0;
    if p.abs() < 10.0 {
        format!("{p:.1}%")
    } else {
        format!("{p:.0}%")
    }
}
