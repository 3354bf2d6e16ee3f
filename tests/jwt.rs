//! The JWT authenticator over real sockets (Unix) and in memory: every
//! way a token can be wrong ends the handshake with `UNAUTHENTICATED`
//! naming the check, before any handler runs or any payload is decoded;
//! a good token's claims become the channel's identity; and a refused
//! call or stream open of each kind never reaches a codec (a spy codec
//! counts decodes).

#[macro_use]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{Counters, Fixture, Transport, assert_no_panics};
use futures_util::StreamExt;
use prism::auth::jwt::{Algorithm, JwtAuthenticator, JwtKey, SigningKey, TokenIssuer};
use prism::auth::{AuthzVersion, Proof};
use prism::codec::{
    Capabilities, Codec, CodecId, Decode, DecodeError, Encode, EncodeBuf, EncodeError, Payload,
};
use prism::{Channel, Code, ConnectError, Context, Limits, Server, Streaming};
use serde_json::{Value, json};

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "spy";
const SECRET: &[u8] = b"a test secret that is long enough for HS256";

/// How many messages the spy codec decoded, in this whole test binary.
static DECODES: AtomicUsize = AtomicUsize::new(0);

/// A codec that counts what it decodes: a refused call must leave it at 0.
#[derive(Debug)]
pub struct SpyCodec;

impl Codec for SpyCodec {
    const ID: CodecId = CodecId::new(CodecId::USER_RANGE_START + 7);
    const NAME: &'static str = "spy";
    const CAPABILITIES: Capabilities = Capabilities::NONE;
}

/// Raw bytes, carried by the spy codec.
#[prism::message]
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl Encode<SpyCodec> for Blob {
    fn encode(&self, out: &mut EncodeBuf, _limits: &Limits) -> Result<(), EncodeError> {
        out.tail().extend_from_slice(&self.bytes);
        Ok(())
    }
}

impl Decode<SpyCodec> for Blob {
    fn decode(payload: &Payload, _limits: &Limits) -> Result<Self, DecodeError> {
        DECODES.fetch_add(1, Ordering::SeqCst);
        Ok(Blob {
            bytes: payload.to_vec(),
        })
    }
}

/// Each kind of op, every one needing `spy.use`, carried by the spy codec;
/// and who the caller is, needing `spy.read`.
#[prism::service(package = "tests", permission = "spy.use", codec = SpyCodec)]
pub trait Spy {
    /// Unary.
    #[prism(bare)]
    async fn echo(&self, blob: Blob) -> Blob;
    /// Server stream.
    #[prism(bare)]
    async fn watch(&self, blob: Blob) -> Streaming<Blob>;
    /// Client stream.
    async fn feed(&self, blobs: Streaming<Blob>) -> Blob;
    /// Bidirectional.
    async fn chat(&self, blobs: Streaming<Blob>) -> Streaming<Blob>;
    /// The caller's identity, as the handler sees it.
    #[prism(permission = "spy.read", codec = postcard)]
    async fn whoami(&self, cx: &Context) -> Vec<String>;
}

struct Spies(Arc<AtomicUsize>);

impl Spy for Spies {
    async fn echo(&self, blob: Blob) -> Blob {
        self.0.fetch_add(1, Ordering::SeqCst);
        blob
    }
    async fn watch(&self, blob: Blob) -> Streaming<Blob> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Streaming::iter([blob])
    }
    async fn feed(&self, mut blobs: Streaming<Blob>) -> Blob {
        self.0.fetch_add(1, Ordering::SeqCst);
        let mut all = Vec::new();
        while let Ok(Some(blob)) = blobs.message().await {
            all.extend(blob.bytes);
        }
        Blob { bytes: all }
    }
    async fn chat(&self, blobs: Streaming<Blob>) -> Streaming<Blob> {
        self.0.fetch_add(1, Ordering::SeqCst);
        blobs
    }
    async fn whoami(&self, cx: &Context) -> Vec<String> {
        self.0.fetch_add(1, Ordering::SeqCst);
        let id = cx.identity().expect("authenticated");
        let mut facts = vec![
            id.subject().to_owned(),
            id.issuer().unwrap_or_default().to_owned(),
            id.audience().unwrap_or_default().to_owned(),
            id.token_type().unwrap_or_default().to_owned(),
            id.tenant().unwrap_or_default().to_owned(),
            id.authz_version().unwrap_or_default().to_string(),
            id.key_id().unwrap_or_default().to_owned(),
        ];
        facts.extend(id.permissions().map(str::to_owned));
        facts
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

/// Claims every check accepts, before a case breaks one.
fn good_claims() -> Value {
    json!({
        "iss": ISSUER,
        "sub": "spiffe://test/worker",
        "aud": AUDIENCE,
        "exp": now() + 600,
        "nbf": now() - 10,
        "iat": now() - 10,
        "token_type": "prism-access",
        "tenant": "acme",
        "authz_version": 3,
        "permissions": ["spy.use", "spy.read"],
    })
}

/// Signs `claims` with HS256 under `kid`.
fn hs256(kid: &str, claims: &Value) -> String {
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(
        &header,
        claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET),
    )
    .expect("sign")
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// The keys: an HMAC key `hs` and an Ed25519 key `ed` (whose public key is
/// known to everyone, as public keys are).
struct Keys {
    ed_private_pem: String,
    ed_public_pem: String,
}

fn keys() -> Keys {
    let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).expect("ed25519 key");
    Keys {
        ed_private_pem: pair.serialize_pem(),
        ed_public_pem: pair.public_key_pem(),
    }
}

