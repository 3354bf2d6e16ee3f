//! TLS 1.3 and mutual TLS over real loopback sockets: TLS links pass the
//! link conformance suite; a TLS link passes the default security policy, carries a token, proves the peer's
//! certificate identity and a channel binding both ends agree on; mutual
//! TLS authenticates by certificate alone or binds a token's subject to the
//! certificate; bad peers fail the handshake while the server goes on; and
//! a flood of silent connections cannot keep a good client out.

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::pki::{Ca, Identity};
use common::{assert_no_panics, install_panic_hook};
use prism::auth::MtlsAuthenticator;
use prism::auth::jwt::{Algorithm, JwtAuthenticator, JwtKey, SigningKey, TokenIssuer};
use prism::tls::{ClientTls, ServerTls, TlsConnector, TlsListener};
use prism::transport::SecurityPolicy;
use prism::{Channel, Code, ConnectError, Context, ServeError, Server};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

const TRUST_DOMAIN: &str = "test.internal";
const WORKER: &str = "spiffe://test.internal/worker";
const OTHER: &str = "spiffe://test.internal/other";
const SERVER_ID: &str = "spiffe://test.internal/jobs";
const SECRET: &[u8] = b"a test secret that is long enough for HS256";

/// Jobs: running one needs `jobs.run`; `whoami` is public.
#[prism::service(package = "tests", permission = "jobs.run")]
pub trait Jobs {
    /// Runs a job, returning who ran it.
    async fn run(&self, cx: &Context, job: String) -> String;
    /// What the server sees of the link: the peer identity and the
    /// channel binding.
    #[prism(public)]
    async fn link(&self, cx: &Context) -> (Option<String>, Option<Vec<u8>>);
    /// When the caller's identity expires, in seconds after the epoch.
    #[prism(public)]
    async fn expiry(&self, cx: &Context) -> Option<u64>;
}

struct JobRunner;

impl Jobs for JobRunner {
    async fn run(&self, cx: &Context, job: String) -> String {
        let who = cx.identity().map_or("nobody", |id| id.subject());
        format!("{job} by {who}")
    }

    async fn link(&self, cx: &Context) -> (Option<String>, Option<Vec<u8>>) {
        let link = cx.link();
        (
            link.peer_identity.clone(),
            link.channel_binding.as_ref().map(|b| b.0.to_vec()),
        )
    }

    async fn expiry(&self, cx: &Context) -> Option<u64> {
        let at = cx.identity()?.expires_at()?;
        Some(at.duration_since(UNIX_EPOCH).ok()?.as_secs())
    }
}

/// Whole seconds since the epoch, now.
fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

type Pki = common::TestPki;

fn pki() -> Pki {
    Pki::new(SERVER_ID)
}

async fn serve(
    server: Server,
    tls: ServerTls,
    tune: impl FnOnce(TlsListener) -> TlsListener,
) -> (std::net::SocketAddr, JoinHandle<Result<(), ServeError>>) {
    install_panic_hook();
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let listener = tune(TlsListener::new(tcp, tls));
    let addr = listener.local_addr().expect("addr");
    let serving = tokio::spawn(async move { server.serve(listener).await });
    (addr, serving)
}

fn connector(addr: std::net::SocketAddr, tls: ClientTls) -> TlsConnector {
    TlsConnector::new(addr, "localhost", tls).expect("connector")
}

fn jwt(bind_to_peer: bool) -> JwtAuthenticator {
    let builder = JwtAuthenticator::builder("https://issuer.test", "jobs")
        .key(JwtKey::hmac("k1", Algorithm::HS256, SECRET).expect("key"));
    let builder = if bind_to_peer {
        builder.bind_to_peer()
    } else {
        builder
    };
    builder.build().expect("jwt")
}

fn token(subject: &str) -> prism::auth::Proof {
    let key = SigningKey::hmac("k1", Algorithm::HS256, SECRET).expect("key");
    TokenIssuer::new("https://issuer.test", key)
        .request(subject, "jobs")
        .permissions(["jobs.run"])
        .issue()
        .expect("token")
}

