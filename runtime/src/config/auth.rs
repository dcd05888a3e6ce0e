//! `[auth]`: how bearer tokens are validated.
//!
//! May import: nothing else in the crate.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

/// How bearer tokens are validated.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthConfig {
    /// `dev` (built-in issuer, key in the state dir) or `jwt` (external issuer).
    pub mode: AuthMode,
    /// Expected `iss` (mode `jwt`).
    pub issuer: Option<String>,
    /// JWKS file with the issuer's public keys (mode `jwt`).
    pub jwks_file: Option<PathBuf>,
    /// Audiences accepted besides each endpoint's canonical URL.
    pub extra_audiences: Vec<String>,
    /// Allowed clock skew when checking `exp`/`nbf`, in seconds.
    pub leeway_secs: u64,
    /// Scopes every MCP request needs (per-server scopes add to these).
    pub required_scopes: Vec<String>,
    /// How often the issuer's JWKS is refetched (mode `oidc`); a token
    /// naming an unknown key id also triggers a refetch.
    #[serde(with = "humantime_serde")]
    pub jwks_refresh: Duration,
    /// Which token claims hold tenant, subject, client id, scopes and
    /// groups (modes `jwt` and `oidc`).
    pub claims: berth_auth::ClaimMapping,
    /// Berth's client at the issuer for RFC 7662 introspection of opaque
    /// tokens (mode `oidc`); absent: opaque tokens are refused.
    pub introspection: Option<IntrospectionConfig>,
}

/// `[auth.introspection]`.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IntrospectionConfig {
    /// Berth's client id at the issuer.
    pub client_id: String,
    /// Its secret (set it through the environment in production).
    pub client_secret: String,
    /// The endpoint; default: the discovery document's
    /// `introspection_endpoint`.
    #[serde(default)]
    pub endpoint: Option<String>,
}

impl std::fmt::Debug for IntrospectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionConfig")
            .field("client_id", &self.client_id)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

/// Token validation mode.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    /// The built-in dev issuer (embedded default).
    #[default]
    Dev,
    /// An external OAuth 2.1 authorization server issuing JWTs, keys from
    /// a JWKS file.
    Jwt,
    /// An external OpenID provider: keys discovered from `auth.issuer`
    /// and kept fresh over HTTP.
    Oidc,
}

// === impl AuthConfig ===

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            mode: AuthMode::Dev,
            issuer: None,
            jwks_file: None,
            extra_audiences: Vec::new(),
            leeway_secs: 60,
            required_scopes: Vec::new(),
            jwks_refresh: Duration::from_secs(300),
            claims: berth_auth::ClaimMapping::default(),
            introspection: None,
        }
    }
}
