//! The token validator `[auth]` asks for: the built-in dev issuer, a JWKS
//! file, or an OIDC provider (with RFC 7662 introspection), each behind a
//! cache of validated tokens.
//!
//! May import: `app::error`, `config`, external crates (`berth-auth`).

use std::sync::Arc;
use std::time::Duration;

use berth_auth::{
    CachingValidator, ClaimMapping, DevIssuer, IntrospectionClient, JwtValidator, OidcOptions,
    OidcValidator, TokenValidator,
};

use super::error::StartError;
use crate::config::{AuthMode, Config, ConfigError};

/// Validated tokens kept per pod (a full cache starts over).
const TOKEN_CACHE_ENTRIES: usize = 50_000;

/// Longest a validated token is trusted without re-checking its signature
/// (never past its `exp`).
const TOKEN_CACHE_AGE: Duration = Duration::from_secs(300);

/// How long a token validated by introspection (or any token, when
/// introspection is on) is trusted before the issuer is asked again.
const INTROSPECTION_CACHE_AGE: Duration = Duration::from_secs(30);

/// The validator, and the dev issuer's JWKS when it runs.
pub(super) async fn build(
    config: &Config,
) -> Result<(Arc<dyn TokenValidator>, Option<serde_json::Value>), StartError> {
    Ok(match config.auth.mode {
        AuthMode::Dev => {
            let issuer = DevIssuer::load_or_create(&config.state_dir)?;
            let v = issuer
                .validator(ClaimMapping::default())?
                .with_extra_audiences(config.auth.extra_audiences.clone())
                .with_leeway(config.auth.leeway_secs);
            let jwks = serde_json::to_value(issuer.jwks()).ok();
            (
                Arc::new(CachingValidator::new(
                    v,
                    TOKEN_CACHE_ENTRIES,
                    TOKEN_CACHE_AGE,
                )),
                jwks,
            )
        }
        AuthMode::Jwt => {
            let path = config.auth.jwks_file.clone().unwrap_or_default();
            let unreadable = |message: String| ConfigError::File {
                key: "auth.jwks_file",
                path: path.display().to_string(),
                message,
            };
            let text = std::fs::read_to_string(&path).map_err(|e| unreadable(e.to_string()))?;
            let set = serde_json::from_str(&text)
                .map_err(|e| unreadable(format!("not a JWKS document: {e}")))?;
            let issuer = config.auth.issuer.clone().unwrap_or_default();
            let v = JwtValidator::new(issuer, set, config.auth.claims.clone())?
                .with_extra_audiences(config.auth.extra_audiences.clone())
                .with_leeway(config.auth.leeway_secs);
            (
                Arc::new(CachingValidator::new(
                    v,
                    TOKEN_CACHE_ENTRIES,
                    TOKEN_CACHE_AGE,
                )),
                None,
            )
        }
        AuthMode::Oidc => {
            let issuer = config.auth.issuer.clone().unwrap_or_default();
            let options =
                OidcOptions {
                    claims: config.auth.claims.clone(),
                    extra_audiences: config.auth.extra_audiences.clone(),
                    leeway_secs: config.auth.leeway_secs,
                    refresh_every: config.auth.jwks_refresh,
                    introspection: config.auth.introspection.as_ref().map(|i| {
                        IntrospectionClient {
                            client_id: i.client_id.clone(),
                            client_secret: i.client_secret.clone(),
                            endpoint: i.endpoint.clone(),
                        }
                    }),
                };
            let v = OidcValidator::discover(&issuer, options).await?;
            // Introspected tokens are asked about again soon, so a
            // revocation takes effect within INTROSPECTION_CACHE_AGE.
            let age = if config.auth.introspection.is_some() {
                INTROSPECTION_CACHE_AGE
            } else {
                TOKEN_CACHE_AGE
            };
            (
                Arc::new(CachingValidator::new(v, TOKEN_CACHE_ENTRIES, age)),
                None,
            )
        }
    })
}
