//! Where handlers run: inline in their connection's task, or spawned so
//! one connection's handlers use more than one core; and a drain timeout
//! that makes every shutdown end. (A spawned handler's panic is in
//! `errors.rs`, beside the inline one.)

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use common::{Counters, Fixture, PROMPTLY, Transport, assert_no_panics};
use prism::{Code, Execution, Server};

/// A latch one handler blocks on and another releases.
#[derive(Debug, Default)]
struct Latch {
    open: Mutex<bool>,
    changed: Condvar,
    /// Someone is blocked in `wait`.
    waiting: AtomicBool,
}

impl Latch {
    /// Blocks the calling thread until released; false after 5 s.
    fn wait(&self) -> bool {
        let open = self.open.lock().unwrap();
        self.waiting.store(true, Ordering::SeqCst);
        let (open, _) = self
            .changed
            .wait_timeout_while(open, Duration::from_secs(5), |open| !*open)
            .unwrap();
        *open
    }

    fn release(&self) {
        *self.open.lock().unwrap() = true;
        self.changed.notify_all();
    }
}

/// `hold` blocks its thread (a stand-in for CPU-heavy work) until
/// `release` runs: it can only succeed if the two calls, on one
/// connection, run on different threads at once.
#[prism::service(public, package = "tests")]
pub trait Work {
    /// Spawned by its own declaration, whatever the server's default.
    #[prism(spawn)]
    async fn hold(&self) -> bool;
    /// Inline by its own declaration.
    #[prism(inline)]
    async fn release(&self);
}

/// The same ops without per-op declarations: the server's default decides.
#[prism::service(public, package = "tests")]
pub trait PlainWork {
    /// Blocks until released.
    async fn hold_plain(&self) -> bool;
    /// Releases the holder.
    async fn release_plain(&self);
}

/// Each op answers with the id of the tokio task its handler ran in:
/// inline handlers share their connection's task, spawned ones get their own.
#[prism::service(public, package = "tests")]
pub trait Where {
    /// Wherever the server's default puts it.
    async fn default_task(&self) -> String;
    /// Always in the connection's task.
    #[prism(inline)]
    async fn inline_task(&self) -> String;
    /// Always in a task of its own.
    #[prism(spawn)]
    async fn spawned_task(&self) -> String;
}

struct Here;

fn task_id() -> String {
    tokio::task::try_id()
        .map(|id| id.to_string())
        .expect("handlers run in a tokio task")
}

impl Where for Here {
    async fn default_task(&self) -> String {
        task_id()
    }

    async fn inline_task(&self) -> String {
        task_id()
    }

    async fn spawned_task(&self) -> String {
        task_id()
    }
}

#[derive(Debug, Default)]
struct Worker {
    latch: Latch,
}

impl Work for Worker {
    async fn hold(&self) -> bool {
        self.latch.wait()
    }

    async fn release(&self) {
        self.latch.release();
    }
}

impl PlainWork for Worker {
    async fn hold_plain(&self) -> bool {
        self.latch.wait()
    }

    async fn release_plain(&self) {
        self.latch.release();
    }
}

