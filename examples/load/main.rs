//! A sustained-load tool: N clients (each its own connection) × M calls in
//! flight each, for a duration, against a server in this process over Unix
//! or TCP. Every `--stream-every`-th operation opens a server stream of 16
//! items and reads it to the end instead of making a unary call. It prints,
//! every second, the calls per second and the process's resident memory,
//! and at the end the calls per second, latency percentiles (p50, p99,
//! p99.9, max), errors by status code and the peak memory.
//!
//! ```sh
//! cargo run --release --example load -- --clients 1000 --in-flight 4 --seconds 180
//! cargo run --release --example load -- --transport tcp --clients 50 --seconds 10
//! ```
//!
//! Options: `--clients N` (100), `--in-flight M` (4), `--seconds S` (10),
//! `--transport unix|tcp` (unix), `--stream-every K` (10; 0: no streams),
//! `--flood silent,oversized,credit,reauth,channels` (none) with `--flooders N`
//! tasks per flood (32): see `flood.rs`. With floods, a newcomer connects
//! once a second during the run, and the tool fails if one is not served.
//! Client and server share the process, so the memory figures are both
//! sides'; 1,000 clients need about 2,000 file descriptors (`ulimit -n`).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use flood::{Counts, Flood, Newcomers, Target};
use futures_util::StreamExt;
use prism::tcp::TcpConnector;
use prism::unix::UnixConnector;
use prism::{Channel, Code, Server, Streaming};

mod flood;
mod heap;

/// The service under load.
#[prism::service(package = "examples", public)]
pub trait Load {
    /// Adds two numbers.
    async fn add(&self, a: u64, b: u64) -> u64;
    /// Streams `n` numbers.
    async fn count(&self, n: u32) -> Streaming<u32>;
    /// How many numbers it was sent (a request stream, for floods).
    async fn sink(&self, numbers: Streaming<u64>) -> u64;
}

struct Service;

impl Load for Service {
    async fn add(&self, a: u64, b: u64) -> u64 {
        a.wrapping_add(b)
    }

    async fn count(&self, n: u32) -> Streaming<u32> {
        Streaming::from_stream(futures_util::stream::iter(0..n))
    }

    async fn sink(&self, mut numbers: Streaming<u64>) -> u64 {
        let mut count = 0;
        while let Ok(Some(_)) = numbers.message().await {
            count += 1;
        }
        count
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Transport {
    Unix,
    Tcp,
}

#[derive(Debug)]
struct Options {
    clients: usize,
    in_flight: usize,
    seconds: u64,
    transport: Transport,
    stream_every: u64,
    floods: Vec<Flood>,
    flooders: usize,
}

fn options() -> Result<Options, String> {
    let mut options = Options {
        clients: 100,
        in_flight: 4,
        seconds: 10,
        transport: Transport::Unix,
        stream_every: 10,
        floods: Vec::new(),
        flooders: 32,
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| format!("{flag} needs a value"))?;
        let number = || {
            value
                .parse::<u64>()
                .map_err(|e| format!("{flag} {value}: {e}"))
        };
        match flag.as_str() {
            "--clients" => options.clients = number()?.max(1) as usize,
            "--in-flight" => options.in_flight = number()?.max(1) as usize,
            "--seconds" => options.seconds = number()?.max(1),
            "--stream-every" => options.stream_every = number()?,
            "--flood" => options.floods = Flood::parse(&value)?,
            "--flooders" => options.flooders = number()?.max(1) as usize,
            "--transport" => {
                options.transport = match value.as_str() {
                    "unix" => Transport::Unix,
                    "tcp" => Transport::Tcp,
                    other => return Err(format!("unknown transport {other}")),
                }
            }
            other => return Err(format!("unknown option {other}")),
        }
    }
    Ok(options)
}

/// Latencies in buckets 16 to a doubling, from 1 µs; a percentile is
/// reported as its bucket's lower bound, at most 6.25 % below the truth.
struct Histogram {
    buckets: Vec<u64>,
    max_us: u64,
}

impl Histogram {
    const PER_DOUBLING: u32 = 16;

    fn new() -> Histogram {
        Histogram {
            buckets: vec![0; 40 * Self::PER_DOUBLING as usize],
            max_us: 0,
        }
    }

    fn bucket(us: u64) -> usize {
        let us = us.max(1);
        let log2 = 63 - us.leading_zeros();
        // The bits below the top one, as a fraction of the doubling.
        let fraction = if log2 >= 4 {
            (us >> (log2 - 4)) & 0xf
        } else {
            (us << (4 - log2)) & 0xf
        };
        (log2 * Self::PER_DOUBLING) as usize + fraction as usize
    }

    fn lower_bound(bucket: usize) -> u64 {
        let log2 = bucket as u32 / Self::PER_DOUBLING;
        let fraction = bucket as u64 % u64::from(Self::PER_DOUBLING);
        ((16 + fraction) << log2) >> 4
    }

    fn record(&mut self, latency: Duration) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let at = Self::bucket(us).min(self.buckets.len() - 1);
        self.buckets[at] += 1;
        self.max_us = self.max_us.max(us);
    }

