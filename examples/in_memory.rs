//! Prism over the in-memory transport: client and server in one process,
//! payloads passed by reference count without copies.
//!
//! Run with `cargo run --release --example in_memory`.

use prism::{Channel, Server};

/// A chunk of bytes with a name.
#[prism::message]
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// What the blob is called.
    pub name: String,
    /// Its contents.
    pub data: Vec<u8>,
}

/// Stores nothing; echoes and measures.
#[prism::service(package = "examples", public)]
pub trait Echo {
    /// Returns the blob unchanged.
    async fn echo(&self, blob: Blob) -> Blob;
    /// Returns the blob's length.
    async fn len(&self, blob: Blob) -> u64;
}

struct MyEcho;

impl Echo for MyEcho {
    async fn echo(&self, blob: Blob) -> Blob {
        blob
    }

    async fn len(&self, blob: Blob) -> u64 {
        blob.data.len() as u64
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(EchoServer::new(MyEcho))
        .build()?;
    // An in-process listener and the connector that reaches it.
    let (listener, connector) = prism::mem::endpoint();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });

    let channel = Channel::builder().connect(connector).await?;
    println!(
        "connected over {} (security: {:?})",
        channel.link().kind,
        channel.link().kind.security
    );
    let echo = EchoClient::new(channel);
    let blob = Blob {
        name: "greeting".into(),
        data: b"hello from the same process".to_vec(),
    };
    let back = echo.echo(blob.clone()).await?;
    assert_eq!(back, blob);
    println!("echo -> {} ({} bytes)", back.name, back.data.len());
    println!("len  -> {}", echo.len(blob).await?);

    let stats = echo.channel().stats();
    println!(
        "the connection moved {} frames and {} bytes; {} alignment copies",
        stats.frames_sent + stats.frames_received,
        stats.bytes_sent + stats.bytes_received,
        stats.alignment_copies
    );

    drop(echo); // the last handle: the connection finishes and closes
    server.shutdown();
    serving.await??;
    println!("server shut down cleanly");
    Ok(())
}
