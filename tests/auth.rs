//! Authentication at the handshake and authorization per call, over the
//! in-memory and Unix transports (links that keep a proof confidential),
//! with a table of test tokens as the authenticator: who may connect, what
//! each identity may call, and every way it fails closed.

#[macro_use]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use common::{Counters, Fixture, Transport, assert_no_panics};
use prism::auth::{AuthError, Authorizer, ChannelIdentity, Proof};
use prism::reflect::OpDescriptor;
use prism::transport::LinkInfo;
use prism::{BuildError, Channel, Code, ConnectError, Context, Server, Status, Streaming};

/// A store: reading needs `store.read` (the service's default), writing
/// `store.write`; its health is public.
#[prism::service(package = "tests", permission = "store.read")]
pub trait Store {
    /// Who the caller is.
    async fn whoami(&self, cx: &Context) -> String;
    /// Bytes uploaded (a client stream).
    #[prism(permission = "store.write")]
    async fn put(&self, chunks: Streaming<Vec<u8>>) -> u64;
    /// Whether the store is up: anyone may ask.
    #[prism(public)]
    async fn health(&self) -> bool;
}

/// Counts every handler that ran.
struct Stores(Arc<AtomicUsize>);

impl Store for Stores {
    async fn whoami(&self, cx: &Context) -> String {
        self.0.fetch_add(1, Ordering::SeqCst);
        cx.identity()
            .map_or_else(|| "nobody".into(), |id| id.subject().to_owned())
    }

    async fn put(&self, mut chunks: Streaming<Vec<u8>>) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst);
        let mut total = 0;
        while let Ok(Some(chunk)) = chunks.message().await {
            total += chunk.len() as u64;
        }
        total
    }

    async fn health(&self) -> bool {
        self.0.fetch_add(1, Ordering::SeqCst);
        true
    }
}

/// The test tokens: a reader, a writer, one that expired, one of another
/// tenant.
fn tokens(proof: Proof, _link: &LinkInfo) -> Result<ChannelIdentity, AuthError> {
    let later = SystemTime::now() + Duration::from_secs(600);
    let identity = match proof.as_str() {
        Some("reader-token") => ChannelIdentity::new("reader").with_permissions(["store.read"]),
        Some("writer-token") => {
            ChannelIdentity::new("writer").with_permissions(["store.read", "store.write"])
        }
        Some("expired-token") => ChannelIdentity::new("late")
            .with_permissions(["store.read"])
            .with_expiry(SystemTime::UNIX_EPOCH),
        Some("other-tenant-token") => ChannelIdentity::new("stranger")
            .with_tenant("other")
            .with_permissions(["store.read"]),
        _ => return Err(AuthError::new("unknown token")),
    };
    Ok(match identity.expires_at() {
        Some(_) => identity,
        None => identity.with_expiry(later),
    })
}

/// Refuses every identity of a tenant other than "acme" (none is "acme"
/// unless it says so), on top of the permissions.
struct OnlyOurTenant;

impl Authorizer for OnlyOurTenant {
    fn authorize(
        &self,
        identity: &ChannelIdentity,
        op: &'static OpDescriptor,
        permission: &str,
    ) -> Result<(), Status> {
        if identity.tenant().is_some_and(|t| t != "acme") {
            return Err(Status::permission_denied(format!(
                "{} is not for tenant {:?}",
                op.full_name(),
                identity.tenant()
            )));
        }
        prism::auth::HeldPermissions.authorize(identity, op, permission)
    }
}

async fn start(transport: Transport) -> (Fixture, Arc<AtomicUsize>) {
    let handled = Arc::new(AtomicUsize::new(0));
    let server = Server::builder()
        .add_service(StoreServer::new(Stores(Arc::clone(&handled))))
        .authenticator(tokens)
        .authorizer(OnlyOurTenant)
        .allow_plaintext()
        .build()
        .expect("server");
    let fx = Fixture::start_with(transport, server, Arc::new(Counters::default())).await;
    (fx, handled)
}

async fn as_token(fx: &Fixture, token: &str) -> Result<StoreClient, ConnectError> {
    let builder = Channel::builder()
        .credentials(Proof::bearer(token))
        .audience("store");
    fx.connect_with(builder).await.map(StoreClient::new)
}

