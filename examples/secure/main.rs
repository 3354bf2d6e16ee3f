//! Prism as a secured internal data plane: mutual TLS, a JWT bound to the
//! client's certificate, per-op permissions checked before decode, a
//! topology that limits what the token issuer signs, and the server's
//! permission manifest checked against it.
//!
//! Certificates and keys are made at start (see `pki.rs`); a deployment
//! loads its own from PEM files.
//!
//! Run with `cargo run --release --example secure`.

mod pki;

use std::sync::Arc;

use prism::auth::jwt::{Algorithm, JwtAuthenticator, JwtKey, SigningKey, TokenIssuer};
use prism::auth::{AuthError, CachedCredentials, CredentialFuture, CredentialSource, Topology};
use prism::tls::{ClientTls, ServerTls, TlsConnector, TlsListener};
use prism::transport::SecurityPolicy;
use prism::{Channel, Context, Server};

/// A model server: inferring needs `model.infer` (the service's default),
/// reloading `model.admin`; its health is public.
#[prism::service(package = "acme", permission = "model.infer")]
pub trait Inference {
    /// Scores an input.
    async fn infer(&self, cx: &Context, input: Vec<f32>) -> f32;
    /// Reloads the model.
    #[prism(permission = "model.admin")]
    async fn reload(&self) -> bool;
    /// Whether the server is up.
    #[prism(public)]
    async fn health(&self) -> bool;
}

struct Model;

impl Inference for Model {
    async fn infer(&self, cx: &Context, input: Vec<f32>) -> f32 {
        let who = cx.identity().map_or("nobody", |id| id.subject());
        println!("  server: infer for {who}");
        input.iter().sum()
    }

    async fn reload(&self) -> bool {
        true
    }

    async fn health(&self) -> bool {
        true
    }
}

const ISSUER: &str = "https://issuer.acme.internal";
const AUDIENCE: &str = "inference";
const WORKER: &str = "spiffe://acme.internal/worker";

const TOPOLOGY: &str = r#"{
    "services": ["inference"],
    "edges": [
        { "caller": "spiffe://acme.internal/worker", "callee": "inference",
          "permissions": ["model.infer"] },
        { "caller": "spiffe://acme.internal/operator", "callee": "inference",
          "permissions": ["model.infer", "model.admin"] }
    ]
}"#;

/// The worker's credentials: tokens from the issuer, for its own subject.
/// In a deployment this asks a token service over the network.
struct FromIssuer(Arc<TokenIssuer>);

impl CredentialSource for FromIssuer {
    fn credential(&self, audience: Option<&str>) -> CredentialFuture {
        let token = match audience {
            Some(audience) => self
                .0
                .request(WORKER, audience)
                .permissions(["model.infer"])
                .issue(),
            None => Err(AuthError::new("the channel names no audience")),
        };
        Box::pin(std::future::ready(token))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // The PKI: a CA, the server's certificate, the worker's.
    let ca = pki::Ca::new("acme internal ca");
    let server_cert = ca.server("spiffe://acme.internal/inference");
    let worker_cert = ca.client(WORKER);

    // The issuer signs with an Ed25519 key, only along the topology's edges.
    let signing = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519)?;
    let topology = Topology::from_json(TOPOLOGY)?;
    let issuer = Arc::new(
        TokenIssuer::new(
            ISSUER,
            SigningKey::from_pem(
                "2026-12",
                Algorithm::EdDSA,
                signing.serialize_pem().as_bytes(),
            )?,
        )
        .with_topology(topology.clone()),
    );
    match issuer
        .request(WORKER, AUDIENCE)
        .permissions(["model.admin"])
        .issue()
    {
        Err(refused) => println!("issuer: refused a token beyond its edge: {refused}"),
        Ok(_) => unreachable!("the topology grants the worker no model.admin"),
    }

    // The server: mutual TLS required, and a JWT whose subject must be the
    // client certificate's identity.
    let jwt = JwtAuthenticator::builder(ISSUER, AUDIENCE)
        .key(JwtKey::from_pem(
            "2026-12",
            Algorithm::EdDSA,
            signing.public_key_pem().as_bytes(),
        )?)
        .bind_to_peer()
        .build()?;
    let server = Server::builder()
        .add_service(InferenceServer::new(Model))
        .authenticator(jwt)
        .security_policy(SecurityPolicy::default().require_peer_authentication())
        .build()?;
    println!("manifest: {}", server.manifest().to_json_string());
    println!(
        "topology check: {}",
        topology.check(AUDIENCE, server.manifest())
    );
    let tls = ServerTls::mutual_from_pem(
        server_cert.cert_pem.as_bytes(),
        server_cert.key_pem.as_bytes(),
        ca.cert_pem.as_bytes(),
    )?;
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let listener = TlsListener::new(tcp, tls);
    let addr = listener.local_addr()?;
    let serving = tokio::spawn({
        let server = server.clone();
        async move { server.serve(listener).await }
    });

    // The worker: its certificate, and tokens cached until shortly before
    // they expire.
    let tls = ClientTls::mutual_from_pem(
        ca.cert_pem.as_bytes(),
        worker_cert.cert_pem.as_bytes(),
        worker_cert.key_pem.as_bytes(),
    )?;
    let channel = Channel::builder()
        .credentials(CachedCredentials::new(FromIssuer(Arc::clone(&issuer))))
        .audience(AUDIENCE)
        .connect(TlsConnector::new(addr, "localhost", tls)?)
        .await?;
    println!(
        "client: connected over {} to {}",
        channel.link().kind,
        channel.link().peer_identity.as_deref().unwrap_or("?")
    );
    let model = InferenceClient::new(channel);
    println!("client: health = {}", model.health().await?);
    println!(
        "client: infer = {}",
        model.infer(vec![0.5, 1.5, 2.0]).await?
    );
    let refused = model
        .reload()
        .await
        .expect_err("the worker holds no model.admin");
    println!(
        "client: reload refused: {} ({})",
        refused.code(),
        refused.message()
    );

    server.shutdown();
    serving.await??;
    Ok(())
}
