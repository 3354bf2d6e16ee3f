//! The echo service with Prism's `segments` codec: a small header plus bulk
//! segments that are never copied or concatenated. The same trait as
//! [`super::prism_postcard`] with the codec changed, and `bare`: the
//! `Segmented` value is the message itself.

use bytes::Bytes;
use prism::Segmented;
use prism::transport::SessionConfig;

use super::prism::PrismCodec;
use crate::rpc::Result;
use crate::rpc::drive::Handle;

/// Echoes bytes back.
#[prism::service(public, package = "bench", codec = segments)]
pub trait SegmentsEcho {
    /// Returns `data` unchanged.
    #[prism(bare)]
    async fn echo(&self, data: Segmented<u8>) -> Segmented<u8>;
}

struct Echoer;

impl SegmentsEcho for Echoer {
    async fn echo(&self, data: Segmented<u8>) -> Segmented<u8> {
        data
    }
}

/// The segments codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Segments;

/// A segments echo client.
#[derive(Clone, Debug)]
pub struct SegmentsHandle(SegmentsEchoClient);

impl PrismCodec for Segments {
    const NAME: &'static str = "segments";
    const DEFAULT: bool = false;
    type Handle = SegmentsHandle;

    fn server(session: SessionConfig) -> Result<prism::Server> {
        Ok(prism::Server::builder()
            .allow_unauthenticated()
            .add_service(SegmentsEchoServer::new(Echoer))
            .session_config(session)
            .allow_plaintext()
            .build()?)
    }

    fn client(channel: prism::Channel) -> SegmentsHandle {
        SegmentsHandle(SegmentsEchoClient::new(channel))
    }
}

impl Handle for SegmentsHandle {
    async fn echo(&self, payload: Bytes) -> Result<usize> {
        let segmented = Segmented {
            header: 0,
            segments: vec![payload],
        };
        let reply = self.0.echo(segmented).await?;
        Ok(reply.segments.iter().map(Bytes::len).sum())
    }
}
