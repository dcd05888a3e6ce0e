//! OIDC discovery: validating JWTs of an issuer whose keys are fetched over
//! HTTP and follow its key rotation without a restart.
//!
//! [`OidcValidator::discover`] reads the issuer's discovery document
//! (`/.well-known/openid-configuration`, falling back to RFC 8414's
//! `/.well-known/oauth-authorization-server`), checks that it names the
//! configured issuer exactly, and fetches the JWKS at its `jwks_uri`. The key
//! set is refetched every `refresh_every`, and at once when a token names a
//! key id the set does not hold (a rotation), at most once per
//! [`MIN_REFETCH`] so that tokens with made-up key ids cannot make Berth
//! hammer the issuer. A failed refetch keeps the keys Berth has.
//!
//! Opaque tokens (not three dot-separated parts) are validated by RFC 7662
//! introspection ([`crate::introspect`]) when [`OidcOptions::introspection`]
//! is set, at the endpoint the discovery document names.
//!
//! Every URL is fetched through `fetch.rs`: `http(s)` only, no proxies or
//! redirects, a timeout and a size cap, and never from a link-local or
//! cloud-metadata address (SSRF): an issuer that names
//! `http://169.254.169.254/…` as its `jwks_uri` gets an error, not a fetch.
//!
//! Imports: `fetch`, `introspect`, `jwt`, `claims`, `validator`, `principal`,
//! `error`. Nothing in the crate imports this module except `lib.rs`'s
//! re-exports.

use std::sync::{Arc, Weak};
use std::time::Duration;

use jsonwebtoken::jwk::JwkSet;
use parking_lot::{Mutex, RwLock};
use serde::Deserialize;
use tokio::time::Instant;

use crate::claims::ClaimMapping;
use crate::error::Error;
use crate::fetch::{check_url, client, fetch};
use crate::introspect::Introspector;
use crate::jwt::JwtValidator;
use crate::principal::Principal;
use crate::validator::TokenValidator;

/// Shortest time between two JWKS fetches triggered by unknown key ids.
pub const MIN_REFETCH: Duration = Duration::from_secs(2);

/// How the issuer's tokens are read.
#[derive(Clone, Debug)]
pub struct OidcOptions {
    /// Which claims hold tenant, subject, client, scopes and groups.
    pub claims: ClaimMapping,
    /// Audiences accepted besides the endpoint's canonical URL.
    pub extra_audiences: Vec<String>,
    /// Clock-skew allowance for `exp`/`nbf` (clamped like
    /// [`JwtValidator::with_leeway`]).
    pub leeway_secs: u64,
    /// How often the JWKS is refetched regardless of tokens.
    pub refresh_every: Duration,
    /// Berth's client credentials at the issuer, to introspect opaque tokens
    /// (RFC 7662); `None` refuses opaque tokens.
    pub introspection: Option<IntrospectionClient>,
}

/// Berth's own client at the issuer, for RFC 7662 introspection.
#[derive(Clone)]
pub struct IntrospectionClient {
    /// The client id.
    pub client_id: String,
    /// The client secret (never logged).
    pub client_secret: String,
    /// The endpoint; `None` takes the discovery document's
    /// `introspection_endpoint`.
    pub endpoint: Option<String>,
}

impl std::fmt::Debug for IntrospectionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionClient")
            .field("client_id", &self.client_id)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Validates the JWTs of an OIDC issuer, with its keys discovered and kept
/// fresh over HTTP.
pub struct OidcValidator {
    inner: Arc<Inner>,
}

struct Inner {
    introspector: Option<Introspector>,
    issuer: String,
    jwks_uri: String,
    http: reqwest::Client,
    options: OidcOptions,
    current: RwLock<Arc<JwtValidator>>,
    fetched_at: Mutex<Instant>,
    refetching: tokio::sync::Mutex<()>,
}

/// The fields of a discovery document Berth uses.
#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: String,
    #[serde(default)]
    introspection_endpoint: Option<String>,
}

// === impl OidcValidator ===