struct Setup {
    fx: Fixture,
    handled: Arc<AtomicUsize>,
    keys: Keys,
    version: AuthzVersion,
}

async fn start(transport: Transport) -> Setup {
    let keys = keys();
    let version = AuthzVersion::new(3);
    let jwt = JwtAuthenticator::builder(ISSUER, AUDIENCE)
        .key(JwtKey::hmac("hs", Algorithm::HS256, SECRET).expect("hmac key"))
        .key(
            JwtKey::from_pem("ed", Algorithm::EdDSA, keys.ed_public_pem.as_bytes())
                .expect("ed key"),
        )
        .tenant("acme")
        .authz_version(version.clone())
        .leeway(Duration::from_secs(5))
        .build()
        .expect("authenticator");
    let handled = Arc::new(AtomicUsize::new(0));
    let server = Server::builder()
        .add_service(SpyServer::new(Spies(Arc::clone(&handled))))
        .authenticator(jwt)
        .build()
        .expect("server");
    let fx = Fixture::start_with(transport, server, Arc::new(Counters::default())).await;
    Setup {
        fx,
        handled,
        keys,
        version,
    }
}

async fn connect(setup: &Setup, token: String) -> Result<SpyClient, ConnectError> {
    let builder = Channel::builder()
        .credentials(Proof::bearer(token))
        .audience(AUDIENCE);
    setup.fx.connect_with(builder).await.map(SpyClient::new)
}

