//! What a run leaves behind: `rpc.json`, `rpc.md` and `rpc.svg`.

mod chart;
mod json;
mod table;
mod targets;

use std::path::{Path, PathBuf};

use super::machine::Machine;
use super::pin::Cpus;
use super::plan::Plan;
use super::run::Outcome;
use super::stats::Summary;
use super::{Metric, Placement, Result, SystemId};

pub use targets::{Verdict, verdicts};

/// A finished run and its context.
#[derive(Debug)]
pub struct Report<'a> {
    /// What was measured.
    pub outcome: &'a Outcome,
    /// The budgets it ran with.
    pub plan: &'a Plan,
    /// Where it ran.
    pub machine: &'a Machine,
    /// When it started (UTC).
    pub date: &'a str,
    /// The CPUs the ends were pinned to.
    pub cpus: Cpus,
    /// The command line that ran it.
    pub command: &'a str,
    /// Every system, in report order.
    pub systems: &'a [SystemId],
    /// Load averages before and after the run.
    pub load: [&'a str; 2],
    /// The Prism commit measured.
    pub commit: &'a str,
}

impl Report<'_> {
    /// The summary of one figure, if it was measured.
    pub fn get(&self, id: SystemId, metric: Metric, placement: Placement) -> Option<&Summary> {
        self.outcome.summaries.get(&(id, metric, placement))
    }

    /// The first system named `system` over `transport` (with `codec`, if
    /// given). Prism's default codec is listed first, so it is the one found
    /// without a codec.
    pub fn find(&self, system: &str, transport: &str, codec: Option<&str>) -> Option<SystemId> {
        self.systems.iter().copied().find(|id| {
            id.system == system && id.transport == transport && codec.is_none_or(|c| id.codec == c)
        })
    }

    /// The Markdown tables (also what `rpc.md` holds).
    pub fn markdown(&self) -> String {
        table::markdown(self)
    }

    /// Writes `rpc.json`, `rpc.md` and `rpc.svg` into `dir`.
    ///
    /// # Errors
    ///
    /// Fails when a file cannot be written or the chart cannot be drawn.
    pub fn write(&self, dir: &Path) -> Result<Vec<PathBuf>> {
        std::fs::create_dir_all(dir)?;
        let json = dir.join("rpc.json");
        std::fs::write(&json, json::render(self)?)?;
        let md = dir.join("rpc.md");
        std::fs::write(&md, self.markdown())?;
        let svg = dir.join("rpc.svg");
        chart::draw(self, &svg)?;
        Ok(vec![json, md, svg])
    }
}