impl OidcValidator {
    /// Discovers `issuer` and fetches its keys; fails if the issuer cannot
    /// be reached, names another issuer, or publishes no usable key.
    pub async fn discover(issuer: &str, options: OidcOptions) -> Result<Self, Error> {
        let http = client()?;
        let base = issuer.trim_end_matches('/');
        let discovery: Discovery =
            match fetch(&http, &format!("{base}/.well-known/openid-configuration")).await {
                Ok(d) => d,
                Err(_) => {
                    fetch(
                        &http,
                        &format!("{base}/.well-known/oauth-authorization-server"),
                    )
                    .await?
                }
            };
        if discovery.issuer != issuer {
            return Err(Error::Key(format!(
                "the discovery document of `{issuer}` names the issuer `{}`; configure the issuer exactly as the provider names it",
                discovery.issuer
            )));
        }
        let jwks: JwkSet = fetch(&http, &discovery.jwks_uri).await?;
        let validator = build(issuer, jwks, &options)?;
        let introspector = match &options.introspection {
            None => None,
            Some(client) => {
                let endpoint = client
                    .endpoint
                    .clone()
                    .or(discovery.introspection_endpoint)
                    .ok_or_else(|| {
                        Error::Key(format!(
                            "`{issuer}` names no introspection_endpoint; set auth.introspection.endpoint"
                        ))
                    })?;
                check_url(&endpoint)?;
                Some(Introspector::new(
                    endpoint,
                    client.client_id.clone(),
                    client.client_secret.clone(),
                    issuer.to_owned(),
                    http.clone(),
                ))
            }
        };
        let inner = Arc::new(Inner {
            introspector,
            issuer: issuer.to_owned(),
            jwks_uri: discovery.jwks_uri,
            http,
            options,
            current: RwLock::new(Arc::new(validator)),
            fetched_at: Mutex::new(Instant::now()),
            refetching: tokio::sync::Mutex::new(()),
        });
        tokio::spawn(refresh_periodically(Arc::downgrade(&inner)));
        Ok(OidcValidator { inner })
    }

    /// The issuer tokens must carry in `iss`.
    pub fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    fn current(&self) -> Arc<JwtValidator> {
        self.inner.current.read().clone()
    }
}

#[async_trait::async_trait]
impl TokenValidator for OidcValidator {
    async fn validate(&self, token: &str, resource: &str) -> Result<Principal, Error> {
        if let Some(introspector) = &self.inner.introspector
            && token.bytes().filter(|b| *b == b'.').count() != 2
        {
            let o = &self.inner.options;
            return introspector
                .validate(
                    token,
                    resource,
                    &o.claims,
                    &o.extra_audiences,
                    o.leeway_secs,
                )
                .await;
        }
        match self.current().validate_sync(token, resource) {
            Err(Error::UnknownKey { kid }) => {
                if self
                    .inner
                    .refetch(&format!("a token names key id `{kid}`"))
                    .await
                {
                    self.current().validate_sync(token, resource)
                } else {
                    Err(Error::UnknownKey { kid })
                }
            }
            other => other,
        }
    }
}

// === impl Inner ===

impl Inner {
    /// Refetches the JWKS unless that happened less than [`MIN_REFETCH`]
    /// ago; `true` if the key set may have changed.
    async fn refetch(&self, why: &str) -> bool {
        let before = *self.fetched_at.lock();
        let _one_at_a_time = self.refetching.lock().await;
        let last = *self.fetched_at.lock();
        if last != before {
            return true; // another request refetched while this one waited
        }
        if last.elapsed() < MIN_REFETCH {
            return false;
        }
        self.fetch_now(why).await
    }

    async fn fetch_now(&self, why: &str) -> bool {
        *self.fetched_at.lock() = Instant::now();
        let fetched = fetch::<JwkSet>(&self.http, &self.jwks_uri)
            .await
            .and_then(|jwks| build(&self.issuer, jwks, &self.options));
        match fetched {
            Ok(validator) => {
                *self.current.write() = Arc::new(validator);
                tracing::info!(issuer = %self.issuer, %why, "refreshed the issuer's keys");
                true
            }
            Err(error) => {
                tracing::warn!(issuer = %self.issuer, %error, "could not refresh the issuer's keys; keeping the current ones");
                false
            }
        }
    }
}

async fn refresh_periodically(inner: Weak<Inner>) {
    let every = match inner.upgrade() {
        Some(i) => i.options.refresh_every.max(MIN_REFETCH),
        None => return,
    };
    loop {
        tokio::time::sleep(every).await;
        let Some(inner) = inner.upgrade() else {
            return;
        };
        let _one_at_a_time = inner.refetching.lock().await;
        inner.fetch_now("scheduled refresh").await;
    }
}

fn build(issuer: &str, jwks: JwkSet, options: &OidcOptions) -> Result<JwtValidator, Error> {
    Ok(JwtValidator::new(issuer, jwks, options.claims.clone())?
        .with_extra_audiences(options.extra_audiences.clone())
        .with_leeway(options.leeway_secs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_issuer_on_a_metadata_address_is_never_fetched() {
        let err = OidcValidator::discover(
            "http://169.254.169.254/latest",
            OidcOptions {
                claims: ClaimMapping::default(),
                extra_audiences: Vec::new(),
                leeway_secs: 0,
                refresh_every: Duration::from_secs(300),
                introspection: None,
            },
        )
        .await
        .err()
        .expect("refused");
        assert!(err.to_string().contains("metadata"), "{err}");
    }
}
