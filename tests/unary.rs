//! Unary calls end to end, the same suite over the in-memory, TCP and Unix
//! transports: round trips, routing, application errors, concurrency,
//! payload sizes, the handler's `Context`, and shared connections.

#[macro_use]
mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::{CalcClient, Fixture, GreeterClient, MathError, Transport, assert_no_panics};
use prism::Code;
use prism::transport::PeerAddr;
use prism::transport::SessionConfig;
use tokio::task::JoinSet;

per_transport!(
    round_trip,
    two_services_are_routed_by_op_id,
    application_errors_are_typed_values,
    many_concurrent_calls_on_one_channel,
    large_payload_round_trips,
    large_payloads_both_ways_at_once_do_not_deadlock,
    oversized_request_fails_with_a_status,
    oversized_response_fails_with_a_status,
    context_sees_op_deadline_and_peer,
    client_clones_share_the_connection,
);

async fn round_trip(transport: Transport) {
    let fx = Fixture::start(transport).await;
    let calc = fx.calc();
    assert_eq!(calc.add(2, 3).await.unwrap(), 5);
    assert_eq!(calc.add(-7, 4).await.unwrap(), -3);
    assert_eq!(calc.add(i64::MAX, 1).await.unwrap(), i64::MIN);
    assert_eq!(calc.div(7, 2).await.unwrap(), Ok(3));
    assert_eq!(calc.sleep(1).await.unwrap(), 1);
    assert_eq!(calc.echo(b"prism".to_vec()).await.unwrap(), b"prism");
    assert_eq!(calc.echo(Vec::new()).await.unwrap(), Vec::<u8>::new());
    // A per-call timeout that does not expire changes nothing.
    let sum = calc.add(40, 2).timeout(Duration::from_secs(5)).await;
    assert_eq!(sum.unwrap(), 42);
    assert_eq!(fx.counters.finished(), 1);
    assert_eq!(fx.counters.dropped(), 0);
    fx.shutdown().await.expect("clean shutdown");
}

async fn two_services_are_routed_by_op_id(transport: Transport) {
    let fx = Fixture::start(transport).await;
    // Same method name, different services: different op ids.
    assert_ne!(common::calc::ADD, common::greeter::ADD);
    let (calc, greeter) = (fx.calc(), fx.greeter());
    assert_eq!(
        greeter.greet("prism".into()).await.unwrap(),
        "hello, prism!"
    );
    assert_eq!(calc.add(2, 3).await.unwrap(), 5);
    assert_eq!(greeter.add(2, 3).await.unwrap(), "2 + 3 = 5");
    // Interleaved on one connection.
    let (a, b) = tokio::join!(calc.add(1, 1), greeter.add(1, 1));
    assert_eq!(a.unwrap(), 2);
    assert_eq!(b.unwrap(), "1 + 1 = 2");
    fx.shutdown().await.expect("clean shutdown");
}

async fn application_errors_are_typed_values(transport: Transport) {
    let fx = Fixture::start(transport).await;
    let calc = fx.calc();
    // An application error is `Ok(Err(..))`: the call itself succeeded.
    assert_eq!(calc.div(1, 0).await.unwrap(), Err(MathError::DivideByZero));
    assert_eq!(
        calc.div(i64::MIN, -1).await.unwrap(),
        Err(MathError::Overflow { dividend: i64::MIN })
    );
    assert_eq!(calc.div(-9, 3).await.unwrap(), Ok(-3));
    // The connection is unaffected.
    assert_eq!(calc.add(1, 2).await.unwrap(), 3);
    fx.shutdown().await.expect("clean shutdown");
}

async fn many_concurrent_calls_on_one_channel(transport: Transport) {
    const N: u64 = 200;
    let fx = Fixture::start(transport).await;
    let calc = fx.calc();
    let mut calls = JoinSet::new();
    for i in 0..N {
        // Completes only once all N are inside the server at once.
        let rendezvous = calc.rendezvous(i, N).timeout(Duration::from_secs(5));
        calls.spawn(async move { (i, rendezvous.await) });
    }
    let mut sums = JoinSet::new();
    for i in 0..N {
        let i = i as i64;
        let add = calc.add(i, i * 1000);
        sums.spawn(async move { (i, add.await) });
    }
    let mut seen = HashMap::new();
    while let Some(joined) = calls.join_next().await {
        let (i, result) = joined.expect("call task");
        assert_eq!(
            result.expect("rendezvous call"),
            i,
            "reply matched to its call"
        );
        assert!(seen.insert(i, ()).is_none());
    }
    assert_eq!(seen.len(), N as usize);
    let mut count = 0;
    while let Some(joined) = sums.join_next().await {
        let (i, result) = joined.expect("call task");
        assert_eq!(
            result.expect("add call"),
            i * 1001,
            "reply matched to its call"
        );
        count += 1;
    }
    assert_eq!(count, N);
    fx.shutdown().await.expect("clean shutdown");
}

