//! Prism over WebSocket: the same service on a `ws://` listener (plaintext,
//! allowed explicitly, as for TCP) and a `wss://` one (TLS 1.3 underneath,
//! no consent needed), called with unary calls and a server stream.
//!
//! The certificate is made at start by a throwaway CA (`secure/pki.rs`);
//! a deployment loads its own from PEM files.
//!
//! Run with `cargo run --release --example websocket`.

#[path = "secure/pki.rs"]
#[allow(dead_code)] // client certificates: this example does not use them
mod pki;

use prism::tls::{ClientTls, ServerTls};
use prism::ws::{WsConnector, WsListener};
use prism::{Channel, Server, Streaming};
use tokio::net::TcpListener;

/// Counts words, and spells a word out.
#[prism::service(package = "examples", public)]
pub trait Words {
    /// How many whitespace-separated words `text` has.
    async fn count(&self, text: String) -> u32;
    /// The letters of `word`, one message each.
    async fn spell(&self, word: String) -> Streaming<char>;
}

struct MyWords;

impl Words for MyWords {
    async fn count(&self, text: String) -> u32 {
        u32::try_from(text.split_whitespace().count()).unwrap_or(u32::MAX)
    }

    async fn spell(&self, word: String) -> Streaming<char> {
        Streaming::iter(word.chars().collect::<Vec<_>>())
    }
}

async fn use_words(channel: Channel) -> Result<(), Box<dyn std::error::Error>> {
    let link = channel.link();
    let words = WordsClient::new(channel);
    let n = words.count("over a web socket".into()).await?;
    let mut letters = words.spell("prism".into()).await?;
    let mut spelled = String::new();
    while let Some(letter) = letters.message().await? {
        spelled.push(letter);
        spelled.push(' ');
    }
    println!(
        "{} to {}: count -> {n}, spell -> {}",
        link.kind,
        link.peer,
        spelled.trim_end()
    );
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // ws://: plaintext over a network, so both ends must allow it.
    let tcp = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("ws://{}/prism", tcp.local_addr()?);
    let plain = Server::builder()
        .allow_unauthenticated()
        .allow_plaintext()
        .add_service(WordsServer::new(MyWords))
        .build()?;
    let serving_plain = tokio::spawn({
        let server = plain.clone();
        async move { server.serve(WsListener::new(tcp)).await }
    });
    let channel = Channel::builder()
        .allow_plaintext()
        .connect(WsConnector::new(&url)?)
        .await?;
    use_words(channel).await?;

    // wss://: the server proves its certificate; the default policy holds.
    let ca = pki::Ca::new("example ca");
    let cert = ca.server("spiffe://example.internal/words");
    let tls = ServerTls::from_pem(cert.cert_pem.as_bytes(), cert.key_pem.as_bytes())?;
    let tcp = TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("wss://localhost:{}/prism", tcp.local_addr()?.port());
    let secure = Server::builder()
        .allow_unauthenticated()
        .add_service(WordsServer::new(MyWords))
        .build()?;
    let serving_secure = tokio::spawn({
        let server = secure.clone();
        async move { server.serve(WsListener::tls(tcp, tls)).await }
    });
    let roots = ClientTls::from_pem(ca.cert_pem.as_bytes())?;
    let channel = Channel::builder()
        .connect(WsConnector::tls(&url, roots)?)
        .await?;
    use_words(channel).await?;

    plain.shutdown();
    secure.shutdown();
    serving_plain.await??;
    serving_secure.await??;
    Ok(())
}
