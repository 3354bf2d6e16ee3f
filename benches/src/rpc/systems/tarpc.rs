//! tarpc 0.38: its serde transport with bincode, over loopback TCP.
//!
//! Configured as its examples do, except that the length-delimited codec
//! accepts frames of any size (its default stops at 8 MiB) so the 64 MiB
//! echo can run. The server spawns a task per request, as tarpc's
//! `execute` intends.

use std::net::SocketAddr;

use bytes::Bytes;
use futures::StreamExt;
use tarpc::server::{BaseChannel, Channel};
use tarpc::tokio_serde::formats::Bincode;
use tarpc::tokio_util::codec::LengthDelimitedCodec;
use tokio::net::{TcpListener, TcpStream};

use super::System;
use crate::rpc::drive::{Handle, Shared};
use crate::rpc::{Result, Scenario, SystemId};

/// Echoes bytes back.
#[tarpc::service]
pub trait TarpcEcho {
    /// Returns `data` unchanged.
    async fn echo(data: Bytes) -> Bytes;
}

#[derive(Clone)]
struct Echoer;

impl TarpcEcho for Echoer {
    async fn echo(self, _: tarpc::context::Context, data: Bytes) -> Bytes {
        data
    }
}

/// tarpc over TCP with bincode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tarpc;

/// A tarpc echo client.
#[derive(Clone, Debug)]
pub struct TarpcHandle(TarpcEchoClient);

fn framed(stream: TcpStream) -> tarpc::tokio_util::codec::Framed<TcpStream, LengthDelimitedCodec> {
    LengthDelimitedCodec::builder()
        .max_frame_length(usize::MAX)
        .new_framed(stream)
}

impl System for Tarpc {
    type Endpoint = SocketAddr;
    type Client = Shared<TarpcHandle>;

    fn id(&self) -> SystemId {
        SystemId {
            system: "tarpc",
            transport: "tcp",
            codec: "bincode",
        }
    }

    fn supports(&self, _: Scenario) -> bool {
        true
    }

    async fn serve(self) -> Result<SocketAddr> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                if stream.set_nodelay(true).is_err() {
                    continue;
                }
                let transport = tarpc::serde_transport::new(framed(stream), Bincode::default());
                let requests = BaseChannel::with_defaults(transport)
                    .execute(Echoer.serve())
                    .for_each(|respond| async move {
                        tokio::spawn(respond);
                    });
                tokio::spawn(requests);
            }
        });
        Ok(addr)
    }

    async fn connect(&self, addr: &mut SocketAddr) -> Result<Self::Client> {
        let stream = TcpStream::connect(*addr).await?;
        stream.set_nodelay(true)?;
        let transport = tarpc::serde_transport::new(framed(stream), Bincode::default());
        let client = TarpcEchoClient::new(tarpc::client::Config::default(), transport).spawn();
        Ok(Shared(TarpcHandle(client)))
    }
}

impl Handle for TarpcHandle {
    async fn echo(&self, payload: Bytes) -> Result<usize> {
        let reply = self.0.echo(tarpc::context::current(), payload).await?;
        Ok(reply.len())
    }
}
