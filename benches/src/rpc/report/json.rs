//! The results file. Its schema is documented in `benches/README.md`.

use serde::Serialize;

use super::Report;
use crate::rpc::Result;
use crate::rpc::machine::Machine;

/// The file's schema id; bump it when a field changes meaning.
pub(super) const SCHEMA: &str = "prism-rpc-bench/1";

#[derive(Serialize)]
struct File<'a> {
    schema: &'static str,
    date: &'a str,
    machine: &'a Machine,
    mode: &'static str,
    command: &'a str,
    prism_commit: &'a str,
    elapsed_s: f64,
    rounds: usize,
    load_before: &'a str,
    load_after: &'a str,
    cpus: Cpus,
    notes: &'a [String],
    results: Vec<Record<'a>>,
}

#[derive(Serialize)]
struct Cpus {
    shared: usize,
    other: usize,
}

#[derive(Serialize)]
struct Record<'a> {
    system: &'static str,
    transport: &'static str,
    codec: &'static str,
    scenario: &'static str,
    placement: &'static str,
    server_cpu: usize,
    client_cpu: usize,
    median: f64,
    p99: f64,
    min: f64,
    max: f64,
    unit: &'static str,
    samples: usize,
    date: &'a str,
    machine: &'a Machine,
}

/// The results as pretty JSON.
pub(super) fn render(report: &Report<'_>) -> Result<String> {
    let results = report
        .outcome
        .summaries
        .iter()
        .map(|(&(id, metric, placement), s)| {
            let (server_cpu, client_cpu) = report.cpus.of(placement);
            Record {
                system: id.system,
                transport: id.transport,
                codec: id.codec,
                scenario: metric.name,
                placement: placement.name(),
                server_cpu,
                client_cpu,
                median: s.median,
                p99: s.p99,
                min: s.min,
                max: s.max,
                unit: metric.unit,
                samples: s.samples,
                date: report.date,
                machine: report.machine,
            }
        })
        .collect();
    let file = File {
        schema: SCHEMA,
        date: report.date,
        machine: report.machine,
        mode: report.plan.mode,
        command: report.command,
        prism_commit: report.commit,
        elapsed_s: report.outcome.elapsed.as_secs_f64(),
        rounds: report.plan.rounds,
        load_before: report.load[0],
        load_after: report.load[1],
        cpus: Cpus {
            shared: report.cpus.shared,
            other: report.cpus.other,
        },
        notes: &report.outcome.notes,
        results,
    };
    Ok(serde_json::to_string_pretty(&file)?)
}
