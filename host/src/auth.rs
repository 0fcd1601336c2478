//! Who is calling: client tokens (JWT) for sockets, API keys for backend services.

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use switchyard_core::{RoomGrants, Timestamp, UserId};

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
        Self::several(secret.as_slice(), public_pem.as_slice())
    }

    /// From any number of HS256 secrets and PEM public keys. A token is accepted when any key
    /// of its algorithm verifies it, so a new key can be added before tokens signed with it
    /// appear and the old one removed once its tokens have expired: rotation without downtime.
    pub fn several(secrets: &[&str], public_pems: &[(String, &[u8])]) -> Result<Self, KeyError> {
        let mut keys = Vec::new();
        for secret in secrets {
            keys.push((
                DecodingKey::from_secret(secret.as_bytes()),
                validation(Algorithm::HS256),
            ));
        }
        for (name, pem) in public_pems {
            let key = if let Ok(k) = DecodingKey::from_rsa_pem(pem) {
                (k, validation(Algorithm::RS256))
            } else if let Ok(k) = DecodingKey::from_ec_pem(pem) {
                (k, validation(Algorithm::ES256))
            } else {
                return Err(KeyError::Pem(name.clone()));
            };
            keys.push(key);
        }
        Ok(Self { keys })
    }

    /// Checks a token: signature, algorithm, expiry and `nbf`, a valid `sub` and valid `rooms`
    /// patterns. The same check serves the handshake and `refresh`.
    pub fn verify(&self, token: &str) -> Result<AuthedUser, AuthError> {
        let header = decode_header(token).map_err(|e| AuthError::Malformed(e.to_string()))?;
        let mut outcome = None;
        // Only the keys of the header's algorithm: an HS256 token is never checked against a
        // public key used as a secret (algorithm confusion).
        for (key, validation) in self
            .keys
            .iter()
            .filter(|(_, v)| v.algorithms.contains(&header.alg))
        {
            match decode::<Claims>(token, key, validation) {
                // Another key of the same algorithm may have signed it (rotation).
                Err(e) if *e.kind() == ErrorKind::InvalidSignature => outcome = Some(Err(e)),
                other => {
                    outcome = Some(other);
                    break;
                }
            }
        }
        let claims = outcome
            .ok_or(AuthError::Algorithm(header.alg))?
            .map_err(|e| AuthError::Invalid(e.to_string()))?
            .claims;
        let user: UserId = claims
            .sub
            .parse()
            .map_err(|e: switchyard_core::IdError| AuthError::Claims(e.to_string()))?;
        let grants = RoomGrants::parse(user, claims.rooms.unwrap_or_default())
            .map_err(|e| AuthError::Claims(e.to_string()))?;
        Ok(AuthedUser {
            grants,
            exp: exp_timestamp(claims.exp),
        })
    }
}

/// `exp` (whole seconds, as the validation above reads it) as an instant. One past the year
/// 9999, which no timestamp can write, counts as the end of 9999: a socket is never
/// disconnected for a token that expires after that.
fn exp_timestamp(exp: u64) -> Timestamp {
    const LAST_MS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    let ms = i64::try_from(exp)
        .ok()
        .and_then(|s| s.checked_mul(1000))
        .map_or(LAST_MS, |ms| ms.min(LAST_MS));
    Timestamp::from_unix_millis(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    /// Required and checked by the validation; read again here for the socket's expiry.
    exp: u64,
    #[serde(default)]
    rooms: Option<Vec<String>>,
}

/// A verified token's user, room grants and expiry.
#[derive(Debug, Clone)]
pub struct AuthedUser {
    /// The user's own room plus the token's room patterns.
    pub grants: RoomGrants,
    /// The token's `exp`: when a socket holding it is disconnected (unless it refreshes).
    pub exp: Timestamp,
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
        let d: [u8; 32] = Sha256::digest(candidate.as_bytes()).into();
        self.digests
            .iter()
            .fold(subtle::Choice::from(0), |acc, k| acc | k.ct_eq(&d))
            .into()
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
        let at = exp(60);
        let ok_exp = keys
            .verify(&token("s3cret", serde_json::json!({"sub":"u1","exp":at})))
            .unwrap();
        assert_eq!(
            ok_exp.exp.unix_millis(),
            at * 1000,
            "exp is kept to the second"
        );
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
    fn several_secrets_rotate_without_downtime() {
        let keys = JwtKeys::several(&["new", "old"], &[]).unwrap();
        let claims = serde_json::json!({"sub":"u1","exp":exp(60)});
        for secret in ["new", "old"] {
            let user = keys.verify(&token(secret, claims.clone()));
            assert!(user.is_ok(), "a token signed with {secret} is accepted");
        }
        assert!(matches!(
            keys.verify(&token("retired", claims)),
            Err(AuthError::Invalid(_))
        ));
        // The key that matches decides: an expired token signed with the second secret is
        // refused for its expiry, not reported as a bad signature.
        let expired = token("old", serde_json::json!({"sub":"u1","exp":exp(-1)}));
        match keys.verify(&expired) {
            Err(AuthError::Invalid(why)) => assert!(why.contains("Expired"), "{why}"),
            other => panic!("expected an expiry refusal, got {other:?}"),
        }
    }

    #[test]
    fn exp_beyond_the_year_9999_is_the_end_of_9999() {
        assert_eq!(
            exp_timestamp(1_700_000_000).to_string(),
            "2023-11-14T22:13:20.000Z"
        );
        for far in [253_402_300_800, u64::MAX] {
            assert_eq!(exp_timestamp(far).to_string(), "9999-12-31T23:59:59.999Z");
        }
    }

    #[test]
    fn api_keys() {
        let keys = ApiKeys::new(["alpha", "beta-long-key"]);
        assert!(keys.check("alpha"));
        assert!(keys.check("beta-long-key"));
        assert!(!keys.check("alph"));
        assert!(!keys.check(""));
    }
}
