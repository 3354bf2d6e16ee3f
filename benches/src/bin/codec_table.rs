//! Prints a Markdown table of the `codec` benchmark's medians and ratios,
//! read from criterion's `<target>/criterion/**/new/{benchmark,estimates}.json`.
//!
//! Usage: `cargo run --release --bin codec_table [CRITERION_DIR]`; the
//! directory defaults to `../target/criterion` next to this package.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Columns, in order: (criterion function id, heading).
const COLUMNS: &[(&str, &str)] = &[
    ("prism", "prism"),
    ("prism_to_vec", "prism to_vec"),
    ("facet_postcard", "facet-postcard"),
    ("serde_postcard", "serde postcard"),
    ("serde_postcard_alloc", "serde to_allocvec"),
];

#[derive(Deserialize)]
struct Benchmark {
    group_id: String,
    function_id: Option<String>,
}

#[derive(Deserialize)]
struct Estimates {
    median: Estimate,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
}

/// Median nanoseconds by group id, then function id.
type Medians = BTreeMap<String, BTreeMap<String, f64>>;

fn collect(dir: &Path, out: &mut Medians) -> std::io::Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if !path.is_dir() {
            continue;
        }
        if path.file_name().is_some_and(|n| n == "new") {
            let read = |name: &str| fs::read_to_string(path.join(name));
            let (Ok(bench), Ok(est)) = (read("benchmark.json"), read("estimates.json")) else {
                continue;
            };
            let (Ok(bench), Ok(est)) = (
                serde_json::from_str::<Benchmark>(&bench),
                serde_json::from_str::<Estimates>(&est),
            ) else {
                eprintln!("skipping unreadable results in {}", path.display());
                continue;
            };
            if let Some(function) = bench.function_id {
                out.entry(bench.group_id)
                    .or_default()
                    .insert(function, est.median.point_estimate);
            }
        } else {
            collect(&path, out)?;
        }
    }
    Ok(())
}

fn time(ns: f64) -> String {
    match ns {
        ns if ns < 1e3 => format!("{ns:.0} ns"),
        ns if ns < 1e6 => format!("{:.2} µs", ns / 1e3),
        ns => format!("{:.2} ms", ns / 1e6),
    }
}

fn ratio(a: Option<&f64>, b: Option<&f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if *b > 0.0 => format!("{:.2}×", a / b),
        _ => String::from("–"),
    }
}

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"));
    let mut medians = Medians::new();
    if let Err(e) = collect(&dir, &mut medians) {
        eprintln!("cannot read {}: {e}", dir.display());
        std::process::exit(1);
    }
    medians.retain(|group, _| group.starts_with("encode/") || group.starts_with("decode/"));
    if medians.is_empty() {
        eprintln!(
            "no codec results under {}: run `cargo bench --bench codec` first",
            dir.display()
        );
        std::process::exit(1);
    }

    let headings: Vec<&str> = COLUMNS.iter().map(|(_, h)| *h).collect();
    println!(
        "| benchmark | {} | prism / serde | facet / prism |",
        headings.join(" | ")
    );
    println!("|---|{}---:|---:|", "---:|".repeat(COLUMNS.len()));
    for (group, functions) in &medians {
        let cells: Vec<String> = COLUMNS
            .iter()
            .map(|(id, _)| {
                functions
                    .get(*id)
                    .map_or_else(|| String::from("–"), |ns| time(*ns))
            })
            .collect();
        println!(
            "| {group} | {} | {} | {} |",
            cells.join(" | "),
            ratio(functions.get("prism"), functions.get("serde_postcard")),
            ratio(functions.get("facet_postcard"), functions.get("prism")),
        );
    }
}
