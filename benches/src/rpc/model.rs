//! The vocabulary of a run: which system, which scenario, where it ran, and
//! what was measured.

use core::fmt;

use serde::Serialize;

/// One system under test: a framework (or floor) over a transport with a codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct SystemId {
    /// `prism`, `tarpc`, `tonic`, `raw` or `tokio`.
    pub system: &'static str,
    /// `mem`, `tcp`, `unix` or `in-process`.
    pub transport: &'static str,
    /// `postcard`, `bincode`, `grpc-bytes` or `none`.
    pub codec: &'static str,
}

impl SystemId {
    /// Whether this is one of Prism's entries.
    pub fn is_prism(&self) -> bool {
        self.system == "prism"
    }
}

impl fmt::Display for SystemId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.codec == "none" {
            write!(f, "{}/{}", self.system, self.transport)
        } else {
            write!(f, "{}/{}/{}", self.system, self.transport, self.codec)
        }
    }
}

/// Where the two ends ran.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Placement {
    /// Server and client on one runtime thread, pinned to one CPU: no
    /// thread switch at all, so the figure is the CPU work of a call.
    SameThread,
    /// Server and client runtime threads pinned to the same CPU.
    SameCpu,
    /// Server and client runtime threads pinned to different CPUs.
    CrossCpu,
}

impl Placement {
    /// Every placement, in report order.
    pub const ALL: [Placement; 3] = [
        Placement::SameThread,
        Placement::SameCpu,
        Placement::CrossCpu,
    ];

    /// The name used in results.
    pub fn name(self) -> &'static str {
        match self {
            Placement::SameThread => "same-thread",
            Placement::SameCpu => "same-cpu",
            Placement::CrossCpu => "cross-cpu",
        }
    }

    /// A short label for table headings.
    pub fn label(self) -> &'static str {
        match self {
            Placement::SameThread => "one thread",
            Placement::SameCpu => "same CPU",
            Placement::CrossCpu => "cross CPU",
        }
    }
}

/// One thing a run measures, with its unit.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Metric {
    /// The `scenario` field of a result.
    pub name: &'static str,
    /// The `unit` field of a result.
    pub unit: &'static str,
    /// Rates: the slow tail is the low one, so `p99` is the 1st percentile.
    pub higher_is_better: bool,
}

impl Metric {
    /// Sequential unary round trip, 64-byte payload each way.
    pub const UNARY: Metric = Metric::lower("unary-64B", "us");
    /// 64-byte calls with 32 in flight on one connection.
    pub const IN_FLIGHT: Metric = Metric::higher("in-flight-32", "calls/s");
    /// A 1 MiB request echoed back: both directions' bytes over the time.
    pub const ECHO_1MIB: Metric = Metric::higher("echo-1MiB", "GB/s");
    /// A 64 MiB request echoed back.
    pub const ECHO_64MIB: Metric = Metric::higher("echo-64MiB", "GB/s");
    /// Heap allocations per 64-byte unary call, both ends together.
    pub const ALLOCS: Metric = Metric::lower("allocs-per-call", "allocs");
    /// Heap bytes allocated per 64-byte unary call, both ends together.
    pub const ALLOC_BYTES: Metric = Metric::lower("alloc-bytes-per-call", "B");
    /// Payloads Prism had to copy to align them, per call.
    pub const ALIGN_COPIES: Metric = Metric::lower("alignment-copies-per-call", "copies");
    /// Resident memory per idle connection (both ends), 1,000 open.
    pub const RSS: Metric = Metric::lower("rss-per-connection", "KiB");
    /// Live heap per idle connection (both ends), 1,000 open.
    pub const HEAP: Metric = Metric::lower("heap-per-connection", "KiB");

    const fn lower(name: &'static str, unit: &'static str) -> Metric {
        Metric {
            name,
            unit,
            higher_is_better: false,
        }
    }

    const fn higher(name: &'static str, unit: &'static str) -> Metric {
        Metric {
            name,
            unit,
            higher_is_better: true,
        }
    }
}

/// What one run of one system does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// Sequential 64-byte round trips: [`Metric::UNARY`].
    Unary,
    /// 32 calls in flight on one connection: [`Metric::IN_FLIGHT`].
    InFlight,
    /// Echo of a payload this many bytes long: [`Metric::ECHO_1MIB`] or
    /// [`Metric::ECHO_64MIB`].
    Echo(usize),
    /// Allocation counts per unary call.
    Allocs,
    /// Footprint of idle connections.
    Memory,
}

impl Scenario {
    /// The payload of the small-message scenarios.
    pub const SMALL: usize = 64;
    /// Calls in flight in [`Scenario::InFlight`].
    pub const DEPTH: usize = 32;
    /// The large payloads.
    pub const MIB: usize = 1 << 20;

    /// A short name for progress lines.
    pub fn name(self) -> String {
        match self {
            Scenario::Unary => "unary 64 B".into(),
            Scenario::InFlight => format!("{} in flight", Scenario::DEPTH),
            Scenario::Echo(len) => format!("echo {} MiB", len / Scenario::MIB),
            Scenario::Allocs => "allocations".into(),
            Scenario::Memory => "idle connections".into(),
        }
    }

    /// The key `--scenario` selects it by.
    pub fn key(self) -> String {
        match self {
            Scenario::Unary => "unary".into(),
            Scenario::InFlight => "in-flight".into(),
            Scenario::Echo(len) => format!("echo-{}MiB", len / Scenario::MIB),
            Scenario::Allocs => "allocs".into(),
            Scenario::Memory => "memory".into(),
        }
    }

    /// The metric an echo of `len` bytes reports.
    pub fn echo_metric(len: usize) -> Metric {
        if len >= 64 * Scenario::MIB {
            Metric::ECHO_64MIB
        } else {
            Metric::ECHO_1MIB
        }
    }
}
