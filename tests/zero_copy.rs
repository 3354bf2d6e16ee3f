//! A 1 MiB rkyv request reaches its handler as a view with zero alignment
//! copies and zero payload copies beyond the socket read, over the
//! in-memory, TCP and Unix transports. (Its own test binary: the copy
//! counters are process-wide.)

mod common;

use std::sync::Arc;

use common::{Counters, Fixture, Transport, assert_no_panics};
use prism::{Archived, Facet, Payload, Server};

/// One megabyte of tensor data.
#[derive(Facet, prism::rkyv::Archive, prism::rkyv::Serialize, prism::rkyv::Deserialize, Debug)]
#[facet(crate = prism::facet)]
#[rkyv(crate = prism::rkyv)]
pub struct Chunk {
    /// The bytes.
    pub data: Vec<u8>,
}

/// Takes chunks in place.
#[prism::service(package = "tests")]
pub trait Sink {
    /// Reads the chunk through its view and reports where its bytes lie.
    #[prism(codec = rkyv)]
    async fn take(&self, chunk: Archived<Chunk>) -> (u64, bool);
}

struct MySink;

impl Sink for MySink {
    async fn take(&self, chunk: Archived<Chunk>) -> (u64, bool) {
        // The archived bytes lie inside the received payload: read in place.
        let payload = chunk.payload().as_bytes();
        let base = payload.as_ptr() as usize;
        let data = chunk.data.as_slice();
        let inside = (data.as_ptr() as usize) >= base
            && (data.as_ptr() as usize) + data.len() <= base + payload.len();
        (data.len() as u64, inside)
    }
}

#[tokio::test]
async fn a_one_mebibyte_view_is_never_copied() {
    for transport in Transport::ALL {
        let server = Server::builder()
            .add_service(SinkServer::new(MySink))
            .allow_plaintext()
            .build()
            .expect("server");
        let fixture = Fixture::start_with(transport, server, Arc::new(Counters::default())).await;
        let sink = SinkClient::new(fixture.channel.clone());
        let (copies, joins) = (Payload::alignment_copies(), Payload::segment_joins());
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
        assert_eq!(
            Payload::alignment_copies(),
            copies,
            "{transport:?}: an alignment copy happened"
        );
        assert_eq!(
            Payload::segment_joins(),
            joins,
            "{transport:?}: a segmented payload was joined"
        );
        fixture.shutdown().await.expect("shutdown");
    }
    assert_no_panics();
}
