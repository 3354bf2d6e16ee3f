//! The browser example's native side: a Prism server for `Board` on a
//! `ws://` listener (127.0.0.1:8081) and the page on 127.0.0.1:8080.
//! Build the page first (see the crate docs), then open
//! <http://127.0.0.1:8080>; each result the page posts back is printed.

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    use prism::Server;
    use prism::ws::WsListener;
    use prism_browser_example::{page, service};
    use tokio::net::TcpListener;

    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if !dir.join("pkg").exists() {
        eprintln!(
            "examples/browser/pkg is missing: build the page first (the README's \"Browser client\" section)"
        );
    }
    let server = Server::builder()
        .allow_unauthenticated()
        .allow_plaintext() // ws:// is plaintext: allowed here explicitly
        .add_service(service::BoardServer::new(service::BoardImpl))
        .build()?;
    let ws = WsListener::new(TcpListener::bind("127.0.0.1:8081").await?);
    let http = TcpListener::bind("127.0.0.1:8080").await?;
    let (results, mut posted) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(page::serve(http, dir, results));
    tokio::spawn(async move {
        while let Some(result) = posted.recv().await {
            println!("the page says:\n{result}");
        }
    });
    println!("open http://127.0.0.1:8080 (Prism on ws://127.0.0.1:8081/prism)");
    server.serve(ws).await?;
    Ok(())
}

#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
fn main() {}