async fn large_payload_round_trips(transport: Transport) {
    let fx = Fixture::start(transport).await;
    let calc = fx.calc();
    let data: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8).collect();
    let back = calc.echo(data.clone()).await.expect("1 MiB echo");
    assert_eq!(back.len(), data.len());
    assert!(back == data, "1 MiB echo came back changed");
    // Several in flight at once, interleaved with small calls.
    let (a, b, c) = tokio::join!(
        calc.echo(data.clone()),
        calc.add(1, 2),
        calc.echo(data[..100_000].to_vec())
    );
    assert!(a.expect("echo") == data);
    assert_eq!(b.expect("add"), 3);
    assert!(c.expect("echo") == data[..100_000]);
    fx.shutdown().await.expect("clean shutdown");
}

/// Several large calls at once put more than the driver's high-water mark
/// (4 MiB) in each direction: both ends have unwritten bytes and wait for
/// the other to read. The caller must keep reading replies regardless.
async fn large_payloads_both_ways_at_once_do_not_deadlock(transport: Transport) {
    let fx = Fixture::start(transport).await;
    let calc = fx.calc();
    let data: Vec<u8> = (0..6 << 20).map(|i: u32| (i % 251) as u8).collect();
    let mut calls = JoinSet::new();
    for _ in 0..4 {
        calls.spawn(std::future::IntoFuture::into_future(
            calc.echo(data.clone()),
        ));
    }
    let replies = tokio::time::timeout(Duration::from_secs(60), calls.join_all())
        .await
        .expect("four 6 MiB echoes in flight at once finish");
    for reply in replies {
        assert!(reply.expect("echo") == data, "an echo came back changed");
    }
    fx.shutdown().await.expect("clean shutdown");
}

async fn oversized_request_fails_with_a_status(transport: Transport) {
    let fx = Fixture::start(transport).await;
    let calc = fx.calc();
    // Over the server's default 64 MiB message limit.
    let data = vec![7u8; (64 << 20) + 1];
    let result = tokio::time::timeout(common::PROMPTLY, calc.echo(data))
        .await
        .expect("an oversized request fails promptly, not by hanging");
    let status = result.expect_err("a request over the message limit fails");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
    assert!(status.message().contains("message limit"), "{status}");
    // The connection goes on.
    assert_eq!(calc.add(2, 2).await.unwrap(), 4);
    fx.shutdown().await.expect("clean shutdown");
}

async fn oversized_response_fails_with_a_status(transport: Transport) {
    let fx = Fixture::start(transport).await;
    // This client accepts messages of at most 64 KiB.
    let small = fx
        .connect_with(
            prism::Channel::builder()
                .session_config(SessionConfig::default().with_max_message(64 << 10)),
        )
        .await
        .expect("connect");
    let calc = CalcClient::new(small);
    assert_eq!(calc.echo(vec![1; 1000]).await.unwrap().len(), 1000);
    // The request is over the client's own limit but under the server's;
    // the response the server would send back is not.
    let result = tokio::time::timeout(common::PROMPTLY, calc.echo(vec![1; 100_000]))
        .await
        .expect("an oversized response fails promptly, not by hanging");
    let status = result.expect_err("a response over the caller's message limit fails");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
    assert_eq!(calc.add(2, 2).await.unwrap(), 4);
    fx.shutdown().await.expect("clean shutdown");
}

