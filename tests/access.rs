//! Declared access, end to end over the in-memory, TCP and Unix transports:
//! public ops run; an op that needs a permission is refused with
//! `UNAUTHENTICATED` on a connection that carries no identity (a server
//! without authenticator), for a unary call and for each stream kind's
//! open, before any layer, codec or handler sees it. Identities and their
//! permissions are in `tests/auth.rs`.

#[macro_use]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{Counters, Fixture, Transport, assert_no_panics};
use prism::server::layer_fn;
use prism::{Code, Server, Streaming};

/// A store: reading needs `store.read` (the service's default), writing
/// `store.write`; its health is public.
#[prism::service(package = "tests", permission = "store.read")]
pub trait Store {
    /// A value.
    async fn get(&self, key: String) -> Vec<u8>;
    /// Bytes uploaded (a client stream).
    #[prism(permission = "store.write")]
    async fn put(&self, chunks: Streaming<Vec<u8>>) -> u64;
    /// Changes to a key (a server stream).
    async fn watch(&self, key: String) -> Streaming<u64>;
    /// Numbers echoed (a bidirectional stream).
    async fn echo(&self, numbers: Streaming<u64>) -> Streaming<u64>;
    /// Whether the store is up: anyone may ask.
    #[prism(public)]
    async fn health(&self) -> bool;
}

/// Counts every handler that ran.
struct Stores(Arc<AtomicUsize>);

impl Store for Stores {
    async fn get(&self, _key: String) -> Vec<u8> {
        self.0.fetch_add(1, Ordering::SeqCst);
        vec![1]
    }

    async fn put(&self, _chunks: Streaming<Vec<u8>>) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst);
        0
    }

    async fn watch(&self, _key: String) -> Streaming<u64> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Streaming::iter(0..3)
    }

    async fn echo(&self, numbers: Streaming<u64>) -> Streaming<u64> {
        self.0.fetch_add(1, Ordering::SeqCst);
        numbers
    }

    async fn health(&self) -> bool {
        self.0.fetch_add(1, Ordering::SeqCst);
        true
    }
}

per_transport!(only_public_ops_run_on_a_connection_without_identity);

async fn only_public_ops_run_on_a_connection_without_identity(transport: Transport) {
    let handled = Arc::new(AtomicUsize::new(0));
    // The first layer: it sees every call the server lets through.
    let layered = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&layered);
    let server = Server::builder()
        .allow_unauthenticated()
        .add_service(StoreServer::new(Stores(Arc::clone(&handled))))
        .layer(layer_fn(move |call, next| {
            seen.fetch_add(1, Ordering::SeqCst);
            next.handle(call)
        }))
        .allow_plaintext()
        .build()
        .expect("server");
    let fx = Fixture::start_with(transport, server, Arc::new(Counters::default())).await;
    let store = StoreClient::new(fx.channel.clone());

    assert!(store.health().await.expect("a public op runs"));
    assert_eq!(
        (
            handled.load(Ordering::SeqCst),
            layered.load(Ordering::SeqCst)
        ),
        (1, 1)
    );

    let refused = |status: prism::Status, permission: &str| {
        assert_eq!(status.code(), Code::Unauthenticated, "{status}");
        assert!(
            status.message().contains(permission),
            "names what is missing: {status}"
        );
    };
    refused(
        store.get("k".into()).await.expect_err("unary"),
        "store.read",
    );
    refused(
        store
            .put(Streaming::iter([vec![1u8; 100], vec![2u8; 100 << 10]]))
            .await
            .expect_err("client stream"),
        "store.write",
    );
    refused(
        store.watch("k".into()).await.expect_err("server stream"),
        "store.read",
    );
    refused(
        store
            .echo(Streaming::iter(0..1_000))
            .await
            .expect_err("bidirectional stream"),
        "store.read",
    );
    assert_eq!(
        (
            handled.load(Ordering::SeqCst),
            layered.load(Ordering::SeqCst)
        ),
        (1, 1),
        "no refused call reached a layer or a handler"
    );
    // The connection goes on: refusals are per call.
    assert!(store.health().await.expect("still served"));
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}
