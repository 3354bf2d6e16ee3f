//! Where a token must never appear: in any frame a client sends after its
//! HELLO (every frame is captured; the token's lifetime is long, so no
//! in-band re-authentication sends a fresh one in an AUTH frame), in any log record at TRACE level (a
//! subscriber records every span and event field), or in `Debug` output of
//! the types that hold credentials or keys.

mod common;

use core::fmt;
use core::task::{Context as TaskContext, Poll};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use common::{assert_no_panics, install_panic_hook};
use prism::auth::jwt::{Algorithm, JwtAuthenticator, JwtKey, SigningKey, TokenIssuer};
use prism::auth::{CachedCredentials, Proof};
use prism::transport::{Frame, Link, LinkError, LinkInfo};
use prism::{Channel, Server, Streaming};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Metadata, Subscriber};

const SECRET: &[u8] = b"a test secret that is long enough for HS256";

/// Echoes bytes; needs `vault.use`.
#[prism::service(package = "tests", permission = "vault.use")]
pub trait Vault {
    /// The bytes back.
    async fn echo(&self, bytes: Vec<u8>) -> Vec<u8>;
    /// The items back.
    async fn chat(&self, items: Streaming<Vec<u8>>) -> Streaming<Vec<u8>>;
}

struct Vaults;

impl Vault for Vaults {
    async fn echo(&self, bytes: Vec<u8>) -> Vec<u8> {
        bytes
    }
    async fn chat(&self, items: Streaming<Vec<u8>>) -> Streaming<Vec<u8>> {
        items
    }
}

/// A link that keeps a copy of every frame it sends.
struct Recording {
    inner: prism::mem::MemLink,
    sent: Arc<Mutex<Vec<Vec<u8>>>>,
}

impl Link for Recording {
    fn info(&self) -> &LinkInfo {
        self.inner.info()
    }

