//! The footprint of idle connections: open many, make one call on each,
//! let them sit, and see how much the process grew.
//!
//! Both ends live in this process, so a connection's figure covers its
//! client and its server side together. Two figures: resident memory
//! (`VmRSS` from `/proc/self/status`, what the issue asks for; the
//! allocator may keep or reuse freed pages, so it is coarse) and live heap
//! bytes from the counting allocator (exact, but blind to kernel socket
//! buffers and thread stacks).

use std::time::Duration;

use super::alloc::Window;
use super::drive::{Client, expect_len, payload};
use super::plan::Plan;
use super::systems::{Measured, System};
use super::{Metric, Result, Scenario};

/// Opens `plan.connections` idle connections to `endpoint`.
///
/// # Errors
///
/// Fails when a connection or its call fails, or `/proc` cannot be read.
pub async fn footprint<S: System>(
    system: &S,
    endpoint: &mut S::Endpoint,
    plan: &Plan,
) -> Result<Measured> {
    let count = connections_allowed(plan.connections);
    let small = payload(Scenario::SMALL);
    tokio::time::sleep(Duration::from_millis(20)).await;
    let before = rss_kib()?;
    let window = Window::open();
    let mut clients = Vec::with_capacity(count);
    for _ in 0..count {
        let mut client = system.connect(endpoint).await?;
        expect_len(client.call(&small).await?, small.len())?;
        clients.push(client);
    }
    // Let both sides go idle.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let after = rss_kib()?;
    let counts = window.close();
    drop(clients);
    let per = |total: f64| total / count as f64;
    Ok(vec![
        (Metric::RSS, vec![per(after as f64 - before as f64)]),
        (Metric::HEAP, vec![per(counts.live as f64 / 1024.0)]),
    ])
}

/// The process's resident set, KiB.
///
/// # Errors
///
/// Fails when `/proc/self/status` cannot be read or has no `VmRSS` line.
pub fn rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS in /proc/self/status".into())
}

/// `wanted`, or fewer if the open-file limit would not allow two
/// descriptors per connection (plus headroom).
pub fn connections_allowed(wanted: usize) -> usize {
    let limit = std::fs::read_to_string("/proc/self/limits")
        .ok()
        .and_then(|limits| {
            limits
                .lines()
                .find(|line| line.starts_with("Max open files"))
                .and_then(|line| line.split_whitespace().nth(3)?.parse::<usize>().ok())
        })
        .unwrap_or(1024);
    wanted.min(limit.saturating_sub(256) / 2).max(1)
}