async fn context_sees_op_deadline_and_peer(transport: Transport) {
    let fx = Fixture::start(transport).await;
    let calc = fx.calc();

    let info = calc.context().await.unwrap();
    assert_eq!(info.op, "tests.Calc/context");
    assert_eq!(info.remaining_us, None, "no timeout, no deadline");
    let expected_link = match transport {
        Transport::Mem => "mem",
        Transport::Tcp => "tcp",
        Transport::Unix => "unix",
        Transport::Tls => "tls",
        Transport::Ws => "ws",
        Transport::Quic => "quic",
    };
    assert_eq!(info.link, expected_link);
    match transport {
        Transport::Mem => assert_eq!(info.peer, "mem"),
        // This very process, by its kernel-reported credentials.
        Transport::Unix => assert!(
            info.peer
                .starts_with(&format!("unix:pid={},", std::process::id())),
            "{}",
            info.peer
        ),
        Transport::Tcp | Transport::Tls | Transport::Ws | Transport::Quic => {
            // The client's address: loopback, on an ephemeral port that is
            // not the server's.
            let peer: std::net::SocketAddr = info.peer.parse().expect("a socket address");
            let PeerAddr::Socket(server) = fx.channel.link().peer else {
                panic!("{:?}", fx.channel.link().peer)
            };
            assert!(peer.ip().is_loopback(), "{peer}");
            assert_ne!(peer.port(), server.port());
        }
    }

    // The same context taken as a handler argument; the argument beside
    // it travels as usual and the client never passes the context.
    let (by_argument, tag) = calc.context_arg(7).await.unwrap();
    assert_eq!(tag, 7);
    assert_eq!(by_argument.op, "tests.Calc/context_arg");
    assert_eq!(
        (by_argument.peer, by_argument.link),
        (info.peer.clone(), info.link.clone())
    );

    let info = calc
        .context()
        .timeout(Duration::from_secs(5))
        .await
        .unwrap();
    let remaining = info.remaining_us.expect("the handler sees the deadline");
    assert!(remaining <= 5_000_000, "{remaining} µs left of 5 s");
    assert!(remaining > 3_000_000, "only {remaining} µs left of 5 s");

    // A channel-wide default timeout reaches the handler too.
    let with_default = fx
        .connect_with(prism::Channel::builder().timeout(Duration::from_secs(30)))
        .await
        .expect("connect");
    let info = CalcClient::new(with_default).context().await.unwrap();
    let remaining = info
        .remaining_us
        .expect("the default timeout is a deadline");
    assert!(
        (20_000_000..=30_000_000).contains(&remaining),
        "{remaining} µs"
    );

    // Outside a handler there is no context.
    assert!(prism::Context::current().is_none());
    fx.shutdown().await.expect("clean shutdown");
}

async fn client_clones_share_the_connection(transport: Transport) {
    let fx = Fixture::start(transport).await;
    let channel = fx.connect().await.expect("connect");
    let calc = CalcClient::new(channel.clone());
    let calc2 = calc.clone();
    let greeter = GreeterClient::new(channel.clone());

    // Calls from every clone at once.
    let (a, b, c) = tokio::join!(calc.add(1, 2), calc2.add(3, 4), greeter.greet("x".into()));
    assert_eq!((a.unwrap(), b.unwrap()), (3, 7));
    assert_eq!(c.unwrap(), "hello, x!");

    if transport == Transport::Tcp {
        // One connection: the server sees every clone at the same address.
        let p1 = calc.context().await.unwrap().peer;
        let p2 = calc2.context().await.unwrap().peer;
        let p3 = CalcClient::new(greeter.channel().clone())
            .context()
            .await
            .unwrap()
            .peer;
        assert_eq!(p1, p2);
        assert_eq!(p1, p3);
        // While another connection is another address.
        let other = fx.calc().context().await.unwrap().peer;
        assert_ne!(p1, other);
    }

    // Dropping some clones keeps the connection open.
    drop(calc2);
    drop(channel);
    assert!(!calc.channel().is_closed());
    assert_eq!(calc.add(5, 5).await.unwrap(), 10);

    // Closing through one clone closes it for all.
    greeter.channel().close();
    let status = calc.add(1, 1).await.expect_err("the connection is closing");
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    common::eventually("every clone sees the connection closed", || {
        calc.channel().is_closed() && greeter.channel().is_closed()
    })
    .await;
    let status = greeter.greet("y".into()).await.expect_err("closed");
    assert_eq!(status.code(), Code::Unavailable, "{status}");

    // The fixture's own connection is a different one and still works.
    assert_eq!(fx.calc().add(1, 1).await.unwrap(), 2);
    fx.shutdown().await.expect("clean shutdown");
}
