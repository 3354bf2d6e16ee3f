//! The server's statistics: its open connections' cells, and the sum of
//! those that closed.

use std::sync::{Arc, Mutex, PoisonError};

use prism_proto::int_map::IntMap;
use prism_transport::driver::{ConnectionStats, StatsCell};

/// Per-connection statistics summed over a server's connections.
#[derive(Debug, Default)]
pub(crate) struct ServerStats {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    /// Open connections' cells, by address.
    open: IntMap<usize, Arc<StatsCell>>,
    closed: ConnectionStats,
}

impl ServerStats {
    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A cell for a new connection, counted from now on until the
    /// returned guard drops (also when the connection's task is cancelled).
    pub(crate) fn open(&self) -> OpenConnection<'_> {
        let cell = Arc::new(StatsCell::default());
        let key = Arc::as_ptr(&cell) as usize;
        self.state().open.insert(key, Arc::clone(&cell));
        OpenConnection { stats: self, cell }
    }

    /// Folds a finished connection's figures into the total.
    fn close(&self, cell: &Arc<StatsCell>) {
        let mut state = self.state();
        state.open.remove(&(Arc::as_ptr(cell) as usize));
        state.closed += cell.snapshot();
    }

    /// Closed connections' totals plus open connections' figures so far.
    pub(crate) fn total(&self) -> ConnectionStats {
        let state = self.state();
        let mut total = state.closed;
        for cell in state.open.values() {
            total += cell.snapshot();
        }
        total
    }

    /// Connections open now.
    pub(crate) fn open_count(&self) -> usize {
        self.state().open.len()
    }
}

/// One open connection's place in [`ServerStats`]: folded into the closed
/// total when dropped.
#[derive(Debug)]
pub(crate) struct OpenConnection<'a> {
    stats: &'a ServerStats,
    cell: Arc<StatsCell>,
}

impl OpenConnection<'_> {
    /// The cell the connection's driver counts into.
    pub(crate) fn cell(&self) -> Arc<StatsCell> {
        Arc::clone(&self.cell)
    }
}

impl Drop for OpenConnection<'_> {
    fn drop(&mut self) {
        self.stats.close(&self.cell);
    }
}
