//! Call metadata: sent with unary calls and stream opens, read by the
//! handler from its `Context` and by layers; credentials refused where
//! metadata is made and where it arrives, before anything of the call is
//! decoded (a spy codec counts decodes).

#[macro_use]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use common::raw::{self, RawConn};
use common::{Counters, Fixture, Transport, assert_no_panics};
use futures_util::StreamExt;
use prism::codec::{
    Capabilities, Codec, CodecId, Decode, DecodeError, Encode, EncodeBuf, EncodeError, Payload,
};
use prism::{Code, Context, Limits, Metadata, MetadataError, Server, Streaming};
use prism_proto::frame::{Flags, FrameKind};
use prism_proto::session::Features;

/// How many messages the spy codec decoded, in this whole test binary.
static DECODES: AtomicUsize = AtomicUsize::new(0);

/// A codec that counts what it decodes: a refused call must leave it be.
#[derive(Debug)]
pub struct SpyCodec;

impl Codec for SpyCodec {
    const ID: CodecId = CodecId::new(CodecId::USER_RANGE_START + 9);
    const NAME: &'static str = "spy";
    const CAPABILITIES: Capabilities = Capabilities::NONE;
}

/// Raw bytes, carried by the spy codec.
#[prism::message]
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl Encode<SpyCodec> for Blob {
    fn encode(&self, out: &mut EncodeBuf, _limits: &Limits) -> Result<(), EncodeError> {
        out.tail().extend_from_slice(&self.bytes);
        Ok(())
    }
}

impl Decode<SpyCodec> for Blob {
    fn decode(payload: &Payload, _limits: &Limits) -> Result<Self, DecodeError> {
        DECODES.fetch_add(1, Ordering::SeqCst);
        Ok(Blob {
            bytes: payload.to_vec(),
        })
    }
}

/// Echoes what the caller's metadata said.
#[prism::service(package = "test.metadata", public)]
pub trait Echo {
    /// The caller's metadata, as `key=value` lines.
    async fn entries(&self, cx: &Context) -> Vec<String>;
    /// The same, one item each, `n` times over.
    async fn watch(&self, cx: &Context, n: u32) -> Streaming<String>;
    /// How many items came, then the metadata.
    async fn upload(&self, cx: &Context, items: Streaming<u32>) -> Vec<String>;
    /// The metadata, one line per item that came.
    async fn chat(&self, cx: &Context, items: Streaming<u32>) -> Streaming<String>;
    /// Counts handler runs; its request goes through the spy codec.
    #[prism(bare, codec = SpyCodec)]
    async fn spy(&self, blob: Blob) -> Blob;
}

struct Echoes(Arc<AtomicUsize>);

fn lines(cx: &Context) -> Vec<String> {
    (cx.metadata().iter())
        .map(|(k, v)| format!("{k}={}", String::from_utf8_lossy(v)))
        .collect()
}

impl Echo for Echoes {
    async fn entries(&self, cx: &Context) -> Vec<String> {
        lines(cx)
    }

    async fn watch(&self, cx: &Context, n: u32) -> Streaming<String> {
        let all: Vec<String> = (0..n).flat_map(|_| lines(cx)).collect();
        Streaming::iter(all)
    }

    async fn upload(&self, cx: &Context, mut items: Streaming<u32>) -> Vec<String> {
        let mut count = 0;
        while let Ok(Some(_)) = items.message().await {
            count += 1;
        }
        let mut out = vec![format!("items={count}")];
        out.extend(lines(cx));
        out
    }

    async fn chat(&self, cx: &Context, items: Streaming<u32>) -> Streaming<String> {
        let lines = lines(cx);
        Streaming::from_stream(items.flat_map(move |_| futures_util::stream::iter(lines.clone())))
    }

    async fn spy(&self, blob: Blob) -> Blob {
        self.0.fetch_add(1, Ordering::SeqCst);
        blob
    }
}

struct Setup {
    fx: Fixture,
    handled: Arc<AtomicUsize>,
}

async fn start(transport: Transport) -> Setup {
    let handled = Arc::new(AtomicUsize::new(0));
    let server = Server::builder()
        .allow_unauthenticated()
        .allow_plaintext()
        .add_service(EchoServer::new(Echoes(Arc::clone(&handled))))
        .build()
        .expect("server");
    let fx = Fixture::start_with(transport, server, Arc::new(Counters::default())).await;
    Setup { fx, handled }
}

