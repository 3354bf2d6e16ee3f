//! The JWT proof verifier against arbitrary proofs, and against tokens
//! whose header and claims the fuzzer writes and the target signs, so that
//! inputs get past the signature and reach every claim check.
//!
//! Input: byte 0 is the mode, the rest the body.
//!
//! - bit 0 clear: the body is the proof as it arrives in a HELLO or AUTH
//!   frame (any bytes).
//! - bit 0 set: the body is `header JSON 0x00 claims JSON`; the target
//!   base64url-encodes both and signs them with the signer bits 1–2 pick
//!   (the `hs` secret with HS256 or HS384, the `hs2` secret with HS384 or
//!   HS256); bit 3 flips one bit of the signature.
//! - bit 4: the link proved the peer `spiffe://test/worker` (mTLS) and the
//!   authenticator binds tokens to it.
//!
//! Besides "never panics": the verifier accepts a token only when its
//! signature is the one the key its `kid` names makes with that key's one
//! algorithm, and then every claim rule holds against the token's own JSON
//! (issuer, one audience, a non-empty subject, `exp` past the clock and
//! `nbf` before it within the leeway, the token type, the tenant, the authz
//! version, the peer binding), and the identity carries exactly the
//! token's subject, issuer, key id, tenant, version and permissions.

#![no_main]

use std::collections::BTreeSet;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::EncodingKey;
use libfuzzer_sys::fuzz_target;
use prism::auth::jwt::{Algorithm, JwtAuthenticator, JwtKey};
use prism::auth::{Authenticator, AuthzVersion, ChannelIdentity, Proof};
use prism::transport::{LinkInfo, PeerAddr};
use serde_json::Value;

const ISSUER: &str = "https://issuer.test";
const AUDIENCE: &str = "fuzz";
const TENANT: &str = "acme";
const VERSION: u64 = 3;
const PEER: &str = "spiffe://test/worker";
const LEEWAY: u64 = 30;
/// The verifier's clock: fixed, so a crash replays.
const NOW: u64 = 1_800_000_000;
/// Two keys, one algorithm each.
const KEYS: [(&str, Algorithm, &[u8]); 2] = [
    (
        "hs",
        Algorithm::HS256,
        b"the first fuzz secret, long enough for HS256",
    ),
    (
        "hs2",
        Algorithm::HS384,
        b"the second fuzz secret, long enough for HS384 too.",
    ),
];
/// What the signed mode signs with: (secret of key, algorithm).
const SIGNERS: [(usize, Algorithm); 4] = [
    (0, Algorithm::HS256),
    (0, Algorithm::HS384),
    (1, Algorithm::HS384),
    (1, Algorithm::HS256),
];

fn authenticator(bind: bool) -> JwtAuthenticator {
    let mut builder = JwtAuthenticator::builder(ISSUER, AUDIENCE)
        .tenant(TENANT)
        .authz_version(AuthzVersion::new(VERSION))
        .leeway(Duration::from_secs(LEEWAY));
    for (id, algorithm, secret) in KEYS {
        builder = builder.key(JwtKey::hmac(id, algorithm, secret).expect("key"));
    }
    if bind {
        builder = builder.bind_to_peer();
    }
    builder.build().expect("authenticator")
}

fn sign(message: &[u8], secret: &[u8], algorithm: Algorithm) -> String {
    jsonwebtoken::crypto::sign(message, &EncodingKey::from_secret(secret), algorithm)
        .expect("HMAC signs anything")
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, body)) = data.split_first() else {
        return;
    };
    let bind = mode & 0x10 != 0;
    let link = if bind {
        LinkInfo::new(prism::mem::KIND, PeerAddr::Mem).with_peer_identity(PEER)
    } else {
        LinkInfo::new(prism::mem::KIND, PeerAddr::Mem)
    };
    let auth = authenticator(bind);
    let now = UNIX_EPOCH + Duration::from_secs(NOW);
    let token = if mode & 1 == 0 {
        match std::str::from_utf8(body) {
            Ok(text) => text.to_owned(),
            Err(_) => {
                // Through the trait, as the handshake calls it.
                let verdict = auth.authenticate(Proof::from_bytes(body.to_vec()), &link);
                let mut verdict = pin!(verdict);
                let Poll::Ready(result) = verdict
                    .as_mut()
                    .poll(&mut Context::from_waker(Waker::noop()))
                else {
                    panic!("the JWT verdict is not ready at once");
                };
                assert!(result.is_err(), "a proof that is not UTF-8 was accepted");
                return;
            }
        }
    } else {
        let split = body.iter().position(|&b| b == 0).unwrap_or(body.len());
        let (header, claims) = (&body[..split], body.get(split + 1..).unwrap_or(&[]));
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header),
            URL_SAFE_NO_PAD.encode(claims)
        );
        let (key, algorithm) = SIGNERS[usize::from((mode >> 1) & 3)];
        let mut signature = URL_SAFE_NO_PAD
            .decode(sign(input.as_bytes(), KEYS[key].2, algorithm))
            .expect("base64");
        if mode & 0x08 != 0 {
            let at = usize::from(mode >> 5) % signature.len();
            signature[at] ^= 1;
        }
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(signature))
    };
    if let Ok(identity) = auth.verify(&token, &link, now) {
        check_accepted(&token, &identity, bind);
    }
});

