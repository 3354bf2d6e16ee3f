//! Streams end to end, the same suite over the in-memory, TCP and Unix
//! transports: each of gRPC's four kinds, typed refusals, errors after
//! items, large items, cancellation both ways and whole-stream timeouts.

#[macro_use]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::{Counters, Fixture, Transport, assert_no_panics};
use futures_util::StreamExt;
use prism::{Code, Server, Status, Streaming};

/// One item of a feed.
#[prism::message]
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// Its place in the feed.
    pub seq: u64,
    /// Filler.
    pub body: Vec<u8>,
}

/// Why a feed op refused.
#[prism::message]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedError {
    /// Only "news" exists.
    NoSuchTopic,
    /// `sum` takes at most 10 000 numbers.
    TooMany,
    /// `small` takes items of at most 4 KiB.
    TooBig,
    /// The "closing" topic closes after its events.
    Closed,
}

/// A service with every kind of stream.
#[prism::service(public, package = "tests")]
pub trait Feed {
    /// 0..n.
    async fn count(&self, n: u64) -> Streaming<u64>;
    /// `n` events of `size` bytes on `topic`; refuses unknown topics. The
    /// topic "closing" ends with `FeedError::Closed` after its events,
    /// "mistyped" with an application error of another type.
    async fn watch(&self, topic: String, n: u64, size: u64) -> Result<Streaming<Event>, FeedError>;
    /// The sum of the numbers sent; refuses more than 10 000 of them.
    async fn sum(&self, numbers: Streaming<u64>) -> Result<u64, FeedError>;
    /// Each event back, its sequence number doubled.
    async fn echo(&self, inbox: Streaming<Event>) -> Streaming<Event>;
    /// `n` numbers, then `ABORTED`.
    async fn fail_after(&self, n: u64) -> Streaming<u64>;
    /// `n` numbers from a sender that is then dropped unfinished.
    async fn abandon(&self, n: u64) -> Streaming<u64>;
    /// Numbers forever, as fast as the caller reads; counts drops.
    async fn forever(&self) -> Streaming<u64>;
    /// `n` events of `size` bytes, produced as fast as possible; a slow
    /// reader misses the oldest.
    #[prism(subscription, buffer = 16)]
    async fn ticker(&self, n: u64, size: u64) -> Streaming<Event>;
    /// The bytes sent, in items of at most 4 KiB.
    #[prism(max_message = 4096)]
    async fn small(&self, items: Streaming<Vec<u8>>) -> Result<u64, FeedError>;
    /// The same, but the producer waits for the reader.
    #[prism(subscription = "wait")]
    async fn paced(&self, n: u64, size: u64) -> Streaming<Event>;
    /// Events of `size` bytes forever, for a caller that takes items of
    /// at most 4 KiB; counts drops.
    #[prism(max_message = 4096)]
    async fn capped(&self, size: u64) -> Streaming<Event>;
    /// Takes a stream and never reads it, nor answers.
    async fn deaf(&self, items: Streaming<Vec<u8>>) -> u64;
}

#[derive(Default)]
struct Feeds {
    /// Producers of `forever` that were dropped.
    dropped: Arc<AtomicUsize>,
}

/// Counts its drop: proof that a cancelled stream's producer went away.
struct DropCounter(Arc<AtomicUsize>);

impl Drop for DropCounter {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Feed for Feeds {
    async fn count(&self, n: u64) -> Streaming<u64> {
        Streaming::iter(0..n)
    }

    async fn watch(&self, topic: String, n: u64, size: u64) -> Result<Streaming<Event>, FeedError> {
        let end = match topic.as_str() {
            "news" => None,
            "closing" => Some(Status::application(FeedError::Closed)),
            "mistyped" => Some(Status::application("not a FeedError")),
            _ => return Err(FeedError::NoSuchTopic),
        };
        let events = futures_util::stream::iter(0..n).map(move |seq| {
            Ok(Event {
                seq,
                body: vec![seq as u8; size as usize],
            })
        });
        let end = futures_util::stream::iter(end.map(Err));
        Ok(Streaming::from_try_stream(events.chain(end)))
    }

