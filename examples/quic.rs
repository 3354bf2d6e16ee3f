//! Prism over QUIC: each call and stream travels on a QUIC stream of its
//! own, so a bulk transfer and urgent calls share one connection without
//! queueing behind each other (and a lost packet holds up only its own
//! channel). The urgent op also carries a higher priority, which QUIC's
//! scheduler honours. Access hints go as unreliable QUIC datagrams
//! (`#[prism(datagram)]`): fire-and-forget, nothing answered.
//!
//! The certificate is made at start by a throwaway CA (`secure/pki.rs`);
//! a deployment loads its own from PEM files.
//!
//! Run with `cargo run --release --example quic`.

#[path = "secure/pki.rs"]
#[allow(dead_code)] // client certificates: this example does not use them
mod pki;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use prism::quic::{QuicConnector, QuicListener};
use prism::tls::{ClientTls, ServerTls};
use prism::{Channel, Server, Streaming};

/// A store of blobs, and a health check that must never wait behind them.
#[prism::service(package = "examples", public)]
pub trait Blobs {
    /// `count` chunks of `size` bytes each.
    async fn download(&self, count: u32, size: u32) -> Streaming<Vec<u8>>;
    /// Answers at once, ahead of bulk traffic.
    #[prism(priority = 7)]
    async fn ping(&self, n: u32) -> u32;
    /// A hint that a blob was read: a datagram, which may be lost.
    #[prism(datagram)]
    async fn accessed(&self, blob: u32);
}

struct Store {
    hints: Arc<AtomicU64>,
}

impl Blobs for Store {
    async fn download(&self, count: u32, size: u32) -> Streaming<Vec<u8>> {
        let chunk = vec![0xAB; size as usize];
        Streaming::iter((0..count).map(move |_| chunk.clone()))
    }

    async fn ping(&self, n: u32) -> u32 {
        n
    }

    async fn accessed(&self, _blob: u32) {
        self.hints.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let ca = pki::Ca::new("example ca");
    let cert = ca.server("spiffe://example.internal/blobs");
    let tls = ServerTls::from_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes())?;
    let listener = QuicListener::bind("127.0.0.1:0".parse()?, tls)?;
    let addr = listener.local_addr()?;
    let hints = Arc::new(AtomicU64::new(0));
    let store = Store {
        hints: Arc::clone(&hints),
    };
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(BlobsServer::new(store))
        .build()?;
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });

    // TLS 1.3 is built in: the default security policy holds.
    let roots = ClientTls::from_pem(ca.cert_pem.as_bytes())?;
    let channel = Channel::builder()
        .connect(QuicConnector::new(addr, "localhost", roots)?)
        .await?;
    let link = channel.link();
    println!(
        "{} to {} (server {:?})",
        link.kind, link.peer, link.peer_identity
    );

    let blobs = BlobsClient::new(channel);
    let bulk = {
        let blobs = blobs.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let mut chunks = blobs.download(256, 256 << 10).await?;
            let mut bytes = 0usize;
            while let Some(chunk) = chunks.message().await? {
                bytes += chunk.len();
            }
            Ok::<_, prism::Status>((bytes, started.elapsed()))
        })
    };
    // Small calls while 64 MiB streams in on the same connection.
    let mut slowest = std::time::Duration::ZERO;
    for n in 0..200 {
        let started = Instant::now();
        assert_eq!(blobs.ping(n).await?, n);
        slowest = slowest.max(started.elapsed());
    }
    let (bytes, took) = bulk.await??;
    println!(
        "download: {} MiB in {took:.2?}; 200 pings beside it, the slowest {slowest:.2?}",
        bytes >> 20
    );

    // Datagrams: each `.await` returns once the connection took it.
    for blob in 0..1000 {
        blobs.accessed(blob).await?;
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    println!(
        "hints: 1000 sent as datagrams, {} arrived",
        hints.load(Ordering::Relaxed)
    );

    server.shutdown();
    serving.await??;
    Ok(())
}
