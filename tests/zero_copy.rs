//! A 1 MiB rkyv request reaches its handler as a view with zero alignment
//! copies and zero payload copies beyond the socket read, over the
//! in-memory, TCP and Unix transports, as both ends' connection statistics
//! show; and a stream of rkyv items (small, packed and chunked) reaches
//! its handler as views, each over one aligned segment as it arrived.

mod common;

use std::sync::Arc;

use common::{Counters, Fixture, Transport, assert_no_panics};
use prism::{Archived, Server, Streaming};

/// One megabyte of tensor data.
#[prism::message(rkyv)]
#[derive(Debug)]
pub struct Chunk {
    /// The bytes.
    pub data: Vec<u8>,
}

/// Takes chunks in place.
#[prism::service(public, package = "tests")]
pub trait Sink {
    /// Reads the chunk through its view and reports where its bytes lie.
    #[prism(codec = rkyv)]
    async fn take(&self, chunk: Archived<Chunk>) -> (u64, bool);
    /// Reads each chunk of a stream through its view: how many bytes, and
    /// whether every item arrived as one aligned segment (read where it
    /// arrived, never joined or moved).
    #[prism(codec = rkyv)]
    async fn take_all(&self, chunks: Streaming<Archived<Chunk>>) -> (u64, bool);
}

struct MySink;

impl Sink for MySink {
    async fn take(&self, chunk: Archived<Chunk>) -> (u64, bool) {
        // The archived bytes lie inside the received payload: read in place,
        // from the one segment it arrived in (never joined).
        assert_eq!(chunk.payload().segment_count(), 1);
        let payload = chunk.payload().as_bytes();
        let base = payload.as_ptr() as usize;
        let data = chunk.data.as_slice();
        let inside = (data.as_ptr() as usize) >= base
            && (data.as_ptr() as usize) + data.len() <= base + payload.len();
        (data.len() as u64, inside)
    }

    async fn take_all(&self, mut chunks: Streaming<Archived<Chunk>>) -> (u64, bool) {
        let (mut total, mut inside) = (0, true);
        while let Ok(Some(chunk)) = chunks.message().await {
            total += chunk.data.len() as u64;
            inside &= chunk.payload().is_contiguous_aligned();
        }
        (total, inside)
    }
}

#[tokio::test]
async fn a_one_mebibyte_view_is_never_copied() {
    for transport in Transport::ALL {
        let server = Server::builder()
            .allow_unauthenticated()
            .add_service(SinkServer::new(MySink))
            .allow_plaintext()
            .build()
            .expect("server");
        let fixture = Fixture::start_with(transport, server, Arc::new(Counters::default())).await;
        let sink = SinkClient::new(fixture.channel.clone());
        let (len, inside) = sink
            .take(Chunk {
                data: vec![9; 1 << 20],
            })
            .await
            .expect("take");
        assert_eq!(len, 1 << 20);
        assert!(
            inside,
            "{transport:?}: the view does not point into the payload"
        );
        let client = fixture.channel.stats();
        let server = fixture.server.stats();
        // A WebSocket link realigns each message it receives (a message
        // starts a few bytes into tungstenite's buffer), and counts it; the
        // view still points into the one reassembled payload.
        if transport != Transport::Ws {
            assert_eq!(
                client.alignment_copies, 0,
                "{transport:?}: an alignment copy happened on the client"
            );
            assert_eq!(
                server.alignment_copies, 0,
                "{transport:?}: an alignment copy happened on the server"
            );
        }
        assert!(client.bytes_sent > 1 << 20, "{transport:?}: {client:?}");
        assert_eq!(server.calls_received, 1, "{transport:?}: {server:?}");
        // A stream of them: small items, packed ones, and one that travels
        // in chunks, each read in place where it was reassembled.
        let chunks = [10usize, 3_000, 10, 300_000, 1].map(|len| Chunk { data: vec![7; len] });
        let (total, inside) = sink
            .take_all(Streaming::iter(chunks))
            .await
            .expect("take_all");
        assert_eq!(total, 303_021, "{transport:?}");
        assert!(
            inside,
            "{transport:?}: an item arrived in pieces or unaligned"
        );
        if transport != Transport::Ws {
            let server = fixture.server.stats();
            assert_eq!(
                server.alignment_copies, 0,
                "{transport:?}: an item was copied to be aligned"
            );
        }
        fixture.shutdown().await.expect("shutdown");
    }
    assert_no_panics();
}