/// Everything that must hold of a token the verifier accepted.
fn check_accepted(token: &str, identity: &ChannelIdentity, bind: bool) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "accepted a token of {} parts", parts.len());
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .unwrap_or_else(|e| panic!("accepted a token part that is not base64url: {e}"))
    };
    let (header, claims, signature) = (decode(parts[0]), decode(parts[1]), decode(parts[2]));
    // The verifier refuses a header or claims set that is not valid JSON as
    // a whole, even in a claim it does not read.
    let json = |part: &[u8], what: &str| -> Value {
        serde_json::from_slice(part)
            .unwrap_or_else(|e| panic!("accepted a {what} that is not JSON: {e}"))
    };
    let (header, claims) = (json(&header, "header"), json(&claims, "claims set"));

    // The signature: the one the named key makes with its own algorithm.
    let kid = header["kid"]
        .as_str()
        .expect("accepted a token without a kid");
    let (id, algorithm, secret) = KEYS
        .into_iter()
        .find(|(id, ..)| *id == kid)
        .unwrap_or_else(|| panic!("accepted an unknown kid {kid:?}"));
    assert_eq!(identity.key_id(), Some(id));
    assert_eq!(
        header["alg"].as_str(),
        Some(format!("{algorithm:?}").as_str()),
        "accepted a header whose alg is not its key's"
    );
    let message = format!("{}.{}", parts[0], parts[1]);
    let expected = URL_SAFE_NO_PAD
        .decode(sign(message.as_bytes(), secret, algorithm))
        .expect("base64");
    assert_eq!(
        signature, expected,
        "accepted a signature the key did not make"
    );
    // (jsonwebtoken reads a `null` header field as absent.)
    let present = |v: &&Value| !v.is_null();
    assert!(
        header.get("crit").filter(present).is_none(),
        "accepted critical header extensions"
    );
    if let Some(typ) = header.get("typ").filter(present) {
        let typ = typ.as_str().expect("accepted a typ that is not a string");
        assert!(
            typ.eq_ignore_ascii_case("JWT") || typ.eq_ignore_ascii_case("JOSE"),
            "accepted typ {typ:?}"
        );
    }

    // The claims, as the token states them.
    assert_eq!(claims["iss"].as_str(), Some(ISSUER));
    assert_eq!(identity.issuer(), Some(ISSUER));
    let subject = claims["sub"]
        .as_str()
        .expect("accepted a token without a subject");
    assert!(!subject.is_empty(), "accepted an empty subject");
    assert_eq!(identity.subject(), subject);
    match &claims["aud"] {
        Value::String(aud) => assert_eq!(aud, AUDIENCE),
        Value::Array(auds) => {
            assert_eq!(auds.len(), 1, "accepted a token for several audiences");
            assert_eq!(auds[0].as_str(), Some(AUDIENCE));
        }
        other => panic!("accepted the audience {other:?}"),
    }
    assert_eq!(identity.audience(), Some(AUDIENCE));
    let exp = claims["exp"]
        .as_u64()
        .expect("accepted an exp that is not a u64");
    assert!(
        exp.saturating_add(LEEWAY) > NOW,
        "accepted an expired token"
    );
    assert_eq!(
        identity.expires_at(),
        Some(UNIX_EPOCH + Duration::from_secs(exp + LEEWAY))
    );
    if let Some(nbf) = claims.get("nbf").filter(|nbf| !nbf.is_null()) {
        let nbf = nbf.as_u64().expect("accepted an nbf that is not a u64");
        assert!(
            nbf <= NOW + LEEWAY,
            "accepted a token that is not valid yet"
        );
    }
    assert_eq!(claims["token_type"].as_str(), Some("prism-access"));
    assert_eq!(identity.token_type(), Some("prism-access"));
    assert_eq!(claims["tenant"].as_str(), Some(TENANT));
    assert_eq!(identity.tenant(), Some(TENANT));
    assert_eq!(claims["authz_version"].as_u64(), Some(VERSION));
    assert_eq!(identity.authz_version(), Some(VERSION));
    if bind {
        assert_eq!(
            subject, PEER,
            "accepted a token not bound to the link's identity"
        );
        assert_eq!(identity.peer(), Some(PEER));
    }
    let stated: BTreeSet<&str> = match claims.get("permissions") {
        None | Some(Value::Null) => BTreeSet::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|p| {
                p.as_str()
                    .expect("accepted a permission that is not a string")
            })
            .collect(),
        Some(other) => panic!("accepted the permissions {other:?}"),
    };
    let granted: BTreeSet<&str> = identity.permissions().collect();
    assert_eq!(granted, stated);
    assert!(!identity.is_expired(SystemTime::UNIX_EPOCH + Duration::from_secs(NOW)));
}
