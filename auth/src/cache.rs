//! A cache of validated tokens in front of any [`TokenValidator`].
//!
//! Signature checks cost tens of microseconds (EdDSA, RSA), far more than the
//! rest of a proxied call, and agents present the same token for every
//! request. A hit skips the signature check but never outlives the token:
//! each entry expires at the token's `exp` (read from the already validated
//! payload) or after `max_age`, whichever is first. Tokens without `exp` are
//! not cached. An entry is for one (token, resource) pair, so a token
//! validated for one endpoint is never accepted for another from the cache.
//!
//! The lookup runs on every request, so it neither copies the token (a JWT
//! is about a kilobyte) nor hashes all of it: the map is keyed by the token,
//! hashed by [`TailHasher`] over its last [`HASHED_TAIL`] bytes (for a JWT,
//! its signature) and its length, with a per-process random SipHash key.
//! Equality still compares the whole token. This does not weaken the cache
//! against collisions: only validated tokens are inserted, so an attacker
//! cannot fill a bucket, and a token that shares another's tail is merely
//! compared with it and found different.
//!
//! Imports: `validator`, `principal`, `error`. Must not import a concrete
//! validator (`jwt`, `oidc`): it wraps any of them.

use std::collections::hash_map::{DefaultHasher, RandomState};
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use dashmap::DashMap;

use crate::{Error, Principal, TokenValidator};

/// How many trailing bytes of a token its hash covers.
const HASHED_TAIL: usize = 32;

/// Resources one token may be cached for at once (an agent calling a few
/// endpoints with one token); a further one replaces the oldest.
const RESOURCES_PER_TOKEN: usize = 4;

/// Validated tokens, bounded in count and age.
pub struct CachingValidator<V> {
    inner: V,
    entries: DashMap<Box<str>, Vec<Entry>, TailHasherBuilder>,
    max_entries: usize,
    max_age: Duration,
}

/// One token validated for one resource.
struct Entry {
    resource: Box<str>,
    principal: Principal,
    exp_unix: u64,
    inserted: Instant,
}

// === impl CachingValidator ===

impl<V: TokenValidator> CachingValidator<V> {
    /// Caches up to `max_entries` tokens for at most `max_age` each.
    pub fn new(inner: V, max_entries: usize, max_age: Duration) -> Self {
        CachingValidator {
            inner,
            entries: DashMap::with_hasher(TailHasherBuilder(RandomState::new())),
            max_entries: max_entries.max(1),
            max_age,
        }
    }

    /// Number of cached tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when nothing is cached.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn cached(&self, token: &str, resource: &str) -> Option<Principal> {
        let entries = self.entries.get(token)?;
        let e = entries.iter().find(|e| &*e.resource == resource)?;
        (unix_now() < e.exp_unix && e.inserted.elapsed() < self.max_age)
            .then(|| e.principal.clone())
    }

    fn remember(&self, token: &str, resource: &str, principal: &Principal, exp_unix: u64) {
        if self.entries.len() >= self.max_entries && !self.entries.contains_key(token) {
            // Crude but bounded: a full cache starts over.
            self.entries.clear();
        }
        let mut entries = self.entries.entry(token.into()).or_default();
        entries.retain(|e| &*e.resource != resource);
        if entries.len() >= RESOURCES_PER_TOKEN {
            entries.remove(0);
        }
        entries.push(Entry {
            resource: resource.into(),
            principal: principal.clone(),
            exp_unix,
            inserted: Instant::now(),
        });
    }
}

#[async_trait]
impl<V: TokenValidator> TokenValidator for CachingValidator<V> {
    async fn validate(&self, token: &str, resource: &str) -> Result<Principal, Error> {
        if let Some(principal) = self.cached(token, resource) {
            return Ok(principal);
        }
        let principal = self.inner.validate(token, resource).await?;
        if let Some(exp_unix) = exp_of(token) {
            self.remember(token, resource, &principal, exp_unix);
        }
        Ok(principal)
    }
}

// === impl TailHasherBuilder ===

/// Builds [`TailHasher`]s with one random key per cache.
#[derive(Clone)]
struct TailHasherBuilder(RandomState);

impl BuildHasher for TailHasherBuilder {
    type Hasher = TailHasher;

    fn build_hasher(&self) -> TailHasher {
        TailHasher(self.0.build_hasher())
    }
}

/// Keyed SipHash over the last [`HASHED_TAIL`] bytes of each write and its
/// length (see the module docs for why that is enough here).
struct TailHasher(DefaultHasher);

impl Hasher for TailHasher {
    fn write(&mut self, bytes: &[u8]) {
        if bytes.len() > HASHED_TAIL {
            self.0.write_usize(bytes.len());
            self.0.write(&bytes[bytes.len() - HASHED_TAIL..]);
        } else {
            self.0.write(bytes);
        }
    }

