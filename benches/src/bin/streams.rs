//! Stream benchmarks, side by side in one run, client and server on one
//! pinned thread (the placement that is not bimodal on these VMs):
//!
//! - server-stream throughput of 64-byte items (items/s): Prism over TCP
//!   beside tonic server streaming and a raw TCP floor (length-prefixed
//!   64-byte records);
//! - a 1 GiB transfer (GB/s): 1 MiB items (Prism cuts each into chunks
//!   under flow control) beside tonic and raw TCP;
//! - unary p50/p99 while a bulk stream saturates the same connection,
//!   beside the idle p50/p99, for Prism and tonic;
//! - Prism over QUIC (`quic`): 1 KiB items per second on one stream, the
//!   time to open a stream and receive its first item, a thousand streams
//!   open at once, and unary p50/p99 idle and beside a bulk stream.
//!
//! `cargo run --release --bin streams [-- --quick] [--only items|bulk|unary|quic]`;
//! `PRISM_CHUNK=<bytes>` sets Prism's chunk size on both ends (64 KiB by
//! default), `PRISM_WINDOW=<bytes>` its stream window (256 KiB by
//! default). Medians of several rounds, each round measuring every system
//! in turn; ratios are the median of each round's ratio, so the VM's drift
//! between rounds cancels. Nothing is asserted. tonic moves raw bytes (no protobuf),
//! the most favourable setting for it.

use std::time::{Duration, Instant};

use bytes::Bytes;
use prism::quic::{QuicConnector, QuicListener};
use prism::tcp::TcpConnector;
use prism::{Channel, Server, Streaming};
use prism_benches::rpc::pin::{Cpus, Pinned};
use prism_benches::streams::TonicFlow;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

/// A small item.
#[prism::message]
#[derive(Debug, Clone)]
pub struct Item {
    /// The payload (a slice of the received buffer when decoded).
    pub data: Bytes,
}

/// Streams for the benchmarks.
#[prism::service(public, package = "bench")]
pub trait Flow {
    /// `n` items of `size` bytes.
    async fn items(&self, n: u64, size: u64) -> Streaming<Item>;
    /// Echoes a number (the unary probe).
    async fn ping(&self, n: u64) -> u64;
}

struct Flows;

impl Flow for Flows {
    async fn items(&self, n: u64, size: u64) -> Streaming<Item> {
        let item = Item {
            data: Bytes::from(vec![1; size as usize]),
        };
        Streaming::iter(std::iter::repeat_n(item, n as usize))
    }

