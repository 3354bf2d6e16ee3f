//! Floods the load tool runs beside its well-behaved clients (`--flood
//! KIND,…`), each by `--flooders N` tasks in a loop until the run ends:
//!
//! - `silent`: connections that never send a byte of their handshake;
//! - `oversized`: a handshake, then a frame header claiming 1 GiB;
//! - `credit`: a handshake, then credit granted for bytes never sent, or
//!   request data far beyond the window (turn about);
//! - `reauth`: eight channels at a time presenting a proof whose identity
//!   lives one second, so each re-authenticates in band about once a
//!   second, held for three seconds, then replaced (Unix only: a proof
//!   never crosses plaintext TCP);
//! - `channels`: a real client opening 4,096 server streams at once on its
//!   one connection (four times the server's channel limit: the rest wait
//!   for a free channel until their 2 s timeout), reading none, then
//!   dropping them all, round after round.
//!
//! Each counts its attempts and how the server ended them. Meanwhile a
//! fresh client connects once a second and makes one call, so the report
//! says whether a newcomer gets in during the flood.

use std::collections::BTreeMap;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use prism_proto::frame::{Flags, Frame, FrameDecoder, FrameHeader, FrameKind, encode_frame};
use prism_proto::session::{Accept, Hello};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::{LoadClient, Transport, connect};

/// A kind of flood.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Flood {
    Silent,
    Oversized,
    Credit,
    Reauth,
    Channels,
}

impl Flood {
    pub(crate) fn parse(list: &str) -> Result<Vec<Flood>, String> {
        list.split(',')
            .map(|kind| match kind {
                "silent" => Ok(Flood::Silent),
                "oversized" => Ok(Flood::Oversized),
                "credit" => Ok(Flood::Credit),
                "reauth" => Ok(Flood::Reauth),
                "channels" => Ok(Flood::Channels),
                other => Err(format!(
                    "unknown flood {other} (silent, oversized, credit, reauth, channels)"
                )),
            })
            .collect()
    }
}

/// Where the server listens.
#[derive(Clone)]
pub(crate) struct Target {
    pub(crate) transport: Transport,
    pub(crate) address: String,
}

/// What a flood's tasks saw, by outcome.
#[derive(Default)]
pub(crate) struct Counts(Mutex<BTreeMap<(Flood, String), u64>>);

impl Counts {
    fn add(&self, flood: Flood, outcome: impl Into<String>) {
        let mut counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *counts.entry((flood, outcome.into())).or_default() += 1;
    }

    pub(crate) fn report(&self) -> Vec<String> {
        let counts = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        counts
            .iter()
            .map(|((flood, outcome), n)| format!("flood {flood:?}: {outcome}: {n}"))
            .collect()
    }
}

trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

async fn dial(target: &Target) -> io::Result<Pin<Box<dyn Io>>> {
    Ok(match target.transport {
        Transport::Unix => Box::pin(tokio::net::UnixStream::connect(&target.address).await?),
        Transport::Tcp => Box::pin(tokio::net::TcpStream::connect(&target.address).await?),
    })
}

fn frame(header: FrameHeader, payload: &[u8]) -> BytesMut {
    let mut out = BytesMut::new();
    encode_frame(
        &Frame::new(header, Bytes::copy_from_slice(payload).into()),
        &mut out,
    );
    out
}

