//! The echo service with Prism's `frame` codec: a small header plus bulk
//! segments that are never copied or concatenated. The same trait as
//! [`super::prism_postcard`] with the codec changed.

use bytes::Bytes;
use prism::Framed;
use prism::transport::SessionConfig;

use super::prism::PrismCodec;
use crate::rpc::Result;
use crate::rpc::drive::Handle;

/// Echoes bytes back.
#[prism::service(package = "bench", codec = frame)]
pub trait FrameEcho {
    /// Returns `data` unchanged.
    async fn echo(&self, data: Framed<u8>) -> Framed<u8>;
}

struct Echoer;

impl FrameEcho for Echoer {
    async fn echo(&self, data: Framed<u8>) -> Framed<u8> {
        data
    }
}

/// The frame codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Frame;

/// A frame echo client.
#[derive(Clone, Debug)]
pub struct FrameHandle(FrameEchoClient);

impl PrismCodec for Frame {
    const NAME: &'static str = "frame";
    const DEFAULT: bool = false;
    type Handle = FrameHandle;

    fn server(session: SessionConfig) -> Result<prism::Server> {
        Ok(prism::Server::builder()
            .add_service(FrameEchoServer::new(Echoer))
            .session_config(session)
            .allow_plaintext()
            .build()?)
    }

    fn client(channel: prism::Channel) -> FrameHandle {
        FrameHandle(FrameEchoClient::new(channel))
    }
}

impl Handle for FrameHandle {
    async fn echo(&self, payload: Bytes) -> Result<usize> {
        let framed = Framed {
            header: 0,
            segments: vec![payload],
        };
        let reply = self.0.echo(framed).await?;
        Ok(reply.segments.iter().map(Bytes::len).sum())
    }
}
