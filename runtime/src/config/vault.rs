//! `[vault]` and deployments' secret refs: their types, defaults and the
//! cross-field rules `Config::validate` applies to them.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use super::types::{Config, ServerConfig, Transport};

/// `[vault]`: where Vault is and how Berth logs in. Vault is used when
/// `address` is set.
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VaultConfig {
    /// `http(s)://host:port` of Vault or OpenBao.
    pub address: Option<String>,
    /// How Berth logs in: `approle`, `kubernetes` or `token`.
    pub auth: VaultAuthMethod,
    /// Auth mount; default: the method's name (`approle`, `kubernetes`).
    pub auth_mount: Option<String>,
    /// AppRole role id.
    pub role_id: Option<String>,
    /// AppRole secret id (prefer `secret_id_file` or
    /// `BERTH_VAULT__SECRET_ID`).
    pub secret_id: Option<String>,
    /// File holding the AppRole secret id.
    pub secret_id_file: Option<PathBuf>,
    /// Kubernetes auth: the Vault role bound to Berth's service account.
    pub role: Option<String>,
    /// Kubernetes auth: the service-account token file.
    pub jwt_file: PathBuf,
    /// Token auth: the token (prefer `token_file` or `BERTH_VAULT__TOKEN`).
    pub token: Option<String>,
    /// Token auth: file holding the token.
    pub token_file: Option<PathBuf>,
    /// Mount of the KV v2 engine.
    pub kv_mount: String,
    /// Each tenant's secrets live under this path (must contain
    /// `{tenant}`); deployments name paths relative to it.
    pub tenant_prefix: String,
    /// Upper bound for one Vault request.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl std::fmt::Debug for VaultConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultConfig")
            .field("address", &self.address)
            .field("auth", &self.auth)
            .field("auth_mount", &self.auth_mount)
            .field("role_id", &self.role_id)
            .field("role", &self.role)
            .field("kv_mount", &self.kv_mount)
            .field("tenant_prefix", &self.tenant_prefix)
            .finish_non_exhaustive()
    }
}

/// How Berth logs in to Vault.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VaultAuthMethod {
    /// Role id + secret id (the usual choice outside Kubernetes).
    #[default]
    Approle,
    /// The pod's service-account token.
    Kubernetes,
    /// A token given to Berth.
    Token,
}

/// A secret a deployment needs: one field of a KV v2 secret under its
/// tenant's prefix, delivered as an env var or as a header.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretRef {
    /// Path relative to the tenant's prefix; `{subject}` stands for the
    /// caller's subject (per-user credentials), e.g. `github/{subject}`.
    pub path: String,
    /// Field of the secret.
    pub key: String,
    /// Deliver as this environment variable when an instance starts.
    #[serde(default)]
    pub env: Option<String>,
    /// Deliver as this header on every request to an HTTP-transport
    /// server (read from Vault for each request).
    #[serde(default)]
    pub header: Option<String>,
    /// Text before the value in the header, e.g. `"Bearer "`.
    #[serde(default)]
    pub value_prefix: String,
}

impl Default for VaultConfig {
    fn default() -> Self {
        VaultConfig {
            address: None,
            auth: VaultAuthMethod::Approle,
            auth_mount: None,
            role_id: None,
            secret_id: None,
            secret_id_file: None,
            role: None,
            jwt_file: PathBuf::from("/var/run/secrets/kubernetes.io/serviceaccount/token"),
            token: None,
            token_file: None,
            kv_mount: "secret".into(),
            tenant_prefix: "berth/tenants/{tenant}".into(),
            timeout: Duration::from_secs(5),
        }
    }
}

/// Headers Berth sets itself on requests to HTTP backends; a secret may
/// not replace them.
const RESERVED_HEADERS: &[&str] = &[
    "accept",
    "connection",
    "content-length",
    "content-type",
    "host",
    "last-event-id",
    "mcp-protocol-version",
    "mcp-session-id",
    "te",
    "transfer-encoding",
    "upgrade",
];

