//! The Markdown tables: medians, ratios, targets.

use std::fmt::Write;

use super::{Report, verdicts};
use crate::rpc::run::short;
use crate::rpc::{Metric, Placement, SystemId};

const ONE: Placement = Placement::SameThread;
const SAME: Placement = Placement::SameCpu;
const CROSS: Placement = Placement::CrossCpu;

/// A column: heading, metric, placement, whether to add the p99.
type Column = (&'static str, Metric, Placement, bool);

const SMALL: &[Column] = &[
    ("RTT one thread, us (p99)", Metric::UNARY, ONE, true),
    ("RTT same CPU, us (p99)", Metric::UNARY, SAME, true),
    ("RTT cross CPU, us (p99)", Metric::UNARY, CROSS, true),
    (
        "32 in flight one thread, calls/s",
        Metric::IN_FLIGHT,
        ONE,
        false,
    ),
    (
        "32 in flight same CPU, calls/s",
        Metric::IN_FLIGHT,
        SAME,
        false,
    ),
    (
        "32 in flight cross CPU, calls/s",
        Metric::IN_FLIGHT,
        CROSS,
        false,
    ),
];

const LARGE: &[Column] = &[
    ("1 MiB one thread, GB/s", Metric::ECHO_1MIB, ONE, false),
    ("1 MiB same CPU, GB/s", Metric::ECHO_1MIB, SAME, false),
    ("1 MiB cross CPU, GB/s", Metric::ECHO_1MIB, CROSS, false),
    ("64 MiB one thread, GB/s", Metric::ECHO_64MIB, ONE, false),
    ("64 MiB same CPU, GB/s", Metric::ECHO_64MIB, SAME, false),
    ("64 MiB cross CPU, GB/s", Metric::ECHO_64MIB, CROSS, false),
];

const COSTS: &[Column] = &[
    ("allocs/call", Metric::ALLOCS, SAME, false),
    ("bytes allocated/call", Metric::ALLOC_BYTES, SAME, false),
    ("alignment copies/call", Metric::ALIGN_COPIES, SAME, false),
    ("RSS/idle conn, KiB", Metric::RSS, SAME, false),
    ("heap/idle conn, KiB", Metric::HEAP, SAME, false),
];

/// Every table, with a heading naming the date and machine.
pub(super) fn markdown(report: &Report<'_>) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Run {} of Prism {} ({} mode, {} rounds, {}) on {}. One thread = both ends on one \
         runtime thread on CPU {}; same CPU = two runtime threads, both on CPU {}; \
         cross CPU = server on CPU {}, client on CPU {}. Load average before / after: \
         {} / {}.\n",
        report.date,
        report.commit,
        report.plan.mode,
        report.plan.rounds,
        crate::rpc::run::clock(report.outcome.elapsed.as_secs_f64()),
        report.machine.summary(),
        report.cpus.shared,
        report.cpus.shared,
        report.cpus.other,
        report.cpus.shared,
        report.load[0],
        report.load[1],
    );
    let _ = writeln!(out, "**Small messages** (64 B each way; medians)\n");
    medians(&mut out, report, SMALL);
    let _ = writeln!(
        out,
        "\n**Large payloads** (echo: the request's bytes there and back over the time; medians)\n"
    );
    medians(&mut out, report, LARGE);
    let _ = writeln!(
        out,
        "\n**Costs per call and per idle connection** (both ends are in this process \
         and counted together; 1,000 connections)\n"
    );
    medians(&mut out, report, COSTS);
    let _ = writeln!(
        out,
        "\n**Ratios** (Prism's median / the other's; below 1 is better for RTT, \
         above 1 for calls/s and GB/s)\n"
    );
    ratios(&mut out, report);
    let _ = writeln!(out, "\n**Targets** (issue 4)\n");
    let _ = writeln!(out, "| target | placement | measured | met | gap |");
    let _ = writeln!(out, "|---|---|---|---|---|");
    for v in verdicts(report) {
        let met = match v.met {
            Some(true) => "met",
            Some(false) => "**not met**",
            None => "-",
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {met} | {} |",
            v.target,
            v.placement.name(),
            v.measured,
            v.gap
        );
    }
    if !report.outcome.notes.is_empty() {
        let _ = writeln!(out, "\n**Notes**\n");
        for note in &report.outcome.notes {
            let _ = writeln!(out, "- {note}");
        }
    }
    out
}

fn medians(out: &mut String, report: &Report<'_>, columns: &[Column]) {
    let _ = write!(out, "| system |");
    for (heading, ..) in columns {
        let _ = write!(out, " {heading} |");
    }
    let _ = write!(out, "\n|---|");
    for _ in columns {
        let _ = write!(out, "---:|");
    }
    let _ = writeln!(out);
    for &id in report.systems {
        let cells: Vec<String> = columns
            .iter()
            .map(
                |&(_, metric, placement, p99)| match report.get(id, metric, placement) {
                    Some(s) if p99 => format!("{} ({})", short(s.median), short(s.p99)),
                    Some(s) => short(s.median),
                    None => "-".into(),
                },
            )
            .collect();
        if cells.iter().all(|c| c == "-") {
            continue;
        }
        let _ = writeln!(out, "| {id} | {} |", cells.join(" | "));
    }
}

/// Prism against each floor and peer: one row per figure, one column per pair.
fn ratios(out: &mut String, report: &Report<'_>) {
    let pairs: Vec<(SystemId, SystemId)> = [
        (("prism", "tcp", None), ("raw", "tcp")),
        (("prism", "unix", None), ("raw", "unix")),
        (("prism", "mem", None), ("tokio", "in-process")),
        (("prism", "tcp", None), ("tarpc", "tcp")),
        (("prism", "tcp", None), ("tonic", "tcp")),
        (("prism", "tcp", Some("segments")), ("raw", "tcp")),
    ]
    .iter()
    .filter_map(|&(p, o)| Some((report.find(p.0, p.1, p.2)?, report.find(o.0, o.1, None)?)))
    .collect();
    let _ = write!(out, "| figure |");
    for (prism, other) in &pairs {
        let _ = write!(out, " {prism} / {other} |");
    }
    let _ = write!(out, "\n|---|");
    for _ in &pairs {
        let _ = write!(out, "---:|");
    }
    let _ = writeln!(out);
    for &(heading, metric, placement, _) in [SMALL, LARGE, &COSTS[..2]].concat().iter() {
        let cells: Vec<String> = pairs
            .iter()
            .map(|&(prism, other)| ratio(report, prism, other, metric, placement))
            .collect();
        if cells.iter().all(|c| c == "-") {
            continue;
        }
        let heading = heading.trim_end_matches(" (p99)");
        let _ = writeln!(out, "| {heading} | {} |", cells.join(" | "));
    }
}

fn ratio(
    report: &Report<'_>,
    prism: SystemId,
    other: SystemId,
    metric: Metric,
    placement: Placement,
) -> String {
    match (
        report.get(prism, metric, placement),
        report.get(other, metric, placement),
    ) {
        (Some(a), Some(b)) if b.median != 0.0 => format!("{:.2}", a.median / b.median),
        _ => "-".into(),
    }
}