    fn merge(&mut self, other: &Histogram) {
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
        self.max_us = self.max_us.max(other.max_us);
    }

    fn count(&self) -> u64 {
        self.buckets.iter().sum()
    }

    /// The latency below which `q` of the samples fall, in µs.
    fn quantile(&self, q: f64) -> u64 {
        let rank = (self.count() as f64 * q).ceil() as u64;
        let mut seen = 0;
        for (bucket, &n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank.max(1) {
                return Self::lower_bound(bucket);
            }
        }
        self.max_us
    }
}

/// What one worker saw.
struct Tally {
    latencies: Histogram,
    errors: BTreeMap<String, u64>,
}

/// The process's resident memory, in bytes (Linux, 4 KiB pages; 0
/// elsewhere).
fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|statm| statm.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

async fn worker(
    client: LoadClient,
    stream_every: u64,
    stop: Arc<AtomicBool>,
    done: Arc<AtomicU64>,
) -> Tally {
    let mut tally = Tally {
        latencies: Histogram::new(),
        errors: BTreeMap::new(),
    };
    let mut n: u64 = 0;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let start = Instant::now();
        let outcome = if stream_every > 0 && n.is_multiple_of(stream_every) {
            match client.count(16).await {
                Ok(stream) => {
                    let items: Vec<_> = stream.collect().await;
                    match items.into_iter().find_map(Result::err) {
                        Some(status) => Err(status),
                        None => Ok(()),
                    }
                }
                Err(status) => Err(status),
            }
        } else {
            client.add(n, 1).await.map(drop)
        };
        match outcome {
            Ok(()) => tally.latencies.record(start.elapsed()),
            Err(status) => {
                *tally.errors.entry(code_name(status.code())).or_default() += 1;
            }
        }
        done.fetch_add(1, Ordering::Relaxed);
    }
    tally
}

fn code_name(code: Code) -> String {
    format!("{code:?}")
}

