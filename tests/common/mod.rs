//! Shared fixtures of the integration tests: the test services, servers
//! started over every transport, raw frame I/O, and a panic guard.
//!
//! Each test file uses a different subset of these helpers.
#![allow(dead_code, unreachable_pub)]

#[path = "../../examples/secure/pki.rs"]
pub mod pki;
pub mod process;
pub mod raw;

/// [`per_transport!`] over the links that keep a proof confidential: the
/// in-memory and Unix transports. With `paused:` first, each test runs on
/// one thread with tokio's clock paused (`start_paused`): timers fire in
/// simulated time as soon as nothing else can run, and Prism's wall clock
/// (`prism::auth::now`) moves with them, so tests of expiry are exact.
#[allow(unused_macros)]
macro_rules! per_local_transport {
    (paused: $($test:ident),* $(,)?) => {
        mod mem {
            $(
                #[tokio::test(start_paused = true)]
                async fn $test() {
                    super::$test(super::Transport::Mem).await;
                    super::assert_no_panics();
                }
            )*
        }
        mod unix {
            $(
                #[tokio::test(start_paused = true)]
                async fn $test() {
                    super::$test(super::Transport::Unix).await;
                    super::assert_no_panics();
                }
            )*
        }
    };
    ($($test:ident),* $(,)?) => {
        mod mem {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Transport::Mem).await;
                    super::assert_no_panics();
                }
            )*
        }
        mod unix {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Transport::Unix).await;
                    super::assert_no_panics();
                }
            )*
        }
    };
}

/// Generates one test per (transport, scenario): `mem::round_trip`,
/// `tcp::round_trip`, `unix::round_trip`, … Each scenario is an
/// `async fn(Transport)` beside the invocation, as are `Transport` and
/// `assert_no_panics` (imported from here).
#[allow(unused_macros)]
macro_rules! per_transport {
    ($($test:ident),* $(,)?) => {
        mod mem {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Transport::Mem).await;
                    super::assert_no_panics();
                }
            )*
        }
        mod tcp {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Transport::Tcp).await;
                    super::assert_no_panics();
                }
            )*
        }
        mod unix {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Transport::Unix).await;
                    super::assert_no_panics();
                }
            )*
        }
        mod tls {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Transport::Tls).await;
                    super::assert_no_panics();
                }
            )*
        }
        mod ws {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Transport::Ws).await;
                    super::assert_no_panics();
                }
            )*
        }
        mod quic {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $test() {
                    super::$test(super::Transport::Quic).await;
                    super::assert_no_panics();
                }
            )*
        }
    };
}

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Once, PoisonError};
use std::time::Duration;

use prism::{Channel, ChannelBuilder, ConnectError, Context, ServeError, Server};
use tokio::net::{TcpListener, UnixListener};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long a test waits for something that should happen "at once".
pub const PROMPTLY: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------
// Services
// ---------------------------------------------------------------------------

/// Why a division failed; travels to the client as a typed value.
#[prism::message]
#[derive(Debug, Clone, PartialEq)]
pub enum MathError {
    /// The divisor was zero.
    DivideByZero,
    /// The quotient does not fit an `i64`.
    Overflow {
        /// The dividend that overflowed.
        dividend: i64,
    },
}

/// What a handler saw through its [`Context`].
#[prism::message]
#[derive(Debug, Clone, PartialEq)]
pub struct CallInfo {
    /// The op's full name, `tests.Calc/context`.
    pub op: String,
    /// The peer as the link reports it.
    pub peer: String,
    /// The link kind's name.
    pub link: String,
    /// Microseconds left before the deadline, if the caller set one.
    pub remaining_us: Option<u64>,
    /// Frames the call's connection had received when the handler ran.
    pub frames_received: u64,
}

