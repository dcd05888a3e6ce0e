//! The root of the configuration: [`Config`] and its embedded defaults
//! (what `berth demo` runs with).
//!
//! May import: the other `config` files that define its sections. Must
//! not import anything outside `config`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;

use serde::Deserialize;

use super::auth::AuthConfig;
use super::backend::{BackendKind, DockerConfig, KubernetesConfig};
use super::control::ControlConfig;
use super::limits::{Limits, Security};
use super::server::ServerConfig;
use super::store::{ClusterConfig, KeysConfig, StoreConfig};
use super::vault::VaultConfig;

/// The whole configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Address the data plane (MCP + well-known endpoints) listens on.
    pub listen: SocketAddr,
    /// Public base URL agents use (`scheme://host[:port]`); the canonical
    /// resource URL of a server is `{public_url}/mcp/{tenant}/{server}`.
    /// Defaults to `http://{listen}`.
    pub public_url: Option<String>,
    /// Directory for the dev issuer key and the embedded session keys.
    pub state_dir: PathBuf,
    /// Name of this runtime pod (labels, leases). Defaults to hostname-pid.
    pub pod_name: Option<String>,
    /// Request and resource limits.
    pub limits: Limits,
    /// Origin and Host checks.
    pub security: Security,
    /// Token validation.
    pub auth: AuthConfig,
    /// Session record storage.
    pub store: StoreConfig,
    /// How pods reach each other.
    pub cluster: ClusterConfig,
    /// Session sealing keys.
    pub keys: KeysConfig,
    /// Vault (or OpenBao): deployments' secrets and, optionally, the
    /// session keys.
    pub vault: VaultConfig,
    /// Where server instances run.
    pub backend: BackendKind,
    /// The Docker backend's engine connection and limits.
    pub docker: DockerConfig,
    /// The Kubernetes backend's API connection and limits.
    pub kubernetes: KubernetesConfig,
    /// The control plane under `/v1`.
    pub control: ControlConfig,
    /// Hosted servers: `servers.<tenant>.<server>`.
    pub servers: BTreeMap<String, BTreeMap<String, ServerConfig>>,
}

// === impl Config ===

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            state_dir: PathBuf::from(".berth"),
            pod_name: None,
            limits: Limits::default(),
            security: Security::default(),
            auth: AuthConfig::default(),
            store: StoreConfig::default(),
            cluster: ClusterConfig::default(),
            keys: KeysConfig::default(),
            vault: VaultConfig::default(),
            backend: BackendKind::default(),
            docker: DockerConfig::default(),
            kubernetes: KubernetesConfig::default(),
            control: ControlConfig::default(),
            servers: BTreeMap::new(),
        }
    }
}

impl Config {
    /// The public base URL without trailing slash.
    pub fn public_base(&self) -> String {
        match &self.public_url {
            Some(u) => u.trim_end_matches('/').to_owned(),
            None => format!("http://{}", self.listen),
        }
    }

    /// Looks up a hosted server.
    pub fn server(&self, tenant: &str, server: &str) -> Option<&ServerConfig> {
        self.servers.get(tenant)?.get(server)
    }
}