    async fn ping(&self, n: u64) -> u64 {
        n
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Which link a Prism pair runs over.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Over {
    Tcp,
    Quic,
}

async fn prism_pair(over: Over) -> Result<(Server, FlowClient), Error> {
    let mut config = prism::transport::SessionConfig::default();
    if let Some(chunk) = std::env::var("PRISM_CHUNK")
        .ok()
        .and_then(|c| c.parse().ok())
    {
        config = config.with_max_chunk(chunk);
    }
    if let Some(window) = std::env::var("PRISM_WINDOW")
        .ok()
        .and_then(|c| c.parse().ok())
    {
        let connection = config.connection_window.max(window);
        config = config.with_windows(window, connection);
    }
    let server = Server::builder()
        .allow_unauthenticated()
        .session_config(config.clone())
        .add_service(FlowServer::new(Flows))
        .allow_plaintext()
        .build()?;
    let builder = Channel::builder().session_config(config).allow_plaintext();
    let channel = match over {
        Over::Tcp => {
            let listener = TcpListener::bind("127.0.0.1:0").await?;
            let addr = listener.local_addr()?;
            tokio::spawn({
                let server = server.clone();
                async move { server.serve(listener).await }
            });
            builder.connect(TcpConnector::new(addr)).await?
        }
        Over::Quic => {
            let (server_tls, client_tls) = prism_benches::rpc::systems::prism::quic_tls()?;
            let listener = QuicListener::bind(([127, 0, 0, 1], 0).into(), server_tls)?;
            let addr = listener.local_addr()?;
            tokio::spawn({
                let server = server.clone();
                async move { server.serve(listener).await }
            });
            builder
                .connect(QuicConnector::new(addr, "localhost", client_tls)?)
                .await?
        }
    };
    Ok((server, FlowClient::new(channel)))
}

/// Items per second of a Prism server stream of `n` items of `size` bytes.
async fn prism_items(client: &FlowClient, n: u64, size: u64) -> Result<f64, Error> {
    let start = Instant::now();
    let mut items = client.items(n, size).await?;
    let mut got = 0;
    while let Some(item) = items.message().await? {
        got += item.data.len() as u64;
    }
    assert_eq!(got, n * size);
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Items per second of raw length-prefixed records of `size` bytes over
/// TCP (buffered writes and reads: the floor a framing layer pays).
async fn raw_items(n: u64, size: usize) -> Result<f64, Error> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let writer = tokio::spawn(async move {
        let (socket, _) = listener.accept().await?;
        socket.set_nodelay(true)?;
        let mut out = BufWriter::with_capacity(64 << 10, socket);
        let record = vec![1u8; size];
        for _ in 0..n {
            out.write_u32_le(size as u32).await?;
            out.write_all(&record).await?;
        }
        out.flush().await?;
        Ok::<_, std::io::Error>(())
    });
    let start = Instant::now();
    let socket = TcpStream::connect(addr).await?;
    socket.set_nodelay(true)?;
    let mut input = BufReader::with_capacity(64 << 10, socket);
    let mut record = vec![0u8; size];
    for _ in 0..n {
        let len = input.read_u32_le().await? as usize;
        input.read_exact(&mut record[..len]).await?;
    }
    let rate = n as f64 / start.elapsed().as_secs_f64();
    writer.await??;
    Ok(rate)
}

/// GB/s of raw TCP moving `total` bytes in 1 MiB writes.
async fn raw_bulk(total: u64) -> Result<f64, Error> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let writer = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await?;
        let block = vec![1u8; 1 << 20];
        for _ in 0..total >> 20 {
            socket.write_all(&block).await?;
        }
        Ok::<_, std::io::Error>(())
    });
    let start = Instant::now();
    let mut socket = TcpStream::connect(addr).await?;
    let mut buf = vec![0u8; 1 << 20];
    let mut got = 0u64;
    while got < total {
        let n = socket.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        got += n as u64;
    }
    let rate = got as f64 / start.elapsed().as_secs_f64() / 1e9;
    writer.await??;
    Ok(rate)
}

