//! Pinned runtimes: each end of a system runs on its own thread, pinned to
//! one CPU, driving a current-thread tokio runtime.
//!
//! Work reaches a runtime as a spawned task ([`Pinned::run`]), never as the
//! future of `block_on`: on these VMs a `block_on` future is woken through
//! the thread's parker, which costs tens of microseconds per round trip.
//! The runtime thread's own `block_on` only waits for the stop signal.

use core::future::Future;
use std::sync::mpsc as std_mpsc;
use std::thread::JoinHandle;

use tokio::runtime::Handle;
use tokio::sync::oneshot;

use super::{BoxError, Placement, Result};

/// The CPUs the two ends use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cpus {
    /// The CPU of the client, and of the server when both share one.
    pub shared: usize,
    /// The server's CPU when the ends are apart.
    pub other: usize,
}

impl Cpus {
    /// The (server, client) CPUs of a placement.
    pub fn of(self, placement: Placement) -> (usize, usize) {
        match placement {
            Placement::SameThread | Placement::SameCpu => (self.shared, self.shared),
            Placement::CrossCpu => (self.other, self.shared),
        }
    }

    /// The CPUs this process may run on, if at least one.
    pub fn available() -> Vec<usize> {
        core_affinity::get_core_ids()
            .unwrap_or_default()
            .into_iter()
            .map(|core| core.id)
            .collect()
    }
}

/// A thread pinned to one CPU, running a current-thread runtime until dropped.
#[derive(Debug)]
pub struct Pinned {
    handle: Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Pinned {
    /// Starts the thread and its runtime, pinned to `cpu`.
    ///
    /// # Errors
    ///
    /// Fails when the thread, the pinning or the runtime cannot be set up.
    pub fn start(name: &str, cpu: usize) -> Result<Pinned> {
        let (ready_tx, ready_rx) = std_mpsc::sync_channel::<Result<_, String>>(1);
        let thread = std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                if !core_affinity::set_for_current(core_affinity::CoreId { id: cpu }) {
                    let _ = ready_tx.send(Err(format!("cannot pin a thread to CPU {cpu}")));
                    return;
                }
                let runtime = match tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                {
                    Ok(runtime) => runtime,
                    Err(e) => {
                        let _ = ready_tx.send(Err(format!("cannot build a runtime: {e}")));
                        return;
                    }
                };
                let (stop_tx, stop_rx) = oneshot::channel::<()>();
                let _ = ready_tx.send(Ok((runtime.handle().clone(), stop_tx)));
                runtime.block_on(async {
                    let _ = stop_rx.await;
                });
                // Dropping the runtime drops every task still on it.
            })?;
        let (handle, stop) = ready_rx
            .recv()
            .map_err(|_| BoxError::from("the runtime thread died while starting"))??;
        Ok(Pinned {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// Runs `future` as a task on this runtime and waits for its output.
    ///
    /// # Errors
    ///
    /// Fails when the task panicked or the runtime stopped first.
    pub fn run<F>(&self, future: F) -> Result<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let (tx, rx) = std_mpsc::sync_channel(1);
        self.handle.spawn(async move {
            let _ = tx.send(future.await);
        });
        rx.recv()
            .map_err(|_| BoxError::from("a benchmark task panicked or its runtime stopped"))
    }
}

impl Drop for Pinned {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The two ends of one run.
#[derive(Debug)]
pub struct Ends {
    /// The client's runtime. Declared first: it stops first.
    pub client: Pinned,
    /// The server's runtime; `None` when it is the client's.
    server: Option<Pinned>,
    /// Where they run.
    pub placement: Placement,
}

impl Ends {
    /// Starts the runtimes for `placement`: one for [`Placement::SameThread`],
    /// else two.
    ///
    /// # Errors
    ///
    /// Fails when a runtime cannot be started.
    pub fn start(cpus: Cpus, placement: Placement) -> Result<Ends> {
        let (server_cpu, client_cpu) = cpus.of(placement);
        let client = Pinned::start("bench-client", client_cpu)?;
        let server = match placement {
            Placement::SameThread => None,
            _ => Some(Pinned::start("bench-server", server_cpu)?),
        };
        Ok(Ends {
            client,
            server,
            placement,
        })
    }

    /// The server's runtime.
    pub fn server(&self) -> &Pinned {
        self.server.as_ref().unwrap_or(&self.client)
    }
}
