//! Prism side by side with raw sockets, tokio channels, tarpc and tonic.
//!
//! ```text
//! cd benches && cargo run --release --bin rpc -- [--quick] [--out DIR]
//!     [--cpus SHARED,OTHER] [--only TEXT] [--scenario KEYS] [--rounds N]
//! ```
//!
//! `--only` keeps the systems whose name contains TEXT (`prism/tcp`);
//! `--scenario` keeps scenarios by key, comma-separated: `unary`,
//! `in-flight`, `echo-1MiB`, `echo-64MiB`, `allocs`, `memory`.
//!
//! `--quick` takes under three minutes; the full run prints its expected
//! duration first. Results go to `DIR` (default `results/`): `rpc.json`,
//! `rpc.md` and `rpc.svg`. See `benches/README.md` for the schema.

use std::path::PathBuf;
use std::process::ExitCode;

use prism_benches::rpc::alloc::Counting;
use prism_benches::rpc::machine::{Machine, load_average, now_utc, prism_commit};
use prism_benches::rpc::pin::Cpus;
use prism_benches::rpc::plan::Plan;
use prism_benches::rpc::report::Report;
use prism_benches::rpc::{Placement, Result, run, systems};

#[global_allocator]
static ALLOCATOR: Counting = Counting;

struct Args {
    quick: bool,
    out: PathBuf,
    cpus: Option<Cpus>,
    only: Option<String>,
    rounds: Option<usize>,
    scenarios: Vec<String>,
}

fn parse() -> Result<Args> {
    let mut args = Args {
        quick: false,
        out: PathBuf::from("results"),
        cpus: None,
        only: None,
        rounds: None,
        scenarios: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{arg} needs a value"));
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--out" => args.out = value()?.into(),
            "--only" => args.only = Some(value()?),
            "--scenario" => args
                .scenarios
                .extend(value()?.split(',').map(str::to_owned)),
            "--rounds" => args.rounds = Some(value()?.parse()?),
            "--cpus" => {
                let v = value()?;
                let (a, b) = v.split_once(',').ok_or("--cpus takes SHARED,OTHER")?;
                args.cpus = Some(Cpus {
                    shared: a.parse()?,
                    other: b.parse()?,
                });
            }
            "-h" | "--help" => {
                println!(
                    "usage: rpc [--quick] [--out DIR] [--cpus SHARED,OTHER] [--only TEXT] \
                     [--scenario unary,in-flight,echo-1MiB,echo-64MiB,allocs,memory] [--rounds N]"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)").into()),
        }
    }
    Ok(args)
}

fn main() -> ExitCode {
    match try_main() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn try_main() -> Result<()> {
    let args = parse()?;
    let mut plan = if args.quick {
        Plan::quick()
    } else {
        Plan::full()
    };
    plan.only = args.scenarios.clone();
    if let Some(rounds) = args.rounds {
        plan.rounds = rounds;
        plan.fixed_rounds = plan.fixed_rounds.min(rounds);
    }
    let available = Cpus::available();
    let cpus = args.cpus.unwrap_or(Cpus {
        shared: available.first().copied().unwrap_or(0),
        other: available.get(1).copied().unwrap_or(0),
    });
    let placements: Vec<Placement> = if cpus.shared == cpus.other {
        eprintln!("one CPU only: the cross-CPU placement is skipped");
        vec![Placement::SameThread, Placement::SameCpu]
    } else {
        Placement::ALL.to_vec()
    };
    let mut systems = systems::all();
    if let Some(only) = &args.only {
        systems.retain(|s| s.id().to_string().contains(only.as_str()));
    }
    let machine = Machine::this();
    let date = now_utc();
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let load_before = load_average();
    let commit = prism_commit();
    eprintln!(
        "{date}: Prism {commit} on {}; load average {load_before}",
        machine.summary()
    );

    let outcome = run::run(&plan, &systems, cpus, &placements);
    eprintln!(
        "{} mode finished in {}",
        plan.mode,
        run::clock(outcome.elapsed.as_secs_f64())
    );

    let load_after = load_average();
    let ids: Vec<_> = systems.iter().map(|s| s.id()).collect();
    let report = Report {
        outcome: &outcome,
        plan: &plan,
        machine: &machine,
        date: &date,
        cpus,
        command: &command,
        systems: &ids,
        load: [&load_before, &load_after],
        commit: &commit,
    };
    println!("{}", report.markdown());
    for path in report.write(&args.out)? {
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
