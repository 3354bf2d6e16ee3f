//! A Prism client in the browser: the generated `BoardClient`, compiled to
//! `wasm32-unknown-unknown`, calls a native Prism server over the page's
//! own WebSocket (`prism::web`). `browser::run` makes one call of each kind and
//! says what came back; `index.html` runs it and shows the result.
//!
//! Build and serve it (the README's "Browser client" section):
//!
//! ```text
//! cargo build -p prism-browser-example --lib --target wasm32-unknown-unknown --release
//! wasm-bindgen --target web --out-dir examples/browser/pkg \
//!     target/wasm32-unknown-unknown/release/prism_browser_example.wasm
//! cargo run -p prism-browser-example --bin browser-demo
//! ```
//!
//! then open <http://127.0.0.1:8080>.

pub mod service;

#[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
pub mod page;

use prism::{Channel, Status, Streaming};
use service::BoardClient;

/// Calls each op of the board once over `channel` and describes what came
/// back, one `op=result` per line.
///
/// # Errors
///
/// The first call that failed, with its status.
pub async fn calls(channel: Channel) -> Result<String, Status> {
    let board = BoardClient::new(channel);
    let sum = board.add(2, 3).await?;
    let greeting = board.greet("browser".into()).await?;
    let mut items = board.count(5).await?;
    let mut counted = Vec::new();
    while let Some(n) = items.message().await? {
        counted.push(n);
    }
    let total = board.sum(Streaming::iter([1, 2, 3, 4])).await?;
    Ok(format!(
        "add={sum}\ngreet={greeting}\ncount={counted:?}\nsum={total}"
    ))
}

/// What [`calls`] says when every call works.
pub const EXPECTED: &str = "add=5\ngreet=hello, browser\ncount=[1, 2, 3, 4, 5]\nsum=10";

/// What the page calls (wasm only).
#[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
pub mod browser {
    use prism::Channel;
    use prism::web::WebSocketConnector;
    use wasm_bindgen::prelude::wasm_bindgen;

    /// Connects to the Prism server at `url` (`ws://…` or `wss://…`) and
    /// makes the calls; the page shows what it returns.
    ///
    /// # Errors
    ///
    /// Why the connection or a call failed, as a JavaScript error.
    #[wasm_bindgen]
    pub async fn run(url: String) -> Result<String, wasm_bindgen::JsError> {
        let connector = WebSocketConnector::new(url)?;
        // `ws://` is plaintext, allowed here explicitly (`wss://` needs
        // nothing).
        let channel = Channel::builder()
            .allow_plaintext()
            .connect(connector)
            .await?;
        Ok(super::calls(channel).await?)
    }
}
