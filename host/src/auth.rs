//! Who is calling: client tokens (JWT) for sockets, API keys for backend services.

use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::{ConditionallySelectable, ConstantTimeEq};
use switchyard_core::{RoomGrants, UserId};

/// A key file or secret that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The PEM file could not be read.
    #[error("cannot read JWT public key {0}: {1}")]
    Read(String, String),
    /// The PEM holds neither an RSA nor an EC public key.
    #[error(
        "JWT public key {0} is neither an RSA (RS256) nor an EC P-256 (ES256) public key in PEM form"
    )]
    Pem(String),
}

/// The keys client tokens are checked with: an HS256 secret, a public key, or both.
#[derive(Clone)]
pub struct JwtKeys {
    keys: Vec<(DecodingKey, Validation)>,
}

fn validation(alg: Algorithm) -> Validation {
    let mut v = Validation::new(alg);
    v.set_required_spec_claims(&["exp", "sub"]);
    // The library's default leeway is 60 s; an expired token must be refused when it expires.
    v.leeway = 0;
    // RFC 7519 4.1.5: a token is not accepted before its `nbf` (also with zero leeway).
    v.validate_nbf = true;
    v
}

impl JwtKeys {
    /// From an HS256 secret and/or a PEM public key (`(name for errors, bytes)`).
    pub fn new(
        secret: Option<&str>,
        public_pem: Option<(String, &[u8])>,
    ) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        if let Some(secret) = secret {
            keys.push((
                DecodingKey::from_secret(secret.as_bytes()),
                validation(Algorithm::HS256),
            ));
        }
        if let Some((name, pem)) = public_pem {
            let key = if let Ok(k) = DecodingKey::from_rsa_pem(pem) {
                (k, validation(Algorithm::RS256))
            } else if let Ok(k) = DecodingKey::from_ec_pem(pem) {
                (k, validation(Algorithm::ES256))
            } else {
                return Err(KeyError::Pem(name));
            };
            keys.push(key);
        }
        Ok(Self { keys })
    }

    /// Checks a token: signature, algorithm, expiry, a valid `sub` and valid `rooms` patterns.
    pub fn verify(&self, token: &str) -> Result<AuthedUser, AuthError> {
        let header = decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        let (key, validation) = self
            .keys
            .iter()
            .find(|(_, v)| v.algorithms.contains(&header.alg))
            .ok_or(AuthError::Algorithm(header.alg))?;
        let claims = decode::<Claims>(token, key, validation)
            .map_err(|e| AuthError::Invalid(e.to_string()))?
            .claims;
        let user: UserId = claims
            .sub
            .parse()
            .map_err(|e: switchyard_core::IdError| AuthError::Claims(e.to_string()))?;
        let grants = RoomGrants::parse(user, claims.rooms.unwrap_or_default())
            .map_err(|e| AuthError::Claims(e.to_string()))?;
        Ok(AuthedUser { grants })
    }
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    #[serde(default)]
    rooms: Option<Vec<String>>,
}

/// A verified token's user and room grants.
#[derive(Debug, Clone)]
pub struct AuthedUser {
    /// The user's own room plus the token's room patterns.
    pub grants: RoomGrants,
}

impl AuthedUser {
    /// The user id (`sub`).
    pub fn user(&self) -> &UserId {
        self.grants.user()
    }
}

/// Why a token was refused. Clients only ever see `unauthorized`; the detail is for logs.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// No token in the handshake.
    #[error("no token in the handshake's auth payload")]
    Missing,
    /// Not a JWT.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// Signed with an algorithm no configured key accepts.
    #[error("no key is configured for algorithm {0:?}")]
    Algorithm(Algorithm),
    /// Bad signature, expired, or missing claims.
    #[error("invalid token: {0}")]
    Invalid(String),
    /// `sub` or `rooms` break the rules.
    #[error("invalid claims: {0}")]
    Claims(String),
}