    fn poll_recv(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<Option<Frame>, LinkError>> {
        self.inner.poll_recv(cx)
    }

    fn queue(&mut self, frame: Frame) -> Result<(), LinkError> {
        self.sent.lock().expect("sent").push(frame.payload.to_vec());
        self.inner.queue(frame)
    }

    fn queued_bytes(&self) -> usize {
        self.inner.queued_bytes()
    }

    fn poll_flush(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), LinkError>> {
        self.inner.poll_flush(cx)
    }

    fn poll_close(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), LinkError>> {
        self.inner.poll_close(cx)
    }
}

/// Records every field of every span and event, formatted with `Debug`.
#[derive(Clone, Default)]
struct Recorder {
    text: Arc<Mutex<String>>,
    ids: Arc<AtomicU64>,
}

struct Fields<'a>(&'a mut String);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        use fmt::Write as _;
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, span: &Attributes<'_>) -> Id {
        let mut text = self.text.lock().expect("text");
        text.push_str(span.metadata().name());
        span.record(&mut Fields(&mut text));
        text.push('\n');
        Id::from_u64(self.ids.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, values: &Record<'_>) {
        let mut text = self.text.lock().expect("text");
        values.record(&mut Fields(&mut text));
        text.push('\n');
    }
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut text = self.text.lock().expect("text");
        event.record(&mut Fields(&mut text));
        text.push('\n');
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// On one thread, so the thread-local subscriber sees the server's and the
/// client's records alike.
#[tokio::test]
async fn a_token_crosses_the_wire_once_and_never_reaches_a_log() {
    install_panic_hook();
    let recorder = Recorder::default();
    let _guard = tracing::subscriber::set_default(recorder.clone());

    let issuer = TokenIssuer::new(
        "https://issuer.test",
        SigningKey::hmac("k1", Algorithm::HS256, SECRET).expect("key"),
    );
    let proof = issuer
        .request("spiffe://test/worker", "vault")
        .permissions(["vault.use"])
        .issue()
        .expect("token");
    let token = proof.as_bytes().to_vec();
    let jwt = JwtAuthenticator::builder("https://issuer.test", "vault")
        .key(JwtKey::hmac("k1", Algorithm::HS256, SECRET).expect("key"))
        .build()
        .expect("jwt");
    let server = Server::builder()
        .add_service(VaultServer::new(Vaults))
        .authenticator(jwt)
        .build()
        .expect("server");
    let (client_end, server_end) = prism::mem::pair();
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve_link(server_end).await }
    });
    let sent = Arc::new(Mutex::new(Vec::new()));
    let link = Recording {
        inner: client_end,
        sent: Arc::clone(&sent),
    };
    let channel = Channel::builder()
        .credentials(CachedCredentials::new(proof.clone()))
        .audience("vault")
        .connect_link(link)
        .await
        .expect("connect");
    let vault = VaultClient::new(channel);
    // A payload that is itself secret-looking, and calls of each shape.
    let payload = b"payload-bytes-that-must-not-be-logged".to_vec();
    assert_eq!(vault.echo(payload.clone()).await.expect("echo"), payload);
    // Call metadata is the caller's data too: never logged either.
    let mut metadata = prism::Metadata::new();
    metadata
        .insert("note", &b"metadata-value-that-must-not-be-logged"[..])
        .expect("plain entry");
    let echoed = vault.echo(payload.clone()).metadata(metadata.clone());
    assert_eq!(echoed.await.expect("echo"), payload);
    let items = Streaming::iter(vec![payload.clone(); 3]);
    let mut replies = vault.chat(items).await.expect("chat");
    while let Some(item) = replies.message().await.expect("item") {
        assert_eq!(item, payload);
    }
    // A refused connection logs its refusal, not the token.
    let mut forged = token.clone();
    let last = forged.len() - 2;
    forged[last] ^= 1;
    let (client_end, server_end) = prism::mem::pair();
    let refused = tokio::spawn({
        let server = server.clone();
        async move { server.serve_link(server_end).await }
    });
    let rejected = Channel::builder()
        .credentials(Proof::from_bytes(forged.clone()))
        .audience("vault")
        .connect_link(client_end)
        .await;
    assert!(rejected.is_err());
    let _ = refused.await;

    let sent = sent.lock().expect("sent").clone();
    assert!(
        contains(&sent[0], &token),
        "the HELLO carries the token (capture works)"
    );
    for (i, frame) in sent.iter().enumerate().skip(1) {
        assert!(
            !contains(frame, &token),
            "frame {i} after the HELLO carries the token"
        );
    }
    assert!(sent.len() > 3, "calls were captured too");

    server.shutdown();
    let _ = serving.await;
    let logs = recorder.text.lock().expect("text").clone();
    let value = b"metadata-value-that-must-not-be-logged";
    for secret in [&token[..], &forged[..], &payload[..], SECRET, value] {
        assert!(
            !contains(logs.as_bytes(), secret),
            "a log record shows a secret: {logs}"
        );
    }
    // Not vacuous: the connection did log.
    assert!(!logs.is_empty(), "nothing was logged at TRACE");

    // Debug output of everything that holds a credential or key.
    let texts = [
        format!("{proof:?}"),
        format!("{:?}", CachedCredentials::new(proof.clone())),
        format!("{:?}", Channel::builder().credentials(proof.clone())),
        format!(
            "{:?}",
            JwtKey::hmac("k1", Algorithm::HS256, SECRET).expect("key")
        ),
        format!(
            "{:?}",
            SigningKey::hmac("k1", Algorithm::HS256, SECRET).expect("key")
        ),
        format!("{issuer:?}"),
        format!("{metadata:?}"),
    ];
    for text in texts {
        assert!(!contains(text.as_bytes(), &token), "{text}");
        assert!(!text.contains("a test secret"), "{text}");
        assert!(!text.contains("97, 32, 116"), "{text}");
        assert!(!text.contains("metadata-value"), "{text}");
    }
    assert_no_panics();
}
