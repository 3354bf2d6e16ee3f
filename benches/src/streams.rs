//! tonic's side of the stream benchmarks (`src/bin/streams.rs`): a
//! server-streaming method and a unary probe, written by hand the way
//! `tonic-build` would generate them, with the raw-bytes codec of the RPC
//! harness (no protobuf, so tonic pays no encoding: the most favourable
//! setting for it).

use core::convert::Infallible;
use core::future::{Ready, ready};
use core::task::{Context, Poll};
use std::net::SocketAddr;
use std::pin::Pin;

use bytes::{Buf, BufMut, Bytes, BytesMut};
use futures::stream::{self, Stream};
use tokio::net::TcpListener;
use tonic::codegen::{BoxFuture, Service, http};
use tonic::transport::server::TcpIncoming;

use crate::rpc::systems::tonic::BytesCodec;

/// The server-streaming method: `n` items of `size` bytes.
const ITEMS: &str = "/bench.Flow/Items";
/// The unary probe: echoes its request.
const PING: &str = "/bench.Flow/Ping";

type Items = Pin<Box<dyn Stream<Item = Result<Bytes, tonic::Status>> + Send + 'static>>;

/// The request of [`ITEMS`]: `n` and `size`, little-endian.
fn items_request(n: u64, size: u64) -> Bytes {
    let mut out = BytesMut::with_capacity(16);
    out.put_u64_le(n);
    out.put_u64_le(size);
    out.freeze()
}

/// The items handler.
#[derive(Clone, Copy, Debug)]
struct ItemsHandler;

impl tonic::server::ServerStreamingService<Bytes> for ItemsHandler {
    type Response = Bytes;
    type ResponseStream = Items;
    type Future = Ready<Result<tonic::Response<Items>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        let mut args = request.into_inner();
        if args.remaining() < 16 {
            return ready(Err(tonic::Status::invalid_argument("n and size")));
        }
        let (n, size) = (args.get_u64_le(), args.get_u64_le());
        let item = Bytes::from(vec![1u8; size as usize]);
        let items: Items = Box::pin(stream::iter((0..n).map(move |_| Ok(item.clone()))));
        ready(Ok(tonic::Response::new(items)))
    }
}

/// The ping handler.
#[derive(Clone, Copy, Debug)]
struct PingHandler;

impl tonic::server::UnaryService<Bytes> for PingHandler {
    type Response = Bytes;
    type Future = Ready<Result<tonic::Response<Bytes>, tonic::Status>>;

    fn call(&mut self, request: tonic::Request<Bytes>) -> Self::Future {
        ready(Ok(tonic::Response::new(request.into_inner())))
    }
}

/// The HTTP service routing the two methods.
#[derive(Clone, Copy, Debug)]
struct FlowServer;

impl<B> Service<http::Request<B>> for FlowServer
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
            let mut grpc = tonic::server::Grpc::new(BytesCodec)
                .max_decoding_message_size(usize::MAX)
                .max_encoding_message_size(usize::MAX);
            Ok(match request.uri().path() {
                ITEMS => grpc.server_streaming(ItemsHandler, request).await,
                PING => grpc.unary(PingHandler, request).await,
                other => tonic::Status::unimplemented(other.to_owned()).into_http(),
            })
        })
    }
}

/// Starts a tonic server on loopback; returns its address.
///
/// # Errors
///
/// Binding the listener failed.
pub async fn serve() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let incoming = TcpIncoming::from(listener).with_nodelay(Some(true));
    tokio::spawn(tonic::transport::Server::builder().serve_with_incoming(FlowServer, incoming));
    Ok(addr)
}

/// A client of the tonic flow service.
#[derive(Clone, Debug)]
pub struct TonicFlow(tonic::client::Grpc<tonic::transport::Channel>);

type Error = Box<dyn std::error::Error + Send + Sync>;

impl TonicFlow {
    /// Connects to the server at `addr` (one HTTP/2 connection).
    ///
    /// # Errors
    ///
    /// The connection failed.
    pub async fn connect(addr: SocketAddr) -> Result<TonicFlow, Error> {
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
            .tcp_nodelay(true)
            .connect()
            .await?;
        let grpc = tonic::client::Grpc::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        Ok(TonicFlow(grpc))
    }

    /// Reads a stream of `n` items of `size` bytes; returns the bytes read.
    ///
    /// # Errors
    ///
    /// The call or the stream failed.
    pub async fn items(&self, n: u64, size: u64) -> Result<u64, Error> {
        let mut grpc = self.0.clone();
        grpc.ready().await?;
        let path = http::uri::PathAndQuery::from_static(ITEMS);
        let request = tonic::Request::new(items_request(n, size));
        let mut items = grpc
            .server_streaming(request, path, BytesCodec)
            .await?
            .into_inner();
        let mut got = 0;
        while let Some(item) = items.message().await? {
            got += item.len() as u64;
        }
        Ok(got)
    }

    /// One unary round trip.
    ///
    /// # Errors
    ///
    /// The call failed.
    pub async fn ping(&self, n: u64) -> Result<(), Error> {
        let mut grpc = self.0.clone();
        grpc.ready().await?;
        let path = http::uri::PathAndQuery::from_static(PING);
        let payload = Bytes::copy_from_slice(&n.to_le_bytes());
        grpc.unary(tonic::Request::new(payload), path, BytesCodec)
            .await?;
        Ok(())
    }
}
