//! Small values do not pin big buffers: a server that keeps 2,000 16-byte
//! `Bytes` keys decoded from calls over TCP and Unix holds memory in
//! proportion to the keys, not 2,000 receive buffers of 64 KiB. Measured
//! with a counting global allocator over the whole process (client and
//! server), so the figure is what the keys really keep alive.

mod common;
/// The counting allocator the load tool uses.
#[path = "../examples/load/heap.rs"]
mod heap;

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use common::{Counters, Fixture, Transport, assert_no_panics};
use prism::Server;

/// Keeps every key it is sent.
#[prism::service(public, package = "tests")]
pub trait Keep {
    /// Keeps `key` (and not `filler`); returns how many are kept.
    async fn keep(&self, key: Bytes, filler: Vec<u8>) -> u32;
}

#[derive(Clone, Default)]
struct Keeper(Arc<Mutex<Vec<Bytes>>>);

impl Keep for Keeper {
    async fn keep(&self, key: Bytes, filler: Vec<u8>) -> u32 {
        drop(filler);
        let mut kept = self.0.lock().expect("keys");
        kept.push(key);
        kept.len() as u32
    }
}

const KEYS: u32 = 2_000;

/// Bytes sent with each key and not kept: most of a receive buffer, so
/// each request comes to lie in a buffer of its own.
fn filler() -> Vec<u8> {
    vec![7; 60 * 1024]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_small_bytes_fields_hold_memory_in_proportion_to_themselves() {
    for transport in [Transport::Tcp, Transport::Unix] {
        let keeper = Keeper::default();
        keeper.0.lock().expect("keys").reserve(KEYS as usize + 100);
        let server = Server::builder()
            .allow_unauthenticated()
            .allow_plaintext()
            .add_service(KeepServer::new(keeper.clone()))
            .build()
            .expect("the server builds");
        let fx = Fixture::start_with(transport, server, Arc::new(Counters::default())).await;
        let keep = KeepClient::new(fx.channel.clone());
        // Warm up: buffers, tasks and caches that live as long as the
        // connection.
        for i in 0..50u32 {
            keep.keep(Bytes::from(format!("warm-up key {i:04}")), filler())
                .await
                .expect("keep");
        }
        let before = heap::live() as isize;
        for i in 0..KEYS {
            // One call at a time, each nearly filling a receive buffer
            // (64 KiB): a key that pinned its buffer would pin 64 KiB.
            let key = Bytes::from(format!("key {i:012}"));
            assert_eq!(key.len(), 16);
            keep.keep(key, filler()).await.expect("keep");
        }
        let grown = heap::live() as isize - before;
        assert_eq!(keeper.0.lock().expect("keys").len(), 50 + KEYS as usize);
        // 16 bytes of key plus its allocation and bookkeeping: well under
        // 1 KiB each. Pinning a 64 KiB receive buffer each would be 128 MiB.
        let per_key = grown / KEYS as isize;
        assert!(
            per_key < 1024,
            "{transport:?}: {grown} bytes grown for {KEYS} keys ({per_key} per key)"
        );
        drop(keep);
        fx.shutdown().await.expect("clean shutdown");
    }
    assert_no_panics();
}