fn sample() -> Metadata {
    let mut metadata = Metadata::new();
    metadata.insert("request-id", "r-17").expect("plain entry");
    metadata
        .insert("traceparent", "00-4bf92f3577b34da6-00f067aa0ba902b7-01")
        .expect("plain entry");
    metadata
}

const SAMPLE_LINES: [&str; 2] = [
    "request-id=r-17",
    "traceparent=00-4bf92f3577b34da6-00f067aa0ba902b7-01",
];

async fn every_kind_of_call_carries_metadata(transport: Transport) {
    let setup = start(transport).await;
    let client = EchoClient::new(setup.fx.channel.clone());
    assert_eq!(
        client.entries().metadata(sample()).await.expect("unary"),
        SAMPLE_LINES
    );
    assert!(client.entries().await.expect("unary").is_empty());
    let stream = client.watch(2).metadata(sample()).await.expect("open");
    let items: Vec<String> = stream.map(|item| item.expect("item")).collect().await;
    assert_eq!(items, [SAMPLE_LINES, SAMPLE_LINES].concat());
    let uploaded = (client.upload(Streaming::iter(0..5u32)))
        .metadata(sample())
        .await
        .expect("upload");
    assert_eq!(uploaded[0], "items=5");
    assert_eq!(uploaded[1..], SAMPLE_LINES);
    setup.fx.shutdown().await.expect("clean shutdown");
}

per_transport!(every_kind_of_call_carries_metadata);

