//! Per-op codecs end to end: rkyv views in and out, negotiation between an
//! op's codecs and a restricted client (for stream items too, FlatBuffers
//! and rkyv), and a codec the op does not accept.

mod common;

use std::sync::Arc;

use common::raw::{RawConn, call_header};
use common::{Counters, Fixture, Transport, assert_no_panics};
use prism::codec::CodecId;
use prism::{Archived, Channel, Code, Context, Server, Streaming};

/// A named blob, carried by rkyv (and described by facet for schemas).
#[prism::message(rkyv)]
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// What the blob is called.
    pub name: String,
    /// Its bytes.
    pub data: Vec<u8>,
}

/// Blobs and sums, each op with its own codecs.
#[prism::service(public, package = "tests")]
pub trait Store {
    /// Reads the blob in place and returns its length.
    #[prism(codec = rkyv)]
    async fn put(&self, blob: Archived<Blob>) -> u64;
    /// Makes a blob of `n` bytes.
    #[prism(codec = rkyv)]
    async fn make(&self, n: u32) -> Blob;
    /// Sums the values; reports the codec the call came with.
    #[prism(codecs = [rkyv, flatbuffers])]
    async fn sum(&self, values: Vec<u64>) -> (u64, u16);
    /// Blobs of 0.. bytes, each named for the codec its stream came with.
    #[prism(codecs = [flatbuffers, rkyv])]
    async fn blobs(&self, sizes: Vec<u32>) -> Streaming<Blob>;
    /// The total length of the blobs sent.
    #[prism(codecs = [flatbuffers, rkyv])]
    async fn weigh(&self, blobs: Streaming<Blob>) -> u64;
}

struct MyStore;

impl Store for MyStore {
    async fn put(&self, blob: Archived<Blob>) -> u64 {
        assert_eq!(blob.name.as_str(), "big");
        blob.data.len() as u64
    }

    async fn make(&self, n: u32) -> Blob {
        Blob {
            name: format!("blob-{n}"),
            data: vec![7; n as usize],
        }
    }

    async fn sum(&self, values: Vec<u64>) -> (u64, u16) {
        let codec = Context::current().map_or(0, |ctx| ctx.codec().get());
        (values.iter().sum(), codec)
    }

    async fn blobs(&self, sizes: Vec<u32>) -> Streaming<Blob> {
        let codec = Context::current().map_or(0, |ctx| ctx.codec().get());
        Streaming::iter(sizes.into_iter().map(move |n| Blob {
            name: format!("{codec}"),
            data: vec![n as u8; n as usize],
        }))
    }

    async fn weigh(&self, mut blobs: Streaming<Blob>) -> u64 {
        let mut total = 0;
        while let Ok(Some(blob)) = blobs.message().await {
            total += blob.data.len() as u64;
        }
        total
    }
}

fn server() -> Server {
    Server::builder()
        .allow_unauthenticated()
        .add_service(StoreServer::new(MyStore))
        .allow_plaintext()
        .build()
        .expect("server")
}

#[tokio::test]
async fn a_view_argument_and_a_viewed_response_work_over_every_transport() {
    for transport in Transport::ALL {
        let fixture = Fixture::start_with(transport, server(), Arc::new(Counters::default())).await;
        let store = StoreClient::new(fixture.channel.clone());
        let blob = Blob {
            name: "big".into(),
            data: vec![3; 1 << 16],
        };
        assert_eq!(
            store.put(blob).await.expect("put"),
            1 << 16,
            "{transport:?}"
        );
        let view = store.make(100).view().await.expect("make");
        assert_eq!(view.name.as_str(), "blob-100");
        assert_eq!(view.data.len(), 100);
        assert_eq!(view.deserialize().expect("deserialize").data, vec![7; 100]);
        fixture.shutdown().await.expect("shutdown");
    }
    assert_no_panics();
}

