//! The service the page calls: shared by the browser client (wasm) and
//! the native server.

use prism::Streaming;

/// A small board of arithmetic and greetings, one op of each kind the
/// browser example uses.
#[prism::service(package = "examples.browser", public)]
pub trait Board {
    /// Adds two numbers (unary).
    async fn add(&self, a: i64, b: i64) -> i64;
    /// Greets `name` (unary, a string each way).
    async fn greet(&self, name: String) -> String;
    /// Counts from 1 to `to` (a server stream).
    async fn count(&self, to: u32) -> Streaming<u32>;
    /// Sums what the client sends (a client stream).
    async fn sum(&self, numbers: Streaming<i64>) -> i64;
}

/// The native server's implementation.
#[derive(Clone, Copy, Debug, Default)]
pub struct BoardImpl;

impl Board for BoardImpl {
    async fn add(&self, a: i64, b: i64) -> i64 {
        a + b
    }

    async fn greet(&self, name: String) -> String {
        format!("hello, {name}")
    }

    async fn count(&self, to: u32) -> Streaming<u32> {
        Streaming::iter(1..=to)
    }

    async fn sum(&self, mut numbers: Streaming<i64>) -> i64 {
        let mut total = 0;
        while let Ok(Some(n)) = numbers.message().await {
            total += n;
        }
        total
    }
}
