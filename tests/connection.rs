//! A connection's life as a user sees it: the handshake refusing what it
//! can refuse early (a schema mismatch on a declared service, a protocol
//! version in common), the reason a connection ended and its statistics.

mod common;

use std::future::poll_fn;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use common::{Counters, Fixture, PROMPTLY, Transport, assert_no_panics, install_panic_hook};
use prism::transport::{Frame, Link, LinkError, LinkInfo, SessionError, VersionRange};
use prism::{Channel, Code, ConnectError, ConnectionError};
use prism_proto::frame::{FrameHeader, FrameKind};
use prism_proto::session::Hello;

/// `Calc` as an older client knows it: `add` takes other arguments.
mod old {
    #[prism::service(public, package = "tests", name = "Calc")]
    pub trait Calc {
        async fn add(&self, a: i32, b: i32) -> i32;
    }
}

#[tokio::test]
async fn a_declared_service_with_another_schema_is_refused_at_the_handshake() {
    for transport in Transport::ALL {
        let fixture = Fixture::start(transport).await;
        let err = fixture
            .connect_with(Channel::builder().service(&old::calc::SERVICE))
            .await
            .expect_err("the server's add has another schema");
        match &err {
            ConnectError::Rejected { code, reason } => {
                assert_eq!(*code, Code::FailedPrecondition);
                assert!(reason.contains("tests.Calc/add"), "{reason}");
            }
            other => panic!("{transport:?}: {other:?}"),
        }
        // Declaring what the server does serve connects as usual.
        let channel = fixture
            .connect_with(
                Channel::builder()
                    .service(&common::calc::SERVICE)
                    .service(&common::greeter::SERVICE),
            )
            .await
            .expect("the same schemas");
        assert_eq!(
            common::CalcClient::new(channel)
                .add(1, 2)
                .await
                .expect("add"),
            3
        );
        fixture.shutdown().await.expect("shutdown");
    }
    assert_no_panics();
}

#[tokio::test]
async fn no_protocol_version_in_common_is_one_match_away() {
    install_panic_hook();
    let (client, mut server) = prism::mem::pair();
    // A peer from the future: it speaks versions 3 to 5 only.
    let peer = tokio::spawn(async move {
        let hello = poll_fn(|cx| server.poll_recv(cx)).await.unwrap().unwrap();
        assert_eq!(hello.header.kind, FrameKind::Hello);
        let future = Hello {
            versions: VersionRange::new(3, 5),
            ..Hello::default()
        };
        let frame = Frame::new(FrameHeader::new(FrameKind::Hello), future.encode().into());
        server.queue(frame).unwrap();
        poll_fn(|cx| server.poll_flush(cx)).await.unwrap();
        // Read until the client hangs up.
        while let Ok(Some(_)) = poll_fn(|cx| server.poll_recv(cx)).await {}
    });
    let err = tokio::time::timeout(PROMPTLY, Channel::builder().connect_link(client))
        .await
        .expect("fails promptly")
        .expect_err("no version in common");
    match err {
        ConnectError::VersionMismatch { ours, theirs } => {
            assert_eq!(ours, VersionRange::SUPPORTED);
            assert_eq!(theirs, VersionRange::new(3, 5));
        }
        other => panic!("{other:?}"),
    }
    peer.await.unwrap();
    assert_no_panics();
}

