//! tonic 0.14: gRPC over HTTP/2 on loopback TCP, with a hand-written codec
//! that moves raw bytes (no protobuf, so no `protoc`).
//!
//! The service is written by hand the way `tonic-build` would generate it:
//! a `tower` service per connection routing to `server::Grpc::unary`, and
//! a `client::Grpc` over a `transport::Channel`. Message size limits are
//! lifted so the 64 MiB echo can run; HTTP/2 settings stay at tonic's
//! defaults.

use core::convert::Infallible;
use core::future::{Ready, ready};
use core::task::{Context, Poll};
use std::net::SocketAddr;

use bytes::{Buf, BufMut, Bytes};
use tokio::net::TcpListener;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::codegen::{BoxFuture, Service, http};
use tonic::transport::server::TcpIncoming;

use super::System;
use crate::rpc::drive::{Handle, Shared};
use crate::rpc::{Result, Scenario, SystemId};

/// The op's path.
const PATH: &str = "/bench.Echo/Echo";

/// A gRPC codec whose messages are the raw bytes.
#[derive(Clone, Copy, Debug, Default)]
pub struct BytesCodec;

impl Codec for BytesCodec {
    type Encode = Bytes;
    type Decode = Bytes;
    type Encoder = BytesCodec;
    type Decoder = BytesCodec;

    fn encoder(&mut self) -> BytesCodec {
        BytesCodec
    }

    fn decoder(&mut self) -> BytesCodec {
        BytesCodec
    }
}

impl Encoder for BytesCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn encode(&mut self, item: Bytes, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for BytesCodec {
    type Item = Bytes;
    type Error = tonic::Status;

    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Bytes>, tonic::Status> {
        Ok(Some(src.copy_to_bytes(src.remaining())))
    }
}

/// The echo handler.
#[derive(Clone, Copy, Debug)]
struct Echo;

impl Service<tonic::Request<Bytes>> for Echo {
    type Response = tonic::Response<Bytes>;
    type Error = tonic::Status;
    type Future = Ready<Result<tonic::Response<Bytes>, tonic::Status>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), tonic::Status>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        ready(Ok(tonic::Response::new(request.into_inner())))
    }
}

/// The HTTP service: what `tonic-build` generates for one unary method.
#[derive(Clone, Copy, Debug)]
struct EchoServer;

impl<B> Service<http::Request<B>> for EchoServer
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = http::Response<tonic::body::Body>;
    type Error = Infallible;
    type Future = BoxFuture<Self::Response, Infallible>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        Box::pin(async move {
            if request.uri().path() != PATH {
                return Ok(tonic::Status::unimplemented(PATH).into_http());
            }
            let mut grpc = tonic::server::Grpc::new(BytesCodec)
                .max_decoding_message_size(usize::MAX)
                .max_encoding_message_size(usize::MAX);
            Ok(grpc.unary(Echo, request).await)
        })
    }
}

/// tonic over TCP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tonic;

/// A tonic echo client.
#[derive(Clone, Debug)]
pub struct TonicHandle(tonic::client::Grpc<tonic::transport::Channel>);

impl System for Tonic {
    type Endpoint = SocketAddr;
    type Client = Shared<TonicHandle>;

    fn id(&self) -> SystemId {
        SystemId {
            system: "tonic",
            transport: "tcp",
            codec: "grpc-bytes",
        }
    }

    fn supports(&self, _: Scenario) -> bool {
        true
    }

    async fn serve(self) -> Result<SocketAddr> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
        tokio::spawn(tonic::transport::Server::builder().serve_with_incoming(EchoServer, incoming));
        Ok(addr)
    }

    async fn connect(&self, addr: &mut SocketAddr) -> Result<Self::Client> {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
            .tcp_nodelay(true)
            .connect()
            .await?;
        let grpc = tonic::client::Grpc::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        Ok(Shared(TonicHandle(grpc)))
    }
}

impl Handle for TonicHandle {
    async fn echo(&self, payload: Bytes) -> Result<usize> {
        // Calls take `&mut`; concurrent callers each use a clone, as with
        // generated tonic clients.
        let mut grpc = self.0.clone();
        grpc.ready().await?;
        let path = http::uri::PathAndQuery::from_static(PATH);
        let reply = grpc
            .unary(tonic::Request::new(payload), path, BytesCodec)
            .await?;
        Ok(reply.into_inner().len())
    }
}
