//! The echo service with Prism's `rkyv` codec: the server reads the request
//! in place through an `Archived<Vec<u8>>` view and the client reads the
//! response the same way. (rkyv is for structured data read in place; an
//! echo still copies once on each side to build the owned value it sends.)

use bytes::Bytes;
use prism::Archived;
use prism::transport::SessionConfig;

use super::prism::PrismCodec;
use crate::rpc::Result;
use crate::rpc::drive::Handle;

/// Echoes bytes back.
#[prism::service(public, package = "bench", codec = rkyv)]
pub trait RkyvEcho {
    /// Returns `data` unchanged.
    async fn echo(&self, data: Archived<Vec<u8>>) -> Vec<u8>;
}

struct Echoer;

impl RkyvEcho for Echoer {
    async fn echo(&self, data: Archived<Vec<u8>>) -> Vec<u8> {
        data.as_slice().to_vec()
    }
}

/// The rkyv codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rkyv;

/// An rkyv echo client.
#[derive(Clone, Debug)]
pub struct RkyvHandle(RkyvEchoClient);

impl PrismCodec for Rkyv {
    const NAME: &'static str = "rkyv";
    const DEFAULT: bool = false;
    type Handle = RkyvHandle;

    fn server(session: SessionConfig) -> Result<prism::Server> {
        Ok(prism::Server::builder()
            .allow_unauthenticated()
            .add_service(RkyvEchoServer::new(Echoer))
            .session_config(session)
            .allow_plaintext()
            .build()?)
    }

    fn client(channel: prism::Channel) -> RkyvHandle {
        RkyvHandle(RkyvEchoClient::new(channel))
    }
}

impl Handle for RkyvHandle {
    async fn echo(&self, payload: Bytes) -> Result<usize> {
        let reply = self.0.echo(payload.to_vec()).view().await?;
        Ok(reply.len())
    }
}
