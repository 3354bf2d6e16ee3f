//! Prism over its three transports, for any codec, through its documented
//! API: `serve_tcp` / `serve_unix` / `serve_link` and `connect_*`.
//!
//! The 64 MiB echo needs frames above Prism's 16 MiB default, so both
//! ends raise `max_frame` in their [`SessionConfig`].

use core::marker::PhantomData;
use std::net::SocketAddr;

use prism::transport::SessionConfig;
use tokio::net::{TcpListener, UnixListener};

use super::{SocketPath, System};
use crate::rpc::drive::{Handle, Shared};
use crate::rpc::{Result, Scenario, SystemId};

/// Largest frame either end accepts: room for a 64 MiB payload and its
/// encoding overhead.
pub const MAX_FRAME: u32 = 128 << 20;

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

/// How a client reaches a Prism server.
#[derive(Debug)]
pub enum Endpoint {
    /// The client's end of an in-memory pair (used once).
    Mem(Option<prism::mem::MemLink>),
    /// A TCP address.
    Tcp(SocketAddr),
    /// A Unix socket path.
    Unix(SocketPath),
}

fn session() -> SessionConfig {
    SessionConfig::default().with_max_frame(MAX_FRAME)
}

impl<C: PrismCodec> System for PrismSystem<C> {
    type Endpoint = Endpoint;
    type Client = Shared<C::Handle>;

    fn id(&self) -> SystemId {
        let transport = match self.transport {
            Transport::Mem => "mem",
            Transport::Tcp => "tcp",
            Transport::Unix => "unix",
        };
        SystemId {
            system: "prism",
            transport,
            codec: C::NAME,
        }
    }

    fn supports(&self, scenario: Scenario) -> bool {
        // Idle connections are measured over TCP, like the peers, with the
        // default codec.
        scenario != Scenario::Memory || (self.transport == Transport::Tcp && C::DEFAULT)
    }

    async fn serve(self) -> Result<Endpoint> {
        let server = C::server(session())?;
        match self.transport {
            Transport::Mem => {
                let (client, link) = prism::mem::pair();
                tokio::spawn(async move { server.serve_link(link).await });
                Ok(Endpoint::Mem(Some(client)))
            }
            Transport::Tcp => {
                let listener = TcpListener::bind("127.0.0.1:0").await?;
                let addr = listener.local_addr()?;
                tokio::spawn(async move { server.serve_tcp(listener).await });
                Ok(Endpoint::Tcp(addr))
            }
            Transport::Unix => {
                let path = SocketPath::fresh("prism");
                let listener = UnixListener::bind(path.path())?;
                tokio::spawn(async move { server.serve_unix(listener).await });
                Ok(Endpoint::Unix(path))
            }
        }
    }

    async fn connect(&self, endpoint: &mut Endpoint) -> Result<Self::Client> {
        let builder = prism::Channel::builder()
            .allow_plaintext()
            .session_config(session());
        let channel = match endpoint {
            Endpoint::Mem(link) => {
                let link = link.take().ok_or("an in-memory pair connects once")?;
                builder.connect_link(link).await?
            }
            Endpoint::Tcp(addr) => builder.connect_tcp(*addr).await?,
            Endpoint::Unix(path) => builder.connect_unix(path.path()).await?,
        };
        Ok(Shared(C::client(channel)))
    }
}
