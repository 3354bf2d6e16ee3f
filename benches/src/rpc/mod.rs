//! The side-by-side RPC harness behind `cargo run --release --bin rpc`.
//!
//! Prism runs beside three floors (a raw tokio TCP echo, a raw Unix-socket
//! echo, a tokio mpsc + oneshot round trip in one process) and two peers
//! (tarpc over TCP with bincode, tonic over HTTP/2 with a hand-written
//! codec), all in one process run:
//!
//! - [`pin`] starts the two ends on current-thread tokio runtimes pinned to
//!   chosen CPUs ([`Placement`]); clients run as spawned tasks there.
//! - [`systems`] holds one file per system; each serves an echo op and
//!   connects a [`drive::Client`].
//! - [`drive`] holds the scenario loops (sequential round trips, calls in
//!   flight, large payloads, allocation counts), [`memory`] the idle
//!   connection footprint.
//! - [`run`] interleaves rounds, rotating the system order each round;
//!   [`report`] writes the JSON results, the Markdown tables and the chart.

pub mod alloc;
pub mod drive;
pub mod machine;
pub mod memory;
pub mod model;
pub mod pin;
pub mod plan;
pub mod report;
pub mod run;
pub mod stats;
pub mod systems;

pub use model::{Metric, Placement, Scenario, SystemId};

/// Errors of the harness: every failure is reported, none is recovered.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The harness's result type.
pub type Result<T, E = BoxError> = std::result::Result<T, E>;