/// Each bad token, and the words its refusal must contain.
fn bad_tokens(setup: &Setup) -> Vec<(&'static str, String, &'static str)> {
    let with = |key: &str, value: Value| {
        let mut claims = good_claims();
        claims[key] = value;
        hs256("hs", &claims)
    };
    let without = |key: &str| {
        let mut claims = good_claims();
        claims.as_object_mut().expect("object").remove(key);
        hs256("hs", &claims)
    };
    let good = hs256("hs", &good_claims());
    let (head, rest) = good.split_once('.').expect("three parts");
    let (body, _signature) = rest.split_once('.').expect("three parts");
    let ed_public = setup.keys.ed_public_pem.as_bytes();
    let alg_none = format!(
        "{}.{body}.",
        b64(br#"{"alg":"none","typ":"JWT","kid":"hs"}"#)
    );
    // HMAC keyed with the Ed25519 public key, naming the Ed25519 key.
    let confused = {
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some("ed".into());
        jsonwebtoken::encode(
            &header,
            &good_claims(),
            &jsonwebtoken::EncodingKey::from_secret(ed_public),
        )
        .expect("sign")
    };
    let other_secret = {
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some("hs".into());
        jsonwebtoken::encode(
            &header,
            &good_claims(),
            &jsonwebtoken::EncodingKey::from_secret(b"another secret, just as long as the first"),
        )
        .expect("sign")
    };
    let tampered = {
        let mut claims = good_claims();
        claims["permissions"] = json!(["spy.use", "spy.read", "spy.admin"]);
        let body = b64(&serde_json::to_vec(&claims).expect("json"));
        let signature = good.rsplit_once('.').expect("three parts").1;
        format!("{head}.{body}.{signature}")
    };
    let typ = {
        let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
        header.kid = Some("hs".into());
        header.typ = Some("at+jwt".into());
        jsonwebtoken::encode(
            &header,
            &good_claims(),
            &jsonwebtoken::EncodingKey::from_secret(SECRET),
        )
        .expect("sign")
    };
    // A claim nobody reads holding a number no JSON parser represents:
    // serde would skip it unread, another verifier would refuse the token.
    let huge_number = {
        let claims = serde_json::to_string(&good_claims()).expect("json");
        let claims = format!("{{\"unread\":5E555555555,{}", &claims[1..]);
        let header = br#"{"alg":"HS256","typ":"JWT","kid":"hs"}"#;
        let message = format!("{}.{}", b64(header), b64(claims.as_bytes()));
        let signature = jsonwebtoken::crypto::sign(
            message.as_bytes(),
            &jsonwebtoken::EncodingKey::from_secret(SECRET),
            Algorithm::HS256,
        )
        .expect("sign");
        format!("{message}.{signature}")
    };
    vec![
        ("not a JWT", "not-a-jwt".into(), "not a JWT"),
        (
            "unrepresentable number in an unread claim",
            huge_number,
            "not valid JSON",
        ),
        (
            "no kid",
            {
                let header = jsonwebtoken::Header::new(Algorithm::HS256);
                jsonwebtoken::encode(
                    &header,
                    &good_claims(),
                    &jsonwebtoken::EncodingKey::from_secret(SECRET),
                )
                .expect("sign")
            },
            "names no key",
        ),
        (
            "unknown kid",
            hs256("nope", &good_claims()),
            "not in this server's key set",
        ),
        ("alg none", alg_none, "algorithm"),
        ("algorithm confusion", confused, "verifies only EdDSA"),
        ("bad signature", other_secret, "signature is invalid"),
        ("tampered claims", tampered, "signature is invalid"),
        ("typ header", typ, "`typ`"),
        (
            "wrong audience",
            with("aud", json!("another-service")),
            "audience",
        ),
        (
            "multi-audience",
            with("aud", json!([AUDIENCE, "another-service"])),
            "2 audiences",
        ),
        (
            "wrong issuer",
            with("iss", json!("https://evil.test")),
            "another issuer",
        ),
        (
            "wrong token type",
            with("token_type", json!("id")),
            "not of type",
        ),
        ("no token type", without("token_type"), "`token_type`"),
        ("expired", with("exp", json!(now() - 60)), "expired"),
        (
            "not yet valid",
            with("nbf", json!(now() + 600)),
            "not valid yet",
        ),
        ("wrong tenant", with("tenant", json!("globex")), "tenant"),
        (
            "old authz version",
            with("authz_version", json!(2)),
            "authorization version",
        ),
        ("no exp", without("exp"), "`exp`"),
        (
            "exp beyond any clock",
            with("exp", json!(u64::MAX)),
            "`exp` is out of range",
        ),
        (
            "nbf beyond any clock",
            with("nbf", json!(u64::MAX)),
            "`nbf` is out of range",
        ),
        ("no aud", without("aud"), "`aud`"),
        ("no iss", without("iss"), "`iss`"),
        ("no sub", without("sub"), "`sub`"),
        ("empty sub", with("sub", json!("")), "empty"),
        (
            "malformed claim",
            with("exp", json!("tomorrow")),
            "malformed",
        ),
    ]
}

per_local_transport!(
    every_bad_token_ends_the_handshake_before_anything_runs,
    a_good_token_becomes_the_channels_identity,
    refused_calls_and_stream_opens_never_reach_a_codec,
);

async fn every_bad_token_ends_the_handshake_before_anything_runs(transport: Transport) {
    let setup = start(transport).await;
    for (case, token, says) in bad_tokens(&setup) {
        match connect(&setup, token.clone()).await {
            Err(ConnectError::Rejected { code, reason }) => {
                assert_eq!(code, Code::Unauthenticated, "{case}: {reason}");
                assert!(reason.contains(says), "{case}: {reason:?} lacks {says:?}");
                assert!(
                    !reason.contains(&token),
                    "{case}: the refusal shows the token"
                );
            }
            Err(other) => panic!("{case}: expected a refusal, got {other}"),
            Ok(_) => panic!("{case}: the token was accepted"),
        }
    }
    assert_eq!(setup.handled.load(Ordering::SeqCst), 0);

    // Within the leeway (5 s here), a token just past `exp` still connects
    // and calls.
    let mut late = good_claims();
    late["exp"] = json!(now() - 2);
    let spy = connect(&setup, hs256("hs", &late))
        .await
        .expect("within the leeway");
    assert_eq!(
        spy.whoami().await.expect("whoami")[0],
        "spiffe://test/worker"
    );

    // Revocation: bumping the version refuses the tokens of the old one.
    let good = hs256("hs", &good_claims());
    let spy = connect(&setup, good.clone())
        .await
        .expect("current version");
    assert_eq!(
        spy.whoami().await.expect("whoami")[0],
        "spiffe://test/worker"
    );
    setup.version.bump();
    match connect(&setup, good).await {
        Err(ConnectError::Rejected { code, reason }) => {
            assert_eq!(code, Code::Unauthenticated, "{reason}");
            assert!(reason.contains("authorization version (4)"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    setup.fx.shutdown().await.expect("clean shutdown");
}

async fn a_good_token_becomes_the_channels_identity(transport: Transport) {
    let setup = start(transport).await;
    // Signed by the issuer with the Ed25519 key.
    let issuer = TokenIssuer::new(
        ISSUER,
        SigningKey::from_pem("ed", Algorithm::EdDSA, setup.keys.ed_private_pem.as_bytes())
            .expect("signing key"),
    );
    let proof = issuer
        .request("spiffe://test/worker", AUDIENCE)
        .tenant("acme")
        .authz_version(3)
        .permissions(["spy.read"])
        .issue()
        .expect("issue");
    let channel = Channel::builder().credentials(proof).audience(AUDIENCE);
    let spy = SpyClient::new(setup.fx.connect_with(channel).await.expect("connect"));
    assert_eq!(
        spy.whoami().await.expect("whoami"),
        [
            "spiffe://test/worker",
            ISSUER,
            AUDIENCE,
            "prism-access",
            "acme",
            "3",
            "ed",
            "spy.read"
        ]
    );
    // `spy.read` only: `spy.use` is refused.
    let status = spy
        .echo(Blob { bytes: vec![1] })
        .await
        .expect_err("no spy.use");
    assert_eq!(status.code(), Code::PermissionDenied, "{status}");

    // An issued token that is not valid yet, and one that expired.
    for (case, proof) in [
        (
            "not yet valid",
            issuer
                .request("spiffe://test/worker", AUDIENCE)
                .tenant("acme")
                .authz_version(3)
                .not_before(SystemTime::now() + Duration::from_secs(600))
                .issue(),
        ),
        (
            "expired",
            issuer
                .request("spiffe://test/worker", AUDIENCE)
                .tenant("acme")
                .authz_version(3)
                .lifetime(Duration::from_secs(60))
                .issue_at(SystemTime::now() - Duration::from_secs(3600)),
        ),
    ] {
        let builder = Channel::builder()
            .credentials(proof.expect("issue"))
            .audience(AUDIENCE);
        match setup.fx.connect_with(builder).await {
            Err(ConnectError::Rejected { code, .. }) => assert_eq!(code, Code::Unauthenticated),
            other => panic!("{case}: expected a refusal, got {other:?}"),
        }
    }
    setup.fx.shutdown().await.expect("clean shutdown");
}

async fn refused_calls_and_stream_opens_never_reach_a_codec(transport: Transport) {
    let setup = start(transport).await;
    let mut reader = good_claims();
    reader["permissions"] = json!(["spy.read"]);
    let reader = connect(&setup, hs256("hs", &reader))
        .await
        .expect("connect");
    let anonymous = SpyClient::new(setup.fx.channel.clone());
    let before = DECODES.load(Ordering::SeqCst);
    for (client, code) in [
        (&reader, Code::PermissionDenied),
        (&anonymous, Code::Unauthenticated),
    ] {
        let blob = || Blob {
            bytes: vec![7; 100],
        };
        let unary = client.echo(blob()).await.expect_err("refused");
        assert_eq!(unary.code(), code, "unary: {unary}");
        let watch = match client.watch(blob()).await {
            Err(status) => status,
            Ok(mut stream) => stream.next().await.expect("an end").expect_err("refused"),
        };
        assert_eq!(watch.code(), code, "server stream: {watch}");
        let items = Streaming::iter((0..50).map(move |_| blob()));
        let feed = client.feed(items).await.expect_err("refused");
        assert_eq!(feed.code(), code, "client stream: {feed}");
        let items = Streaming::iter((0..50).map(move |_| blob()));
        let chat = match client.chat(items).await {
            Err(status) => status,
            Ok(mut stream) => stream.next().await.expect("an end").expect_err("refused"),
        };
        assert_eq!(chat.code(), code, "bidirectional: {chat}");
    }
    assert_eq!(setup.handled.load(Ordering::SeqCst), 0, "no handler ran");
    assert_eq!(
        DECODES.load(Ordering::SeqCst),
        before,
        "nothing was decoded for a refused call"
    );
    // The connections go on: an allowed call still works.
    assert_eq!(
        reader.whoami().await.expect("whoami")[0],
        "spiffe://test/worker"
    );
    setup.fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

#[test]
fn the_authenticator_refuses_a_weak_configuration() {
    let short = JwtKey::hmac("k", Algorithm::HS256, b"short");
    assert!(short.is_err());
    let wrong_family = JwtKey::hmac("k", Algorithm::RS256, SECRET);
    assert!(wrong_family.is_err());
    let no_keys = JwtAuthenticator::builder(ISSUER, AUDIENCE).build();
    assert!(no_keys.is_err());
    let key = || JwtKey::hmac("k", Algorithm::HS256, SECRET).expect("key");
    let lax = JwtAuthenticator::builder(ISSUER, AUDIENCE)
        .key(key())
        .leeway(Duration::from_secs(3600))
        .build();
    assert!(lax.is_err());
    let twice = JwtAuthenticator::builder(ISSUER, AUDIENCE)
        .key(key())
        .key(key())
        .build();
    assert!(twice.is_err());
    // Debug never shows key material.
    let text = format!(
        "{:?}",
        JwtKey::hmac("k", Algorithm::HS256, SECRET).expect("key")
    );
    assert!(!text.contains("secret"), "{text}");
}

const TOPOLOGY: &str = r#"{
    "services": ["spy", "jobs"],
    "edges": [
        { "caller": "spiffe://test/worker", "callee": "spy", "permissions": ["spy.use", "spy.admin"] },
        { "caller": "spiffe://test/scheduler", "callee": "jobs", "permissions": ["jobs.run"] }
    ]
}"#;

#[test]
fn an_issuer_signs_only_what_the_topology_allows() {
    let topology = prism::auth::Topology::from_json(TOPOLOGY).expect("topology");
    let key = SigningKey::hmac("hs", Algorithm::HS256, SECRET).expect("key");
    let issuer = TokenIssuer::new(ISSUER, key).with_topology(topology);
    assert!(
        issuer
            .request("spiffe://test/worker", "spy")
            .permissions(["spy.use"])
            .issue()
            .is_ok()
    );
    let beyond = issuer
        .request("spiffe://test/worker", "spy")
        .permissions(["spy.use", "spy.read"])
        .issue()
        .expect_err("beyond the edge");
    assert!(beyond.reason().contains("`spy.read`"), "{beyond}");
    let no_edge = issuer
        .request("spiffe://test/worker", "jobs")
        .permissions(["jobs.run"])
        .issue()
        .expect_err("no edge");
    assert!(no_edge.reason().contains("no edge"), "{no_edge}");

    // Malformed topologies are refused, naming the problem.
    for (bad, says) in [
        ("{", "not JSON"),
        (
            r#"{"services": ["a"], "edges": [{"caller": "x", "callee": "b", "permissions": []}]}"#,
            "not one of its services",
        ),
        (
            r#"{"services": ["a"], "edges": [{"caller": "x", "permissions": []}]}"#,
            "`callee`",
        ),
        (
            r#"{"services": ["a"], "edges": [{"caller": "x", "callee": "a", "permissions": []}, {"caller": "x", "callee": "a", "permissions": []}]}"#,
            "twice",
        ),
    ] {
        let error = prism::auth::Topology::from_json(bad).expect_err(bad);
        assert!(error.reason().contains(says), "{bad}: {error}");
    }
}

#[tokio::test]
async fn the_manifest_and_the_topology_are_checked_against_each_other() {
    let server = Server::builder()
        .add_service(SpyServer::new(Spies(Arc::default())))
        .allow_unauthenticated()
        .build()
        .expect("server");
    let manifest = server.manifest();
    let json = manifest.to_json();
    let kinds: Vec<(&str, &str, &str)> = json["ops"]
        .as_array()
        .expect("ops")
        .iter()
        .map(|op| {
            (
                op["name"].as_str().expect("name"),
                op["kind"].as_str().expect("kind"),
                op["permission"].as_str().expect("permission"),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("tests.Spy/chat", "bidi", "spy.use"),
            ("tests.Spy/echo", "unary", "spy.use"),
            ("tests.Spy/feed", "client_stream", "spy.use"),
            ("tests.Spy/watch", "server_stream", "spy.use"),
            ("tests.Spy/whoami", "unary", "spy.read"),
        ]
    );
    assert_eq!(json["ops"][0]["transport"], "binary");
    assert_eq!(json["ops"][0]["codecs"], json!([SpyCodec::ID.get()]));

    let topology = prism::auth::Topology::from_json(TOPOLOGY).expect("topology");
    let report = topology.check("spy", manifest);
    assert_eq!(report.ungranted, ["spy.read"]);
    assert_eq!(report.unknown.len(), 1);
    assert_eq!(report.unknown[0].permission, "spy.admin");
    assert!(!report.is_clean());
    assert!(
        report.to_string().contains("no edge grants `spy.read`"),
        "{report}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_granting_permissions_the_server_does_not_declare_is_refused() {
    let setup = start(Transport::Mem).await;
    let mut claims = good_claims();
    claims["permissions"] = json!(["spy.use", "spy.admin"]);
    match connect(&setup, hs256("hs", &claims)).await {
        Err(ConnectError::Rejected { code, reason }) => {
            assert_eq!(code, Code::Unauthenticated, "{reason}");
            assert!(reason.contains("spy.admin"), "{reason}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    setup.fx.shutdown().await.expect("clean shutdown");
    assert_no_panics();
}

mod fuzz {
    //! The verifier against arbitrary input: never a panic, never an
    //! identity from anything but the exact signed token.

    use std::time::SystemTime;

    use proptest::prelude::*;

    use super::{AUDIENCE, ISSUER, SECRET, good_claims, hs256};
    use prism::auth::jwt::{Algorithm, JwtAuthenticator, JwtKey};
    use prism::transport::{LinkInfo, PeerAddr};

    fn authenticator() -> JwtAuthenticator {
        JwtAuthenticator::builder(ISSUER, AUDIENCE)
            .key(JwtKey::hmac("hs", Algorithm::HS256, SECRET).expect("key"))
            .build()
            .expect("jwt")
    }

    fn link() -> LinkInfo {
        LinkInfo::new(prism::mem::KIND, PeerAddr::Mem)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn arbitrary_text_is_refused(text in ".{0,400}") {
            prop_assert!(authenticator().verify(&text, &link(), SystemTime::now()).is_err());
        }

        #[test]
        fn arbitrary_three_part_tokens_are_refused(
            head in "[A-Za-z0-9_-]{0,80}",
            body in "[A-Za-z0-9_-]{0,200}",
            signature in "[A-Za-z0-9_-]{0,90}",
        ) {
            let token = format!("{head}.{body}.{signature}");
            prop_assert!(authenticator().verify(&token, &link(), SystemTime::now()).is_err());
        }

        #[test]
        fn any_change_to_a_good_token_is_refused(position in any::<prop::sample::Index>(), byte in any::<u8>()) {
            let good = hs256("hs", &good_claims());
            let auth = authenticator();
            prop_assert!(auth.verify(&good, &link(), SystemTime::now()).is_ok());
            let mut bytes = good.clone().into_bytes();
            let at = position.index(bytes.len());
            prop_assume!(bytes[at] != byte);
            bytes[at] = byte;
            if let Ok(changed) = String::from_utf8(bytes) {
                // Base64url has a few encodings that decode to the same
                // bytes (the unused low bits of the last character);
                // anything the verifier accepts must decode to the very
                // same header, claims and signature.
                if auth.verify(&changed, &link(), SystemTime::now()).is_ok() {
                    let (a, b) = (segments(&good), segments(&changed));
                    prop_assert_eq!(a, b);
                }
            }
        }
    }

    fn segments(token: &str) -> Vec<Vec<u8>> {
        use base64::Engine as _;
        token
            .split('.')
            .map(|part| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(part)
                    .unwrap_or_default()
            })
            .collect()
    }
}
