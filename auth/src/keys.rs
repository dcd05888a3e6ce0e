//! An issuer's public keys, decoded once and indexed by key id.
//!
//! A [`KeySet`] is built from a JWKS when a validator is created (and, once OIDC
//! discovery lands, each time the JWKS is refetched), so that per-request work is a
//! hash lookup. Each key carries the `jsonwebtoken::Validation` for its algorithm, so
//! a token can only ever be checked with the algorithm its key was published for:
//! that is what defeats `alg` confusion (HS256 "signed" with a public key, `none`).
//!
//! Keys Berth cannot or must not use are skipped with a warning rather than failing
//! the whole set, because an IdP's JWKS often also carries encryption keys or
//! algorithms we do not support. A set with no usable key at all is an error.
//!
//! Imports: only `error`. Must not import `jwt` or `oidc` (they build key
//! sets from it).

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, KeyOperations, PublicKeyUse,
    RSAKeyParameters,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::Error;

/// Decoded public keys by key id.
#[derive(Debug)]
pub(crate) struct KeySet {
    entries: Vec<KeyEntry>,
    by_kid: HashMap<String, usize>,
}

/// One usable key with the validation rules for tokens it signed.
#[derive(Debug)]
pub(crate) struct KeyEntry {
    pub(crate) key: DecodingKey,
    pub(crate) validation: Validation,
}

/// RSA algorithms accepted for an RSA key that does not name its `alg`.
const RSA_ALGORITHMS: [Algorithm; 6] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
];

/// Smallest RSA modulus accepted (NIST SP 800-131A) and the largest the `rsa` crate
/// verifies with.
const RSA_MIN_BITS: usize = 2048;
const RSA_MAX_BITS: usize = 4096;

// === impl KeySet ===

impl KeySet {
    /// Decodes every usable signature key in `jwks`; tokens must come from `issuer`.
    pub(crate) fn from_jwks(jwks: &JwkSet, issuer: &str, leeway: u64) -> Result<Self, Error> {
        let mut entries = Vec::with_capacity(jwks.keys.len());
        let mut by_kid = HashMap::with_capacity(jwks.keys.len());
        let mut skipped = Vec::new();
        for (index, jwk) in jwks.keys.iter().enumerate() {
            let kid = jwk.common.key_id.as_deref();
            let label = kid.map_or_else(|| format!("#{index} (no kid)"), |k| format!("`{k}`"));
            let entry = match decode_key(jwk, issuer, leeway) {
                Ok(entry) => entry,
                Err(reason) => {
                    tracing::warn!(key = %label, %reason, "skipping unusable key in the issuer's JWKS");
                    skipped.push(format!("key {label}: {reason}"));
                    continue;
                }
            };
            if let Some(kid) = kid {
                if by_kid.contains_key(kid) {
                    tracing::warn!(key = %label, "skipping duplicate key id in the issuer's JWKS");
                    skipped.push(format!("key {label}: duplicate key id"));
                    continue;
                }
                by_kid.insert(kid.to_owned(), entries.len());
            }
            entries.push(entry);
        }
        if entries.is_empty() {
            let why = if skipped.is_empty() {
                "it is empty".to_owned()
            } else {
                skipped.join("; ")
            };
            return Err(Error::Key(format!(
                "the key set of issuer `{issuer}` has no usable signature key ({why}); publish \
                 an RSA (2048-4096 bit), P-256/P-384 or Ed25519 public key"
            )));
        }
        Ok(Self { entries, by_kid })
    }

    /// Sets the clock-skew leeway of every key's validation rules.
    pub(crate) fn set_leeway(&mut self, leeway: u64) {
        for entry in &mut self.entries {
            entry.validation.leeway = leeway;
        }
    }

    /// The key a token's header names. A token without `kid` is accepted only when
    /// the set holds exactly one key, since guessing would mean trying several.
    pub(crate) fn select(&self, kid: Option<&str>) -> Result<&KeyEntry, Error> {
        match kid {
            Some(kid) => self
                .by_kid
                .get(kid)
                .map(|&i| &self.entries[i])
                .ok_or_else(|| Error::UnknownKey {
                    kid: kid.to_owned(),
                }),
            None if self.entries.len() == 1 => Ok(&self.entries[0]),
            None => Err(Error::MalformedToken(format!(
                "its header has no `kid` and the issuer publishes {} keys",
                self.entries.len()
            ))),
        }
    }
}

// === key decoding ===

