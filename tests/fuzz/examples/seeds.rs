//! Writes the seed inputs of `jwt_proof` into `seeds/jwt_proof/` (kept in
//! git, so CI's short runs start from tokens that pass every check): good
//! headers and claims for both keys, bound and unbound, the same as
//! ready-signed proofs, and near misses (an expired token, two audiences,
//! `alg: none`, a key id the server does not know).
//!
//! ```sh
//! cargo run --example seeds   # from tests/fuzz; no nightly needed
//! ```

use std::fs;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};

// As in fuzz_targets/jwt_proof.rs.
const NOW: u64 = 1_800_000_000;
const SECRETS: [&[u8]; 2] = [
    b"the first fuzz secret, long enough for HS256",
    b"the second fuzz secret, long enough for HS384 too.",
];

fn claims(subject: &str) -> Value {
    json!({
        "iss": "https://issuer.test",
        "sub": subject,
        "aud": "fuzz",
        "exp": NOW + 600,
        "nbf": NOW - 10,
        "iat": NOW - 10,
        "token_type": "prism-access",
        "tenant": "acme",
        "authz_version": 3,
        "permissions": ["model.infer", "model.read"],
    })
}

fn header(alg: &str, kid: &str) -> Value {
    json!({ "alg": alg, "kid": kid, "typ": "JWT" })
}

/// A signed-mode input: the mode byte, the header, 0, the claims.
fn signed(mode: u8, header: &Value, claims: &Value) -> Vec<u8> {
    let mut input = vec![mode | 1];
    input.extend_from_slice(header.to_string().as_bytes());
    input.push(0);
    input.extend_from_slice(claims.to_string().as_bytes());
    input
}

/// A raw-mode input: the mode byte and a token signed as the key says.
fn raw(mode: u8, header: &Value, claims: &Value, secret: &[u8], alg: Algorithm) -> Vec<u8> {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    );
    let signature =
        jsonwebtoken::crypto::sign(input.as_bytes(), &EncodingKey::from_secret(secret), alg)
            .expect("sign");
    let mut out = vec![mode & !1];
    out.extend_from_slice(format!("{input}.{signature}").as_bytes());
    out
}

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("seeds/jwt_proof");
    fs::create_dir_all(&dir).expect("create the seed directory");
    let worker = "spiffe://test/worker";
    let hs = header("HS256", "hs");
    let hs2 = header("HS384", "hs2");
    let mut expired = claims(worker);
    expired["exp"] = json!(NOW - 600);
    let mut two_audiences = claims(worker);
    two_audiences["aud"] = json!(["fuzz", "other"]);
    let seeds: Vec<(&str, Vec<u8>)> = vec![
        ("signed-hs", signed(0, &hs, &claims("svc"))),
        ("signed-hs2", signed(2 << 1, &hs2, &claims("svc"))),
        ("signed-bound", signed(0x10, &hs, &claims(worker))),
        ("signed-corrupt", signed(0x08, &hs, &claims(worker))),
        ("signed-expired", signed(0, &hs, &expired)),
        ("signed-audiences", signed(0, &hs, &two_audiences)),
        (
            "signed-none",
            signed(0, &header("none", "hs"), &claims("svc")),
        ),
        (
            "signed-unknown-kid",
            signed(0, &header("HS256", "k9"), &claims("svc")),
        ),
        (
            "raw-hs",
            raw(0, &hs, &claims("svc"), SECRETS[0], Algorithm::HS256),
        ),
        (
            "raw-hs2",
            raw(0, &hs2, &claims("svc"), SECRETS[1], Algorithm::HS384),
        ),
        (
            "raw-bound",
            raw(0x10, &hs, &claims(worker), SECRETS[0], Algorithm::HS256),
        ),
        ("raw-not-utf8", vec![0, 0xff, 0xfe, b'.', 0xc3]),
    ];
    for (name, bytes) in &seeds {
        fs::write(dir.join(name), bytes).expect("write a seed");
    }
    println!("wrote {} seeds to {}", seeds.len(), dir.display());
}
