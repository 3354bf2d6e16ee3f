//! Prints a Markdown table of the `codec` benchmark's medians and ratios,
//! read from criterion's `<target>/criterion/**/new/{benchmark,estimates}.json`,
//! followed by the codec targets of issue 5, each met or not met.
//!
//! Rows are codec × operation × message; columns are the message size, the
//! median time, the ratio to serde `postcard` and, for Prism's postcard, the
//! ratio to `facet-postcard` (a ratio is this row's median over the
//! reference's: below 1 is faster).
//!
//! Usage: `cargo run --release --bin codec_table [CRITERION_DIR]`; the
//! directory defaults to `../target/criterion` next to this package.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use prism_benches::rpc::machine::Machine;
use serde::Deserialize;

/// Messages, in table order.
const MESSAGES: &[(&str, &str)] = &[
    ("struct_1k", "10 fields, 1 KiB body"),
    ("list_10k", "10,000 points"),
];

/// Operations, in table order.
const OPS: &[&str] = &["encode", "decode", "view"];

/// One table row: a criterion function id in the `<op>/<message>` group.
struct Row {
    /// Criterion function id.
    id: &'static str,
    /// What the table calls it.
    label: &'static str,
    /// The serde postcard function of the same group to compare with
    /// (`None`: the serde decode of the same message, for views).
    serde: Option<&'static str>,
    /// Compare with `facet-postcard` too.
    facet: bool,
}

const fn row(id: &'static str, label: &'static str, serde: &'static str) -> Row {
    Row {
        id,
        label,
        serde: Some(serde),
        facet: false,
    }
}

/// A view row: compared with serde postcard's decode of the same message.
const fn view(id: &'static str, label: &'static str) -> Row {
    Row {
        id,
        label,
        serde: None,
        facet: false,
    }
}

const ENCODE: &[Row] = &[
    Row {
        facet: true,
        ..row(
            "postcard",
            "postcard (Prism), reused buffer",
            "serde_postcard",
        )
    },
    Row {
        facet: true,
        ..row(
            "postcard_to_vec",
            "postcard (Prism), `to_vec`",
            "serde_postcard_alloc",
        )
    },
    row(
        "facet_postcard",
        "facet-postcard, `to_vec`",
        "serde_postcard_alloc",
    ),
    row(
        "serde_postcard",
        "serde postcard, `to_slice`",
        "serde_postcard",
    ),
    row(
        "serde_postcard_alloc",
        "serde postcard, `to_allocvec`",
        "serde_postcard_alloc",
    ),
    row("rkyv", "rkyv (Prism)", "serde_postcard"),
    row(
        "rkyv_reused",
        "rkyv `to_bytes_in`, reused buffer",
        "serde_postcard",
    ),
    row("flatbuffers", "FlatBuffers (Prism)", "serde_postcard"),
    row(
        "segments",
        "segments (Prism), `Segmented` as held",
        "serde_postcard",
    ),
    row(
        "segments_pack",
        "segments (Prism), packed from the value",
        "serde_postcard",
    ),
];

const DECODE: &[Row] = &[
    Row {
        facet: true,
        ..row("postcard", "postcard (Prism)", "serde_postcard")
    },
    row("facet_postcard", "facet-postcard", "serde_postcard"),
    row("serde_postcard", "serde postcard", "serde_postcard"),
    row("rkyv", "rkyv (Prism), validated", "serde_postcard"),
    row(
        "flatbuffers",
        "FlatBuffers (Prism), verified",
        "serde_postcard",
    ),
    row(
        "segments",
        "segments (Prism), to `Segmented`",
        "serde_postcard",
    ),
    row(
        "segments_unpack",
        "segments (Prism), unpacked to the value",
        "serde_postcard",
    ),
];

const VIEW: &[Row] = &[
    view("rkyv", "rkyv `Archived<T>`: validate + 1 field"),
    view(
        "rkyv_access",
        "rkyv, borrowed `prism_codecs::rkyv::access` (no payload handle)",
    ),
    view(
        "rkyv_crate_access",
        "rkyv's own `rkyv::access` on the bare archive",
    ),
    view("flatbuffers", "FlatBuffers `FlatView`: verify + 1 field"),
    view("segments", "segments: = decode (segments are zero-copy)"),
];

/// Issue 5's target for Prism's postcard: at most this many times serde's.
const POSTCARD_TARGET: f64 = 1.5;
/// Issue 5's target for an rkyv view of the 1 KiB message, in nanoseconds.
const RKYV_VIEW_TARGET_NS: f64 = 60.0;

#[derive(Deserialize)]
struct Benchmark {
    group_id: String,
    function_id: Option<String>,
    throughput: Option<Throughput>,
}

#[derive(Deserialize)]
struct Throughput {
    #[serde(rename = "Bytes")]
    bytes: Option<u64>,
}

#[derive(Deserialize)]
struct Estimates {
    median: Estimate,
}

#[derive(Deserialize)]
struct Estimate {
    point_estimate: f64,
}

/// One result: median nanoseconds and the message size.
#[derive(Clone, Copy)]
struct Result {
    ns: f64,
    bytes: Option<u64>,
}

/// Results by group id, then function id.
type Results = BTreeMap<String, BTreeMap<String, Result>>;

