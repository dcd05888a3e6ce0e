//! RFC 7662 token introspection: opaque access tokens validated by asking
//! the issuer.
//!
//! Berth authenticates to the introspection endpoint as its own client
//! (`client_secret_basic`) and sends the token with
//! `token_type_hint=access_token`. An answer with `"active": true` is then
//! checked like a JWT's claims: `iss` (when the answer names one), `exp`
//! with the leeway, `aud` naming the resource being called (RFC 8707), and
//! the principal built through the [`ClaimMapping`]. Anything else (inactive,
//! another resource, no tenant) is refused. The endpoint being unreachable
//! or failing is [`Error::IssuerUnavailable`] (503), never a 401.
//!
//! Imports: `fetch`, `claims`, `principal`, `error`. Must not import `oidc`
//! (which builds the [`Introspector`]).

use std::time::{SystemTime, UNIX_EPOCH};

use zeroize::Zeroizing;

use crate::claims::{Audiences, ClaimsSeed, ParsedClaims};
use crate::fetch::read_capped;
use crate::{ClaimMapping, Error, Principal};

/// Largest introspection answer accepted.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// How Berth asks an issuer about opaque tokens.
pub(crate) struct Introspector {
    endpoint: String,
    client_id: String,
    client_secret: Zeroizing<String>,
    issuer: String,
    http: reqwest::Client,
}

// === impl Introspector ===

impl Introspector {
    /// Asks `endpoint` as `client_id`; answers naming another `iss` than
    /// `issuer` are refused. `http` must be the guarded issuer client.
    pub(crate) fn new(
        endpoint: String,
        client_id: String,
        client_secret: String,
        issuer: String,
        http: reqwest::Client,
    ) -> Self {
        Introspector {
            endpoint,
            client_id,
            client_secret: Zeroizing::new(client_secret),
            issuer,
            http,
        }
    }

    /// Validates an opaque `token` presented to `resource`.
    pub(crate) async fn validate(
        &self,
        token: &str,
        resource: &str,
        claims: &ClaimMapping,
        extra_audiences: &[String],
        leeway_secs: u64,
    ) -> Result<Principal, Error> {
        let answer = self.ask(token).await?;
        #[derive(serde::Deserialize)]
        struct Head {
            #[serde(default)]
            active: bool,
            #[serde(default)]
            iss: Option<String>,
        }
        let head: Head = serde_json::from_slice(&answer).map_err(|e| {
            Error::IssuerUnavailable(format!("the introspection answer is not JSON: {e}"))
        })?;
        if !head.active {
            return Err(Error::Inactive);
        }
        if head.iss.as_deref().is_some_and(|iss| iss != self.issuer) {
            return Err(Error::WrongIssuer);
        }
        let text = std::str::from_utf8(&answer).map_err(|_| {
            Error::IssuerUnavailable("the introspection answer is not UTF-8".into())
        })?;
        let seed = ClaimsSeed {
            mapping: claims,
            audiences: Audiences {
                resource,
                extra: extra_audiences,
            },
        };
        let parsed = ParsedClaims::parse(text, &seed)?;
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        if let Some(exp) = parsed.exp
            && now >= exp + leeway_secs as f64
        {
            return Err(Error::Expired);
        }
        if !parsed.aud_present {
            return Err(Error::MissingClaim("aud".into()));
        }
        if !parsed.aud_accepted {
            return Err(Error::WrongAudience);
        }
        parsed.into_principal(claims)
    }

    async fn ask(&self, token: &str) -> Result<Vec<u8>, Error> {
        let unavailable = |e: reqwest::Error| {
            Error::IssuerUnavailable(format!("introspection at {}: {e}", self.endpoint))
        };
        let mut response = self
            .http
            .post(&self.endpoint)
            .basic_auth(&self.client_id, Some(self.client_secret.as_str()))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[("token", token), ("token_type_hint", "access_token")])
            .send()
            .await
            .map_err(unavailable)?;
        if !response.status().is_success() {
            return Err(Error::IssuerUnavailable(format!(
                "the introspection endpoint {} answered {}; check auth.introspection's client credentials",
                self.endpoint,
                response.status()
            )));
        }
        read_capped(&mut response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| Error::IssuerUnavailable(format!("the introspection answer: {e}")))
    }
}