    async fn sum(&self, mut numbers: Streaming<u64>) -> Result<u64, FeedError> {
        let mut total = 0u64;
        let mut count = 0;
        while let Some(n) = numbers.message().await.map_err(|_| FeedError::TooMany)? {
            total += n;
            count += 1;
            if count > 10_000 {
                return Err(FeedError::TooMany);
            }
        }
        Ok(total)
    }

    async fn echo(&self, inbox: Streaming<Event>) -> Streaming<Event> {
        Streaming::from_try_stream(inbox.map(|event| {
            event.map(|mut event| {
                event.seq *= 2;
                event
            })
        }))
    }

    async fn fail_after(&self, n: u64) -> Streaming<u64> {
        let items = futures_util::stream::iter(0..n).map(Ok);
        let failure = futures_util::stream::once(async { Err(Status::aborted("enough")) });
        Streaming::from_try_stream(items.chain(failure))
    }

    async fn abandon(&self, n: u64) -> Streaming<u64> {
        let (sender, numbers) = Streaming::channel();
        tokio::spawn(async move {
            for i in 0..n {
                sender.send(i).await.expect("the caller reads on");
            }
            drop(sender);
        });
        numbers
    }

    async fn ticker(&self, n: u64, size: u64) -> Streaming<Event> {
        self.watch("news".into(), n, size)
            .await
            .unwrap_or_else(|_| Streaming::empty())
    }

    async fn small(&self, mut items: Streaming<Vec<u8>>) -> Result<u64, FeedError> {
        let mut total = 0;
        loop {
            match items.message().await {
                Ok(Some(item)) => total += item.len() as u64,
                Ok(None) => return Ok(total),
                Err(status) if status.code() == Code::ResourceExhausted => {
                    return Err(FeedError::TooBig);
                }
                Err(_) => return Err(FeedError::TooMany),
            }
        }
    }

    async fn paced(&self, n: u64, size: u64) -> Streaming<Event> {
        self.ticker(n, size).await
    }

    async fn deaf(&self, items: Streaming<Vec<u8>>) -> u64 {
        let _unread = items;
        std::future::pending().await
    }

    async fn capped(&self, size: u64) -> Streaming<Event> {
        let guard = DropCounter(Arc::clone(&self.dropped));
        Streaming::from_stream(futures_util::stream::iter(0u64..).map(move |seq| {
            let _alive = &guard;
            Event {
                seq,
                body: vec![1; size as usize],
            }
        }))
    }

    async fn forever(&self) -> Streaming<u64> {
        let guard = DropCounter(Arc::clone(&self.dropped));
        Streaming::from_stream(futures_util::stream::iter(0u64..).map(move |n| {
            let _alive = &guard;
            n
        }))
    }
}

async fn start(transport: Transport) -> (Fixture, FeedClient, Arc<AtomicUsize>) {
    let feeds = Feeds::default();
    let dropped = Arc::clone(&feeds.dropped);
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(FeedServer::new(feeds))
        .allow_plaintext()
        .build()
        .expect("server");
    let fixture = Fixture::start_with(transport, server, Arc::new(Counters::default())).await;
    let feed = FeedClient::new(fixture.channel.clone());
    (fixture, feed, dropped)
}

per_transport!(
    server_stream_delivers_every_item_in_order,
    a_refused_stream_is_a_typed_error,
    client_stream_sums_what_it_is_sent,
    client_stream_gets_a_typed_error,
    bidirectional_stream_echoes,
    items_before_an_error_stay_delivered,
    a_typed_error_ends_a_stream_after_its_items,
    large_items_travel_in_chunks,
    dropping_the_stream_stops_the_producer,
    a_timeout_ends_the_whole_stream,
    unary_calls_go_on_beside_streams,
    a_slow_subscriber_misses_the_oldest_and_is_told,
    a_waiting_subscription_loses_nothing,
    an_item_over_the_ops_limit_fails_the_stream,
    a_response_item_over_the_ops_limit_cancels_the_call,
    an_item_over_the_peers_message_limit_ends_the_stream_with_a_status,
    an_open_stream_finishes_after_the_server_says_goodbye,
    a_sender_blocked_on_credit_is_released_when_its_call_times_out,
    items_of_every_size_keep_their_order_both_ways,
    streams_work_where_the_peer_does_not_unpack,
);

async fn server_stream_delivers_every_item_in_order(transport: Transport) {
    let (fx, feed, _) = start(transport).await;
    let mut numbers = feed.count(10_000).await.expect("open");
    let mut next = 0;
    while let Some(n) = numbers.message().await.expect("item") {
        assert_eq!(n, next);
        next += 1;
    }
    assert_eq!(next, 10_000);
    // An empty stream opens and ends.
    let empty: Vec<_> = feed.count(0).await.expect("open").collect().await;
    assert!(empty.is_empty());
    fx.shutdown().await.expect("clean shutdown");
}

async fn a_refused_stream_is_a_typed_error(transport: Transport) {
    let (fx, feed, _) = start(transport).await;
    let refused = feed.watch("gossip".into(), 3, 1).await.expect("answered");
    assert_eq!(refused.err(), Some(FeedError::NoSuchTopic));
    let events = feed.watch("news".into(), 3, 1).await.expect("answered");
    let events: Vec<Event> = events
        .expect("accepted")
        .map(|e| e.expect("event"))
        .collect()
        .await;
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [0, 1, 2]);
    fx.shutdown().await.expect("clean shutdown");
}