/// Backend API keys, compared in constant time.
#[derive(Clone)]
pub struct ApiKeys {
    // Digests, so every comparison is over 32 bytes whatever the key lengths.
    digests: Vec<[u8; 32]>,
}

impl ApiKeys {
    /// From the configured keys.
    pub fn new<I: IntoIterator<Item = S>, S: AsRef<str>>(keys: I) -> Self {
        Self {
            digests: keys
                .into_iter()
                .map(|k| Sha256::digest(k.as_ref().as_bytes()).into())
                .collect(),
        }
    }

    /// Whether `candidate` is one of the keys. Every key is compared, so timing does not
    /// reveal which one matched or how much of it.
    pub fn check(&self, candidate: &str) -> bool {
        self.matching(candidate).is_some()
    }

    /// Which of the keys `candidate` is (its index in the configured list), for per-key rate
    /// limits. Every key is compared, and the index is picked without a branch on the secret.
    pub fn matching(&self, candidate: &str) -> Option<usize> {
        let d: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        let (found, index) = self.digests.iter().enumerate().fold(
            (subtle::Choice::from(0), 0u64),
            |(found, index), (i, k)| {
                let eq = k.ct_eq(&d);
                let i = u64::try_from(i).unwrap_or(u64::MAX);
                (found | eq, u64::conditional_select(&index, &i, eq))
            },
        );
        bool::from(found).then(|| usize::try_from(index).unwrap_or(usize::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jsonwebtoken::{EncodingKey, Header, encode};

    fn token(secret: &str, claims: serde_json::Value) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap()
    }
    fn exp(offset: i64) -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp() + offset
    }

    #[test]
    fn hs256_tokens() {
        let keys = JwtKeys::new(Some("s3cret"), None).unwrap();
        let ok = keys
            .verify(&token(
                "s3cret",
                serde_json::json!({"sub":"u1","exp":exp(60),"rooms":["ticket_*"]}),
            ))
            .unwrap();
        assert_eq!(ok.user().as_str(), "u1");
        let valid_since = token(
            "s3cret",
            serde_json::json!({"sub":"u1","exp":exp(60),"nbf":exp(-1)}),
        );
        assert!(
            keys.verify(&valid_since).is_ok(),
            "an nbf in the past is fine"
        );
        assert!(ok.grants.allows(&"ticket_5".parse().unwrap()));
        for (why, t) in [
            (
                "wrong secret",
                token("other", serde_json::json!({"sub":"u1","exp":exp(60)})),
            ),
            (
                "expired",
                token("s3cret", serde_json::json!({"sub":"u1","exp":exp(-1)})),
            ),
            ("no exp", token("s3cret", serde_json::json!({"sub":"u1"}))),
            (
                "no sub",
                token("s3cret", serde_json::json!({"exp":exp(60)})),
            ),
            (
                "bad sub",
                token("s3cret", serde_json::json!({"sub":"a b","exp":exp(60)})),
            ),
            (
                "bad pattern",
                token(
                    "s3cret",
                    serde_json::json!({"sub":"u1","exp":exp(60),"rooms":["tick*"]}),
                ),
            ),
            ("garbage", "not.a.jwt".to_owned()),
            (
                "not yet valid",
                token(
                    "s3cret",
                    serde_json::json!({"sub":"u1","exp":exp(3600),"nbf":exp(600)}),
                ),
            ),
        ] {
            assert!(keys.verify(&t).is_err(), "{why} must be refused");
        }
    }

    #[test]
    fn api_keys() {
        let keys = ApiKeys::new(["alpha", "beta-long-key"]);
        assert!(keys.check("alpha"));
        assert!(keys.check("beta-long-key"));
        assert!(!keys.check("alph"));
        assert!(!keys.check(""));
        assert_eq!(keys.matching("alpha"), Some(0));
        assert_eq!(keys.matching("beta-long-key"), Some(1));
        assert_eq!(keys.matching("gamma"), None);
    }
}
