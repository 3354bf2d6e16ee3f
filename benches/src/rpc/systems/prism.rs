//! Prism over its transports, for any codec, through its documented API:
//! `Server::serve` with a TCP, Unix, WebSocket, QUIC or in-memory listener
//! and `ChannelBuilder::connect` with the matching connector.
//!
//! QUIC has no plaintext mode: its server presents a certificate for
//! `localhost` from a throwaway CA made with rcgen when it starts, and its
//! client trusts that CA.
//!
//! The 64 MiB echo needs messages above Prism's 64 MiB default (the
//! payload plus its encoding), so both ends raise `max_message` in their
//! [`SessionConfig`]; such messages travel in chunks.

use core::marker::PhantomData;
use std::net::SocketAddr;

use bytes::Bytes;
use prism::tls::{ClientTls, ServerTls};
use prism::transport::SessionConfig;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use tokio::net::{TcpListener, UnixListener};

use super::{SocketPath, System};
use crate::rpc::drive::{Client, Handle, Meter, Shared};
use crate::rpc::{Result, Scenario, SystemId};

/// Largest message either end accepts: room for a 64 MiB payload and its
/// encoding overhead.
pub const MAX_MESSAGE: u64 = 128 << 20;

/// A Prism codec: the service declared with it, its server and client.
pub trait PrismCodec: Copy + Send + Sync + 'static {
    /// The `codec` field of results.
    const NAME: &'static str;
    /// Whether this is Prism's default codec; idle connections are
    /// measured with it only.
    const DEFAULT: bool;
    /// A client of the echo service.
    type Handle: Handle + Clone;

    /// A server for the echo service.
    ///
    /// # Errors
    ///
    /// Fails when the server cannot be built.
    fn server(session: SessionConfig) -> Result<prism::Server>;

    /// A client over `channel`.
    fn client(channel: prism::Channel) -> Self::Handle;
}

/// Which of Prism's transports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// `prism::mem::pair`, in process.
    Mem,
    /// Loopback TCP.
    Tcp,
    /// A Unix domain socket.
    Unix,
    /// A `ws://` WebSocket on loopback TCP.
    Ws,
    /// QUIC (TLS 1.3) on loopback UDP.
    Quic,
}

/// Prism over one transport with codec `C`.
#[derive(Debug)]
pub struct PrismSystem<C> {
    transport: Transport,
    _codec: PhantomData<fn() -> C>,
}

impl<C> Clone for PrismSystem<C> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<C> Copy for PrismSystem<C> {}

impl<C> PrismSystem<C> {
    /// Prism over `transport`.
    pub fn new(transport: Transport) -> Self {
        PrismSystem {
            transport,
            _codec: PhantomData,
        }
    }
}

/// How a client reaches a Prism server, and the server (for its statistics).
#[derive(Debug)]
pub struct Endpoint {
    to: To,
    server: prism::Server,
}

/// Where the server listens.
#[derive(Debug)]
enum To {
    /// The connector of an in-memory listener.
    Mem(prism::mem::MemConnector),
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket path.
    Unix(SocketPath),
    /// A `ws://` URL.
    Ws(String),
    /// A QUIC address, with the CA that signed the server's certificate.
    Quic(prism::quic::QuicConnector),
}

/// One Prism connection: the codec's client, plus the channel and the
/// server whose statistics count alignment copies on both ends.
#[derive(Debug)]
pub struct PrismClient<H> {
    shared: Shared<H>,
    channel: prism::Channel,
    server: prism::Server,
}

impl<H: Handle> Client for PrismClient<H> {
    async fn call(&mut self, payload: &Bytes) -> Result<usize> {
        self.shared.call(payload).await
    }

    async fn in_flight(&mut self, payload: &Bytes, depth: usize, meter: &mut Meter) -> Result<()> {
        self.shared.in_flight(payload, depth, meter).await
    }

    fn alignment_copies(&self) -> u64 {
        self.channel.stats().alignment_copies + self.server.stats().alignment_copies
    }
}