async fn client_stream_sums_what_it_is_sent(transport: Transport) {
    let (fx, feed, _) = start(transport).await;
    let total = feed.sum(Streaming::iter(1..=1000)).await.expect("call");
    assert_eq!(total, Ok(500_500));
    // With a sender: each send waits for room.
    let (sender, numbers) = Streaming::channel();
    let producer = tokio::spawn(async move {
        for n in 0..100u64 {
            sender.send(n).await.expect("the server reads on");
        }
        sender.finish();
    });
    assert_eq!(feed.sum(numbers).await.expect("call"), Ok(4950));
    producer.await.expect("producer");
    assert_eq!(feed.sum(Streaming::empty()).await.expect("call"), Ok(0));
    fx.shutdown().await.expect("clean shutdown");
}

async fn client_stream_gets_a_typed_error(transport: Transport) {
    let (fx, feed, _) = start(transport).await;
    // The server answers before the stream ends; the rest is not read.
    let too_many = feed.sum(Streaming::iter(0..1_000_000)).await.expect("call");
    assert_eq!(too_many, Err(FeedError::TooMany));
    // A sender dropped before it finished cancels its call.
    let (sender, numbers) = Streaming::<u64>::channel();
    let call = tokio::spawn(std::future::IntoFuture::into_future(feed.sum(numbers)));
    sender.send(1).await.expect("sent");
    drop(sender);
    let status = call.await.expect("task").expect_err("cancelled");
    assert_eq!(status.code(), Code::Cancelled, "{status}");
    fx.shutdown().await.expect("clean shutdown");
}

async fn bidirectional_stream_echoes(transport: Transport) {
    let (fx, feed, _) = start(transport).await;
    let (sender, inbox) = Streaming::channel();
    let mut replies = feed.echo(inbox).await.expect("open");
    for seq in 0..50u64 {
        let event = Event {
            seq,
            body: vec![1; 100],
        };
        sender.send(event).await.expect("send");
        let reply = replies.message().await.expect("reply").expect("one");
        assert_eq!(reply.seq, seq * 2);
    }
    sender.finish();
    assert_eq!(replies.message().await.expect("end"), None);
    // The caller's request sender dropped unfinished cancels the call:
    // its reader learns at once, ahead of replies still unread.
    let (sender, inbox) = Streaming::channel();
    let mut replies = feed.echo(inbox).await.expect("open");
    for seq in 0..10u64 {
        let event = Event { seq, body: vec![] };
        sender.send(event).await.expect("send");
    }
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    drop(sender);
    // Time for the connection to see the drop.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let status = replies.message().await.expect_err("cancelled");
    assert_eq!(status.code(), Code::Cancelled, "{status}");
    fx.shutdown().await.expect("clean shutdown");
}