/// Decodes one JWK, or says why it cannot be used.
fn decode_key(jwk: &Jwk, issuer: &str, leeway: u64) -> Result<KeyEntry, String> {
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return Err("it is not a signature key (`use` is not `sig`)".to_owned());
    }
    if let Some(ops) = &jwk.common.key_operations
        && !ops.contains(&KeyOperations::Verify)
    {
        return Err("its `key_ops` does not include `verify`".to_owned());
    }
    let algorithms = algorithms_for(jwk)?;
    let key = DecodingKey::from_jwk(jwk).map_err(|e| format!("cannot decode it: {e}"))?;
    // Build the verifier once now, so that a malformed EC or Ed25519 point is reported
    // here rather than as a bad signature on every request. A dummy signature must
    // fail to verify, but only a broken key makes `verify` return an error.
    jsonwebtoken::crypto::verify("AA", b"probe", &key, algorithms[0])
        .map_err(|e| format!("it is not a valid public key: {e}"))?;

    let mut validation = Validation::new(algorithms[0]);
    validation.algorithms = algorithms;
    validation.set_issuer(&[issuer]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    validation.validate_exp = true;
    validation.validate_nbf = true;
    // Audience depends on the resource being called; it is checked per request while
    // the claims are parsed.
    validation.validate_aud = false;
    validation.leeway = leeway;
    Ok(KeyEntry { key, validation })
}

/// The algorithms a key may verify, from its type, curve and optional `alg`.
fn algorithms_for(jwk: &Jwk) -> Result<Vec<Algorithm>, String> {
    let named = jwk.common.key_algorithm;
    match &jwk.algorithm {
        AlgorithmParameters::OctetKey(_) => {
            Err("symmetric (`oct`) keys are never accepted from a key set".to_owned())
        }
        AlgorithmParameters::RSA(params) => {
            check_rsa(params)?;
            match named {
                None => Ok(RSA_ALGORITHMS.to_vec()),
                Some(alg) => match to_algorithm(alg) {
                    Some(a) if RSA_ALGORITHMS.contains(&a) => Ok(vec![a]),
                    _ => Err(format!("`alg` {alg} is not an RSA signature algorithm")),
                },
            }
        }
        AlgorithmParameters::EllipticCurve(params) => {
            let alg = match params.curve {
                EllipticCurve::P256 => Algorithm::ES256,
                EllipticCurve::P384 => Algorithm::ES384,
                ref curve => return Err(format!("curve {curve:?} is not supported")),
            };
            expect_named(named, alg)?;
            Ok(vec![alg])
        }
        AlgorithmParameters::OctetKeyPair(params) => {
            if params.curve != EllipticCurve::Ed25519 {
                return Err(format!("OKP curve {:?} is not supported", params.curve));
            }
            // Checked here because the EdDSA verifier slices the key to 32 bytes and
            // would panic on a shorter one.
            match URL_SAFE_NO_PAD.decode(&params.x) {
                Ok(x) if x.len() == 32 => {}
                _ => return Err("its `x` is not a 32-byte base64url Ed25519 key".to_owned()),
            }
            expect_named(named, Algorithm::EdDSA)?;
            Ok(vec![Algorithm::EdDSA])
        }
    }
}

/// A key whose `alg` contradicts its type is unusable.
fn expect_named(named: Option<KeyAlgorithm>, alg: Algorithm) -> Result<(), String> {
    match named {
        Some(n) if to_algorithm(n) != Some(alg) => Err(format!(
            "its `alg` {n} does not match its key type ({alg:?})"
        )),
        _ => Ok(()),
    }
}

fn check_rsa(params: &RSAKeyParameters) -> Result<(), String> {
    let n = URL_SAFE_NO_PAD
        .decode(&params.n)
        .map_err(|_| "its modulus `n` is not base64url".to_owned())?;
    let e = URL_SAFE_NO_PAD
        .decode(&params.e)
        .map_err(|_| "its exponent `e` is not base64url".to_owned())?;
    let n = match n.iter().position(|&b| b != 0) {
        Some(first) => &n[first..],
        None => &[][..],
    };
    let bits = n.first().map_or(0, |&top| {
        (n.len() - 1) * 8 + (8 - top.leading_zeros() as usize)
    });
    if !(RSA_MIN_BITS..=RSA_MAX_BITS).contains(&bits) {
        return Err(format!(
            "its modulus has {bits} bits; {RSA_MIN_BITS} to {RSA_MAX_BITS} are supported"
        ));
    }
    if e.iter().all(|&b| b == 0) {
        return Err("its exponent `e` is zero".to_owned());
    }
    Ok(())
}

fn to_algorithm(alg: KeyAlgorithm) -> Option<Algorithm> {
    Some(match alg {
        KeyAlgorithm::RS256 => Algorithm::RS256,
        KeyAlgorithm::RS384 => Algorithm::RS384,
        KeyAlgorithm::RS512 => Algorithm::RS512,
        KeyAlgorithm::PS256 => Algorithm::PS256,
        KeyAlgorithm::PS384 => Algorithm::PS384,
        KeyAlgorithm::PS512 => Algorithm::PS512,
        KeyAlgorithm::ES256 => Algorithm::ES256,
        KeyAlgorithm::ES384 => Algorithm::ES384,
        KeyAlgorithm::EdDSA => Algorithm::EdDSA,
        // HMAC and encryption algorithms are never valid for a published public key.
        _ => return None,
    })
}
