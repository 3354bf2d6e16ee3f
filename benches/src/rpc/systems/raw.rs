//! The socket floors: a length-prefixed echo over raw tokio TCP and Unix
//! streams, with no framework in the way.
//!
//! A message is a little-endian `u32` length and that many bytes. The
//! server reads into one reused buffer and writes every complete message
//! back as it stands (an echo of a framed message is the framed message),
//! so a burst of requests is answered with one write. It echoes only whole
//! messages, like an RPC server that decodes a request before answering.
//! The client reuses its buffers too: this is the best a socket does here.

use std::net::SocketAddr;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};

use super::{SocketPath, System};
use crate::rpc::drive::{Client, Meter, expect_len};
use crate::rpc::{Result, Scenario, SystemId};

/// Reads ask for at least this much room.
const READ_ROOM: usize = 64 * 1024;

/// The raw echo over TCP or a Unix socket.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Raw {
    /// Over loopback TCP with `TCP_NODELAY`.
    Tcp,
    /// Over a Unix domain socket.
    Unix,
}

/// Where a raw server listens.
#[derive(Debug)]
pub enum Endpoint {
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket path.
    Unix(SocketPath),
}

impl System for Raw {
    type Endpoint = Endpoint;
    type Client = RawClient<Stream>;

    fn id(&self) -> SystemId {
        let transport = match self {
            Raw::Tcp => "tcp",
            Raw::Unix => "unix",
        };
        SystemId {
            system: "raw",
            transport,
            codec: "none",
        }
    }

    fn supports(&self, _: Scenario) -> bool {
        true
    }

    async fn serve(self) -> Result<Endpoint> {
        match self {
            Raw::Tcp => {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                let addr = listener.local_addr()?;
                tokio::spawn(async move {
                    while let Ok((stream, _)) = listener.accept().await {
                        if stream.set_nodelay(true).is_ok() {
                            tokio::spawn(echo_connection(stream));
                        }
                    }
                });
                Ok(Endpoint::Tcp(addr))
            }
            Raw::Unix => {
                let path = SocketPath::fresh("raw");
                let listener = UnixListener::bind(path.path())?;
                tokio::spawn(async move {
                    while let Ok((stream, _)) = listener.accept().await {
                        tokio::spawn(echo_connection(stream));
                    }
                });
                Ok(Endpoint::Unix(path))
            }
        }
    }

    async fn connect(&self, endpoint: &mut Endpoint) -> Result<RawClient<Stream>> {
        let stream = match endpoint {
            Endpoint::Tcp(addr) => {
                let stream = TcpStream::connect(*addr).await?;
                stream.set_nodelay(true)?;
                Stream::Tcp(stream)
            }
            Endpoint::Unix(path) => Stream::Unix(UnixStream::connect(path.path()).await?),
        };
        Ok(RawClient::new(stream))
    }
}

/// A TCP or Unix stream.
#[derive(Debug)]
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// Unix.
    Unix(UnixStream),
}

/// Echoes every whole message back until the peer closes.
async fn echo_connection<S: AsyncRead + AsyncWrite + Unpin>(mut io: S) -> Result<()> {
    let mut buf = BytesMut::with_capacity(READ_ROOM);
    loop {
        let (whole, needed) = whole_messages(&buf);
        if whole > 0 {
            io.write_all(&buf[..whole]).await?;
            buf.advance(whole);
            continue;
        }
        make_room(&mut buf, needed);
        if io.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    }
}

/// Bytes of whole messages at the front of `buf` (and how many there are),
/// and how many bytes from the front complete the next one.
fn scan(buf: &[u8]) -> (usize, u64, usize) {
    let (mut at, mut count) = (0, 0);
    loop {
        let Some(len) = buf.get(at..at + 4) else {
            return (at, count, at + 4);
        };
        let len = u32::from_le_bytes([len[0], len[1], len[2], len[3]]) as usize;
        if buf.len() < at + 4 + len {
            return (at, count, at + 4 + len);
        }
        at += 4 + len;
        count += 1;
    }
}