async fn items_before_an_error_stay_delivered(transport: Transport) {
    let (fx, feed, _) = start(transport).await;
    let mut numbers = feed.fail_after(5).await.expect("open");
    for expected in 0..5 {
        assert_eq!(numbers.message().await.expect("item"), Some(expected));
    }
    let status = numbers.message().await.expect_err("the error");
    assert_eq!(status.code(), Code::Aborted);
    assert_eq!(status.message(), "enough");
    assert_eq!(numbers.message().await.expect("over"), None);
    // A producer that gives up (its sender dropped unfinished) ends the
    // stream with CANCELLED, behind the items it sent, even when they are
    // still unread as the status arrives.
    let mut numbers = feed.abandon(5).await.expect("open");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    for expected in 0..5 {
        assert_eq!(numbers.message().await.expect("item"), Some(expected));
    }
    let status = numbers.message().await.expect_err("the end");
    assert_eq!(status.code(), Code::Cancelled, "{status}");
    fx.shutdown().await.expect("clean shutdown");
}

async fn a_typed_error_ends_a_stream_after_its_items(transport: Transport) {
    let (fx, feed, _) = start(transport).await;
    // Small items and chunked ones: the error follows what was delivered.
    for size in [8, 100_000] {
        let mut events = feed
            .watch("closing".into(), 3, size)
            .await
            .expect("call")
            .expect("accepted");
        for seq in 0..3 {
            let event = events.message().await.expect("event").expect("some");
            assert_eq!((event.seq, event.body.len() as u64), (seq, size));
        }
        let status = events.message().await.expect_err("the typed error");
        assert_eq!(status.code(), Code::Unknown, "{status}");
        assert_eq!(status.application_error(), Some(&FeedError::Closed));
        assert!(format!("{status:?}").contains("FeedError"), "{status:?}");
        assert_eq!(events.message().await.expect("over"), None);
    }
    // An error of another type than the op declares travels as a status.
    let mut events = feed
        .watch("mistyped".into(), 1, 8)
        .await
        .expect("call")
        .expect("accepted");
    assert!(events.message().await.expect("event").is_some());
    let status = events.message().await.expect_err("the error");
    assert_eq!(status.code(), Code::Unknown);
    assert_eq!(status.application_error::<FeedError>(), None);
    assert_eq!(status.application_error::<&str>(), None);
    fx.shutdown().await.expect("clean shutdown");
}

async fn large_items_travel_in_chunks(transport: Transport) {
    let (fx, feed, _) = start(transport).await;
    // 8 events of 1 MiB each: 32 chunks apiece over byte streams.
    let events = feed.watch("news".into(), 8, 1 << 20).await.expect("call");
    let mut events = events.expect("accepted");
    let mut seen = 0;
    while let Some(event) = events.message().await.expect("event") {
        assert_eq!(event.body.len(), 1 << 20);
        assert!(event.body.iter().all(|&b| b == event.seq as u8));
        seen += 1;
    }
    assert_eq!(seen, 8);
    // And big ones the other way, echoed.
    let inbox = Streaming::iter((0..4u64).map(|seq| Event {
        seq,
        body: vec![seq as u8; 3 << 20],
    }));
    let replies: Vec<Event> = feed
        .echo(inbox)
        .await
        .expect("open")
        .map(|e| e.expect("reply"))
        .collect()
        .await;
    assert_eq!(replies.len(), 4);
    assert!(replies.iter().all(|e| e.body.len() == 3 << 20));
    fx.shutdown().await.expect("clean shutdown");
}

async fn dropping_the_stream_stops_the_producer(transport: Transport) {
    let (fx, feed, dropped) = start(transport).await;
    let mut numbers = feed.forever().await.expect("open");
    for expected in 0..1000 {
        assert_eq!(numbers.message().await.expect("item"), Some(expected));
    }
    drop(numbers);
    common::eventually("the server drops the producer", || {
        dropped.load(Ordering::SeqCst) == 1
    })
    .await;
    // The connection goes on.
    assert_eq!(feed.count(3).await.expect("open").count().await, 3);
    fx.shutdown().await.expect("clean shutdown");
}

async fn a_timeout_ends_the_whole_stream(transport: Transport) {
    let (fx, feed, dropped) = start(transport).await;
    let mut numbers = feed
        .forever()
        .timeout(Duration::from_millis(200))
        .await
        .expect("open");
    let status = loop {
        match numbers.message().await {
            Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(1)).await,
            Ok(None) => panic!("a stream that never ends ended"),
            Err(status) => break status,
        }
    };
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    common::eventually("the server drops the producer", || {
        dropped.load(Ordering::SeqCst) == 1
    })
    .await;
    fx.shutdown().await.expect("clean shutdown");
}

