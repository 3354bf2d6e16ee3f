//! Speaking raw frames over a TCP socket, for tests of what a
//! misbehaving peer can send.

use std::io;
use std::net::SocketAddr;

use bytes::{Bytes, BytesMut};
use prism::codec::{Codec, Encode, EncodeBuf, Postcard};
use prism::{Code, Limits};
use prism_proto::frame::{Frame, FrameDecoder, FrameHeader, FrameKind, encode_frame, padding};
use prism_proto::session::{Accept, Features, Hello};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::PROMPTLY;

/// The postcard codec id, as it goes in a frame header.
pub fn postcard_id() -> u16 {
    <Postcard as Codec>::ID.get()
}

/// `value` encoded with postcard, as a request payload.
pub fn encode<T: Encode<Postcard>>(value: &T) -> Bytes {
    let mut buf = EncodeBuf::new();
    value
        .encode(&mut buf, &Limits::default())
        .expect("the test value encodes");
    buf.finish().into_bytes()
}

/// A CALL header for `op` on `channel` with the postcard codec and no deadline.
pub fn call_header(channel: u32, op: u64) -> FrameHeader {
    let mut header = FrameHeader::new(FrameKind::Call);
    header.channel = channel;
    header.op = op;
    header.codec = postcard_id();
    header
}

/// How a raw connection ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// The server closed its side (read returned 0).
    Closed,
    /// The server reset the connection.
    Reset,
}

/// A TCP connection driven by hand, one frame at a time.
#[derive(Debug)]
pub struct RawConn {
    stream: TcpStream,
    buf: BytesMut,
    decoder: FrameDecoder,
}

impl RawConn {
    /// Connects without sending anything.
    pub async fn connect(addr: SocketAddr) -> RawConn {
        let stream = TcpStream::connect(addr).await.expect("raw connect");
        stream.set_nodelay(true).expect("nodelay");
        RawConn {
            stream,
            buf: BytesMut::with_capacity(64 * 1024),
            // Accept anything the server may legitimately send.
            decoder: FrameDecoder::new(u32::MAX),
        }
    }

    /// Connects and completes a real handshake: our HELLO and ACCEPT out,
    /// the server's HELLO and ACCEPT in. Returns the server's ACCEPT (its
    /// op table).
    pub async fn handshake(addr: SocketAddr) -> (RawConn, Accept) {
        RawConn::handshake_offering(addr, Features::EMPTY).await
    }

    /// [`RawConn::handshake`], offering `features` in our HELLO.
    pub async fn handshake_offering(addr: SocketAddr, features: Features) -> (RawConn, Accept) {
        let mut conn = RawConn::connect(addr).await;
        let mut hello = Hello::new(vec![]);
        hello.features = features;
        conn.send(FrameHeader::new(FrameKind::Hello), &hello.encode())
            .await;
        let frame = conn
            .recv()
            .await
            .expect("the server's hello arrives before anything else");
        assert_eq!(frame.header.kind, FrameKind::Hello, "first server frame");
        Hello::decode(&frame.payload).expect("the server's hello decodes");
        conn.send_accept().await;
        let frame = conn.recv().await.expect("the server accepts the client");
        assert_eq!(frame.header.kind, FrameKind::Accept, "second server frame");
        let accept = Accept::decode(&frame.payload).expect("the server's accept decodes");
        (conn, accept)
    }

    /// Sends a valid client HELLO.
    pub async fn send_hello(&mut self) {
        let header = FrameHeader::new(FrameKind::Hello);
        self.send(header, &Hello::new(vec![]).encode()).await;
    }

    /// Sends the client's ACCEPT of the server.
    pub async fn send_accept(&mut self) {
        let header = FrameHeader::new(FrameKind::Accept);
        self.send(header, &Accept::default().encode()).await;
    }

    /// Sends one well-formed frame.
    pub async fn send(&mut self, header: FrameHeader, payload: &[u8]) {
        let mut out = BytesMut::new();
        let frame = Frame::new(header, Bytes::copy_from_slice(payload).into());
        encode_frame(&frame, &mut out);
        self.send_bytes(&out).await;
    }

    /// Sends one well-formed frame; false when the server already closed
    /// the connection (for peers that keep sending past a refusal).
    pub async fn try_send(&mut self, header: FrameHeader, payload: &[u8]) -> bool {
        let mut out = BytesMut::new();
        let frame = Frame::new(header, Bytes::copy_from_slice(payload).into());
        encode_frame(&frame, &mut out);
        self.stream.write_all(&out).await.is_ok()
    }

    /// Sends a header claiming `len` payload bytes, then `payload` and its
    /// padding as given (for lying headers).
    pub async fn send_with_len(&mut self, header: FrameHeader, len: u32, payload: &[u8]) {
        let mut out = BytesMut::new();
        out.extend_from_slice(&header.encode(len));
        out.extend_from_slice(payload);
        out.extend_from_slice(&[0u8; 16][..padding(payload.len())]);
        self.send_bytes(&out).await;
    }

    /// Writes raw bytes.
    pub async fn send_bytes(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("raw write");
    }

    /// Closes our sending side (the server reads end-of-stream).
    pub async fn shutdown_write(&mut self) {
        self.stream.shutdown().await.expect("raw shutdown");
    }