/// Integer arithmetic and a few probes of the runtime.
#[prism::service(public, package = "tests")]
pub trait Calc {
    /// Adds two numbers (wrapping).
    async fn add(&self, a: i64, b: i64) -> i64;
    /// Divides `a` by `b`, or says why it cannot.
    async fn div(&self, a: i64, b: i64) -> Result<i64, MathError>;
    /// Sleeps `ms` milliseconds and returns `ms`; counts handlers dropped
    /// before they finished.
    async fn sleep(&self, ms: u64) -> u64;
    /// Returns `data` unchanged.
    async fn echo(&self, data: Vec<u8>) -> Vec<u8>;
    /// What the handler's [`Context`] says (read from the task-local).
    async fn context(&self) -> CallInfo;
    /// What the handler's [`Context`] says (taken as an argument), with
    /// `tag` echoed to show the argument beside it travels.
    async fn context_arg(&self, cx: &Context, tag: u32) -> (CallInfo, u32);
    /// Waits until `n` rendezvous calls are in the server at once, then
    /// returns `id`: it only completes if calls really run concurrently.
    async fn rendezvous(&self, id: u64, n: u64) -> u64;
}

/// A second service; its `add` shares a method name with `Calc::add` but
/// has another op id and another response type.
#[prism::service(public, package = "tests")]
pub trait Greeter {
    /// Greets someone.
    async fn greet(&self, name: String) -> String;
    /// Not `Calc::add`: describes the sum instead.
    async fn add(&self, a: i64, b: i64) -> String;
}

/// What the test services observed.
#[derive(Debug, Default)]
pub struct Counters {
    /// `sleep` handlers that started.
    pub started: AtomicUsize,
    /// `sleep` handlers that ran to completion.
    pub finished: AtomicUsize,
    /// `sleep` handlers dropped before they finished (cancelled).
    pub dropped: AtomicUsize,
}

impl Counters {
    pub fn started(&self) -> usize {
        self.started.load(Ordering::SeqCst)
    }

    pub fn finished(&self) -> usize {
        self.finished.load(Ordering::SeqCst)
    }

    pub fn dropped(&self) -> usize {
        self.dropped.load(Ordering::SeqCst)
    }
}

/// The `Calc` implementation under test.
#[derive(Debug)]
pub struct TestCalc {
    counters: Arc<Counters>,
    arrivals: watch::Sender<u64>,
}

impl TestCalc {
    pub fn new(counters: Arc<Counters>) -> Self {
        TestCalc {
            counters,
            arrivals: watch::Sender::new(0),
        }
    }
}

/// Counts a handler as dropped unless [`Unfinished::finish`] ran.
struct Unfinished {
    counters: Arc<Counters>,
    done: bool,
}

impl Unfinished {
    fn finish(mut self) {
        self.done = true;
        self.counters.finished.fetch_add(1, Ordering::SeqCst);
    }
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if !self.done {
            self.counters.dropped.fetch_add(1, Ordering::SeqCst);
        }
    }
}

impl Calc for TestCalc {
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

    async fn sleep(&self, ms: u64) -> u64 {
        self.counters.started.fetch_add(1, Ordering::SeqCst);
        let guard = Unfinished {
            counters: Arc::clone(&self.counters),
            done: false,
        };
        tokio::time::sleep(Duration::from_millis(ms)).await;
        guard.finish();
        ms
    }

    async fn echo(&self, data: Vec<u8>) -> Vec<u8> {
        data
    }

    async fn context(&self) -> CallInfo {
        let ctx = Context::current().expect("handlers run inside a call context");
        call_info(&ctx)
    }

    async fn context_arg(&self, cx: &Context, tag: u32) -> (CallInfo, u32) {
        (call_info(cx), tag)
    }

    async fn rendezvous(&self, id: u64, n: u64) -> u64 {
        let mut arrivals = self.arrivals.subscribe();
        self.arrivals.send_modify(|count| *count += 1);
        // The sender lives in `self`, which outlives the handler.
        let _ = arrivals.wait_for(|&count| count >= n).await;
        id
    }
}

fn call_info(ctx: &Context) -> CallInfo {
    CallInfo {
        op: ctx.op().full_name(),
        peer: ctx.peer().to_string(),
        link: ctx.link().kind.transport.to_owned(),
        remaining_us: ctx
            .remaining()
            .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX)),
        frames_received: ctx.connection_stats().frames_received,
    }
}