/// Round-trip times (µs) of `calls` runs of `call`, as p50 and p99.
async fn latency<F, Fut>(calls: usize, mut call: F) -> Result<(f64, f64), Error>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
{
    let mut samples = Vec::with_capacity(calls);
    for i in 0..calls {
        let start = Instant::now();
        call(i as u64).await?;
        samples.push(start.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    Ok((at(0.5), at(0.99)))
}

/// Unary latency idle and beside a bulk stream, in `runs` rounds (each
/// idle, then with `hog` running): medians over the rounds of each
/// percentile and of each round's p99 ratio, printed as one row.
async fn under_bulk<F, Fut, H, T>(
    system: &str,
    runs: usize,
    calls: usize,
    mut ping: F,
    hog: H,
) -> Result<(), Error>
where
    F: FnMut(u64) -> Fut,
    Fut: std::future::Future<Output = Result<(), Error>>,
    H: Fn() -> tokio::task::JoinHandle<T>,
{
    let [mut idle50, mut idle99, mut busy50, mut busy99, mut ratio] = [(); 5].map(|()| Vec::new());
    for _ in 0..runs {
        let (p50, p99) = latency(calls, &mut ping).await?;
        idle50.push(p50);
        idle99.push(p99);
        let running = hog();
        tokio::time::sleep(Duration::from_millis(50)).await;
        let busy = latency(calls, &mut ping).await;
        running.abort();
        // The next idle round starts once the stream is gone and what it
        // had in flight has drained.
        let _ = running.await;
        tokio::time::sleep(Duration::from_millis(50)).await;
        let (b50, b99) = busy?;
        busy50.push(b50);
        busy99.push(b99);
        ratio.push(b99 / p99);
    }
    println!(
        "| unary under a bulk stream, {system} | p50 {:.1} µs, p99 {:.1} µs | idle p50 {:.1} µs, p99 {:.1} µs | | p99 {:.2}× idle |",
        median(busy50),
        median(busy99),
        median(idle50),
        median(idle99),
        median(ratio)
    );
    Ok(())
}

/// Rates of Prism and its two peers, one row per round, each round
/// measuring all three in turn: this VM's speed drifts between rounds, so
/// a ratio is taken within each round, then the median of those.
struct Rounds(Vec<[f64; 3]>);

impl Rounds {
    async fn measure<F, Fut>(runs: usize, mut round: F) -> Result<Rounds, Error>
    where
        F: FnMut() -> Fut,
        Fut: std::future::Future<Output = Result<[f64; 3], Error>>,
    {
        let mut rows = Vec::with_capacity(runs);
        for _ in 0..runs {
            rows.push(round().await?);
        }
        Ok(Rounds(rows))
    }

    /// The median rate of each system.
    fn medians(&self) -> [f64; 3] {
        [0, 1, 2].map(|i| median(self.0.iter().map(|row| row[i]).collect()))
    }

    /// The median over the rounds of Prism's rate over that of peer `i`.
    fn ratio(&self, i: usize) -> f64 {
        median(self.0.iter().map(|row| row[0] / row[i]).collect())
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Seconds `f` takes.
async fn timed<F, Fut, T>(f: F) -> Result<f64, Error>
where
    F: FnOnce() -> Fut,
    Fut: std::future::Future<Output = Result<T, Error>>,
{
    let start = Instant::now();
    f().await?;
    Ok(start.elapsed().as_secs_f64())
}

async fn run(quick: bool, only: Option<String>) -> Result<(), Error> {
    let wanted = |scenario: &str| only.as_deref().is_none_or(|o| o == scenario);
    let runs = if quick { 3 } else { 5 };
    let items = if quick { 200_000 } else { 1_000_000 };
    let bulk: u64 = if quick { 256 << 20 } else { 1 << 30 };
    let (server, client) = prism_pair(Over::Tcp).await?;
    let tonic = TonicFlow::connect(prism_benches::streams::serve().await?).await?;
    // Warm up.
    prism_items(&client, 10_000, 64).await?;
    tonic.items(10_000, 64).await?;

    if wanted("items") {
        items_scenario(&client, &tonic, runs, items).await?;
    }
    if wanted("bulk") {
        bulk_scenario(&client, &tonic, runs, bulk).await?;
    }
    if wanted("unary") {
        unary_scenario(&client, &tonic, runs, quick).await?;
    }
    server.shutdown();
    if wanted("quic") {
        quic_scenario(runs, quick).await?;
    }
    Ok(())
}

/// Prism over QUIC: 1 KiB items/s, stream open time, a thousand streams
/// at once, unary latency idle and beside a bulk stream.
async fn quic_scenario(runs: usize, quick: bool) -> Result<(), Error> {
    let (server, client) = prism_pair(Over::Quic).await?;
    prism_items(&client, 10_000, 1024).await?;
    let n = if quick { 100_000 } else { 500_000 };
    let mut rates = Vec::new();
    for _ in 0..runs {
        rates.push(prism_items(&client, n, 1024).await?);
    }
    println!(
        "| 1 KiB server stream, prism/quic | {:.0} k items/s | | | |",
        median(rates) / 1e3
    );
    // Opening a stream: the call until its first item arrives.
    let opens = if quick { 2_000 } else { 10_000 };
    let open = |_| async {
        let mut items = client.items(1, 64).await?;
        items.message().await?;
        Ok::<_, Error>(())
    };
    let (p50, p99) = latency(opens, open).await?;
    println!("| stream open to first item, prism/quic | p50 {p50:.1} µs, p99 {p99:.1} µs | | | |");
    // A thousand streams at once, 16 items of 1 KiB each.
    let mut times = Vec::new();
    for _ in 0..runs {
        times.push(
            timed(|| async {
                let streams = (0..1_000).map(|_| {
                    let client = client.clone();
                    tokio::spawn(async move {
                        let mut items = client.items(16, 1024).await?;
                        let mut got = 0;
                        while items.message().await?.is_some() {
                            got += 1;
                        }
                        assert_eq!(got, 16);
                        Ok::<_, prism::Status>(())
                    })
                });
                for stream in streams.collect::<Vec<_>>() {
                    stream.await??;
                }
                Ok::<_, Error>(())
            })
            .await?,
        );
    }
    println!(
        "| 1,000 streams at once (16 KiB each), prism/quic | {:.1} ms | | | |",
        median(times) * 1e3
    );
    let calls = if quick { 2_000 } else { 10_000 };
    let ping = |i| {
        let client = &client;
        async move { Ok::<_, Error>(client.ping(i).await.map(drop)?) }
    };
    let hog = || tokio::spawn(bulk_reader(client.clone()));
    under_bulk("prism/quic", runs, calls, ping, hog).await?;
    server.shutdown();
    Ok(())
}

/// A bulk stream of 1 MiB items read as fast as it comes, until aborted.
async fn bulk_reader(client: FlowClient) -> Result<(), prism::Status> {
    let mut items = client.items(u64::MAX, 1 << 20).await?;
    while items.message().await?.is_some() {}
    Ok(())
}

/// 64-byte items per second.
async fn items_scenario(
    client: &FlowClient,
    tonic: &TonicFlow,
    runs: usize,
    items: u64,
) -> Result<(), Error> {
    let rounds = Rounds::measure(runs, || async {
        Ok([
            prism_items(client, items, 64).await?,
            items as f64 / timed(|| tonic.items(items, 64)).await?,
            raw_items(items, 64).await?,
        ])
    })
    .await?;
    let [p, t, r] = rounds.medians();
    println!(
        "| 64 B server stream | {:.2} M items/s | tonic {:.2} M items/s | raw tcp {:.2} M items/s | {:.2}× tonic, {:.2}× raw |",
        p / 1e6,
        t / 1e6,
        r / 1e6,
        rounds.ratio(1),
        rounds.ratio(2)
    );
    Ok(())
}

/// GB/s of a bulk transfer in 1 MiB items.
async fn bulk_scenario(
    client: &FlowClient,
    tonic: &TonicFlow,
    runs: usize,
    bulk: u64,
) -> Result<(), Error> {
    let n = bulk >> 20;
    let rounds = Rounds::measure(runs, || async {
        Ok([
            bulk as f64 / timed(|| prism_items(client, n, 1 << 20)).await? / 1e9,
            bulk as f64 / timed(|| tonic.items(n, 1 << 20)).await? / 1e9,
            raw_bulk(bulk).await?,
        ])
    })
    .await?;
    let [p, t, r] = rounds.medians();
    println!(
        "| {} MiB transfer, 1 MiB items | {p:.2} GB/s | tonic {t:.2} GB/s | raw tcp {r:.2} GB/s | {:.1}× tonic, {:.0}% of raw |",
        bulk >> 20,
        rounds.ratio(1),
        100.0 * rounds.ratio(2)
    );
    Ok(())
}

/// Unary latency, idle and beside a bulk stream on the same connection.
async fn unary_scenario(
    client: &FlowClient,
    tonic: &TonicFlow,
    runs: usize,
    quick: bool,
) -> Result<(), Error> {
    let calls = if quick { 2_000 } else { 10_000 };
    let ping = move |i| async move { Ok::<_, Error>(client.ping(i).await.map(drop)?) };
    // A bulk stream read as fast as it comes, on the same connection.
    let hog = || tokio::spawn(bulk_reader(client.clone()));
    under_bulk("prism/tcp", runs, calls, ping, hog).await?;
    let ping = move |i| tonic.ping(i);
    let hog = || {
        let tonic = tonic.clone();
        tokio::spawn(async move {
            tonic
                .items(u64::MAX, 1 << 20)
                .await
                .map_err(|e| e.to_string())
        })
    };
    under_bulk("tonic", runs, calls, ping, hog).await
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let quick = args.iter().any(|a| a == "--quick");
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1).cloned());
    let cpu = Cpus::available().first().copied().unwrap_or(0);
    let pinned = Pinned::start("streams", cpu).map_err(|e| e.to_string())?;
    println!("client and server on one thread, pinned to CPU {cpu}");
    println!("| scenario | prism/tcp | tonic | floor | ratio |");
    println!("|---|---|---|---|---|");
    pinned
        .run(async move { run(quick, only).await.map_err(|e| e.to_string()) })
        .map_err(|e| e.to_string())??;
    Ok(())
}