    /// The next frame, or how the connection ended. Fails the test if
    /// nothing happens within [`PROMPTLY`] or a frame is malformed.
    pub async fn next(&mut self) -> Result<Frame, End> {
        tokio::time::timeout(PROMPTLY, self.next_inner())
            .await
            .expect("the server answers or closes promptly")
    }

    async fn next_inner(&mut self) -> Result<Frame, End> {
        loop {
            if let Some(frame) = self
                .decoder
                .decode(&mut self.buf)
                .expect("the server sends well-formed frames")
            {
                return Ok(frame);
            }
            match self.stream.read_buf(&mut self.buf).await {
                Ok(0) => {
                    assert!(
                        self.buf.is_empty(),
                        "the server closed mid-frame ({} bytes left)",
                        self.buf.len()
                    );
                    return Err(End::Closed);
                }
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return Err(End::Reset),
                Err(e) => panic!("raw read failed: {e}"),
            }
        }
    }

    /// Reads and discards bytes, frames or not, until the connection
    /// ends; fails the test if it does not within `within`.
    pub async fn until_end(&mut self, within: std::time::Duration) -> End {
        self.slowly_until_end(std::time::Duration::ZERO, within)
            .await
            .0
    }

    /// Reads and discards up to 64 KiB at a time, pausing `pause` after
    /// each read, until the connection ends: how it ended and the bytes
    /// read. Fails the test if it does not end within `within`.
    pub async fn slowly_until_end(
        &mut self,
        pause: std::time::Duration,
        within: std::time::Duration,
    ) -> (End, usize) {
        let mut read = self.buf.len();
        let slow = async {
            let mut chunk = vec![0u8; 64 << 10];
            loop {
                match self.stream.read(&mut chunk).await {
                    Ok(0) => return End::Closed,
                    Ok(n) => read += n,
                    Err(e) if e.kind() == io::ErrorKind::ConnectionReset => return End::Reset,
                    Err(e) => panic!("raw read failed: {e}"),
                }
                if !pause.is_zero() {
                    tokio::time::sleep(pause).await;
                }
            }
        };
        let end = (tokio::time::timeout(within, slow).await).expect("the connection ends");
        self.buf.clear();
        (end, read)
    }

    /// The next frame; fails the test if the connection ended instead.
    pub async fn recv(&mut self) -> Option<Frame> {
        self.next().await.ok()
    }

    /// Expects an ERROR on `channel` and returns its code and message,
    /// skipping PINGs. Fails on anything else.
    pub async fn expect_error(&mut self, channel: u32) -> (Code, String) {
        loop {
            let frame = match self.next().await {
                Ok(frame) => frame,
                Err(end) => panic!("expected an error frame, the connection ended: {end:?}"),
            };
            match frame.header.kind {
                FrameKind::Ping => continue,
                FrameKind::Error => {
                    assert_eq!(frame.header.channel, channel, "error on the wrong channel");
                    let code = Code::from_u16(u16::try_from(frame.header.aux).unwrap_or(u16::MAX));
                    let message = String::from_utf8_lossy(&frame.payload).into_owned();
                    return (code, message);
                }
                other => panic!("expected an error frame, got {other}: {frame:?}"),
            }
        }
    }

    /// Expects a RESPONSE on `channel` and returns its payload.
    pub async fn expect_response(&mut self, channel: u32) -> Bytes {
        loop {
            let frame = match self.next().await {
                Ok(frame) => frame,
                Err(end) => panic!("expected a response, the connection ended: {end:?}"),
            };
            match frame.header.kind {
                FrameKind::Ping => continue,
                FrameKind::Response => {
                    assert_eq!(
                        frame.header.channel, channel,
                        "response on the wrong channel"
                    );
                    assert_eq!(frame.header.codec, postcard_id(), "response codec");
                    return frame.payload.into_bytes();
                }
                FrameKind::Error => panic!(
                    "expected a response, got error {}: {}",
                    Code::from_u16(u16::try_from(frame.header.aux).unwrap_or(u16::MAX)),
                    String::from_utf8_lossy(&frame.payload)
                ),
                other => panic!("expected a response, got {other}: {frame:?}"),
            }
        }
    }

    /// Expects the server to close the connection, allowing only HELLO,
    /// ACCEPT and GOAWAY frames first. Returns the GOAWAY codes seen and how
    /// it ended.
    pub async fn expect_close(&mut self) -> (Vec<(Code, String)>, End) {
        let mut goaways = Vec::new();
        loop {
            match self.next().await {
                Ok(frame) => match frame.header.kind {
                    FrameKind::Hello | FrameKind::Accept | FrameKind::Ping => {}
                    FrameKind::GoAway => {
                        let body = frame.payload.into_bytes();
                        let code = body
                            .first_chunk::<2>()
                            .map_or(Code::Unknown, |c| Code::from_u16(u16::from_le_bytes(*c)));
                        let reason = String::from_utf8_lossy(body.get(2..).unwrap_or_default());
                        goaways.push((code, reason.into_owned()));
                    }
                    other => panic!("expected the connection to close, got {other}: {frame:?}"),
                },
                Err(end) => return (goaways, end),
            }
        }
    }
}