/// Reads until the server closes; says how (a GOAWAY's code, or none).
async fn until_closed(io: &mut Pin<Box<dyn Io>>) -> String {
    let mut decoder = FrameDecoder::new(u32::MAX);
    let mut buf = BytesMut::with_capacity(16 << 10);
    let mut goaway = None;
    loop {
        match io.read_buf(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        while let Ok(Some(frame)) = decoder.decode(&mut buf) {
            if frame.header.kind == FrameKind::GoAway {
                let body = frame.payload.into_bytes();
                goaway = body
                    .first_chunk::<2>()
                    .map(|code| prism::Code::from_u16(u16::from_le_bytes(*code)));
            }
        }
    }
    match goaway {
        Some(code) => format!("closed with GOAWAY {code}"),
        None => "closed".into(),
    }
}

/// Connects and completes a handshake by hand, as a client with no ops.
async fn handshake(target: &Target) -> io::Result<Pin<Box<dyn Io>>> {
    let mut io = dial(target).await?;
    io.write_all(&frame(
        FrameHeader::new(FrameKind::Hello),
        &Hello::new(vec![]).encode(),
    ))
    .await?;
    // The server's HELLO and ACCEPT.
    let mut decoder = FrameDecoder::new(u32::MAX);
    let mut buf = BytesMut::with_capacity(16 << 10);
    let mut seen = 0;
    while seen < 2 {
        if io.read_buf(&mut buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        while let Ok(Some(_)) = decoder.decode(&mut buf) {
            seen += 1;
        }
    }
    io.write_all(&frame(
        FrameHeader::new(FrameKind::Accept),
        &Accept::default().encode(),
    ))
    .await?;
    Ok(io)
}

/// One flooder: `flood` in a loop until `stop`.
pub(crate) async fn flooder(
    flood: Flood,
    target: Target,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
) {
    let mut turn = 0u64;
    // The channel flood keeps one connection: it is about calls, not
    // connections.
    let mut client = None;
    while !stop.load(Ordering::Relaxed) {
        turn += 1;
        let outcome = match flood {
            Flood::Silent => silent(&target).await,
            Flood::Oversized => oversized(&target).await,
            Flood::Credit => credit(&target, turn).await,
            Flood::Reauth => reauth(&target).await,
            Flood::Channels => channels(&target, &mut client).await,
        };
        match outcome {
            Ok(outcome) => counts.add(flood, outcome),
            Err(e) => {
                counts.add(flood, format!("failed: {e}"));
                // Not a busy loop against a server that refuses.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

async fn silent(target: &Target) -> io::Result<String> {
    let mut io = dial(target).await?;
    Ok(until_closed(&mut io).await)
}

async fn oversized(target: &Target) -> io::Result<String> {
    let mut io = handshake(target).await?;
    let mut call = FrameHeader::new(FrameKind::Call);
    call.channel = 1;
    io.write_all(&call.encode(1 << 30)).await?;
    Ok(until_closed(&mut io).await)
}

async fn credit(target: &Target, turn: u64) -> io::Result<String> {
    let mut io = handshake(target).await?;
    if turn.is_multiple_of(2) {
        // Credit for bytes never sent, on the connection's window.
        let mut credit = FrameHeader::new(FrameKind::Credit);
        credit.aux = u64::MAX;
        io.write_all(&frame(credit, b"")).await?;
    } else {
        // A request stream that ignores its window: 4 MiB into 256 KiB.
        let mut open = FrameHeader::new(FrameKind::Call);
        open.channel = 1;
        open.op = crate::load::SINK.get();
        open.codec = postcard();
        open.flags = Flags::OPEN;
        io.write_all(&frame(open, b"")).await?;
        let mut data = FrameHeader::new(FrameKind::Data);
        data.channel = 1;
        data.codec = postcard();
        let item = frame(data, &[0u8; 32 << 10]);
        for _ in 0..128 {
            if io.write_all(&item).await.is_err() {
                break;
            }
        }
    }
    Ok(until_closed(&mut io).await)
}

async fn channels(target: &Target, client: &mut Option<LoadClient>) -> io::Result<String> {
    if client.is_none() {
        let channel = connect(target.transport, &target.address)
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        *client = Some(LoadClient::new(channel));
    }
    let Some(client) = client.as_ref() else {
        return Err(io::ErrorKind::NotConnected.into());
    };
    let opens = (0..4096).map(|_| {
        let client = client.clone();
        async move { client.count(u32::MAX).timeout(Duration::from_secs(2)).await }
    });
    // Those past the server's limit wait for a free channel until their
    // timeout; the open ones are held unread, then dropped (cancelled).
    let streams = futures_util::future::join_all(opens).await;
    let opened = streams.iter().filter(|s| s.is_ok()).count();
    drop(streams);
    Ok(format!("rounds of 4,096 stream opens, {opened} opened"))
}

async fn reauth(target: &Target) -> io::Result<String> {
    let Transport::Unix = target.transport else {
        return Err(io::Error::other("the reauth flood needs --transport unix"));
    };
    let mut channels = Vec::with_capacity(8);
    for _ in 0..8 {
        let channel = prism::Channel::builder()
            .credentials(prism::auth::Proof::bearer("flooder"))
            .connect(prism::unix::UnixConnector::new(&target.address))
            .await
            .map_err(|e| io::Error::other(e.to_string()))?;
        channels.push(channel);
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let alive = channels.iter().filter(|c| !c.is_closed()).count();
    Ok(format!(
        "rounds of 8 channels held 3 s, {alive} alive at the end"
    ))
}

/// The postcard codec's id, as a frame header carries it.
fn postcard() -> u16 {
    <prism::codec::Postcard as prism::codec::Codec>::ID.get()
}

/// What a newcomer saw during the flood.
#[derive(Default)]
pub(crate) struct Newcomers {
    pub(crate) ok: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) slowest_ms: AtomicU64,
}

/// Once a second until `stop`: a fresh connection and one call.
pub(crate) async fn newcomer(target: Target, stop: Arc<AtomicBool>, seen: Arc<Newcomers>) {
    while !stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        let outcome = match connect(target.transport, &target.address).await {
            Ok(channel) => LoadClient::new(channel)
                .add(1, 2)
                .timeout(Duration::from_secs(10))
                .await
                .map_err(|status| status.to_string()),
            Err(e) => Err(e.to_string()),
        };
        let took = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
        match outcome {
            Ok(3) => {
                seen.ok.fetch_add(1, Ordering::Relaxed);
                seen.slowest_ms.fetch_max(took, Ordering::Relaxed);
            }
            other => {
                eprintln!("a newcomer failed: {other:?}");
                seen.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