async fn hold_and_release<H, R>(worker: &Worker, hold: H, release: R)
where
    H: std::future::IntoFuture<Output = Result<bool, prism::Status>>,
    H::IntoFuture: Send + 'static,
    R: std::future::IntoFuture<Output = Result<(), prism::Status>>,
{
    let held = tokio::spawn(hold.into_future());
    // The release goes out only once the holder blocks its thread: then it
    // can only arrive if the connection still runs other calls.
    common::eventually("the holder blocks", || {
        worker.latch.waiting.load(Ordering::SeqCst)
    })
    .await;
    release.await.expect("release");
    let released = held.await.expect("task").expect("hold");
    assert!(released, "the held handler never saw the release");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_op_declared_spawn_runs_beside_the_other_calls_of_its_connection() {
    let worker = Arc::new(Worker::default());
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(WorkServer::from_arc(Arc::clone(&worker)))
        .build()
        .expect("server");
    let fixture = Fixture::start_with(Transport::Mem, server, Arc::new(Counters::default())).await;
    let work = WorkClient::new(fixture.channel.clone());
    hold_and_release(&worker, work.hold(), work.release()).await;
    fixture.shutdown().await.expect("shutdown");
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_can_spawn_every_handler() {
    let worker = Arc::new(Worker::default());
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(PlainWorkServer::from_arc(Arc::clone(&worker)))
        .execution(Execution::Spawn)
        .allow_plaintext()
        .build()
        .expect("server");
    let fixture = Fixture::start_with(Transport::Tcp, server, Arc::new(Counters::default())).await;
    let work = PlainWorkClient::new(fixture.channel.clone());
    hold_and_release(&worker, work.hold_plain(), work.release_plain()).await;
    fixture.shutdown().await.expect("shutdown");
    assert_no_panics();
}

#[tokio::test]
async fn a_per_op_declaration_overrides_the_servers_default_either_way() {
    for default in [Execution::Inline, Execution::Spawn] {
        let server = Server::builder()
            .allow_unauthenticated()
            .add_service(WhereServer::new(Here))
            .execution(default)
            .build()
            .expect("server");
        let fixture =
            Fixture::start_with(Transport::Mem, server, Arc::new(Counters::default())).await;
        let here = WhereClient::new(fixture.channel.clone());
        let (inline_a, inline_b) = (
            here.inline_task().await.expect("inline"),
            here.inline_task().await.expect("inline"),
        );
        assert_eq!(
            inline_a, inline_b,
            "{default:?}: inline calls share the connection's task"
        );
        let (spawned_a, spawned_b) = (
            here.spawned_task().await.expect("spawned"),
            here.spawned_task().await.expect("spawned"),
        );
        assert_ne!(
            spawned_a, spawned_b,
            "{default:?}: each spawned call has its own task"
        );
        assert_ne!(spawned_a, inline_a);
        let (default_a, default_b) = (
            here.default_task().await.expect("default"),
            here.default_task().await.expect("default"),
        );
        match default {
            Execution::Inline => assert_eq!((&default_a, &default_b), (&inline_a, &inline_a)),
            Execution::Spawn => {
                assert_ne!(default_a, default_b);
                assert_ne!(default_a, inline_a);
            }
        }
        fixture.shutdown().await.expect("shutdown");
    }
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawned_handlers_are_cancelled_by_deadlines() {
    let counters = Arc::new(Counters::default());
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(common::CalcServer::new(common::TestCalc::new(Arc::clone(
            &counters,
        ))))
        .execution(Execution::Spawn)
        .build()
        .expect("server");
    let fixture = Fixture::start_with(Transport::Mem, server, Arc::clone(&counters)).await;
    let calc = fixture.calc();
    // A deadline stops a spawned handler as it stops an inline one.
    let status = calc
        .sleep(10_000)
        .timeout(Duration::from_millis(30))
        .await
        .expect_err("too slow");
    assert_eq!(status.code(), Code::DeadlineExceeded);
    common::eventually("the spawned handler was dropped", || {
        counters.dropped() == 1
    })
    .await;
    assert_eq!(calc.add(1, 2).await.expect("add"), 3);
    fixture.shutdown().await.expect("shutdown");
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_timeout_ends_a_shutdown_that_calls_would_hold_forever() {
    let counters = Arc::new(Counters::default());
    let session =
        prism::transport::SessionConfig::default().with_drain_timeout(Duration::from_millis(100));
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(common::CalcServer::new(common::TestCalc::new(Arc::clone(
            &counters,
        ))))
        .session_config(session)
        .allow_plaintext()
        .build()
        .expect("server");
    let fixture = Fixture::start_with(Transport::Tcp, server, Arc::clone(&counters)).await;
    let calc = fixture.calc();
    let slow = tokio::spawn(std::future::IntoFuture::into_future(calc.sleep(60_000)));
    common::eventually("the slow call started", || counters.started() == 1).await;
    fixture.server.shutdown();
    let served = tokio::time::timeout(PROMPTLY, fixture.serving)
        .await
        .expect("shutdown ends once the drain timeout passes")
        .expect("serving task");
    served.expect("serve returns Ok");
    let status = tokio::time::timeout(PROMPTLY, slow)
        .await
        .expect("the caller learns promptly")
        .expect("task")
        .expect_err("cut by the drain timeout");
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(status.message().contains("drain timeout"), "{status}");
    common::eventually("the handler was dropped", || counters.dropped() == 1).await;
    assert_no_panics();
}
