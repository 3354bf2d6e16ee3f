//! Prism over a Unix domain socket.
//!
//! Run with `cargo run --release --example unix_socket`.

use prism::{Channel, Server};

/// Counts words.
#[prism::service(package = "examples", public)]
pub trait Words {
    /// How many whitespace-separated words `text` has.
    async fn count(&self, text: String) -> u32;
}

struct MyWords;

impl Words for MyWords {
    async fn count(&self, text: String) -> u32 {
        text.split_whitespace().count() as u32
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let path = std::env::temp_dir().join(format!("prism-example-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = tokio::net::UnixListener::bind(&path)?;
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(WordsServer::new(MyWords))
        .build()?;
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });

    let channel = Channel::builder()
        .connect(prism::unix::UnixConnector::new(&path))
        .await?;
    let words = WordsClient::new(channel);
    let n = words.count("the quick brown fox".into()).await?;
    println!("count over {} -> {n}", path.display());

    server.shutdown();
    serving.await??;
    std::fs::remove_file(&path)?;
    Ok(())
}