fn jobs_server(authenticator: impl prism::auth::Authenticator) -> Server {
    Server::builder()
        .add_service(JobsServer::new(JobRunner))
        .authenticator(authenticator)
        .build()
        .expect("server")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_travels_over_tls_without_allowing_plaintext() {
    let pki = pki();
    let tls = pki.server_tls();
    let (addr, serving) = serve(jobs_server(jwt(false)), tls, |l| l).await;
    let client_tls = ClientTls::from_pem(pki.ca.cert_pem.as_bytes()).expect("client tls");
    let channel = Channel::builder()
        .credentials(token("spiffe://test.internal/worker"))
        .audience("jobs")
        .connect(connector(addr, client_tls))
        .await
        .expect("connect over TLS");
    // The client sees the server's certificate identity and a binding.
    assert_eq!(channel.link().kind.transport, "tls");
    assert_eq!(channel.link().peer_identity.as_deref(), Some(SERVER_ID));
    let ours = channel.link().channel_binding.clone().expect("a binding").0;
    let jobs = JobsClient::new(channel);
    assert_eq!(
        jobs.run("build".into()).await.expect("run"),
        format!("build by {WORKER}")
    );
    // The server sees no client identity (not mutual) and the same binding.
    let (peer, binding) = jobs.link().await.expect("link");
    assert_eq!(peer, None);
    assert_eq!(binding.as_deref(), Some(&ours[..]));
    serving.abort();
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutual_tls_authenticates_by_certificate() {
    let pki = pki();
    let tls = ServerTls::mutual_from_pem(
        pki.server.cert_pem.as_bytes(),
        pki.server.key_pem.as_bytes(),
        pki.ca.cert_pem.as_bytes(),
    )
    .expect("server tls");
    let mtls = MtlsAuthenticator::new(TRUST_DOMAIN).grant(WORKER, ["jobs.run"]);
    let server = Server::builder()
        .add_service(JobsServer::new(JobRunner))
        .authenticator(mtls)
        .security_policy(SecurityPolicy::default().require_peer_authentication())
        .build()
        .expect("server");
    let (addr, serving) = serve(server, tls, |l| l).await;
    let as_client = |id: &Identity| {
        ClientTls::mutual_from_pem(
            pki.ca.cert_pem.as_bytes(),
            id.cert_pem.as_bytes(),
            id.key_pem.as_bytes(),
        )
        .expect("client tls")
    };

    let worker = pki.ca.client(WORKER);
    let channel = Channel::builder()
        .connect(connector(addr, as_client(&worker)))
        .await
        .expect("connect");
    let jobs = JobsClient::new(channel);
    assert_eq!(
        jobs.run("a".into()).await.expect("run"),
        format!("a by {WORKER}")
    );
    assert_eq!(jobs.link().await.expect("link").0.as_deref(), Some(WORKER));

    // Another identity of the domain holds no grant.
    let other = pki.ca.client(OTHER);
    let jobs = JobsClient::new(
        Channel::builder()
            .connect(connector(addr, as_client(&other)))
            .await
            .expect("connect"),
    );
    let status = jobs.run("b".into()).await.expect_err("no grant");
    assert_eq!(status.code(), Code::PermissionDenied, "{status}");

    // A certificate outside the trust domain is refused at the handshake.
    let stranger = pki.ca.client("spiffe://elsewhere.internal/worker");
    match Channel::builder()
        .connect(connector(addr, as_client(&stranger)))
        .await
    {
        Err(ConnectError::Rejected { code, reason }) => {
            assert_eq!(code, Code::Unauthenticated, "{reason}");
            assert!(reason.contains("trust domain"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }

    // No client certificate, or one from another CA: the TLS handshake
    // fails, and the server goes on. (In TLS 1.3 the client may finish its
    // side of the handshake before the server refuses its certificate;
    // then the first exchange fails instead.)
    let no_cert = ClientTls::from_pem(pki.ca.cert_pem.as_bytes()).expect("tls");
    assert!(
        refused(connector(addr, no_cert)).await,
        "no client certificate"
    );
    let rogue_ca = Ca::new("rogue ca");
    let rogue = rogue_ca.client(WORKER);
    let rogue_tls = ClientTls::mutual_from_pem(
        pki.ca.cert_pem.as_bytes(),
        rogue.cert_pem.as_bytes(),
        rogue.key_pem.as_bytes(),
    )
    .expect("tls");
    assert!(
        refused(connector(addr, rogue_tls)).await,
        "a certificate of another CA"
    );

    // A client that does not trust the server's CA refuses the server.
    let distrust = ClientTls::mutual_from_pem(
        rogue_ca.cert_pem.as_bytes(),
        worker.cert_pem.as_bytes(),
        worker.key_pem.as_bytes(),
    )
    .expect("tls");
    match Channel::builder().connect(connector(addr, distrust)).await {
        Err(ConnectError::Connect { .. }) => {}
        other => panic!("expected a failed TLS handshake, got {other:?}"),
    }

    // Still serving.
    let jobs = JobsClient::new(
        Channel::builder()
            .connect(connector(addr, as_client(&worker)))
            .await
            .expect("connect"),
    );
    assert!(jobs.run("d".into()).await.is_ok());
    serving.abort();
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_bound_to_the_certificate_must_name_it() {
    let pki = pki();
    let tls = ServerTls::mutual_from_pem(
        pki.server.cert_pem.as_bytes(),
        pki.server.key_pem.as_bytes(),
        pki.ca.cert_pem.as_bytes(),
    )
    .expect("server tls");
    let (addr, serving) = serve(jobs_server(jwt(true)), tls, |l| l).await;
    let worker = pki.ca.client(WORKER);
    let client_tls = || {
        ClientTls::mutual_from_pem(
            pki.ca.cert_pem.as_bytes(),
            worker.cert_pem.as_bytes(),
            worker.key_pem.as_bytes(),
        )
        .expect("client tls")
    };
    let channel = Channel::builder()
        .credentials(token(WORKER))
        .audience("jobs")
        .connect(connector(addr, client_tls()))
        .await
        .expect("matching subject");
    let jobs = JobsClient::new(channel);
    assert_eq!(
        jobs.run("e".into()).await.expect("run"),
        format!("e by {WORKER}")
    );

    // The worker's certificate with another workload's token.
    match Channel::builder()
        .credentials(token(OTHER))
        .audience("jobs")
        .connect(connector(addr, client_tls()))
        .await
    {
        Err(ConnectError::Rejected { code, reason }) => {
            assert_eq!(code, Code::Unauthenticated, "{reason}");
            assert!(reason.contains("certificate"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    serving.abort();
    assert_no_panics();
}

/// An identity a certificate proved expires with it: calls run until the
/// certificate's `notAfter` and fail `UNAUTHENTICATED` after it. A token
/// bound to the certificate holds no longer than the certificate either.
/// (On real time: the TLS handshake checks certificates against the
/// system clock, which a test cannot pause.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_identity_from_a_certificate_expires_with_it() {
    let pki = pki();
    let tls = || {
        ServerTls::mutual_from_pem(
            pki.server.cert_pem.as_bytes(),
            pki.server.key_pem.as_bytes(),
            pki.ca.cert_pem.as_bytes(),
        )
        .expect("server tls")
    };
    let as_client = |id: &Identity| {
        ClientTls::mutual_from_pem(
            pki.ca.cert_pem.as_bytes(),
            id.cert_pem.as_bytes(),
            id.key_pem.as_bytes(),
        )
        .expect("client tls")
    };

    // Mutual TLS alone: a certificate good for a few more seconds.
    let mtls = MtlsAuthenticator::new(TRUST_DOMAIN).grant(WORKER, ["jobs.run"]);
    let (addr, serving) = serve(jobs_server(mtls), tls(), |l| l).await;
    let not_after = unix_now() + 4;
    let short = pki.ca.client_until(WORKER, not_after);
    let channel = Channel::builder()
        .connect(connector(addr, as_client(&short)))
        .await
        .expect("connect");
    let jobs = JobsClient::new(channel);
    assert_eq!(jobs.expiry().await.expect("expiry"), Some(not_after));
    assert!(jobs.run("f".into()).await.is_ok(), "valid until then");
    let past = UNIX_EPOCH + Duration::from_secs(not_after) + Duration::from_millis(100);
    let wait = past.duration_since(SystemTime::now()).unwrap_or_default();
    tokio::time::sleep(wait).await;
    let refused = jobs.run("g".into()).await.expect_err("expired");
    assert_eq!(refused.code(), Code::Unauthenticated, "{refused}");
    assert!(refused.message().contains("expired"), "{refused}");
    serving.abort();

    // A token (good for 15 minutes) bound to a certificate good for five
    // holds five; unbound, it holds its 15.
    let not_after = unix_now() + 300;
    let worker = pki.ca.client_until(WORKER, not_after);
    for bound in [true, false] {
        let (addr, serving) = serve(jobs_server(jwt(bound)), tls(), |l| l).await;
        let channel = Channel::builder()
            .credentials(token(WORKER))
            .audience("jobs")
            .connect(connector(addr, as_client(&worker)))
            .await
            .expect("connect");
        let expiry = JobsClient::new(channel).expiry().await.expect("expiry");
        let expiry = expiry.expect("a token expires");
        match bound {
            true => assert_eq!(expiry, not_after),
            false => assert!(expiry >= not_after + 590, "{expiry} vs {not_after}"),
        }
        serving.abort();
    }
    assert_no_panics();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_cannot_keep_a_good_client_out() {
    let pki = pki();
    let tls = pki.server_tls();
    let server = Server::builder()
        .add_service(JobsServer::new(JobRunner))
        .allow_unauthenticated()
        .build()
        .expect("server");
    let (addr, serving) = serve(server, tls, |l| {
        l.with_max_pending(4)
            .with_handshake_timeout(Duration::from_millis(200))
    })
    .await;
    // Sixteen connections that never finish a handshake, and one that
    // speaks plaintext Prism at a TLS port.
    let mut silent = Vec::new();
    for _ in 0..16 {
        silent.push(TcpStream::connect(addr).await.expect("connect"));
    }
    let mut plaintext = TcpStream::connect(addr).await.expect("connect");
    plaintext
        .write_all(b"PRSM\x01\x00\x00\x00garbage that is not a TLS record")
        .await
        .expect("write");
    let client_tls = ClientTls::from_pem(pki.ca.cert_pem.as_bytes()).expect("client tls");
    let good = tokio::time::timeout(
        Duration::from_secs(30),
        Channel::builder().connect(connector(addr, client_tls)),
    )
    .await
    .expect("the good client gets in once the silent ones time out")
    .expect("connect");
    assert!(JobsClient::new(good).link().await.is_ok());
    drop(silent);
    serving.abort();
    assert_no_panics();
}

#[tokio::test]
async fn plain_tcp_and_tls_without_client_certificates_are_refused_where_the_policy_says() {
    let pki = pki();
    let tls = pki.server_tls();
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let server = jobs_server(jwt(false));
    assert!(matches!(
        server.serve(tcp).await,
        Err(ServeError::InsecureLink(_))
    ));
    // A policy requiring mutual TLS refuses a TLS listener without it.
    let strict = Server::builder()
        .add_service(JobsServer::new(JobRunner))
        .authenticator(jwt(false))
        .security_policy(SecurityPolicy::default().require_peer_authentication())
        .build()
        .expect("server");
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    assert!(matches!(
        strict.serve(TlsListener::new(tcp, tls)).await,
        Err(ServeError::InsecureLink(_))
    ));
}

/// Whether a client over `connector` is kept out: its connect fails, or
/// its first call does.
async fn refused(connector: TlsConnector) -> bool {
    match Channel::builder().connect(connector).await {
        Err(_) => true,
        Ok(channel) => JobsClient::new(channel).link().await.is_err(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_links_conform() {
    use prism::transport::testing::{self, LinkPair};
    use prism::transport::{Connector, LinkConfig, Listener};
    let pki = pki();
    let tls = pki.server_tls();
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("addr");
    let listener = std::sync::Arc::new(tokio::sync::Mutex::new(TlsListener::new(tcp, tls)));
    let client_tls = ClientTls::from_pem(pki.ca.cert_pem.as_bytes()).expect("client tls");
    let connector = connector(addr, client_tls);
    testing::check_links(|max_frame| {
        let (listener, connector) = (listener.clone(), connector.clone());
        async move {
            let config = LinkConfig::with_max_frame(max_frame);
            let mut listener = listener.lock().await;
            let (a, b) = tokio::join!(connector.connect(&config), listener.accept(&config));
            let pair: LinkPair = (Box::new(a.expect("connect")), Box::new(b.expect("accept")));
            pair
        }
    })
    .await;
}