/// Checks `[vault]` and `keys.vault_path`; errors are (key, message).
pub(super) fn check_vault(config: &Config) -> Result<(), (&'static str, String)> {
    let vault = &config.vault;
    let Some(address) = &vault.address else {
        if config.keys.vault_path.is_some() {
            return Err(("keys.vault_path", "needs `vault.address`".into()));
        }
        return Ok(());
    };
    if !url::Url::parse(address).is_ok_and(|u| matches!(u.scheme(), "http" | "https")) {
        return Err((
            "vault.address",
            "must be an http(s) URL, e.g. https://vault.example.com:8200".into(),
        ));
    }
    berth_auth::vault::check_prefix(&vault.tenant_prefix)
        .map_err(|m| ("vault.tenant_prefix", m))?;
    if vault.timeout.is_zero() {
        return Err(("vault.timeout", "must be greater than zero".into()));
    }
    match vault.auth {
        VaultAuthMethod::Approle => {
            if vault.role_id.is_none() {
                return Err((
                    "vault.role_id",
                    "required with vault.auth = \"approle\"".into(),
                ));
            }
            if vault.secret_id.is_none() && vault.secret_id_file.is_none() {
                return Err((
                    "vault.secret_id",
                    "required with vault.auth = \"approle\" (or set vault.secret_id_file)".into(),
                ));
            }
        }
        VaultAuthMethod::Kubernetes if vault.role.is_none() => {
            return Err((
                "vault.role",
                "required with vault.auth = \"kubernetes\"".into(),
            ));
        }
        VaultAuthMethod::Token if vault.token.is_none() && vault.token_file.is_none() => {
            return Err((
                "vault.token",
                "required with vault.auth = \"token\" (or set vault.token_file)".into(),
            ));
        }
        _ => {}
    }
    Ok(())
}

/// Checks one server's secret refs; errors are (`[i].field`, message).
pub(super) fn check_refs(config: &Config, server: &ServerConfig) -> Result<(), (String, String)> {
    for (i, secret) in server.secrets.iter().enumerate() {
        let at = |field: &str| format!("[{i}]{field}");
        if config.vault.address.is_none() {
            return Err((
                at(""),
                "secret refs need `vault.address` (and Berth's Vault login)".into(),
            ));
        }
        berth_auth::vault::check_template(&secret.path)
            .map_err(|m| (at(".path"), format!("path {m}")))?;
        if secret.key.is_empty() {
            return Err((at(".key"), "must name a field of the secret".into()));
        }
        match (&secret.env, &secret.header) {
            (Some(name), None) => {
                let ok = name
                    .bytes()
                    .next()
                    .is_some_and(|b| b.is_ascii_uppercase() || b == b'_')
                    && name
                        .bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
                if !ok {
                    return Err((
                        at(".env"),
                        format!("`{name}` is not an env var name; use A-Z, 0-9 and _"),
                    ));
                }
                if server.env.contains_key(name) {
                    return Err((
                        at(".env"),
                        format!("`{name}` is also set in `env`; keep one"),
                    ));
                }
                if server.warm_pool > 0 {
                    return Err((
                        at(".env"),
                        "env secrets are read when an instance starts for a caller, so they cannot go with `warm_pool` (pooled instances start before anyone calls); set warm_pool = 0 or deliver it as a header".into(),
                    ));
                }
            }
            (None, Some(name)) => {
                if server.transport != Transport::Http {
                    return Err((
                        at(".header"),
                        "headers need transport = \"http\"; use `env` for stdio servers".into(),
                    ));
                }
                let lower = name.to_ascii_lowercase();
                if http::HeaderName::from_bytes(lower.as_bytes()).is_err() {
                    return Err((at(".header"), format!("`{name}` is not a header name")));
                }
                if RESERVED_HEADERS.contains(&lower.as_str()) {
                    return Err((
                        at(".header"),
                        format!("`{name}` is set by Berth itself; choose another header"),
                    ));
                }
                if http::HeaderValue::from_str(&secret.value_prefix).is_err() {
                    return Err((at(".value_prefix"), "must be visible ASCII".into()));
                }
            }
            _ => {
                return Err((
                    at(""),
                    "set exactly one of `env` (instance start) or `header` (each request)".into(),
                ));
            }
        }
    }
    Ok(())
}