async fn unary_calls_go_on_beside_streams(transport: Transport) {
    let (fx, feed, _) = start(transport).await;
    // A stream nobody reads: it stalls on credit, and the connection does not.
    let stalled = feed.forever().await.expect("open");
    for _ in 0..100 {
        let n = feed.count(2).await.expect("open").count().await;
        assert_eq!(n, 2);
    }
    drop(stalled);
    fx.shutdown().await.expect("clean shutdown");
}

async fn a_slow_subscriber_misses_the_oldest_and_is_told(transport: Transport) {
    let (fx, feed, _) = start(transport).await;
    let total = 20_000u64;
    let mut ticks = feed.ticker(total, 1024).await.expect("open");
    // Not reading: the window fills, the backlog of 16 overflows.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut received = 0u64;
    let mut last = None;
    while let Some(tick) = ticks.message().await.expect("tick") {
        assert!(last.is_none_or(|last| tick.seq > last), "in order");
        last = Some(tick.seq);
        received += 1;
    }
    let missed = ticks.missed();
    assert!(missed > 0, "a reader that paused missed some");
    assert_eq!(received + missed, total, "every tick delivered or counted");
    assert_eq!(last, Some(total - 1), "the newest survive");
    fx.shutdown().await.expect("clean shutdown");
}

async fn a_waiting_subscription_loses_nothing(transport: Transport) {
    let (fx, feed, _) = start(transport).await;
    let mut ticks = feed.paced(5_000, 1024).await.expect("open");
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut received = 0u64;
    while let Some(tick) = ticks.message().await.expect("tick") {
        assert_eq!(tick.seq, received);
        received += 1;
    }
    assert_eq!((received, ticks.missed()), (5_000, 0));
    fx.shutdown().await.expect("clean shutdown");
}

async fn an_item_over_the_ops_limit_fails_the_stream(transport: Transport) {
    let (fx, feed, _) = start(transport).await;
    let fits = Streaming::iter([vec![1u8; 4000], vec![2u8; 100]]);
    assert_eq!(feed.small(fits).await.expect("call"), Ok(4100));
    // 10 KiB travels whole, 100 KiB in chunks: both refused before use.
    for size in [10 << 10, 100 << 10] {
        let big = Streaming::iter([vec![1u8; 10], vec![3u8; size]]);
        assert_eq!(feed.small(big).await.expect("call"), Err(FeedError::TooBig));
    }
    fx.shutdown().await.expect("clean shutdown");
}

async fn a_response_item_over_the_ops_limit_cancels_the_call(transport: Transport) {
    let (fx, feed, dropped) = start(transport).await;
    // The first item fails the open, or the first read once open.
    let (status, held) = match feed.capped(10_000).await {
        Err(status) => (status, None),
        Ok(mut events) => (events.message().await.expect_err("too large"), Some(events)),
    };
    assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
    // The server learns at once, though the caller may still hold its
    // stream: the call is cancelled and the producer dropped.
    common::eventually("the server drops the producer", || {
        dropped.load(Ordering::SeqCst) == 1
    })
    .await;
    if let Some(mut events) = held {
        assert_eq!(
            events.message().await.ok(),
            Some(None),
            "the stream is over"
        );
    }
    assert_eq!(feed.count(3).await.expect("open").count().await, 3);
    fx.shutdown().await.expect("clean shutdown");
}