/// The `Greeter` implementation under test.
#[derive(Debug)]
pub struct TestGreeter;

impl Greeter for TestGreeter {
    async fn greet(&self, name: String) -> String {
        format!("hello, {name}!")
    }

    async fn add(&self, a: i64, b: i64) -> String {
        format!("{a} + {b} = {}", a.wrapping_add(b))
    }
}

/// A server with `Calc` and `Greeter`, plaintext allowed.
pub fn test_server(counters: &Arc<Counters>) -> Server {
    Server::builder()
        .allow_unauthenticated()
        .add_service(CalcServer::new(TestCalc::new(Arc::clone(counters))))
        .add_service(GreeterServer::new(TestGreeter))
        .allow_plaintext()
        .build()
        .expect("the test services build")
}

// ---------------------------------------------------------------------------
// Servers over every transport
// ---------------------------------------------------------------------------

/// Which link a fixture runs over.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// In-process: `prism::mem::endpoint`.
    Mem,
    /// TCP on 127.0.0.1.
    Tcp,
    /// A Unix socket in the temp dir.
    Unix,
    /// TLS 1.3 on 127.0.0.1, with a certificate from a CA made for the
    /// fixture.
    Tls,
    /// A `ws://` WebSocket on 127.0.0.1.
    Ws,
    /// QUIC on 127.0.0.1, with a certificate from a CA made for the
    /// fixture.
    Quic,
}

impl Transport {
    /// Every transport.
    pub const ALL: [Transport; 6] = [
        Transport::Mem,
        Transport::Tcp,
        Transport::Unix,
        Transport::Tls,
        Transport::Ws,
        Transport::Quic,
    ];
}

/// A Unix socket path in the temp dir, removed on drop.
#[derive(Debug)]
pub struct SocketPath(PathBuf);

