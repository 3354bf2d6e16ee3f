//! Streams over TCP: a server stream, a client upload, a bidirectional
//! chat and a push subscription with a slow subscriber.
//!
//! Run with `cargo run --release --example streaming`.

use std::time::Duration;

use prism::tcp::TcpConnector;
use prism::{Channel, Server, Streaming};

/// One line of a chat, or one chunk of an upload.
#[prism::message]
#[derive(Debug, Clone)]
pub struct Line {
    /// Who said it.
    pub from: String,
    /// What was said.
    pub text: String,
}

/// A price update.
#[prism::message]
#[derive(Debug, Clone)]
pub struct Tick {
    /// Its place in the feed.
    pub seq: u64,
    /// The price, in cents.
    pub cents: u64,
}

/// What an upload stored.
#[prism::message]
#[derive(Debug)]
pub struct Receipt {
    /// Chunks received.
    pub chunks: u64,
    /// Bytes received.
    pub bytes: u64,
}

/// Why an upload was refused.
#[prism::message]
#[derive(Debug)]
pub enum UploadError {
    /// An empty chunk is not allowed.
    EmptyChunk,
}

/// Every kind of stream.
#[prism::service(package = "examples", public)]
pub trait Market {
    /// Server stream: the first `n` ticks.
    async fn history(&self, n: u64) -> Streaming<Tick>;
    /// Client stream: stores chunks, answers once at the end.
    async fn upload(&self, chunks: Streaming<Vec<u8>>) -> Result<Receipt, UploadError>;
    /// Bidirectional: answers each line as it arrives.
    async fn chat(&self, inbox: Streaming<Line>) -> Streaming<Line>;
    /// Push subscription: ticks as fast as they come, never waiting for a
    /// subscriber; one that falls behind by more than its stream window
    /// holds and 32 ticks besides misses the oldest and is told how many.
    #[prism(subscription, buffer = 32)]
    async fn live(&self, n: u64) -> Streaming<Tick>;
}

struct MyMarket;

fn ticks(n: u64) -> impl Iterator<Item = Tick> {
    (0..n).map(|seq| Tick {
        seq,
        cents: 10_000 + seq % 97,
    })
}

impl Market for MyMarket {
    async fn history(&self, n: u64) -> Streaming<Tick> {
        Streaming::iter(ticks(n))
    }

    async fn upload(&self, mut chunks: Streaming<Vec<u8>>) -> Result<Receipt, UploadError> {
        let mut receipt = Receipt {
            chunks: 0,
            bytes: 0,
        };
        // Each `message()` takes one chunk and gives its credit back to the
        // client, which sends only as fast as this loop reads.
        while let Ok(Some(chunk)) = chunks.message().await {
            if chunk.is_empty() {
                return Err(UploadError::EmptyChunk);
            }
            receipt.chunks += 1;
            receipt.bytes += chunk.len() as u64;
        }
        Ok(receipt)
    }

    async fn chat(&self, mut inbox: Streaming<Line>) -> Streaming<Line> {
        // A sender whose `send().await` waits for the client's credit.
        let (replies, stream) = Streaming::channel();
        tokio::spawn(async move {
            while let Ok(Some(line)) = inbox.message().await {
                let reply = Line {
                    from: "server".into(),
                    text: format!("{} said {:?}", line.from, line.text),
                };
                if replies.send(reply).await.is_err() {
                    return; // the client hung up
                }
            }
            replies.finish();
        });
        stream
    }

    async fn live(&self, n: u64) -> Streaming<Tick> {
        Streaming::iter(ticks(n))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(MarketServer::new(MyMarket))
        .allow_plaintext()
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });
    let channel = Channel::builder()
        .allow_plaintext()
        .connect(TcpConnector::new(addr))
        .await?;
    let market = MarketClient::new(channel);

    // Server stream: read it like any `futures::Stream`, or with `message()`.
    let mut history = market.history(5).await?;
    while let Some(tick) = history.message().await? {
        println!("history: #{} at {} cents", tick.seq, tick.cents);
    }

    // Client stream: any stream of items, sent as the server grants credit.
    let chunks = Streaming::iter((1..=64).map(|i| vec![i as u8; 16 << 10]));
    let receipt = market.upload(chunks).await?;
    println!("upload: {receipt:?}");
    let refused = market.upload(Streaming::iter([Vec::new()])).await?;
    println!("upload of an empty chunk: {refused:?}");

    // Bidirectional: send with a sender, read the replies as they come.
    let (lines, inbox) = Streaming::channel();
    let mut replies = market.chat(inbox).timeout(Duration::from_secs(10)).await?;
    for text in ["hello", "how are prices?"] {
        lines
            .send(Line {
                from: "client".into(),
                text: text.into(),
            })
            .await?;
        if let Some(reply) = replies.message().await? {
            println!("chat: {}", reply.text);
        }
    }
    lines.finish(); // half-close: the server's loop ends, so does its stream
    assert!(replies.message().await?.is_none());

    // Push subscription: the feed never waits, so a subscriber that naps
    // (here: while 100 000 ticks are produced at once) misses the oldest.
    let mut live = market.live(100_000).await?;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (mut received, mut last) = (0u64, 0u64);
    while let Some(tick) = live.message().await? {
        received += 1;
        last = tick.seq;
    }
    println!(
        "live: received {received} ticks, missed {} (the newest, #{last}, arrived)",
        live.missed()
    );

    server.shutdown();
    serving.await??;
    Ok(())
}
