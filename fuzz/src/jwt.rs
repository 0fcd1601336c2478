//! `jwt`: the host's token check (`switchyard_host::auth::JwtKeys::verify`) on untrusted
//! token bytes, with an HS256 secret and an EC public key configured. The first byte chooses
//! what the rest is:
//! - 0: the token text itself (any bytes; signatures cannot be forged, so this explores the
//!   header, the base64 and the algorithm choice);
//! - 1: the claims JSON, signed with the known secret under a fixed HS256 header, so the
//!   claims reader (`exp`, `nbf`, `sub`, `rooms` and the room patterns) sees arbitrary JSON;
//! - 2: `header JSON \n claims JSON`, both base64url-encoded as given and signed with the
//!   secret, so the header reader sees arbitrary JSON too.

use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use serde::Deserialize;
use serde_json::Value;
use switchyard_core::{Room, RoomPattern};

// The host's own source file, compiled here rather than through the `switchyard-host` crate:
// the same code, without building the server around it (fuzz/Cargo.toml says why). auth.rs
// uses nothing else of the host, and if it ever does, this stops compiling.
#[allow(dead_code)]
#[path = "../../host/src/auth.rs"]
mod auth;
use auth::JwtKeys;

const SECRET: &str = "fuzz-secret";
/// A throwaway P-256 public key (its private half was never kept): tokens that name ES256 are
/// checked against it, and none can pass.
const EC_PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----
MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEa3znp8aFJwcYWOUTVpZfK8YAslEU
76fJk+ObWnCuFs04lvfvtPToUti7MuLzD2StmFappg91PiTH0i2sY6f7CQ==
-----END PUBLIC KEY-----
";
/// The claims the host reads (`sub`, `exp`, `rooms`; `nbf` through jsonwebtoken), each kept as
/// written; every other claim is skipped unread, as the host skips it.
#[derive(Debug, Deserialize)]
struct Checked {
    sub: Value,
    exp: Value,
    #[serde(default)]
    nbf: Option<Value>,
    #[serde(default)]
    rooms: Option<Value>,
}

const HS256_HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

fn keys() -> &'static JwtKeys {
    static KEYS: OnceLock<JwtKeys> = OnceLock::new();
    KEYS.get_or_init(|| {
        JwtKeys::new(
            Some(SECRET),
            Some(("fuzz EC key".to_owned(), EC_PUBLIC_PEM.as_bytes())),
        )
        .expect("the fuzz keys load")
    })
}

fn signed(header: &[u8], claims: &[u8]) -> String {
    let message = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(claims)
    );
    let key = EncodingKey::from_secret(SECRET.as_bytes());
    let signature = jsonwebtoken::crypto::sign(message.as_bytes(), &key, Algorithm::HS256)
        .expect("HS256 signs any message");
    format!("{message}.{signature}")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

pub fn jwt(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let token = match mode % 3 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        1 => signed(HS256_HEADER.as_bytes(), rest),
        _ => {
            let (header, claims) = match rest.iter().position(|b| *b == b'\n') {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, &b""[..]),
            };
            signed(header, claims)
        }
    };
    let before = now_secs();
    let verified = keys().verify(&token);
    let after = now_secs();
    let Ok(user) = verified else {
        return;
    };
    // What passed must hold what was checked.
    let claims = token
        .split('.')
        .nth(1)
        .and_then(|c| URL_SAFE_NO_PAD.decode(c).ok())
        .expect("an accepted token has base64url claims");
    // Read back only the claims the host reads, the way it reads them: serde skips any other
    // claim without checking it (an out-of-range number, invalid UTF-8 in a string), so a
    // whole-document `Value` would refuse tokens the host rightly accepts.
    let claims: Checked = serde_json::from_slice(&claims).expect("accepted claims are JSON");
    assert_eq!(
        claims.sub.as_str(),
        Some(user.user().as_str()),
        "the user is not the token's sub: {claims:?}"
    );
    let exp = claims
        .exp
        .as_f64()
        .expect("an accepted token has a numeric exp");
    assert!(
        exp >= before as f64,
        "accepted expired token: exp {exp} < {before}: {claims:?}"
    );
    // The socket's expiry is the token's `exp`, capped at the last instant a timestamp writes.
    const LAST_MS: u128 = 253_402_300_799_999;
    let exp_secs = claims
        .exp
        .as_u64()
        .expect("an accepted exp is a whole number");
    let exp_ms = (u128::from(exp_secs) * 1000).min(LAST_MS);
    assert_eq!(u128::try_from(user.exp.unix_millis()).ok(), Some(exp_ms));
    if let Some(nbf) = claims.nbf.as_ref().filter(|v| !v.is_null()) {
        let nbf = nbf.as_f64().expect("an accepted nbf is numeric");
        assert!(
            nbf <= after as f64,
            "accepted before its nbf {nbf} > {after}: {claims:?}"
        );
    }
    let rooms: Vec<&str> = match &claims.rooms {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().expect("accepted rooms are strings"))
            .collect(),
        Some(other) => panic!("accepted a rooms claim that is not an array: {other}"),
    };
    let patterns = user.grants.patterns();
    assert_eq!(patterns.len(), rooms.len());
    for (p, s) in patterns.iter().zip(&rooms) {
        assert_eq!(p.to_string(), *s);
        assert_eq!(s.parse::<RoomPattern>().as_ref(), Ok(p));
    }
    assert!(user.grants.allows(&Room::User(user.user().clone())));
}