#[tokio::test]
async fn the_client_uses_the_first_codec_both_sides_accept() {
    let fixture =
        Fixture::start_with(Transport::Tcp, server(), Arc::new(Counters::default())).await;
    // By default the op's first choice.
    let store = StoreClient::new(fixture.channel.clone());
    assert_eq!(
        store.sum(vec![1, 2, 3]).await.expect("sum"),
        (6, CodecId::RKYV.get())
    );
    // A client that only speaks the second choice uses it.
    let builder = Channel::builder().allow_plaintext();
    let flatbuffers_only = fixture
        .connect_with(builder.clone().codecs(&[CodecId::FLATBUFFERS]))
        .await
        .expect("connect");
    let store = StoreClient::new(flatbuffers_only);
    let sum = store.sum(vec![4, 5]).await.expect("sum");
    assert_eq!(sum, (9, CodecId::FLATBUFFERS.get()));
    // With none in common the call fails before anything is sent.
    let postcard_only = fixture
        .connect_with(builder.codecs(&[CodecId::POSTCARD]))
        .await
        .expect("connect");
    let status = StoreClient::new(postcard_only)
        .sum(vec![1])
        .await
        .expect_err("no codec in common");
    assert_eq!(status.code(), Code::FailedPrecondition);
    // It names the op and the codecs each side offers, by name.
    assert!(
        status.message().contains("tests.Store/sum")
            && status.message().contains("this client offers none")
            && status
                .message()
                .contains("the server accepts rkyv, flatbuffers"),
        "{status}"
    );
    fixture.shutdown().await.expect("shutdown");
    assert_no_panics();
}

/// Stream items travel with the codec negotiated for their op, both ways:
/// FlatBuffers (the op's first choice) and rkyv (for a client that speaks
/// only that), small items and one that travels in chunks.
#[tokio::test]
async fn stream_items_use_the_ops_negotiated_codec() {
    use futures_util::StreamExt;
    for transport in Transport::ALL {
        let fixture = Fixture::start_with(transport, server(), Arc::new(Counters::default())).await;
        let rkyv_only = fixture
            .connect_with(
                Channel::builder()
                    .allow_plaintext()
                    .codecs(&[CodecId::RKYV]),
            )
            .await
            .expect("connect");
        let sizes = vec![0, 5, 300_000, 17];
        for (channel, codec) in [
            (fixture.channel.clone(), CodecId::FLATBUFFERS),
            (rkyv_only, CodecId::RKYV),
        ] {
            let store = StoreClient::new(channel);
            let blobs: Vec<Blob> = store
                .blobs(sizes.clone())
                .await
                .expect("open")
                .map(|blob| blob.expect("a blob"))
                .collect()
                .await;
            let expected: Vec<Blob> = sizes
                .iter()
                .map(|&n| Blob {
                    name: codec.get().to_string(),
                    data: vec![n as u8; n as usize],
                })
                .collect();
            assert!(blobs == expected, "{transport:?}, {codec}");
            let total = store.weigh(Streaming::iter(expected)).await.expect("weigh");
            assert_eq!(total, 300_022, "{transport:?}, {codec}");
        }
        fixture.shutdown().await.expect("shutdown");
    }
    assert_no_panics();
}

#[tokio::test]
async fn a_codec_the_op_does_not_accept_gets_a_status_naming_op_and_codec() {
    let fixture =
        Fixture::start_with(Transport::Tcp, server(), Arc::new(Counters::default())).await;
    let (mut raw, hello) = RawConn::handshake(fixture.tcp_addr()).await;
    let put = store::PUT.get();
    let advertised = hello
        .ops
        .iter()
        .find(|op| op.op == put)
        .expect("put is advertised");
    assert_eq!(advertised.codecs, vec![CodecId::RKYV.get()]);
    let mut header = call_header(1, put);
    header.codec = CodecId::POSTCARD.get();
    raw.send(header, &[0; 16]).await;
    let (code, message) = raw.expect_error(1).await;
    assert_eq!(code, Code::InvalidArgument);
    assert!(
        message.contains("tests.Store/put") && message.contains("codec postcard"),
        "{message}"
    );
    fixture.shutdown().await.expect("shutdown");
    assert_no_panics();
}
