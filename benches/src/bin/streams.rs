//! Stream benchmarks, side by side in one run, client and server on one
//! pinned thread (the placement that is not bimodal on these VMs):
//!
//! - server-stream throughput of 64-byte items (items/s): Prism over TCP
//!   beside a raw TCP floor (length-prefixed 64-byte records);
//! - a 1 GiB transfer (GB/s): Prism streaming 1 MiB items (each cut into
//!   32 KiB chunks under flow control) beside raw TCP;
//! - unary p50/p99 while a bulk stream saturates the same connection,
//!   beside the idle p50/p99.
//!
//! `cargo run --release --bin streams [-- --quick]`; `PRISM_CHUNK=<bytes>`
//! sets the chunk size on both ends (32 KiB by default). Medians of several
//! runs; nothing is asserted. tonic's streaming is not in this harness yet.

use std::time::{Duration, Instant};

use prism::tcp::TcpConnector;
use prism::{Channel, Server, Streaming};
use prism_benches::rpc::pin::{Cpus, Pinned};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader, BufWriter};
use tokio::net::{TcpListener, TcpStream};

/// A small item.
#[prism::message]
#[derive(Debug, Clone)]
pub struct Item {
    /// 64 bytes of payload.
    pub data: Vec<u8>,
}

/// Streams for the benchmarks.
#[prism::service(package = "bench")]
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
            data: vec![1; size as usize],
        };
        Streaming::iter(std::iter::repeat_n(item, n as usize))
    }

    async fn ping(&self, n: u64) -> u64 {
        n
    }
}

type Error = Box<dyn std::error::Error + Send + Sync>;

async fn prism_pair() -> Result<(Server, FlowClient), Error> {
    let mut config = prism::transport::SessionConfig::default();
    if let Some(chunk) = std::env::var("PRISM_CHUNK")
        .ok()
        .and_then(|c| c.parse().ok())
    {
        config = config.with_max_chunk(chunk);
    }
    let server = Server::builder()
        .session_config(config.clone())
        .add_service(FlowServer::new(Flows))
        .allow_plaintext()
        .build()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });
    let channel = Channel::builder()
        .session_config(config)
        .allow_plaintext()
        .connect(TcpConnector::new(addr))
        .await?;
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

/// Unary round-trip times (µs) of `calls` pings, as p50 and p99.
async fn ping_latency(client: &FlowClient, calls: usize) -> Result<(f64, f64), Error> {
    let mut samples = Vec::with_capacity(calls);
    for i in 0..calls {
        let start = Instant::now();
        client.ping(i as u64).await?;
        samples.push(start.elapsed().as_secs_f64() * 1e6);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q) as usize];
    Ok((at(0.5), at(0.99)))
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

async fn run(quick: bool) -> Result<(), Error> {
    let runs = if quick { 3 } else { 5 };
    let items = if quick { 200_000 } else { 1_000_000 };
    let bulk: u64 = if quick { 256 << 20 } else { 1 << 30 };
    let (server, client) = prism_pair().await?;
    // Warm up.
    prism_items(&client, 10_000, 64).await?;

    let mut prism_rate = Vec::new();
    let mut raw_rate = Vec::new();
    for _ in 0..runs {
        prism_rate.push(prism_items(&client, items, 64).await?);
        raw_rate.push(raw_items(items, 64).await?);
    }
    let (p, r) = (median(prism_rate), median(raw_rate));
    println!(
        "| 64 B server stream | prism/tcp | {:.2} M items/s | raw tcp {:.2} M items/s | {:.2}× raw |",
        p / 1e6,
        r / 1e6,
        p / r
    );

    let mut prism_bulk = Vec::new();
    let mut raw = Vec::new();
    for _ in 0..runs {
        let start = Instant::now();
        let n = bulk >> 20;
        prism_items(&client, n, 1 << 20).await?;
        prism_bulk.push(bulk as f64 / start.elapsed().as_secs_f64() / 1e9);
        raw.push(raw_bulk(bulk).await?);
    }
    let (p, r) = (median(prism_bulk), median(raw));
    println!(
        "| {} MiB transfer, 1 MiB items | prism/tcp | {p:.2} GB/s | raw tcp {r:.2} GB/s | {:.0}% of raw |",
        bulk >> 20,
        100.0 * p / r
    );

    let calls = if quick { 2_000 } else { 10_000 };
    let (idle50, idle99) = ping_latency(&client, calls).await?;
    // A bulk stream read as fast as it comes, on the same connection.
    let bulk_client = client.clone();
    let hog = tokio::spawn(async move {
        let mut items = bulk_client.items(u64::MAX, 1 << 20).await?;
        while items.message().await?.is_some() {}
        Ok::<_, prism::Status>(())
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let (busy50, busy99) = ping_latency(&client, calls).await?;
    hog.abort();
    println!(
        "| unary under a bulk stream | prism/tcp | p50 {busy50:.1} µs, p99 {busy99:.1} µs | idle p50 {idle50:.1} µs, p99 {idle99:.1} µs | p99 {:.2}× idle |",
        busy99 / idle99
    );
    server.shutdown();
    Ok(())
}

fn main() -> Result<(), Error> {
    let quick = std::env::args().any(|a| a == "--quick");
    let cpu = Cpus::available().first().copied().unwrap_or(0);
    let pinned = Pinned::start("streams", cpu).map_err(|e| e.to_string())?;
    println!("client and server on one thread, pinned to CPU {cpu}");
    println!("| scenario | system | result | beside | ratio |");
    println!("|---|---|---|---|---|");
    pinned
        .run(async move { run(quick).await.map_err(|e| e.to_string()) })
        .map_err(|e| e.to_string())??;
    Ok(())
}