fn collect(dir: &Path, out: &mut Results) -> std::io::Result<()> {
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
                out.entry(bench.group_id).or_default().insert(
                    function,
                    Result {
                        ns: est.median.point_estimate,
                        bytes: bench.throughput.and_then(|t| t.bytes),
                    },
                );
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

fn size(bytes: Option<u64>) -> String {
    bytes.map_or_else(|| String::from("–"), |b| format!("{b} B"))
}

fn ratio(a: f64, b: Option<f64>) -> String {
    match b {
        Some(b) if b > 0.0 && a / b < 0.01 => format!("{:.4}×", a / b),
        Some(b) if b > 0.0 => format!("{:.2}×", a / b),
        _ => String::from("–"),
    }
}

fn rows(op: &str) -> &'static [Row] {
    match op {
        "encode" => ENCODE,
        "decode" => DECODE,
        _ => VIEW,
    }
}

fn median(results: &Results, op: &str, message: &str, id: &str) -> Option<f64> {
    results
        .get(&format!("{op}/{message}"))
        .and_then(|g| g.get(id))
        .map(|r| r.ns)
}

fn main() {
    let dir = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/criterion"));
    let mut results = Results::new();
    if let Err(e) = collect(&dir, &mut results) {
        eprintln!("cannot read {}: {e}", dir.display());
        std::process::exit(1);
    }
    results.retain(|group, _| OPS.iter().any(|op| group.starts_with(&format!("{op}/"))));
    if results.is_empty() {
        eprintln!(
            "no codec results under {}: run `cargo bench --bench codec` first",
            dir.display()
        );
        std::process::exit(1);
    }

    println!("| message | op | codec | bytes | median | vs serde postcard | vs facet-postcard |");
    println!("|---|---|---|---:|---:|---:|---:|");
    for (message, _) in MESSAGES {
        for op in OPS {
            for row in rows(op) {
                let Some(result) = results
                    .get(&format!("{op}/{message}"))
                    .and_then(|g| g.get(row.id))
                else {
                    continue;
                };
                let serde = match row.serde {
                    Some(id) => median(&results, op, message, id),
                    None => median(&results, "decode", message, "serde_postcard"),
                };
                let facet = if row.facet {
                    ratio(result.ns, median(&results, op, message, "facet_postcard"))
                } else {
                    String::from("")
                };
                println!(
                    "| `{message}` | {op} | {} | {} | {} | {} | {facet} |",
                    row.label,
                    size(result.bytes),
                    time(result.ns),
                    ratio(result.ns, serde),
                );
            }
        }
    }
    println!();
    let messages: Vec<String> = MESSAGES
        .iter()
        .map(|(m, about)| format!("`{m}`: {about}"))
        .collect();
    println!(
        "{}. Ratios are this row's median over the reference's (below 1× is faster). \
         Encode rows that allocate their output (`to_vec`, `to_allocvec`) are compared \
         with serde's `to_allocvec`, the others with serde's `to_slice` into a reused \
         buffer; view rows are compared with serde's decode. Machine: {}.",
        messages.join("; "),
        machine()
    );

    println!();
    println!("Targets (issue 5):");
    println!();
    let mut all_postcard = Vec::new();
    for (message, _) in MESSAGES {
        for op in ["encode", "decode"] {
            let ours = median(&results, op, message, "postcard");
            let serde = median(&results, op, message, "serde_postcard");
            let (verdict, figure) = match (ours, serde) {
                (Some(a), Some(b)) if b > 0.0 => {
                    let r = a / b;
                    all_postcard.push(r <= POSTCARD_TARGET);
                    (met(r <= POSTCARD_TARGET), format!("{r:.2}×"))
                }
                _ => {
                    all_postcard.push(false);
                    ("not measured", String::from("–"))
                }
            };
            println!("- postcard {op} `{message}`: {figure} of serde postcard: {verdict}");
        }
    }
    println!(
        "- (a) our postcard plan within {POSTCARD_TARGET}× of serde postcard \
         (encode and decode, both messages): **{}**",
        met(all_postcard.iter().all(|ok| *ok))
    );
    let view = median(&results, "view", "struct_1k", "rkyv");
    let access = median(&results, "view", "struct_1k", "rkyv_access");
    println!(
        "- (b) rkyv validated view (`Archived<T>`) under {RKYV_VIEW_TARGET_NS:.0} ns for the \
         1 KiB message: {}: **{}** (validation alone, borrowed: {}, {})",
        view.map_or_else(|| String::from("–"), time),
        view.map_or("not measured", |ns| met(ns < RKYV_VIEW_TARGET_NS)),
        access.map_or_else(|| String::from("–"), time),
        access.map_or("not measured", |ns| met(ns < RKYV_VIEW_TARGET_NS)),
    );
}

/// The machine: CPU model, CPUs online, and how many this process may use
/// (fewer under `taskset`), kernel.
fn machine() -> String {
    let m = Machine::this();
    let online = fs::read_to_string("/proc/cpuinfo")
        .map(|c| c.lines().filter(|l| l.starts_with("processor")).count())
        .unwrap_or(0);
    format!(
        "{}, {online} CPUs online ({} usable by this process), Linux {}",
        m.cpu, m.nproc, m.kernel
    )
}

fn met(ok: bool) -> &'static str {
    if ok { "met" } else { "not met" }
}
