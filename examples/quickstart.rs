//! Prism in one file: two services on one TCP listener, a client calling
//! them, an application error, and a deadline that expires.
//!
//! Run with `cargo run --release --example quickstart`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use prism::tcp::TcpConnector;
use prism::{Channel, Code, Context, Server};

/// Why a division failed; travels to the client as a typed value.
#[prism::message]
#[derive(Debug, Clone, PartialEq)]
pub enum MathError {
    /// The divisor was zero.
    DivideByZero,
    /// The result does not fit an `i64`.
    Overflow {
        /// The dividend that overflowed.
        dividend: i64,
    },
}

/// Integer arithmetic. Every op says who may call it: a permission, or
/// `public` (here, for the whole service: this demo has no authentication).
#[prism::service(package = "quickstart", public)]
pub trait Calc {
    /// Adds two numbers.
    async fn add(&self, a: i64, b: i64) -> i64;
    /// Divides `a` by `b`, or says why it cannot.
    async fn div(&self, a: i64, b: i64) -> Result<i64, MathError>;
    /// Squares `x` after waiting `delay_ms` milliseconds. Takes the call's
    /// context (deadline, peer) as an argument the client never passes.
    async fn slow_square(&self, cx: &Context, x: i64, delay_ms: u64) -> i64;
}

/// Greetings.
#[prism::service(package = "quickstart", public)]
pub trait Greeter {
    /// Greets someone by name.
    async fn greet(&self, name: String) -> String;
}

struct MyCalc {
    /// Handlers dropped before they finished: cancelled calls.
    dropped: Arc<AtomicUsize>,
}

impl Calc for MyCalc {
    async fn add(&self, a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }

    async fn div(&self, a: i64, b: i64) -> Result<i64, MathError> {
        match (a, b) {
            (_, 0) => Err(MathError::DivideByZero),
            (i64::MIN, -1) => Err(MathError::Overflow { dividend: a }),
            _ => Ok(a / b),
        }
    }

    async fn slow_square(&self, cx: &Context, x: i64, delay_ms: u64) -> i64 {
        println!(
            "  server: slow_square from {} with {:?} left",
            cx.peer(),
            cx.remaining()
        );
        // If the deadline passes first, this future is dropped mid-sleep.
        let guard = DropCounter(Arc::clone(&self.dropped));
        tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        std::mem::forget(guard);
        x.wrapping_mul(x)
    }
}

struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct MyGreeter;

impl Greeter for MyGreeter {
    async fn greet(&self, name: String) -> String {
        format!("hello, {name}!")
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dropped = Arc::new(AtomicUsize::new(0));
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(CalcServer::new(MyCalc {
            dropped: Arc::clone(&dropped),
        }))
        .add_service(GreeterServer::new(MyGreeter))
        .allow_plaintext() // plain TCP must be allowed explicitly
        .build()?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    println!("serving Calc and Greeter on {addr}");
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });

    let channel = Channel::builder()
        .allow_plaintext()
        .connect(TcpConnector::new(addr))
        .await?;
    let calc = CalcClient::new(channel.clone());
    let greeter = GreeterClient::new(channel);

    println!("add(2, 3)            = {}", calc.add(2, 3).await?);
    println!(
        "greet(\"prism\")       = {}",
        greeter.greet("prism".into()).await?
    );
    println!("div(7, 2)            = {:?}", calc.div(7, 2).await?);
    println!("div(1, 0)            = {:?}", calc.div(1, 0).await?);

    let late = calc
        .slow_square(12, 500)
        .timeout(Duration::from_millis(50))
        .await;
    match late {
        Err(status) if status.code() == Code::DeadlineExceeded => {
            println!("slow_square(12, 500) with a 50 ms timeout -> {status}");
        }
        other => return Err(format!("expected DEADLINE_EXCEEDED, got {other:?}").into()),
    }
    println!("slow_square(12, 5)   = {}", calc.slow_square(12, 5).await?);

    // The server dropped the expired handler rather than finishing it.
    for _ in 0..100 {
        if dropped.load(Ordering::SeqCst) > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!(
        "handlers dropped by the deadline: {}",
        dropped.load(Ordering::SeqCst)
    );

    server.shutdown();
    serving.await??;
    println!("server shut down cleanly");
    Ok(())
}
