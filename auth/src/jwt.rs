//! JWT access-token validation against an issuer's public keys.
//!
//! The order of checks is: size and header shape → key by `kid` → algorithm allowed
//! for that key → signature → `iss`, `exp`, `nbf` (by `jsonwebtoken`) → claims parsed
//! in one pass, `aud` checked against the resource being called → stricter `exp` →
//! tenant and subject present. Nothing about the token is trusted before the
//! signature has been verified, except the `kid` and `alg` used to find the key.
//!
//! Later issues add OIDC discovery (JWKS fetched and refreshed over HTTP) and RFC 7662
//! introspection; they reuse [`KeySet`] and the claims parser, and are separate
//! [`TokenValidator`]s.
//!
//! Imports: `keys`, `claims`, `validator`, `principal`, `error`. Must not
//! import `oidc`, `introspect`, `cache` or `dev_issuer` (they build on it).

use std::time::{SystemTime, UNIX_EPOCH};

use jsonwebtoken::jwk::JwkSet;
use serde_json::value::RawValue;

use crate::claims::{Audiences, ClaimsSeed, ParsedClaims};
use crate::keys::KeySet;
use crate::{ClaimMapping, Error, Principal, TokenValidator};

/// Validates JWTs signed by one issuer (RFC 9068 access tokens, or any JWT carrying
/// the mapped claims).
///
/// Checks the signature (EdDSA, RS256/384/512, PS256/384/512, ES256, ES384), `iss`
/// (exact), `aud` (must contain the resource URL or an extra audience), `exp` and
/// `nbf` with a bounded leeway, then builds the [`Principal`] through the
/// [`ClaimMapping`]. Keys are decoded once, at construction.
#[derive(Debug)]
pub struct JwtValidator {
    issuer: String,
    keys: KeySet,
    claims: ClaimMapping,
    extra_audiences: Vec<String>,
    leeway: u64,
}

/// Default clock-skew allowance for `exp` and `nbf`.
pub const DEFAULT_LEEWAY_SECS: u64 = 60;

/// Largest leeway [`JwtValidator::with_leeway`] accepts; more would let expired
/// tokens live on noticeably, so larger values are clamped.
pub const MAX_LEEWAY_SECS: u64 = 300;

/// Longest token accepted. Real access tokens are a few KiB; the bound keeps a
/// garbage header from costing more than a memcmp.
const MAX_TOKEN_LEN: usize = 16 * 1024;

// === impl JwtValidator ===

impl JwtValidator {
    /// A validator for tokens from `issuer`, signed by one of the keys in `jwks`.
    ///
    /// Keys that cannot verify signatures (encryption keys, symmetric keys,
    /// unsupported curves, RSA under 2048 bits) are skipped with a warning; a set with
    /// no usable key, an empty issuer or an empty claim name is an error.
    pub fn new(
        issuer: impl Into<String>,
        jwks: JwkSet,
        claims: ClaimMapping,
    ) -> Result<Self, Error> {
        let issuer = issuer.into();
        if issuer.trim().is_empty() {
            return Err(Error::Malformed(
                "the issuer is empty; set it to the issuer URL the tokens carry in `iss`".into(),
            ));
        }
        claims.check()?;
        let keys = KeySet::from_jwks(&jwks, &issuer, DEFAULT_LEEWAY_SECS)?;
        Ok(Self {
            issuer,
            keys,
            claims,
            extra_audiences: Vec::new(),
            leeway: DEFAULT_LEEWAY_SECS,
        })
    }

    /// Also accepts tokens whose `aud` names one of `auds` (added to any already set).
    ///
    /// Use sparingly: a token minted for an extra audience is valid at every endpoint
    /// that accepts that audience.
    pub fn with_extra_audiences(mut self, auds: Vec<String>) -> Self {
        for aud in auds {
            if !self.extra_audiences.contains(&aud) {
                self.extra_audiences.push(aud);
            }
        }
        self
    }

    /// Sets the clock-skew leeway for `exp` and `nbf`, clamped to [`MAX_LEEWAY_SECS`].
    pub fn with_leeway(mut self, secs: u64) -> Self {
        if secs > MAX_LEEWAY_SECS {
            tracing::warn!(
                requested = secs,
                max = MAX_LEEWAY_SECS,
                "token leeway clamped to the maximum"
            );
        }
        self.leeway = secs.min(MAX_LEEWAY_SECS);
        self.keys.set_leeway(self.leeway);
        self
    }

    /// The issuer tokens must carry in `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// [`TokenValidator::validate`] without the `async`: validation is CPU-only.
    pub fn validate_sync(&self, token: &str, resource: &str) -> Result<Principal, Error> {
        if token.is_empty() {
            return Err(Error::MalformedToken("it is empty".into()));
        }
        if token.len() > MAX_TOKEN_LEN {
            return Err(Error::MalformedToken(format!(
                "it is longer than {MAX_TOKEN_LEN} bytes"
            )));
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| Error::from_jwt(&e))?;
        if header.crit.is_some() {
            // RFC 7515 §4.1.11: extensions we do not understand must not be ignored.
            return Err(Error::MalformedToken(
                "its header lists critical extensions (`crit`), which are not supported".into(),
            ));
        }
        let entry = self.keys.select(header.kid.as_deref())?;
        if !entry.validation.algorithms.contains(&header.alg) {
            return Err(Error::WrongAlgorithm {
                alg: format!("{:?}", header.alg),
            });
        }
        let data = jsonwebtoken::decode::<Box<RawValue>>(token, &entry.key, &entry.validation)
            .map_err(|e| Error::from_jwt(&e))?;

        let seed = ClaimsSeed {
            mapping: &self.claims,
            audiences: Audiences {
                resource,
                extra: &self.extra_audiences,
            },
        };
        let parsed = ParsedClaims::parse(data.claims.get(), &seed)?;

        // `jsonwebtoken` lets a token live through its `exp` second; RFC 7519 §4.1.4
        // says it must be rejected "on or after" it.
        let now = now_secs();
        let leeway = self.leeway as f64;
        match parsed.exp {
            None => return Err(Error::MissingClaim("exp".into())),
            Some(exp) if now >= exp + leeway => return Err(Error::Expired),
            Some(_) => {}
        }
        if matches!(parsed.nbf, Some(nbf) if nbf > now + leeway) {
            return Err(Error::NotYetValid);
        }
        if !parsed.aud_present {
            return Err(Error::MissingClaim("aud".into()));
        }
        if !parsed.aud_accepted {
            return Err(Error::WrongAudience);
        }
        parsed.into_principal(&self.claims)
    }
}

#[async_trait::async_trait]
impl TokenValidator for JwtValidator {
    async fn validate(&self, token: &str, resource: &str) -> Result<Principal, Error> {
        self.validate_sync(token, resource)
    }
}

/// Seconds since the Unix epoch (a clock set before 1970 reads as 0).
fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

#[cfg(test)]
mod tests;