#[tokio::test]
async fn a_client_layer_adds_metadata_to_every_call() {
    let setup = start(Transport::Mem).await;
    let layer = prism::client::layer_fn(|mut call, next| {
        (call.metadata_mut())
            .insert("via", "layer")
            .expect("plain entry");
        next.handle(call)
    });
    let channel = (setup.fx)
        .connect_with(prism::Channel::builder().layer(layer))
        .await
        .expect("connect");
    let client = EchoClient::new(channel);
    assert_eq!(client.entries().await.expect("call"), ["via=layer"]);
    let both = client.entries().metadata(sample()).await.expect("call");
    assert_eq!(both, [&SAMPLE_LINES[..], &["via=layer"]].concat());
    setup.fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

/// A value one layer attaches to a stream open for the layers after it.
#[derive(Debug, Clone, PartialEq)]
struct Seen(&'static str);

#[tokio::test]
async fn client_layers_see_every_stream_open() {
    let setup = start(Transport::Mem).await;
    let tagger = prism::client::open_fn(|open| {
        let method = open.op().method();
        open.extensions_mut().insert(Seen(method));
        (open.metadata_mut())
            .insert("via", "open-layer")
            .expect("plain entry");
        Ok(())
    });
    let guard = prism::client::open_fn(|open| {
        // The layer added first ran first: its value is here.
        let Some(Seen(method)) = open.extensions().get::<Seen>() else {
            return Err(prism::Status::internal("the first layer did not run"));
        };
        match *method {
            "watch" if open.metadata().get("block").is_some() => {
                Err(prism::Status::permission_denied("blocked by a layer"))
            }
            "upload" => {
                open.set_timeout(Some(std::time::Duration::from_millis(50)));
                Ok(())
            }
            _ => Ok(()),
        }
    });
    let channel = (setup.fx)
        .connect_with(prism::Channel::builder().layer(tagger).layer(guard))
        .await
        .expect("connect");
    let client = EchoClient::new(channel.clone());

    // A server stream and a client stream carry what the layer added,
    // beside the caller's own metadata.
    let stream = client.watch(1).metadata(sample()).await.expect("open");
    let items: Vec<String> = stream.map(|item| item.expect("item")).collect().await;
    assert_eq!(items, [&SAMPLE_LINES[..], &["via=open-layer"]].concat());
    let uploaded = client
        .upload(Streaming::iter(0..3u32))
        .await
        .expect("upload");
    assert_eq!(uploaded, ["items=3", "via=open-layer"]);
    let chat = client.chat(Streaming::iter(0..2u32)).await.expect("open");
    let lines: Vec<String> = chat.map(|line| line.expect("line")).collect().await;
    assert_eq!(lines, ["via=open-layer", "via=open-layer"]);

    // A refused open fails with the layer's status and is never sent.
    let sent = channel.stats().calls_sent;
    let mut block = Metadata::new();
    block.insert("block", "yes").expect("plain entry");
    let status = client.watch(1).metadata(block).await.expect_err("refused");
    assert_eq!(status.code(), Code::PermissionDenied, "{status}");
    assert_eq!(status.message(), "blocked by a layer");
    assert_eq!(channel.stats().calls_sent, sent, "nothing left the client");

    // A layer may bound a whole stream: an upload that never ends runs out
    // of the layer's time.
    let endless = Streaming::from_stream(futures_util::stream::pending::<u32>());
    let status = tokio::time::timeout(Duration::from_secs(10), client.upload(endless))
        .await
        .expect("the layer's timeout ends it")
        .expect_err("bounded");
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status}");

    // Unary calls pass an open-only layer untouched.
    assert!(client.entries().await.expect("unary").is_empty());
    setup.fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[test]
fn a_token_cannot_be_put_in_metadata() {
    let token = "eyJhbGciOiJIUzI1NiIsImtpZCI6ImhzIn0.eyJzdWIiOiJ3b3JrZXIifQ.c2lnbmF0dXJl";
    let mut metadata = Metadata::new();
    for (key, value) in [
        ("authorization", format!("Bearer {token}")),
        ("x-api-key", "k-123".to_owned()),
        ("x-trace", token.to_owned()),
        ("note", format!("bearer {token}")),
    ] {
        let refused = metadata.insert(key, value).expect_err("a credential");
        assert_eq!(refused, MetadataError::Credential { key: key.into() });
        assert!(!refused.to_string().contains(token), "{refused}");
    }
    assert!(metadata.is_empty());
}

/// A peer that skips the client's check: every credential is refused by
/// the server's session with `INVALID_ARGUMENT`, nothing is decoded, no
/// handler runs, and the connection goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_in_metadata_is_refused_before_decode() {
    let setup = start(Transport::Tcp).await;
    let (mut conn, _) = RawConn::handshake_offering(setup.fx.tcp_addr(), Features::METADATA).await;
    let before = DECODES.load(Ordering::SeqCst);
    let jwt = b"eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJ3b3JrZXIifQ.c2lnbmF0dXJl";
    let cases: [(&[u8], &[u8]); 3] = [
        (b"authorization", b"Bearer abc"),
        (b"x-trace", jwt),
        (b"cookie", b"session=1"),
    ];
    for (i, (key, value)) in cases.into_iter().enumerate() {
        let channel = 1 + 2 * i as u32;
        let mut header = raw::call_header(channel, echo::SPY.get());
        header.codec = SpyCodec::ID.get();
        header.flags = Flags::METADATA;
        let mut payload = raw_block(key, value);
        payload.extend_from_slice(b"a request the spy would count");
        conn.send(header, &payload).await;
        let (code, message) = conn.expect_error(channel).await;
        assert_eq!(code, Code::InvalidArgument, "{message}");
        assert!(message.contains("credential"), "{message}");
        assert!(
            !message.contains("abc") && !message.contains("eyJ"),
            "{message}"
        );
    }
    assert_eq!(DECODES.load(Ordering::SeqCst), before, "nothing decoded");
    assert_eq!(setup.handled.load(Ordering::SeqCst), 0, "no handler ran");
    // The connection goes on: the same call without the credential runs.
    let mut header = raw::call_header(7, echo::SPY.get());
    header.codec = SpyCodec::ID.get();
    conn.send(header, b"fine").await;
    let frame = conn.recv().await.expect("an answer");
    let answer = (
        frame.header.kind,
        frame.header.channel,
        frame.payload.to_vec(),
    );
    assert_eq!(answer, (FrameKind::Response, 7, b"fine".to_vec()));
    assert_eq!(setup.handled.load(Ordering::SeqCst), 1);
    setup.fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

/// One entry in the wire form, unchecked.
fn raw_block(key: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; 8];
    out[4] = 1;
    out.push(key.len() as u8);
    out.extend_from_slice(key);
    out.extend_from_slice(&(value.len() as u16).to_le_bytes());
    out.extend_from_slice(value);
    out.resize(out.len().div_ceil(16) * 16, 0);
    let len = out.len() as u32;
    out[..4].copy_from_slice(&len.to_le_bytes());
    out
}
