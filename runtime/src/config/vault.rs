//! `[vault]` (where Vault is and how Berth logs in) and a deployment's
//! secret refs.
//!
//! May import: nothing else in the crate.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

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
#[derive(Clone, Debug, Deserialize, serde::Serialize, utoipa::ToSchema)]
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

// === impl VaultConfig ===

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