async fn an_item_over_the_peers_message_limit_ends_the_stream_with_a_status(transport: Transport) {
    // Both ends take messages of at most 64 KiB.
    let small = || prism::transport::SessionConfig::default().with_max_message(64 << 10);
    let server = Server::builder()
        .allow_unauthenticated()
        .session_config(small())
        .add_service(FeedServer::new(Feeds::default()))
        .allow_plaintext()
        .build()
        .expect("server");
    let fx = Fixture::start_with(transport, server, Arc::new(Counters::default())).await;
    let channel = fx
        .connect_with(prism::Channel::builder().session_config(small()))
        .await
        .expect("connect");
    let feed = FeedClient::new(channel);
    // The handler's first item is over the caller's limit: the caller
    // learns, rather than waiting for an item that never comes.
    let status = tokio::time::timeout(common::PROMPTLY, async {
        match feed.watch("news".into(), 3, 100_000).await {
            Err(status) => status,
            Ok(Ok(mut events)) => events.message().await.expect_err("no item fits"),
            Ok(Err(refused)) => panic!("refused: {refused:?}"),
        }
    })
    .await
    .expect("the stream ends promptly");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
    assert!(status.message().contains("message limit"), "{status}");
    // The caller's second item is over the handler's limit: the call fails
    // so (the handler's own answer never comes).
    let big = Streaming::iter([vec![1u8; 10], vec![2u8; 100_000]]);
    let status = tokio::time::timeout(common::PROMPTLY, feed.small(big))
        .await
        .expect("the call ends promptly")
        .expect_err("the call fails");
    assert_eq!(status.code(), Code::ResourceExhausted, "{status}");
    // The connection goes on.
    assert_eq!(
        feed.count(3)
            .await
            .expect("open")
            .collect::<Vec<_>>()
            .await
            .len(),
        3
    );
    fx.shutdown().await.expect("clean shutdown");
}

async fn a_sender_blocked_on_credit_is_released_when_its_call_times_out(transport: Transport) {
    let (fx, feed, _) = start(transport).await;
    let (sender, items) = Streaming::channel();
    let call = tokio::spawn(
        feed.deaf(items)
            .timeout(Duration::from_millis(300))
            .into_future(),
    );
    // Nothing is read: the window fills, then `send` waits for credit.
    let sending = tokio::spawn(async move {
        let mut sent = 0u64;
        while sender.send(vec![0u8; 1024]).await.is_ok() {
            sent += 1;
        }
        sent
    });
    let status = tokio::time::timeout(common::PROMPTLY, call)
        .await
        .expect("the call ends at its deadline")
        .expect("task")
        .expect_err("no answer");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");
    let sent = tokio::time::timeout(common::PROMPTLY, sending)
        .await
        .expect("the blocked sender is released")
        .expect("task");
    assert!(
        sent >= 100,
        "{transport:?}: the window filled first ({sent} sent)"
    );
    fx.shutdown().await.expect("clean shutdown");
}

async fn an_open_stream_finishes_after_the_server_says_goodbye(transport: Transport) {
    let (fx, feed, _) = start(transport).await;
    let mut numbers = feed.count(5_000).await.expect("open");
    for expected in 0..10 {
        assert_eq!(numbers.message().await, Ok(Some(expected)));
    }
    // GOAWAY: no new calls, but the open stream runs to its end (well
    // within the drain timeout).
    fx.server.shutdown();
    for expected in 10..5_000 {
        assert_eq!(numbers.message().await, Ok(Some(expected)), "{transport:?}");
    }
    assert_eq!(numbers.message().await, Ok(None), "a normal end");
    fx.shutdown().await.expect("clean shutdown");
}

/// Sizes that pack together, go alone, or travel in chunks, in a row.
fn mixed_sizes() -> impl Iterator<Item = Event> {
    let sizes = [0, 10, 3_000, 10, 10, 100_000, 1, 2_048, 2_049, 64];
    (0..500u64).map(move |seq| Event {
        seq,
        body: vec![seq as u8; sizes[seq as usize % sizes.len()]],
    })
}

async fn items_of_every_size_keep_their_order_both_ways(transport: Transport) {
    let (fx, feed, _) = start(transport).await;
    // Sent as fast as the stream yields: small ones share frames (packed)
    // between the large ones, in each direction.
    let replies = feed
        .echo(Streaming::iter(mixed_sizes()))
        .await
        .expect("open");
    let replies: Vec<Event> = replies.map(|event| event.expect("an item")).collect().await;
    let expected: Vec<Event> = mixed_sizes()
        .map(|mut event| {
            event.seq *= 2;
            event
        })
        .collect();
    assert_eq!(replies.len(), expected.len());
    assert!(replies == expected, "every item, in order, intact");
    assert_eq!(
        feed.count(20_000)
            .await
            .expect("open")
            .map(|n| n.expect("a number"))
            .collect::<Vec<_>>()
            .await,
        (0..20_000).collect::<Vec<_>>()
    );
    fx.shutdown().await.expect("clean shutdown");
}

