//! The echo service with Prism's default codec, postcard.
//!
//! A codec is chosen per service declaration (`codec = ..`), so each codec
//! gets a file like this one declaring the same trait (see
//! [`super::prism_segments`] and [`super::prism_rkyv`]), plus one line per
//! transport in [`super::all`].

use bytes::Bytes;
use prism::transport::SessionConfig;

use super::prism::PrismCodec;
use crate::rpc::Result;
use crate::rpc::drive::Handle;

/// Echoes bytes back.
#[prism::service(public, package = "bench")]
pub trait PostcardEcho {
    /// Returns `data` unchanged.
    async fn echo(&self, data: Bytes) -> Bytes;
}

struct Echoer;

impl PostcardEcho for Echoer {
    async fn echo(&self, data: Bytes) -> Bytes {
        data
    }
}

/// The postcard codec.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Postcard;

/// A postcard echo client.
#[derive(Clone, Debug)]
pub struct PostcardHandle(PostcardEchoClient);

impl PrismCodec for Postcard {
    const NAME: &'static str = "postcard";
    const DEFAULT: bool = true;
    type Handle = PostcardHandle;

    fn server(session: SessionConfig) -> Result<prism::Server> {
        Ok(prism::Server::builder()
            .allow_unauthenticated()
            .add_service(PostcardEchoServer::new(Echoer))
            .session_config(session)
            .allow_plaintext()
            .build()?)
    }

    fn client(channel: prism::Channel) -> PostcardHandle {
        PostcardHandle(PostcardEchoClient::new(channel))
    }
}

impl Handle for PostcardHandle {
    async fn echo(&self, payload: Bytes) -> Result<usize> {
        Ok(self.0.echo(payload).await?.len())
    }
}