#[tokio::test]
async fn a_channel_says_why_it_closed() {
    // This side closed it.
    let fixture = Fixture::start(Transport::Mem).await;
    let channel = fixture.connect().await.expect("connect");
    channel.close();
    let reason = tokio::time::timeout(PROMPTLY, channel.closed())
        .await
        .expect("closes");
    assert!(
        matches!(reason, ConnectionError::LocallyClosed),
        "{reason:?}"
    );
    assert!(reason.is_graceful());
    let status = common::CalcClient::new(channel.clone())
        .add(1, 1)
        .await
        .expect_err("closed");
    assert_eq!(status.code(), Code::Unavailable);
    assert!(status.message().contains("closed by this side"), "{status}");

    // The server went away.
    let channel = fixture.channel.clone();
    fixture.server.shutdown();
    let reason = tokio::time::timeout(PROMPTLY, channel.closed())
        .await
        .expect("closes");
    match &reason {
        ConnectionError::Session(SessionError::PeerGoneAway { code, reason }) => {
            assert_eq!(*code, Code::Unavailable);
            assert!(reason.contains("shutting down"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        channel.close_reason().map(|r| r.to_string()),
        Some(reason.to_string())
    );
    let status = common::CalcClient::new(channel)
        .add(1, 1)
        .await
        .expect_err("closed");
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(status.message().contains("shutting down"), "{status}");
    assert_no_panics();
}

/// A mem link with a fault planted in it: a broken or hostile link, as
/// the driver meets it.
struct Rigged {
    inner: prism::mem::MemLink,
    fault: Fault,
}

enum Fault {
    /// Panics on its next receive once the flag is set: a bug in a link
    /// adapter.
    PanicOnRecv(Arc<AtomicBool>),
    /// Its peer never ends its side, and its close never finishes (its
    /// last bytes wait for a peer that reads nothing); sets the flag when
    /// aborted.
    NeverCloses(Arc<AtomicBool>),
}

impl Link for Rigged {
    fn info(&self) -> &LinkInfo {
        self.inner.info()
    }

    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Result<Option<Frame>, LinkError>> {
        let frame = self.inner.poll_recv(cx);
        match &self.fault {
            Fault::PanicOnRecv(armed) if frame.is_ready() && armed.load(Ordering::SeqCst) => {
                panic!("a faulty link adapter");
            }
            Fault::NeverCloses(_) if matches!(frame, Poll::Ready(Ok(None) | Err(_))) => {
                Poll::Pending
            }
            Fault::PanicOnRecv(_) | Fault::NeverCloses(_) => frame,
        }
    }

    fn queue(&mut self, frame: Frame) -> Result<(), LinkError> {
        self.inner.queue(frame)
    }

    fn queued_bytes(&self) -> usize {
        self.inner.queued_bytes()
    }

    fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        self.inner.poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), LinkError>> {
        match &self.fault {
            Fault::PanicOnRecv(_) => self.inner.poll_close(cx),
            Fault::NeverCloses(_) => Poll::Pending,
        }
    }

    fn abort(&mut self) {
        match &self.fault {
            Fault::PanicOnRecv(_) => self.inner.abort(),
            Fault::NeverCloses(aborted) => aborted.store(true, Ordering::SeqCst),
        }
    }
}

/// The panic is the point: this test registers its thread with the panic
/// guard (so the others know the panic is not theirs) and never asks it.
#[tokio::test]
async fn a_panic_in_the_connection_task_is_reported_as_a_panic() {
    install_panic_hook();
    let server = common::test_server(&Arc::new(Counters::default()));
    let (client, link) = prism::mem::pair();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve_link(link).await }
    });
    let armed = Arc::new(AtomicBool::new(false));
    let faulty = Rigged {
        inner: client,
        fault: Fault::PanicOnRecv(Arc::clone(&armed)),
    };
    let channel = Channel::builder()
        .connect_link(faulty)
        .await
        .expect("connect");
    let calc = common::CalcClient::new(channel.clone());
    assert_eq!(calc.add(1, 2).await.expect("add"), 3);
    armed.store(true, Ordering::SeqCst);
    let status = calc.add(1, 2).await.expect_err("the driver panicked");
    assert_eq!(status.code(), Code::Unavailable, "{status}");
    assert!(
        status.message().contains("a faulty link adapter"),
        "{status}"
    );
    let reason = tokio::time::timeout(PROMPTLY, channel.closed())
        .await
        .expect("closes");
    match &reason {
        ConnectionError::Panicked { message } => {
            assert!(message.contains("a faulty link adapter"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    // Later calls name the panic too.
    let status = calc.add(1, 2).await.expect_err("closed");
    assert!(status.message().contains("panicked"), "{status}");
    // The server sees its peer vanish.
    let served = tokio::time::timeout(PROMPTLY, serving)
        .await
        .expect("the server notices")
        .expect("task");
    assert!(served.is_err(), "{served:?}");
}

#[tokio::test]
async fn statistics_count_frames_calls_and_failures_on_both_ends() {
    for transport in Transport::ALL {
        let fixture = Fixture::start(transport).await;
        let calc = fixture.calc();
        for i in 0..10 {
            assert_eq!(calc.add(i, 1).await.expect("add"), i + 1);
        }
        let status = calc
            .sleep(10_000)
            .timeout(Duration::from_millis(10))
            .await
            .expect_err("too slow");
        assert_eq!(status.code(), Code::DeadlineExceeded);

        let client = fixture.channel.stats();
        assert_eq!(client.calls_sent, 11, "{transport:?}: {client:?}");
        assert_eq!(client.calls_failed, 1, "{transport:?}: {client:?}");
        // HELLO, ACCEPT, eleven calls and a cancel, at least.
        assert!(client.frames_sent >= 14, "{transport:?}: {client:?}");
        assert!(client.frames_received >= 12, "{transport:?}: {client:?}");
        assert!(client.bytes_sent > client.frames_sent * 32);
        if transport == Transport::Ws {
            // A WebSocket message's payload starts a few bytes into
            // tungstenite's read buffer: the link copies it to align it,
            // and the copy is counted.
            assert!(client.alignment_copies > 0, "{client:?}");
        } else {
            assert_eq!(client.alignment_copies, 0, "{transport:?}");
        }

        // The server took eleven calls and answered one of them with no
        // response (its deadline passed, or the caller cancelled first).
        common::eventually("the server counted the calls", || {
            let server = fixture.server.stats();
            server.calls_received == 11 && server.calls_failed == 1
        })
        .await;
        let server = fixture.server.stats();
        // HELLO, ACCEPT and eleven calls, at least.
        assert!(server.frames_received >= 13, "{transport:?}: {server:?}");
        assert!(server.frames_sent >= 12, "{transport:?}: {server:?}");
        assert_eq!(server.calls_sent, 0);
        assert_eq!(fixture.server.connections(), 1);
        // The handler sees its connection's figures too.
        let info = calc.context().await.expect("context");
        assert!(info.frames_received >= 12, "{transport:?}: {info:?}");
        fixture.shutdown().await.expect("shutdown");
    }
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_answered_is_already_counted_by_the_server() {
    for transport in [Transport::Mem, Transport::Tcp] {
        let fixture = Fixture::start(transport).await;
        let calc = fixture.calc();
        // The server writes an answer only after it published the figures
        // that count its call: no waiting needed to read them.
        for i in 0..500 {
            assert_eq!(calc.add(i, 1).await.expect("add"), i + 1);
            let server = fixture.server.stats();
            assert_eq!(server.calls_received, i as u64 + 1, "{transport:?}");
        }
        fixture.shutdown().await.expect("shutdown");
    }
    assert_no_panics();
}

#[tokio::test]
async fn connections_whose_serve_future_is_dropped_are_no_longer_counted_open() {
    let fixture = Fixture::start(Transport::Mem).await;
    assert_eq!(fixture.calc().add(1, 2).await.expect("add"), 3);
    assert_eq!(fixture.server.connections(), 1);
    // Dropping `serve` (here: aborting its task) cancels its connections
    // without a graceful end.
    fixture.serving.abort();
    common::eventually("the aborted connection is no longer open", || {
        fixture.server.connections() == 0
    })
    .await;
    assert!(fixture.server.stats().calls_received >= 1);
    assert_no_panics();
}

/// A server that shuts down ends a connection whose link cannot finish
/// closing, after the drain timeout, by aborting the link: shutdown
/// always ends.
#[tokio::test]
async fn a_close_that_cannot_finish_is_aborted_after_the_linger() {
    install_panic_hook();
    let server = prism::Server::builder()
        .allow_unauthenticated()
        .session_config(
            prism::transport::SessionConfig::default()
                .with_drain_timeout(Duration::from_millis(200)),
        )
        .add_service(common::CalcServer::new(common::TestCalc::new(Arc::new(
            Counters::default(),
        ))))
        .allow_plaintext()
        .build()
        .expect("server");
    let (client, link) = prism::mem::pair();
    let aborted = Arc::new(AtomicBool::new(false));
    let link = Rigged {
        inner: link,
        fault: Fault::NeverCloses(Arc::clone(&aborted)),
    };
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve_link(link).await }
    });
    let channel = Channel::builder()
        .connect_link(client)
        .await
        .expect("connect");
    let calc = common::CalcClient::new(channel.clone());
    assert_eq!(calc.add(1, 2).await.expect("add"), 3);
    server.shutdown();
    tokio::time::timeout(PROMPTLY, serving)
        .await
        .expect("the connection ends though its link never closes")
        .expect("task")
        .expect("a graceful end");
    assert!(aborted.load(Ordering::SeqCst), "the link was aborted");
    assert_no_panics();
}
