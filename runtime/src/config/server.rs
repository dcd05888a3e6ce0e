//! `[servers.TENANT.SERVER]`: one hosted MCP server's deployment.
//!
//! May import: `config::vault` (a deployment's secret refs). `utoipa`
//! derives the deployment's OpenAPI schema (the control plane's body).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::vault::SecretRef;

/// How Berth speaks MCP to a server instance.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum Transport {
    /// Newline-delimited JSON-RPC over the instance's stdin/stdout.
    #[default]
    Stdio,
    /// Streamable HTTP to `http://{instance address}:{port}{path}`.
    Http,
}

/// One hosted MCP server.
#[derive(Clone, Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ServerConfig {
    /// How Berth speaks MCP to the server: over its stdio, or over
    /// Streamable HTTP to the port it listens on (docker backend).
    pub transport: Transport,
    /// Port an HTTP-transport server listens on inside its container.
    pub port: u16,
    /// Path of an HTTP-transport server's MCP endpoint.
    pub path: String,
    /// Program and arguments (the container's command with docker).
    pub command: Vec<String>,
    /// Environment for each instance.
    pub env: BTreeMap<String, String>,
    /// Working directory of each instance (process backend).
    #[schema(value_type = Option<String>)]
    pub cwd: Option<PathBuf>,
    /// Close hosting sessions unused for this long.
    #[serde(with = "humantime_serde")]
    #[schema(value_type = String, default = "10m", example = "10m")]
    pub idle_timeout: Duration,
    /// Time the server has to answer a request (default: `limits.request_timeout`).
    #[serde(with = "humantime_serde::option")]
    #[schema(value_type = Option<String>, example = "30s")]
    pub request_timeout: Option<Duration>,
    /// Scopes a principal needs to use this server.
    pub required_scopes: Vec<String>,
    /// Image to run (docker backend), e.g. `berth/example-server`; pinned
    /// to its digest when an instance starts.
    pub image: Option<String>,
    /// Memory limit per instance (docker), e.g. `256m`, `1g`.
    pub memory: String,
    /// CPU limit per instance (docker), in cores.
    pub cpus: f64,
    /// Process/thread limit per instance (docker).
    pub pids: i64,
    /// Network granting egress: a Docker network (docker), or the name of
    /// an egress policy the chart renders, put on the Pod as the label
    /// `berth.dev/egress` (kubernetes); none when unset.
    pub network: Option<String>,
    /// Started, unclaimed instances kept ready (docker).
    pub warm_pool: usize,
    /// Secrets from Vault, resolved when a call needs them.
    pub secrets: Vec<SecretRef>,
    /// Where the server's Pods run (kubernetes backend).
    pub kubernetes: Placement,
}

/// `[servers.TENANT.SERVER.kubernetes]`: where a server's Pods run.
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Placement {
    /// `runtimeClassName` (a sandbox such as gVisor or Kata); default:
    /// `kubernetes.runtime_class_name`.
    pub runtime_class_name: Option<String>,
    /// Node labels the Pods must land on.
    pub node_selector: BTreeMap<String, String>,
    /// Taints the Pods tolerate.
    pub tolerations: Vec<Toleration>,
}

/// A Pod toleration, as Kubernetes spells it (snake_case keys).
#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct Toleration {
    /// Taint key; empty with `operator = "Exists"` tolerates everything.
    pub key: Option<String>,
    /// `Equal` (default) or `Exists`.
    pub operator: Option<String>,
    /// Taint value (with `Equal`).
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`; empty: all.
    pub effect: Option<String>,
    /// How long a `NoExecute` taint is tolerated, seconds.
    pub toleration_seconds: Option<i64>,
}

// === impl ServerConfig ===

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            transport: Transport::Stdio,
            port: 8080,
            path: "/mcp".into(),
            command: Vec::new(),
            env: BTreeMap::new(),
            cwd: None,
            // Ten minutes: agents pause between calls while the model thinks.
            idle_timeout: Duration::from_secs(600),
            request_timeout: None,
            required_scopes: Vec::new(),
            image: None,
            // Enough for typical Node/Python MCP servers.
            memory: "256m".into(),
            cpus: 1.0,
            pids: 128,
            network: None,
            warm_pool: 0,
            secrets: Vec::new(),
            kubernetes: Placement::default(),
        }
    }
}