async fn connect(transport: Transport, target: &str) -> Result<Channel, prism::ConnectError> {
    match transport {
        Transport::Unix => Channel::builder().connect(UnixConnector::new(target)).await,
        Transport::Tcp => {
            Channel::builder()
                .allow_plaintext()
                .connect(TcpConnector::new(target))
                .await
        }
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let options = options().map_err(|e| {
        format!("{e}\nusage: load [--clients N] [--in-flight M] [--seconds S] [--transport unix|tcp] [--stream-every K] [--flood silent,oversized,credit,reauth,channels] [--flooders N]")
    })?;
    println!(
        "{} clients x {} in flight, {} s over {:?}, a stream every {} operations",
        options.clients,
        options.in_flight,
        options.seconds,
        options.transport,
        options.stream_every
    );

    // Room for the clients, the flooders and the newcomers: the caps are
    // not what a flood runs into here.
    let per_flooder: usize = options
        .floods
        .iter()
        // A reauth flooder holds 8 channels, 16 while it replaces them.
        .map(|flood| if *flood == Flood::Reauth { 16 } else { 1 })
        .sum();
    let connections = options.clients + 16 + per_flooder * options.flooders;
    // Proofs checked, for the reauth flood: any proof is taken, for an
    // identity that lives one second.
    let proofs = Arc::new(AtomicU64::new(0));
    let builder = Server::builder();
    let builder = if options.floods.contains(&Flood::Reauth) {
        let proofs = Arc::clone(&proofs);
        builder.authenticator(
            move |_proof: prism::auth::Proof, _: &prism::transport::LinkInfo| {
                proofs.fetch_add(1, Ordering::Relaxed);
                Ok(prism::auth::ChannelIdentity::new("flooder")
                    .with_expiry(prism::auth::now() + Duration::from_secs(1)))
            },
        )
    } else {
        builder.allow_unauthenticated()
    };
    let server = builder
        .allow_plaintext()
        .max_connections_per_peer(connections)
        .max_connections(connections)
        .add_service(LoadServer::new(Service))
        .build()?;
    let socket = std::env::temp_dir().join(format!("prism-load-{}.sock", std::process::id()));
    let target = match options.transport {
        Transport::Unix => {
            let _ = std::fs::remove_file(&socket);
            let listener = tokio::net::UnixListener::bind(&socket)?;
            tokio::spawn({
                let server = server.clone();
                async move { server.serve(listener).await }
            });
            socket.display().to_string()
        }
        Transport::Tcp => {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            tokio::spawn({
                let server = server.clone();
                async move { server.serve(listener).await }
            });
            addr.to_string()
        }
    };

    let baseline = rss();
    let baseline_heap = heap::live();
    let mut channels = Vec::with_capacity(options.clients);
    for _ in 0..options.clients {
        channels.push(connect(options.transport, &target).await.map_err(|e| {
            format!(
                "{e} (with {} clients open; is `ulimit -n` high enough?)",
                channels.len()
            )
        })?);
    }
    let connected = rss();
    println!(
        "connected: RSS {:.1} MiB before, {:.1} MiB with {} connections; heap {:.1} MiB before, {:.1} MiB connected",
        mib(baseline),
        mib(connected),
        options.clients,
        mib(baseline_heap),
        mib(heap::live())
    );

    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let mut workers = tokio::task::JoinSet::new();
    for channel in &channels {
        for _ in 0..options.in_flight {
            let client = LoadClient::new(channel.clone());
            workers.spawn(worker(
                client,
                options.stream_every,
                Arc::clone(&stop),
                Arc::clone(&done),
            ));
        }
    }

    let counts = Arc::new(Counts::default());
    let newcomers = Arc::new(Newcomers::default());
    let mut floods = tokio::task::JoinSet::new();
    if !options.floods.is_empty() {
        let target = Target {
            transport: options.transport,
            address: target.clone(),
        };
        for &kind in &options.floods {
            for _ in 0..options.flooders {
                let (target, stop, counts) =
                    (target.clone(), Arc::clone(&stop), Arc::clone(&counts));
                floods.spawn(flood::flooder(kind, target, stop, counts));
            }
        }
        floods.spawn(flood::newcomer(
            target,
            Arc::clone(&stop),
            Arc::clone(&newcomers),
        ));
        println!(
            "floods: {:?}, {} tasks each, and a newcomer connecting once a second",
            options.floods, options.flooders
        );
    }

    let started = Instant::now();
    let mut peak = connected;
    let mut last = 0;
    for second in 1..=options.seconds {
        tokio::time::sleep_until((started + Duration::from_secs(second)).into()).await;
        let now = done.load(Ordering::Relaxed);
        let resident = rss();
        peak = peak.max(resident);
        println!(
            "{second:>5} s {:>10} ops/s   RSS {:>8.1} MiB   heap {:>8.1} MiB",
            now - last,
            mib(resident),
            mib(heap::live())
        );
        last = now;
    }
    stop.store(true, Ordering::Relaxed);
    let elapsed = started.elapsed();
    // A flooder blocked on a server that holds it (a silent connection
    // until the handshake timeout) is not waited for.
    floods.abort_all();

    let mut latencies = Histogram::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    while let Some(tally) = workers.join_next().await {
        let tally = tally?;
        latencies.merge(&tally.latencies);
        for (code, n) in tally.errors {
            *errors.entry(code).or_default() += n;
        }
    }
    let ok = latencies.count();
    let failed: u64 = errors.values().sum();
    println!();
    println!(
        "{} ops in {:.1} s: {:.0} ops/s; {ok} ok, {failed} failed",
        ok + failed,
        elapsed.as_secs_f64(),
        (ok + failed) as f64 / elapsed.as_secs_f64()
    );
    println!(
        "latency: p50 {} µs, p99 {} µs, p99.9 {} µs, max {} µs",
        latencies.quantile(0.50),
        latencies.quantile(0.99),
        latencies.quantile(0.999),
        latencies.max_us
    );
    if errors.is_empty() {
        println!("errors: none");
    } else {
        for (code, n) in &errors {
            println!("errors: {code}: {n}");
        }
    }
    println!(
        "RSS: {:.1} MiB before connecting, {:.1} MiB connected, {:.1} MiB peak under load",
        mib(baseline),
        mib(connected),
        mib(peak)
    );

    if !options.floods.is_empty() {
        // What the floods held is let go: connections closed, streams
        // cancelled.
        for (pause, since) in [(2, 2), (8, 10)] {
            tokio::time::sleep(Duration::from_secs(pause)).await;
            println!(
                "{since} s after the floods stopped: RSS {:.1} MiB, heap {:.1} MiB, {} connections open",
                mib(rss()),
                mib(heap::live()),
                server.connections()
            );
        }
        for line in counts.report() {
            println!("{line}");
        }
        if options.floods.contains(&Flood::Reauth) {
            println!(
                "proofs checked (handshakes and re-authentications): {}",
                proofs.load(Ordering::Relaxed)
            );
        }
        let refusals = server.connection_refusals();
        println!("connections refused by the caps: {refusals:?}");
        println!(
            "newcomers during the floods: {} served, {} failed, slowest {} ms",
            newcomers.ok.load(Ordering::Relaxed),
            newcomers.failed.load(Ordering::Relaxed),
            newcomers.slowest_ms.load(Ordering::Relaxed)
        );
    }
    let newcomers_failed = newcomers.failed.load(Ordering::Relaxed);

    drop(channels);
    server.shutdown();
    let _ = std::fs::remove_file(&socket);
    if failed > 0 {
        return Err(format!("{failed} operations failed").into());
    }
    if newcomers_failed > 0 {
        return Err(format!("{newcomers_failed} newcomers failed during the floods").into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::Histogram;

    #[test]
    fn buckets_are_ordered_and_within_their_width() {
        let mut last = 0;
        for us in 1..200_000u64 {
            let bucket = Histogram::bucket(us);
            assert!(bucket >= last, "{us}");
            last = bucket;
            let low = Histogram::lower_bound(bucket);
            assert!(
                low <= us && us as f64 <= low as f64 * 1.07 + 1.0,
                "{us}: {low}"
            );
        }
    }
}