per_local_transport!(
    identities_call_what_their_permissions_allow,
    a_connection_without_proof_calls_public_ops_only,
    bad_or_expired_proofs_end_the_handshake,
);

async fn identities_call_what_their_permissions_allow(transport: Transport) {
    let (fx, handled) = start(transport).await;
    let reader = as_token(&fx, "reader-token").await.expect("connect");
    assert_eq!(reader.whoami().await.expect("read"), "reader");
    let status = reader
        .put(Streaming::iter([vec![1u8; 10]]))
        .await
        .expect_err("no store.write");
    assert_eq!(status.code(), Code::PermissionDenied, "{status}");
    assert!(status.message().contains("store.write"), "{status}");

    let writer = as_token(&fx, "writer-token").await.expect("connect");
    let put = writer.put(Streaming::iter([vec![1u8; 10], vec![2u8; 20]]));
    assert_eq!(put.await.expect("write"), 30);

    // The authorizer is the server's: it refuses another tenant.
    let stranger = as_token(&fx, "other-tenant-token").await.expect("connect");
    let status = stranger.whoami().await.expect_err("another tenant");
    assert_eq!(status.code(), Code::PermissionDenied, "{status}");
    assert_eq!(
        handled.load(Ordering::SeqCst),
        2,
        "refused calls ran no handler"
    );
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

async fn a_connection_without_proof_calls_public_ops_only(transport: Transport) {
    let (fx, handled) = start(transport).await;
    let anonymous = StoreClient::new(fx.channel.clone());
    assert!(anonymous.health().await.expect("public"));
    let status = anonymous.whoami().await.expect_err("not authenticated");
    assert_eq!(status.code(), Code::Unauthenticated, "{status}");
    let status = anonymous
        .put(Streaming::iter([vec![1u8; 10]]))
        .await
        .expect_err("not authenticated");
    assert_eq!(status.code(), Code::Unauthenticated, "{status}");
    assert_eq!(handled.load(Ordering::SeqCst), 1);
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

async fn bad_or_expired_proofs_end_the_handshake(transport: Transport) {
    let (fx, handled) = start(transport).await;
    for token in ["forged-token", "expired-token", ""] {
        match as_token(&fx, token).await {
            Err(ConnectError::Rejected { code, reason }) => {
                assert_eq!(code, Code::Unauthenticated, "{token:?}: {reason}");
                assert!(!reason.contains(token) || token.is_empty(), "{reason}");
            }
            other => panic!("{token:?}: expected a refusal, got {other:?}"),
        }
    }
    // The server goes on serving others.
    let reader = as_token(&fx, "reader-token").await.expect("connect");
    assert_eq!(reader.whoami().await.expect("read"), "reader");
    assert_eq!(handled.load(Ordering::SeqCst), 1);
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[tokio::test]
async fn a_server_says_how_it_authenticates_or_does_not_build() {
    let bare = Server::builder()
        .add_service(StoreServer::new(Stores(Arc::default())))
        .build();
    assert!(matches!(bare, Err(BuildError::NoAuthenticator)), "{bare:?}");
    let open = Server::builder()
        .add_service(StoreServer::new(Stores(Arc::default())))
        .allow_unauthenticated()
        .build();
    assert!(open.is_ok());
}

#[tokio::test]
async fn a_proof_never_crosses_a_plaintext_network_link() {
    let (fx, _) = start(Transport::Tcp).await;
    // Refused before anything is sent, plaintext allowed or not.
    match as_token(&fx, "reader-token").await {
        Err(ConnectError::ProofOverPlaintext) => {}
        other => panic!("expected a refusal, got {other:?}"),
    }
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[tokio::test]
async fn a_server_without_authenticator_refuses_a_proof() {
    let server = Server::builder()
        .add_service(StoreServer::new(Stores(Arc::default())))
        .allow_unauthenticated()
        .build()
        .expect("server");
    let fx = Fixture::start_with(Transport::Mem, server, Arc::new(Counters::default())).await;
    match as_token(&fx, "reader-token").await {
        Err(ConnectError::Rejected { code, .. }) => assert_eq!(code, Code::Unauthenticated),
        other => panic!("expected a refusal, got {other:?}"),
    }
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[test]
fn no_debug_output_shows_a_proof() {
    let secret = "s3cr3t-t0ken-value";
    let builder = Channel::builder()
        .credentials(Proof::bearer(secret))
        .audience("store");
    for text in [
        format!("{builder:?}"),
        format!("{:?}", Proof::bearer(secret)),
    ] {
        assert!(!text.contains(secret), "{text}");
    }
}

/// A login op (public) leaves a session on its connection; later calls on
/// that connection read it, other connections do not see it, and it grants
/// no permission.
#[prism::service(package = "tests", public)]
pub trait Sessions {
    /// Stores `name` as this connection's session.
    async fn login(&self, cx: &Context, name: String) -> bool;
    /// The session of this connection, if it logged in.
    async fn session(&self, cx: &Context) -> Option<String>;
    /// Needs a permission a login does not give.
    #[prism(permission = "sessions.admin")]
    async fn admin(&self) -> bool;
}

#[derive(Clone)]
struct LoggedIn(String);

struct SessionDesk;

impl Sessions for SessionDesk {
    async fn login(&self, cx: &Context, name: String) -> bool {
        cx.connection_state().insert(LoggedIn(name)).is_none()
    }
    async fn session(&self, cx: &Context) -> Option<String> {
        cx.connection_state().get::<LoggedIn>().map(|s| s.0)
    }
    async fn admin(&self) -> bool {
        true
    }
}

#[tokio::test]
async fn a_login_op_leaves_state_for_its_connection_only() {
    let server = Server::builder()
        .add_service(SessionsServer::new(SessionDesk))
        .allow_unauthenticated()
        .build()
        .expect("server");
    let fx = Fixture::start_with(Transport::Mem, server, Arc::new(Counters::default())).await;
    let first = SessionsClient::new(fx.channel.clone());
    let second = SessionsClient::new(fx.connect().await.expect("connect"));
    assert_eq!(first.session().await.expect("session"), None);
    assert!(first.login("ada".into()).await.expect("login"));
    assert_eq!(
        first.session().await.expect("session").as_deref(),
        Some("ada")
    );
    assert!(!first.login("bob".into()).await.expect("login again"));
    assert_eq!(
        second.session().await.expect("session"),
        None,
        "another connection"
    );
    let status = first.admin().await.expect_err("a login grants nothing");
    assert_eq!(status.code(), Code::Unauthenticated, "{status}");
    fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

/// Peers that connect and never say HELLO hold at most the server's
/// pending-handshake slots, each for at most the handshake timeout; a good
/// client waits its turn in the backlog and is served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_silent_connections_is_bounded_and_a_good_client_is_served() {
    use tokio::io::AsyncReadExt;

    let server = Server::builder()
        .add_service(StoreServer::new(Stores(Arc::default())))
        .authenticator(tokens)
        .max_pending_handshakes(2)
        .session_config(
            prism::transport::SessionConfig::default()
                .with_handshake_timeout(Duration::from_millis(300)),
        )
        .build()
        .expect("server");
    let path = common::SocketPath::new();
    let listener = tokio::net::UnixListener::bind(path.path()).expect("bind");
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(
            tokio::net::UnixStream::connect(path.path())
                .await
                .expect("connect"),
        );
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        server.connections() <= 2,
        "{} connections were taken in while two handshakes were pending",
        server.connections()
    );
    let channel = tokio::time::timeout(
        Duration::from_secs(30),
        Channel::builder()
            .credentials(Proof::bearer("reader-token"))
            .connect(prism::unix::UnixConnector::new(path.path())),
    )
    .await
    .expect("the good client gets in once the silent ones time out")
    .expect("connect");
    assert_eq!(
        StoreClient::new(channel).whoami().await.expect("whoami"),
        "reader"
    );
    // Every silent peer was closed by the server.
    for mut peer in silent {
        let mut buf = [0u8; 64];
        let closed = tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                match peer.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "a silent peer stays open");
    }
    server.shutdown();
    let _ = serving.await;
    assert_no_panics();
}