fn session() -> SessionConfig {
    SessionConfig::default().with_max_message(MAX_MESSAGE)
}

/// A fresh self-signed CA and a server certificate it signed for
/// `localhost` and 127.0.0.1: the server's TLS, and the client's trusting
/// that CA.
pub fn quic_tls() -> Result<(ServerTls, ClientTls)> {
    let mut ca = CertificateParams::new(Vec::<String>::new())?;
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate()?)?;
    let key = KeyPair::generate()?;
    let cert = CertificateParams::new(["localhost".to_owned(), "127.0.0.1".to_owned()])?
        .signed_by(&key, &ca)?;
    let server = ServerTls::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes())?;
    Ok((server, ClientTls::from_pem(ca.pem().as_bytes())?))
}

impl<C: PrismCodec> System for PrismSystem<C> {
    type Endpoint = Endpoint;
    type Client = PrismClient<C::Handle>;

    fn id(&self) -> SystemId {
        let transport = match self.transport {
            Transport::Mem => "mem",
            Transport::Tcp => "tcp",
            Transport::Unix => "unix",
            Transport::Ws => "ws",
            Transport::Quic => "quic",
        };
        SystemId {
            system: "prism",
            transport,
            codec: C::NAME,
        }
    }

    fn supports(&self, scenario: Scenario) -> bool {
        // Idle connections are measured over TCP, like the peers, and over
        // WebSocket and QUIC (their buffers), with the default codec.
        let socket = matches!(
            self.transport,
            Transport::Tcp | Transport::Ws | Transport::Quic
        );
        scenario != Scenario::Memory || (socket && C::DEFAULT)
    }

    async fn serve(self) -> Result<Endpoint> {
        let server = C::server(session())?;
        let serving = server.clone();
        let to = match self.transport {
            Transport::Mem => {
                let (listener, connector) = prism::mem::endpoint();
                tokio::spawn(async move { serving.serve(listener).await });
                To::Mem(connector)
            }
            Transport::Tcp => {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                let addr = listener.local_addr()?;
                tokio::spawn(async move { serving.serve(listener).await });
                To::Tcp(addr)
            }
            Transport::Unix => {
                let path = SocketPath::fresh("prism");
                let listener = UnixListener::bind(path.path())?;
                tokio::spawn(async move { serving.serve(listener).await });
                To::Unix(path)
            }
            Transport::Ws => {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                let url = format!("ws://{}/", listener.local_addr()?);
                let listener = prism::ws::WsListener::new(listener);
                tokio::spawn(async move { serving.serve(listener).await });
                To::Ws(url)
            }
            Transport::Quic => {
                let (server_tls, client_tls) = quic_tls()?;
                let listener =
                    prism::quic::QuicListener::bind(([127, 0, 0, 1], 0).into(), server_tls)?;
                let addr = listener.local_addr()?;
                tokio::spawn(async move { serving.serve(listener).await });
                let connector = prism::quic::QuicConnector::new(addr, "localhost", client_tls)?;
                To::Quic(connector)
            }
        };
        Ok(Endpoint { to, server })
    }

    async fn connect(&self, endpoint: &mut Endpoint) -> Result<Self::Client> {
        let builder = prism::Channel::builder()
            .allow_plaintext()
            .session_config(session());
        let channel = match &endpoint.to {
            To::Mem(connector) => builder.connect(connector.clone()).await?,
            To::Tcp(addr) => builder.connect(prism::tcp::TcpConnector::new(addr)).await?,
            To::Unix(path) => {
                builder
                    .connect(prism::unix::UnixConnector::new(path.path()))
                    .await?
            }
            To::Ws(url) => builder.connect(prism::ws::WsConnector::new(url)?).await?,
            To::Quic(connector) => builder.connect(connector.clone()).await?,
        };
        Ok(PrismClient {
            shared: Shared(C::client(channel.clone())),
            channel,
            server: endpoint.server.clone(),
        })
    }
}
