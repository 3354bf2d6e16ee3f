//! The systems under test, one file each, behind one [`System`] trait.
//!
//! Each system serves an echo op on the server's runtime and connects a
//! [`Client`] on the client's runtime. [`Entry`] turns any [`System`] into
//! an object the runner can list and run.

pub mod prism;
pub mod prism_postcard;
pub mod prism_rkyv;
pub mod prism_segments;
pub mod raw;
pub mod tarpc;
pub mod tokio_channel;
pub mod tonic;

use core::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::drive::{self, Client};
use super::pin::Ends;
use super::plan::Plan;
use super::{Metric, Result, Scenario, SystemId, memory};

/// Samples of each metric one run measured.
pub type Measured = Vec<(Metric, Vec<f64>)>;

/// A system under test.
pub trait System: Clone + Send + Sync + 'static {
    /// What a client needs to connect: an address, a path, a link.
    type Endpoint: Send + 'static;
    /// One connection.
    type Client: Client;

    /// Its name in results.
    fn id(&self) -> SystemId;

    /// Whether it takes part in `scenario`.
    fn supports(&self, scenario: Scenario) -> bool;

    /// Starts serving; runs as a task on the server's runtime, and spawns
    /// the server's tasks there.
    fn serve(self) -> impl Future<Output = Result<Self::Endpoint>> + Send + 'static;

    /// Opens one connection; runs as a task on the client's runtime.
    fn connect(
        &self,
        endpoint: &mut Self::Endpoint,
    ) -> impl Future<Output = Result<Self::Client>> + Send;
}

/// A [`System`] as an object: what the runner holds.
pub trait Entry: Send + Sync {
    /// Its name in results.
    fn id(&self) -> SystemId;

    /// Whether it takes part in `scenario`.
    fn supports(&self, scenario: Scenario) -> bool;

    /// Serves, connects and runs `scenario` on `ends`.
    ///
    /// # Errors
    ///
    /// Fails when serving, connecting or any call fails.
    fn run(&self, scenario: Scenario, ends: &Ends, plan: &Plan) -> Result<Measured>;
}

impl<S: System> Entry for S {
    fn id(&self) -> SystemId {
        System::id(self)
    }

    fn supports(&self, scenario: Scenario) -> bool {
        System::supports(self, scenario)
    }

    fn run(&self, scenario: Scenario, ends: &Ends, plan: &Plan) -> Result<Measured> {
        let mut endpoint = ends.server().run(self.clone().serve())??;
        let system = self.clone();
        let plan = plan.clone();
        ends.client.run(async move {
            if scenario == Scenario::Memory {
                return memory::footprint(&system, &mut endpoint, &plan).await;
            }
            let mut client = system.connect(&mut endpoint).await?;
            Ok(match scenario {
                Scenario::Unary => vec![(Metric::UNARY, drive::unary(&mut client, &plan).await?)],
                Scenario::InFlight => vec![(
                    Metric::IN_FLIGHT,
                    drive::in_flight(&mut client, &plan).await?,
                )],
                Scenario::Echo(len) => vec![(
                    Scenario::echo_metric(len),
                    drive::echo(&mut client, len, &plan).await?,
                )],
                Scenario::Allocs => drive::allocs(&mut client, &plan)
                    .await?
                    .into_iter()
                    .map(|(metric, value)| (metric, vec![value]))
                    .collect(),
                Scenario::Memory => unreachable!("handled above"),
            })
        })?
    }
}

/// Every system, floors first.
pub fn all() -> Vec<Box<dyn Entry>> {
    use prism::{PrismSystem, Transport};
    use prism_postcard::Postcard;
    use prism_rkyv::Rkyv;
    use prism_segments::Segments;
    vec![
        Box::new(raw::Raw::Tcp),
        Box::new(raw::Raw::Unix),
        Box::new(tokio_channel::TokioChannel),
        // Another Prism codec is one more line per transport here.
        Box::new(PrismSystem::<Postcard>::new(Transport::Mem)),
        Box::new(PrismSystem::<Postcard>::new(Transport::Tcp)),
        Box::new(PrismSystem::<Postcard>::new(Transport::Unix)),
        Box::new(PrismSystem::<Postcard>::new(Transport::Ws)),
        Box::new(PrismSystem::<Postcard>::new(Transport::Quic)),
        // The zero-copy codecs: rkyv views and the bulk segments codec.
        Box::new(PrismSystem::<Rkyv>::new(Transport::Tcp)),
        Box::new(PrismSystem::<Segments>::new(Transport::Tcp)),
        Box::new(tarpc::Tarpc),
        Box::new(tonic::Tonic),
    ]
}

/// A Unix socket path, removed when dropped.
#[derive(Debug)]
pub struct SocketPath(PathBuf);

impl SocketPath {
    /// A fresh path in the temporary directory.
    pub fn fresh(tag: &str) -> SocketPath {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let name = format!("prism-bench-{}-{tag}-{n}.sock", std::process::id());
        let path = std::env::temp_dir().join(name);
        let _ = std::fs::remove_file(&path);
        SocketPath(path)
    }

    /// The path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
