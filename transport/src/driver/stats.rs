//! Per-connection statistics: what a connection moved, and the cell that
//! publishes it to every handle.

use core::ops::AddAssign;
use std::sync::atomic::{AtomicU64, Ordering};

/// What one connection (or, summed, several) moved so far.
///
/// Frames count in both directions; bytes are frame bytes (the 32-byte
/// header plus the payload; the padding byte-stream links add is not
/// counted). A call is counted once, on the side that made it
/// (`calls_sent`, also when it failed before leaving) and on the side that
/// took it (`calls_received`: calls the session refused by itself, over
/// the channel limit or after a GOAWAY, never reach it and are not
/// counted; their frames are). `calls_failed` counts calls that ended
/// without a response, on this side: with a status, past a deadline,
/// cancelled, or cut by a closing connection (an application error is a
/// response). `alignment_copies` counts received payloads that
/// had to be copied to start 16-byte aligned, by the link or the driver
/// (zero on TCP and Unix links, which read into aligned buffers). `peak_buffered` is the most stream
/// data received and not yet consumed at once, which the receive windows
/// bound (summed statistics keep the largest). Datagram ops' messages
/// count apart from calls: `datagrams_sent` on the client,
/// `datagrams_received` (handed to the handler) and `datagrams_dropped`
/// (arrived and not served: before the handshake finished, while going
/// away, without room at the link or among the running datagram handlers,
/// refused by the handler, failed, past their time, or stopped by the
/// connection's end) on the server. A datagram lost on the way is counted
/// nowhere.
///
/// # Examples
///
/// ```
/// use prism_transport::driver::ConnectionStats;
///
/// let mut total = ConnectionStats::default();
/// let one = ConnectionStats { frames_sent: 3, ..ConnectionStats::default() };
/// total += one;
/// total += one;
/// assert_eq!(total.frames_sent, 6);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Frames handed to the link.
    pub frames_sent: u64,
    /// Frames taken from the link.
    pub frames_received: u64,
    /// Bytes of the frames sent.
    pub bytes_sent: u64,
    /// Bytes of the frames received.
    pub bytes_received: u64,
    /// Calls this side made.
    pub calls_sent: u64,
    /// Calls the peer made that this side took.
    pub calls_received: u64,
    /// Calls that ended without a response.
    pub calls_failed: u64,
    /// Received payloads copied to become 16-byte aligned.
    pub alignment_copies: u64,
    /// The most DATA bytes received and not yet consumed at once.
    pub peak_buffered: u64,
    /// Datagram ops' messages this side sent.
    pub datagrams_sent: u64,
    /// Datagram ops' messages handed to a handler.
    pub datagrams_received: u64,
    /// Datagram ops' messages that arrived and were not served.
    pub datagrams_dropped: u64,
}

impl AddAssign for ConnectionStats {
    fn add_assign(&mut self, other: ConnectionStats) {
        self.frames_sent += other.frames_sent;
        self.frames_received += other.frames_received;
        self.bytes_sent += other.bytes_sent;
        self.bytes_received += other.bytes_received;
        self.calls_sent += other.calls_sent;
        self.calls_received += other.calls_received;
        self.calls_failed += other.calls_failed;
        self.alignment_copies += other.alignment_copies;
        self.peak_buffered = self.peak_buffered.max(other.peak_buffered);
        self.datagrams_sent += other.datagrams_sent;
        self.datagrams_received += other.datagrams_received;
        self.datagrams_dropped += other.datagrams_dropped;
    }
}

/// The published statistics of one connection, shared by its driver and
/// every handle on it.
///
/// The driver counts in plain integers as it works and publishes them here
/// once per wake-up (a handful of relaxed stores), so counting costs the
/// call path nothing measurable; a reader sees figures at most one wake-up
/// old.
#[derive(Debug, Default)]
pub struct StatsCell {
    frames_sent: AtomicU64,
    frames_received: AtomicU64,
    bytes_sent: AtomicU64,
    bytes_received: AtomicU64,
    calls_sent: AtomicU64,
    calls_received: AtomicU64,
    calls_failed: AtomicU64,
    alignment_copies: AtomicU64,
    peak_buffered: AtomicU64,
    datagrams_sent: AtomicU64,
    datagrams_received: AtomicU64,
    datagrams_dropped: AtomicU64,
}

impl StatsCell {
    /// The figures as last published.
    pub fn snapshot(&self) -> ConnectionStats {
        let load = |n: &AtomicU64| n.load(Ordering::Relaxed);
        ConnectionStats {
            frames_sent: load(&self.frames_sent),
            frames_received: load(&self.frames_received),
            bytes_sent: load(&self.bytes_sent),
            bytes_received: load(&self.bytes_received),
            calls_sent: load(&self.calls_sent),
            calls_received: load(&self.calls_received),
            calls_failed: load(&self.calls_failed),
            alignment_copies: load(&self.alignment_copies),
            peak_buffered: load(&self.peak_buffered),
            datagrams_sent: load(&self.datagrams_sent),
            datagrams_received: load(&self.datagrams_received),
            datagrams_dropped: load(&self.datagrams_dropped),
        }
    }

    /// Replaces the figures (the driver is the only writer).
    #[inline]
    pub(crate) fn publish(&self, stats: &ConnectionStats) {
        let store = |n: &AtomicU64, v: u64| n.store(v, Ordering::Relaxed);
        store(&self.frames_sent, stats.frames_sent);
        store(&self.frames_received, stats.frames_received);
        store(&self.bytes_sent, stats.bytes_sent);
        store(&self.bytes_received, stats.bytes_received);
        store(&self.calls_sent, stats.calls_sent);
        store(&self.calls_received, stats.calls_received);
        store(&self.calls_failed, stats.calls_failed);
        store(&self.alignment_copies, stats.alignment_copies);
        store(&self.peak_buffered, stats.peak_buffered);
        store(&self.datagrams_sent, stats.datagrams_sent);
        store(&self.datagrams_received, stats.datagrams_received);
        store(&self.datagrams_dropped, stats.datagrams_dropped);
    }
}