fn whole_messages(buf: &[u8]) -> (usize, usize) {
    let (whole, _, needed) = scan(buf);
    (whole, needed)
}

/// Makes room for the `needed` bytes of a message in one allocation, and
/// for a useful read; `reserve` reuses the buffer's space once it is empty.
fn make_room(buf: &mut BytesMut, needed: usize) {
    let want = needed.saturating_sub(buf.len()).max(READ_ROOM);
    if buf.capacity() - buf.len() < want {
        buf.reserve(want);
    }
}

/// A raw echo connection.
#[derive(Debug)]
pub struct RawClient<S> {
    io: S,
    read: BytesMut,
    /// The framed form of the payload last sent, keyed by its address.
    frame: BytesMut,
    framed: Option<(usize, usize)>,
}

impl<S> RawClient<S> {
    fn new(io: S) -> Self {
        RawClient {
            io,
            read: BytesMut::with_capacity(READ_ROOM),
            frame: BytesMut::new(),
            framed: None,
        }
    }

    /// Frames `payload` once; later calls with the same payload reuse it.
    fn frame(&mut self, payload: &Bytes) -> &[u8] {
        let key = (payload.as_ptr() as usize, payload.len());
        if self.framed != Some(key) {
            self.frame.clear();
            self.frame
                .extend_from_slice(&(payload.len() as u32).to_le_bytes());
            self.frame.extend_from_slice(payload);
            self.framed = Some(key);
        }
        &self.frame
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> RawClient<S> {
    /// Reads until at least one whole reply is buffered; consumes them all
    /// and returns (their count, the last one's length).
    async fn replies(&mut self) -> Result<(u64, usize)> {
        loop {
            let (whole, count, needed) = scan(&self.read);
            if count > 0 {
                let last = last_len(&self.read[..whole]);
                self.read.advance(whole);
                return Ok((count, last));
            }
            make_room(&mut self.read, needed);
            if self.io.read_buf(&mut self.read).await? == 0 {
                return Err("the echo server closed the connection".into());
            }
        }
    }
}

/// The length of the last message in a run of whole messages.
fn last_len(mut whole: &[u8]) -> usize {
    let mut last = 0;
    while whole.len() >= 4 {
        last = u32::from_le_bytes([whole[0], whole[1], whole[2], whole[3]]) as usize;
        whole = &whole[4 + last..];
    }
    last
}

impl<S: AsyncRead + AsyncWrite + Unpin + Send + 'static> Client for RawClient<S> {
    async fn call(&mut self, payload: &Bytes) -> Result<usize> {
        self.frame(payload);
        self.io.write_all(&self.frame).await?;
        let (count, len) = self.replies().await?;
        if count != 1 {
            return Err(format!("expected one echo, got {count}").into());
        }
        Ok(len)
    }

    async fn in_flight(&mut self, payload: &Bytes, depth: usize, meter: &mut Meter) -> Result<()> {
        let one = self.frame(payload).len();
        let batch = self.frame.repeat(depth);
        let mut out = 0;
        let mut done = false;
        while !done || out > 0 {
            if !done && out < depth {
                // Top the pipeline up in one write.
                self.io.write_all(&batch[..(depth - out) * one]).await?;
                out = depth;
            }
            let (count, len) = self.replies().await?;
            expect_len(len, payload.len())?;
            out -= count as usize;
            done = done || meter.add(count);
        }
        Ok(())
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> core::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => core::pin::Pin::new(s).poll_read(cx, buf),
            Stream::Unix(s) => core::pin::Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
        buf: &[u8],
    ) -> core::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Stream::Tcp(s) => core::pin::Pin::new(s).poll_write(cx, buf),
            Stream::Unix(s) => core::pin::Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => core::pin::Pin::new(s).poll_flush(cx),
            Stream::Unix(s) => core::pin::Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: core::pin::Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Stream::Tcp(s) => core::pin::Pin::new(s).poll_shutdown(cx),
            Stream::Unix(s) => core::pin::Pin::new(s).poll_shutdown(cx),
        }
    }
}
