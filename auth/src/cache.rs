//! A cache of validated tokens in front of any [`TokenValidator`].
//!
//! Signature checks cost tens of microseconds (EdDSA, RSA), far more than the
//! rest of a proxied call, and agents present the same token for every
//! request. A hit skips the signature check but never outlives the token:
//! each entry expires at the token's `exp` (read from the already validated
//! payload) or after `max_age`, whichever is first. Tokens without `exp` are
//! not cached. The key is (resource, token), so a token validated for one
//! endpoint is never accepted for another from the cache.
//!
//! Imports: `validator`, `principal`, `error`. Must not import a concrete
//! validator (`jwt`, `oidc`): it wraps any of them.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use base64::Engine;
use dashmap::DashMap;

use crate::{Error, Principal, TokenValidator};

/// Validated tokens, bounded in count and age.
pub struct CachingValidator<V> {
    inner: V,
    entries: DashMap<Box<str>, Entry>,
    max_entries: usize,
    max_age: Duration,
}

struct Entry {
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
            entries: DashMap::new(),
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
}

#[async_trait]
impl<V: TokenValidator> TokenValidator for CachingValidator<V> {
    async fn validate(&self, token: &str, resource: &str) -> Result<Principal, Error> {
        let mut key = String::with_capacity(resource.len() + token.len() + 1);
        key.push_str(resource);
        key.push('\n');
        key.push_str(token);
        let now = unix_now();
        if let Some(e) = self.entries.get(key.as_str())
            && now < e.exp_unix
            && e.inserted.elapsed() < self.max_age
        {
            return Ok(e.principal.clone());
        }
        let principal = self.inner.validate(token, resource).await?;
        if let Some(exp_unix) = exp_of(token) {
            if self.entries.len() >= self.max_entries {
                // Crude but bounded: a full cache starts over.
                self.entries.clear();
            }
            self.entries.insert(
                key.into_boxed_str(),
                Entry {
                    principal: principal.clone(),
                    exp_unix,
                    inserted: Instant::now(),
                },
            );
        }
        Ok(principal)
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
}
