//! The scenario loops, generic over a connected [`Client`].
//!
//! Every system echoes a payload: the reply is as long as the request, and
//! every loop checks that it is.

use core::future::Future;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::stream::{FuturesUnordered, StreamExt};

use super::alloc::Window;
use super::plan::Plan;
use super::{Metric, Result, Scenario};

/// One connection of a system under test, driven by one task.
pub trait Client: Send + 'static {
    /// Sends `payload`, waits for its echo, returns the echo's length.
    fn call(&mut self, payload: &Bytes) -> impl Future<Output = Result<usize>> + Send;

    /// Keeps `depth` echoes of `payload` in flight until `meter` has its samples.
    fn in_flight(
        &mut self,
        payload: &Bytes,
        depth: usize,
        meter: &mut Meter,
    ) -> impl Future<Output = Result<()>> + Send;

    /// Received payloads copied to become aligned so far, both ends
    /// together; systems that never align report 0.
    fn alignment_copies(&self) -> u64 {
        0
    }
}

/// A cloneable RPC client whose calls run concurrently: most systems.
pub trait Handle: Send + Sync + 'static {
    /// One echo call; returns the reply's length.
    fn echo(&self, payload: Bytes) -> impl Future<Output = Result<usize>> + Send;
}

/// Adapts a [`Handle`] to [`Client`]: calls in flight are futures polled by
/// one `FuturesUnordered` in the client's task.
#[derive(Debug)]
pub struct Shared<H>(pub H);

impl<H: Handle> Client for Shared<H> {
    async fn call(&mut self, payload: &Bytes) -> Result<usize> {
        self.0.echo(payload.clone()).await
    }

    async fn in_flight(&mut self, payload: &Bytes, depth: usize, meter: &mut Meter) -> Result<()> {
        let handle = &self.0;
        let mut calls: FuturesUnordered<_> =
            (0..depth).map(|_| handle.echo(payload.clone())).collect();
        while let Some(done) = calls.next().await {
            expect_len(done?, payload.len())?;
            if meter.add(1) {
                break;
            }
            calls.push(handle.echo(payload.clone()));
        }
        // Let the rest finish so the connection ends clean.
        while let Some(done) = calls.next().await {
            done?;
        }
        Ok(())
    }
}

/// Counts completed calls into calls/s samples, one per window, after a warmup.
#[derive(Debug)]
pub struct Meter {
    warm_at: Instant,
    warm: bool,
    window: Duration,
    windows: usize,
    started: Instant,
    count: u64,
    samples: Vec<f64>,
}

impl Meter {
    /// A meter for `plan`'s in-flight scenario, warming up from now.
    pub fn new(plan: &Plan) -> Meter {
        let now = Instant::now();
        Meter {
            warm_at: now + plan.warmup,
            warm: false,
            window: plan.window,
            windows: plan.windows,
            started: now,
            count: 0,
            samples: Vec::with_capacity(plan.windows),
        }
    }

    /// Records `n` completed calls; true once every window is measured.
    pub fn add(&mut self, n: u64) -> bool {
        let now = Instant::now();
        if !self.warm {
            if now >= self.warm_at {
                self.warm = true;
                self.started = now;
            }
            return false;
        }
        self.count += n;
        let elapsed = now - self.started;
        if elapsed >= self.window {
            self.samples.push(self.count as f64 / elapsed.as_secs_f64());
            self.count = 0;
            self.started = now;
        }
        self.samples.len() >= self.windows
    }

    /// The calls/s samples.
    pub fn into_samples(self) -> Vec<f64> {
        self.samples
    }
}

/// A payload of `len` bytes with a recognisable pattern.
pub fn payload(len: usize) -> Bytes {
    (0..len)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into()
}

/// Fails unless the echo came back whole.
pub fn expect_len(got: usize, sent: usize) -> Result<usize> {
    if got == sent {
        Ok(got)
    } else {
        Err(format!("sent {sent} bytes, the echo had {got}").into())
    }
}

/// Sequential 64-byte round trips: microseconds each.
pub async fn unary<C: Client>(client: &mut C, plan: &Plan) -> Result<Vec<f64>> {
    let small = payload(Scenario::SMALL);
    let warm = Instant::now() + plan.warmup;
    while Instant::now() < warm {
        expect_len(client.call(&small).await?, small.len())?;
    }
    let mut samples = Vec::with_capacity(plan.unary_max);
    let end = Instant::now() + plan.unary;
    loop {
        let start = Instant::now();
        let got = client.call(&small).await?;
        samples.push(start.elapsed().as_secs_f64() * 1e6);
        expect_len(got, small.len())?;
        if start >= end || samples.len() >= plan.unary_max {
            return Ok(samples);
        }
    }
}

/// 64-byte calls, [`Scenario::DEPTH`] in flight: calls/s per window.
pub async fn in_flight<C: Client>(client: &mut C, plan: &Plan) -> Result<Vec<f64>> {
    let small = payload(Scenario::SMALL);
    let mut meter = Meter::new(plan);
    client
        .in_flight(&small, Scenario::DEPTH, &mut meter)
        .await?;
    Ok(meter.into_samples())
}

/// Echoes of `len` bytes: GB/s each, counting both directions' bytes.
pub async fn echo<C: Client>(client: &mut C, len: usize, plan: &Plan) -> Result<Vec<f64>> {
    let big = payload(len);
    expect_len(client.call(&big).await?, len)?; // warms buffers and windows
    let mut samples = Vec::new();
    for _ in 0..plan.echoes_of(len) {
        let start = Instant::now();
        expect_len(client.call(&big).await?, len)?;
        samples.push(2.0 * len as f64 / start.elapsed().as_secs_f64() / 1e9);
    }
    Ok(samples)
}

/// Allocations, bytes allocated and alignment copies per 64-byte unary
/// call, both ends together.
pub async fn allocs<C: Client>(client: &mut C, plan: &Plan) -> Result<Vec<(Metric, f64)>> {
    let small = payload(Scenario::SMALL);
    for _ in 0..plan.alloc_calls / 4 {
        expect_len(client.call(&small).await?, small.len())?;
    }
    let copies = client.alignment_copies();
    let window = Window::open();
    for _ in 0..plan.alloc_calls {
        client.call(&small).await?;
    }
    let counts = window.close();
    let calls = plan.alloc_calls as f64;
    let copies = client.alignment_copies() - copies;
    Ok(vec![
        (Metric::ALLOCS, counts.allocs as f64 / calls),
        (Metric::ALLOC_BYTES, counts.bytes as f64 / calls),
        (Metric::ALIGN_COPIES, copies as f64 / calls),
    ])
}