    fn finish(&self) -> u64 {
        self.0.finish()
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(u64::MAX)
}

/// `exp` of a JWT whose signature was already verified.
fn exp_of(token: &str) -> Option<u64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    #[derive(serde::Deserialize)]
    struct Exp {
        exp: Option<u64>,
    }
    serde_json::from_slice::<Exp>(&bytes).ok()?.exp
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClaimMapping, DevIssuer, TokenRequest};

    struct Counting<V> {
        inner: V,
        calls: std::sync::atomic::AtomicUsize,
    }

    #[async_trait]
    impl<V: TokenValidator> TokenValidator for Counting<V> {
        async fn validate(&self, token: &str, resource: &str) -> Result<Principal, Error> {
            self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            self.inner.validate(token, resource).await
        }
    }

    #[tokio::test]
    async fn hits_skip_validation_but_never_cross_resources_or_outlive_the_token() {
        let dir = tempfile::tempdir().unwrap();
        let issuer = DevIssuer::load_or_create(dir.path()).unwrap();
        let inner = Counting {
            inner: issuer
                .validator(ClaimMapping::default())
                .unwrap()
                .with_leeway(0),
            calls: Default::default(),
        };
        let cache = CachingValidator::new(inner, 10, Duration::from_secs(300));
        let token = issuer.mint(&TokenRequest::new("alice", "demo")).unwrap();
        let r = "http://127.0.0.1:1/mcp/demo/x";
        assert_eq!(cache.validate(&token, r).await.unwrap().subject, "alice");
        assert_eq!(cache.validate(&token, r).await.unwrap().subject, "alice");
        assert_eq!(
            cache.inner.calls.load(std::sync::atomic::Ordering::SeqCst),
            1
        );
        // Another resource is validated again (and the audience rule applies).
        cache
            .validate(&token, "http://127.0.0.1:1/mcp/demo/y")
            .await
            .unwrap();
        assert_eq!(
            cache.inner.calls.load(std::sync::atomic::Ordering::SeqCst),
            2
        );
        // Rejections are never cached.
        let forged = format!("{token}x");
        assert!(cache.validate(&forged, r).await.is_err());
        assert!(cache.validate(&forged, r).await.is_err());
        // An expired token is not served from the cache.
        let mut req = TokenRequest::new("bob", "demo");
        req.ttl = Duration::from_secs(1);
        let short = issuer.mint(&req).unwrap();
        cache.validate(&short, r).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2100)).await;
        assert!(cache.validate(&short, r).await.is_err());
    }

    /// A dev issuer, and a cache of its validator counting validations.
    fn counted_cache() -> (
        tempfile::TempDir,
        DevIssuer,
        CachingValidator<Counting<impl TokenValidator>>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let issuer = DevIssuer::load_or_create(dir.path()).unwrap();
        let inner = Counting {
            inner: issuer.validator(ClaimMapping::default()).unwrap(),
            calls: Default::default(),
        };
        let cache = CachingValidator::new(inner, 10, Duration::from_secs(300));
        (dir, issuer, cache)
    }

    #[tokio::test]
    async fn a_token_sharing_a_cached_tokens_tail_is_validated_not_served() {
        // The map hashes only a token's tail: a forgery that keeps the
        // signature and the length but changes the claims lands in the
        // cached token's bucket and must still be checked (and refused).
        let (_dir, issuer, cache) = counted_cache();
        let token = issuer.mint(&TokenRequest::new("alice", "demo")).unwrap();
        let r = "http://127.0.0.1:1/mcp/demo/x";
        cache.validate(&token, r).await.unwrap();
        let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
        let payload = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&parts[1])
            .unwrap();
        let claims = String::from_utf8(payload)
            .unwrap()
            .replace("alice", "mallo");
        parts[1] = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(claims);
        let forged = parts.join(".");
        assert_eq!(forged.len(), token.len());
        assert_eq!(
            forged[forged.len() - HASHED_TAIL..],
            token[token.len() - HASHED_TAIL..]
        );
        assert_ne!(forged, token);
        let err = cache.validate(&forged, r).await.unwrap_err();
        assert!(matches!(err, Error::BadSignature), "{err:?}");
        assert_eq!(
            cache.inner.calls.load(std::sync::atomic::Ordering::SeqCst),
            2
        );
        // The genuine token is still served from the cache.
        assert_eq!(cache.validate(&token, r).await.unwrap().subject, "alice");
        assert_eq!(
            cache.inner.calls.load(std::sync::atomic::Ordering::SeqCst),
            2
        );
    }

    #[tokio::test]
    async fn one_token_used_on_several_endpoints_stays_cached_for_each() {
        let (_dir, issuer, cache) = counted_cache();
        let token = issuer.mint(&TokenRequest::new("alice", "demo")).unwrap();
        let resources = [
            "http://127.0.0.1:1/mcp/demo/x",
            "http://127.0.0.1:1/mcp/demo/y",
        ];
        for _ in 0..3 {
            for r in resources {
                assert_eq!(cache.validate(&token, r).await.unwrap().subject, "alice");
            }
        }
        assert_eq!(
            cache.inner.calls.load(std::sync::atomic::Ordering::SeqCst),
            2
        );
        assert_eq!(cache.len(), 1);
    }
}