async fn streams_work_where_the_peer_does_not_unpack(transport: Transport) {
    let (fx, _, _) = start(transport).await;
    // This client offers no optional features: nothing is packed for it,
    // and it packs nothing.
    let config = prism::transport::SessionConfig::default().with_features(
        prism::transport::Features::EMPTY,
        prism::transport::Features::EMPTY,
    );
    let channel = fx
        .connect_with(prism::Channel::builder().session_config(config))
        .await
        .expect("connect");
    let feed = FeedClient::new(channel);
    let replies: Vec<Event> = feed
        .echo(Streaming::iter(mixed_sizes()))
        .await
        .expect("open")
        .map(|event| event.expect("an item"))
        .collect()
        .await;
    assert_eq!(replies.len(), 500);
    assert!(
        replies
            .iter()
            .zip(mixed_sizes())
            .all(|(r, e)| r.seq == e.seq * 2 && r.body == e.body)
    );
    assert_eq!(
        feed.sum(Streaming::iter(1..=10_000)).await.expect("call"),
        Ok(50_005_000)
    );
    fx.shutdown().await.expect("clean shutdown");
}

#[test]
fn the_manifest_names_each_stream_kind_and_subscriptions() {
    let manifest = prism::reflect::PermissionManifest::from_services(&[&feed::SERVICE]);
    let kind = |name: &str| {
        let entry = manifest
            .entries()
            .iter()
            .find(|e| e.full_name == format!("tests.Feed/{name}"))
            .expect("op");
        manifest.to_json()["ops"]
            .as_array()
            .expect("ops")
            .iter()
            .find(|op| op["name"] == entry.full_name.as_str())
            .expect("json op")["kind"]
            .as_str()
            .expect("kind")
            .to_owned()
    };
    assert_eq!(kind("count"), "server_stream");
    assert_eq!(kind("ticker"), "subscription");
    assert_eq!(kind("paced"), "subscription");
    assert_eq!(kind("sum"), "client_stream");
    assert_eq!(kind("echo"), "bidi");
}

/// An item that does not decode fails its stream, not the connection: the
/// handler's read fails and it answers; the same connection goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undecodable_item_fails_its_stream_not_the_connection() {
    use common::raw::{self, RawConn};
    use prism_proto::frame::{Flags, FrameHeader, FrameKind};
    let (fx, _, _) = start(Transport::Tcp).await;
    let (mut conn, _) = RawConn::handshake(fx.tcp_addr()).await;
    let open = |channel| {
        let mut header = raw::call_header(channel, feed::SUM.get());
        header.flags = Flags::OPEN;
        header
    };
    let data = |channel, flags| {
        let mut header = FrameHeader::new(FrameKind::Data);
        header.channel = channel;
        header.codec = raw::postcard_id();
        header.flags = flags;
        header
    };
    // The answer on `channel`, past credit, cancels and pings.
    async fn answer(conn: &mut RawConn, channel: u32) -> FrameKind {
        loop {
            let frame = conn.next().await.expect("the connection goes on");
            match frame.header.kind {
                FrameKind::Response | FrameKind::Error if frame.header.channel == channel => {
                    return frame.header.kind;
                }
                FrameKind::Credit | FrameKind::Cancel | FrameKind::Ping => {}
                other => panic!("unexpected {other}: {frame:?}"),
            }
        }
    }
    conn.send(open(1), &[]).await;
    // A varint that never ends: not a u64.
    conn.send(data(1, Flags::NONE), &[0xFF; 11]).await;
    assert_eq!(
        answer(&mut conn, 1).await,
        FrameKind::Response,
        "the handler answered (with its typed error)"
    );
    conn.send(open(3), &[]).await;
    conn.send(data(3, Flags::NONE), &raw::encode(&5u64)).await;
    conn.send(data(3, Flags::END), &[]).await;
    assert_eq!(answer(&mut conn, 3).await, FrameKind::Response);
    fx.shutdown().await.expect("clean shutdown");
}