impl SocketPath {
    pub fn new() -> SocketPath {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let path = std::env::temp_dir().join(format!("prism-test-{}-{n}.sock", std::process::id()));
        let _ = std::fs::remove_file(&path);
        SocketPath(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for SocketPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Where a fixture's server listens.
#[derive(Debug)]
pub enum Endpoint {
    /// An in-memory listener.
    Mem(prism::mem::MemConnector),
    /// A TCP listener.
    Tcp(std::net::SocketAddr),
    /// A Unix listener.
    Unix(SocketPath),
    /// A TLS listener, and the roots that trust its certificate.
    Tls(std::net::SocketAddr, prism::tls::ClientTls),
    /// A `ws://` URL.
    Ws(String),
    /// A QUIC listener, and the roots that trust its certificate.
    Quic(std::net::SocketAddr, prism::tls::ClientTls),
}

/// A running server and one client connection to it.
#[derive(Debug)]
pub struct Fixture {
    pub transport: Transport,
    pub server: Server,
    /// The first connection.
    pub channel: Channel,
    /// `Server::serve` over the transport's listener.
    pub serving: JoinHandle<Result<(), ServeError>>,
    pub counters: Arc<Counters>,
    pub endpoint: Endpoint,
}

impl Fixture {
    /// `Calc` and `Greeter` over `transport`.
    pub async fn start(transport: Transport) -> Fixture {
        let counters = Arc::new(Counters::default());
        let server = test_server(&counters);
        Fixture::start_with(transport, server, counters).await
    }

    /// `server` over `transport`, with a first connection.
    pub async fn start_with(
        transport: Transport,
        server: Server,
        counters: Arc<Counters>,
    ) -> Fixture {
        install_panic_hook();
        let (serving, endpoint) = match transport {
            Transport::Mem => {
                let (listener, connector) = prism::mem::endpoint();
                (serve(&server, listener), Endpoint::Mem(connector))
            }
            Transport::Tcp => {
                let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind tcp");
                let addr = listener.local_addr().expect("local addr");
                (serve(&server, listener), Endpoint::Tcp(addr))
            }
            Transport::Unix => {
                let path = SocketPath::new();
                let listener = UnixListener::bind(path.path()).expect("bind unix");
                (serve(&server, listener), Endpoint::Unix(path))
            }
            Transport::Tls => {
                let (tls, roots) = fixture_tls();
                let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind tls");
                let addr = tcp.local_addr().expect("local addr");
                let listener = prism::tls::TlsListener::new(tcp, tls);
                (serve(&server, listener), Endpoint::Tls(addr, roots))
            }
            Transport::Ws => {
                let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind ws");
                let url = format!("ws://{}/prism", tcp.local_addr().expect("local addr"));
                let listener = prism::ws::WsListener::new(tcp);
                (serve(&server, listener), Endpoint::Ws(url))
            }
            Transport::Quic => {
                let (tls, roots) = fixture_tls();
                let localhost = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
                let listener = prism::quic::QuicListener::bind(localhost, tls).expect("bind quic");
                let addr = listener.local_addr().expect("local addr");
                (serve(&server, listener), Endpoint::Quic(addr, roots))
            }
        };
        let channel = connect_to(&endpoint, Channel::builder())
            .await
            .unwrap_or_else(|e| panic!("connect over {transport:?}: {e}"));
        Fixture {
            transport,
            server,
            channel,
            serving,
            counters,
            endpoint,
        }
    }

    /// The TCP address of a TCP fixture.
    pub fn tcp_addr(&self) -> std::net::SocketAddr {
        match &self.endpoint {
            Endpoint::Tcp(addr) => *addr,
            other => panic!("not a tcp fixture: {other:?}"),
        }
    }

    /// A `Calc` client on the first connection.
    pub fn calc(&self) -> CalcClient {
        CalcClient::new(self.channel.clone())
    }

    /// A `Greeter` client on the first connection.
    pub fn greeter(&self) -> GreeterClient {
        GreeterClient::new(self.channel.clone())
    }

    /// A new connection to the same server.
    pub async fn connect(&self) -> Result<Channel, ConnectError> {
        self.connect_with(Channel::builder()).await
    }

    /// A new connection to the same server, configured by `builder`
    /// (plaintext is allowed here).
    pub async fn connect_with(&self, builder: ChannelBuilder) -> Result<Channel, ConnectError> {
        connect_to(&self.endpoint, builder).await
    }

    /// Shuts the server down and waits for its `serve` future.
    ///
    /// The client lets the server's GOAWAY close the connection before it
    /// drops its handle, so the two goodbyes never race.
    pub async fn shutdown(self) -> Result<(), ServeError> {
        self.server.shutdown();
        let channel = self.channel;
        eventually("the server's goaway closes the connection", || {
            channel.is_closed()
        })
        .await;
        drop(channel);
        tokio::time::timeout(PROMPTLY, self.serving)
            .await
            .expect("the server stops promptly after shutdown")
            .expect("the serving task does not panic")
    }
}

/// A CA made for one test and a server certificate it signed (for
/// `localhost` and 127.0.0.1).
pub struct TestPki {
    pub ca: pki::Ca,
    pub server: pki::Identity,
}

impl TestPki {
    /// A fresh CA and a server certificate identified as `server_id`.
    pub fn new(server_id: &str) -> TestPki {
        let ca = pki::Ca::new("test ca");
        let server = ca.server(server_id);
        TestPki { ca, server }
    }

    /// The server's TLS, without client certificates.
    pub fn server_tls(&self) -> prism::tls::ServerTls {
        let (cert, key) = (&self.server.cert_pem, &self.server.key_pem);
        prism::tls::ServerTls::from_pem(cert.as_bytes(), key.as_bytes()).expect("server tls")
    }

    /// A client's TLS trusting the CA, presenting no certificate.
    pub fn client_tls(&self) -> prism::tls::ClientTls {
        prism::tls::ClientTls::from_pem(self.ca.cert_pem.as_bytes()).expect("client tls")
    }
}

/// A server certificate from a CA made for one fixture, and the roots
/// that trust it.
fn fixture_tls() -> (prism::tls::ServerTls, prism::tls::ClientTls) {
    let pki = TestPki::new("spiffe://test.internal/server");
    (pki.server_tls(), pki.client_tls())
}

/// Serves `listener` with `server` in a task of its own.
fn serve<L: prism::transport::Listener>(
    server: &Server,
    listener: L,
) -> JoinHandle<Result<(), ServeError>> {
    let server = server.clone();
    tokio::spawn(async move { server.serve(listener).await })
}

/// A connection to `endpoint` (plaintext allowed).
pub async fn connect_to(
    endpoint: &Endpoint,
    builder: ChannelBuilder,
) -> Result<Channel, ConnectError> {
    match endpoint {
        Endpoint::Mem(connector) => builder.connect(connector.clone()).await,
        Endpoint::Tcp(addr) => {
            builder
                .allow_plaintext()
                .connect(prism::tcp::TcpConnector::new(addr))
                .await
        }
        Endpoint::Unix(path) => {
            builder
                .connect(prism::unix::UnixConnector::new(path.path()))
                .await
        }
        Endpoint::Tls(addr, roots) => {
            let connector = prism::tls::TlsConnector::new(addr, "localhost", roots.clone())
                .expect("a TLS connector");
            builder.connect(connector).await
        }
        Endpoint::Ws(url) => {
            let connector = prism::ws::WsConnector::new(url).expect("a ws:// URL");
            builder.allow_plaintext().connect(connector).await
        }
        Endpoint::Quic(addr, roots) => {
            let connector = prism::quic::QuicConnector::new(addr, "localhost", roots.clone())
                .expect("a QUIC connector");
            builder.connect(connector).await
        }
    }
}

/// Polls `condition` until it holds, failing the test after [`PROMPTLY`].
pub async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let start = tokio::time::Instant::now();
    while !condition() {
        assert!(start.elapsed() < PROMPTLY, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

// ---------------------------------------------------------------------------
// Panic guard
// ---------------------------------------------------------------------------

/// Panics seen by the hook, from any thread.
static PANICS: AtomicUsize = AtomicUsize::new(0);
/// The name of the thread of each panic, in order.
static PANIC_THREADS: Mutex<Vec<String>> = Mutex::new(Vec::new());
/// Threads that run tests (libtest names them after the test).
static TEST_THREADS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static HOOK: Once = Once::new();

fn thread_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed>")
        .to_owned()
}

/// Installs (once per process) a panic hook that counts every panic, on
/// any thread, before printing it as usual; registers the calling thread
/// as a test thread. Fixtures call it; tests without a fixture call it first.
///
/// A panic inside a server task would otherwise be swallowed by tokio (the
/// connection just ends), and a test could pass without noticing.
pub fn install_panic_hook() {
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            PANICS.fetch_add(1, Ordering::SeqCst);
            PANIC_THREADS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(thread_name());
            previous(info);
        }));
    });
    let me = thread_name();
    let mut tests = TEST_THREADS.lock().unwrap_or_else(PoisonError::into_inner);
    if !tests.contains(&me) {
        tests.push(me);
    }
}

/// Fails the test if anything panicked on its own thread (a current-thread
/// runtime runs server tasks there) or on any thread that is not a test
/// thread (runtime workers and the like). Panics on other tests' threads
/// are theirs to report, so one failing test does not fail every other.
pub fn assert_no_panics() {
    let me = thread_name();
    // Copy out and release both locks before asserting: the hook takes
    // `PANIC_THREADS` while the assertion panics.
    let tests = TEST_THREADS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    let ours: Vec<String> = PANIC_THREADS
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|thread| **thread == me || !tests.contains(thread))
        .cloned()
        .collect();
    assert!(
        ours.is_empty(),
        "{} panic(s) during the test (of {} in the process) on threads {ours:?}; see stderr",
        ours.len(),
        PANICS.load(Ordering::SeqCst)
    );
}
