//! The protocol over every adapter (in-process, TCP, Unix, TLS, `ws://`),
//! for what the other per-transport files do not already run there: ten
//! thousand calls at once, far past the channel limit, every one answered
//! with its own result; and a graceful shutdown under load, where every
//! call the server took finishes, later calls are refused and `serve`
//! returns. (Unary calls, pipelining, every stream kind, cancellation,
//! deadlines, backpressure, refusal before decode and the 64 MiB transfer
//! run per transport in `unary.rs`, `streaming.rs`, `lifecycle.rs`,
//! `flow_control.rs` and `layers.rs`.)

#[macro_use]
mod common;

use std::time::Duration;

use common::{Fixture, PROMPTLY, Transport, assert_no_panics, eventually};
use futures_util::future::join_all;
use prism::Code;

per_transport!(
    ten_thousand_calls_at_once_are_all_answered,
    a_shutdown_under_load_finishes_every_call_it_took,
);

async fn ten_thousand_calls_at_once_are_all_answered(transport: Transport) {
    let fx = Fixture::start(transport).await;
    let calc = fx.calc();
    let calls = (0..10_000i64).map(|i| {
        let calc = calc.clone();
        async move { calc.add(i, i).await }
    });
    let answers = tokio::time::timeout(Duration::from_secs(60), join_all(calls))
        .await
        .expect("ten thousand calls finish");
    for (i, answer) in (0i64..).zip(answers) {
        assert_eq!(answer.expect("no call fails"), 2 * i, "{transport:?}");
    }
    let stats = fx.channel.stats();
    assert!(stats.calls_sent >= 10_000, "{stats:?}");
    assert_eq!(stats.calls_failed, 0, "{stats:?}");
    fx.shutdown().await.expect("clean shutdown");
}

async fn a_shutdown_under_load_finishes_every_call_it_took(transport: Transport) {
    let fx = Fixture::start(transport).await;
    let calc = fx.calc();
    let slow: Vec<_> = (0..64)
        .map(|_| tokio::spawn(calc.sleep(100).into_future()))
        .collect();
    eventually("every slow call started", || fx.counters.started() == 64).await;
    fx.server.shutdown();
    for call in slow {
        let answer = tokio::time::timeout(PROMPTLY, call)
            .await
            .expect("the drain lets the call finish")
            .expect("call task");
        assert_eq!(answer.expect("a call the server took succeeds"), 100);
    }
    assert_eq!(fx.counters.finished(), 64);
    let status = calc.add(1, 2).await.expect_err("nothing new after GOAWAY");
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    let served = tokio::time::timeout(PROMPTLY, fx.serving)
        .await
        .expect("serve returns after the drain")
        .expect("serving task");
    served.expect("serve returns Ok");
}
