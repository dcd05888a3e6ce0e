//! [`ServerSpec`]: what to run for one deployment, and
//! [`InstanceLabels`]: who an instance belongs to.
//!
//! May import: `backend::{delivery, error}`, `config` (the transport),
//! `protocol`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use super::delivery::{HeaderSource, SecretEnv};
use super::error::BackendError;
use crate::config::{Placement, Transport};
use crate::protocol::ParamHeaders;

/// What to run for one MCP server deployment.
#[derive(Clone, Debug)]
pub(crate) struct ServerSpec {
    /// Tenant that owns the server.
    pub tenant: String,
    /// Server name within the tenant.
    pub server: String,
    /// The registry version it runs (`None`: a config-file server).
    pub version: Option<u32>,
    /// Stdio or Streamable HTTP.
    pub transport: Transport,
    /// Port an HTTP-transport server listens on.
    pub port: u16,
    /// Path of an HTTP-transport server's MCP endpoint.
    pub path: String,
    /// Program and arguments (process backend; the command with docker).
    pub command: Vec<String>,
    /// Extra environment for the instance.
    pub env: BTreeMap<String, String>,
    /// Secret environment, resolved for the caller when the instance
    /// starts (never part of the spec's hash or labels).
    pub secret_env: SecretEnv,
    /// Secret headers for each request to an HTTP-transport instance.
    pub call_headers: Option<HeaderSource>,
    /// The arguments the server's tools mirror in `Mcp-Param-*` headers
    /// (SEP-2243), learned once per definition from its `tools/list` and
    /// shared by its instances: the HTTP bridge sends them, as a client
    /// must, when it speaks 2026-07-28 to the server.
    pub param_headers: Arc<OnceCell<ParamHeaders>>,
    /// Working directory for the process backend.
    pub cwd: Option<std::path::PathBuf>,
    /// Largest message accepted from the server, in bytes.
    pub max_message_bytes: usize,
    /// Grace period for each shutdown step (stdin close, SIGTERM).
    pub shutdown_grace: Duration,
    /// Image (docker backend): a registry version's content digest.
    pub image: Option<String>,
    /// The `sha256:…` the executable must hash to (process backend, for
    /// registry versions): a changed file refuses to start.
    pub executable_digest: Option<String>,
    /// Memory limit in bytes (docker backend).
    pub memory_bytes: i64,
    /// CPU limit in billionths of a core (docker backend).
    pub nano_cpus: i64,
    /// Process limit (docker backend).
    pub pids: i64,
    /// Network granting egress; `None` means no network at all.
    pub network: Option<String>,
    /// Warm instances to keep ready (docker backend).
    pub warm_pool: usize,
    /// The server's idle timeout (pools are trimmed after it).
    pub idle_timeout: Duration,
    /// Where its Pods run (kubernetes backend).
    pub placement: Placement,
}

// === impl ServerSpec ===

impl ServerSpec {
    /// The image to run (docker, kubernetes); an error naming the server
    /// when its deployment has none.
    pub(crate) fn image(&self) -> Result<&str, BackendError> {
        self.image
            .as_deref()
            .ok_or_else(|| BackendError::NoCommand {
                tenant: self.tenant.clone(),
                server: self.server.clone(),
            })
    }
}

/// Labels identifying an instance's owner, for logs and (docker) labels.
#[derive(Clone, Debug)]
pub(crate) struct InstanceLabels {
    /// Short, non-secret id of the hosting session (never the session id).
    pub session: String,
    /// Store key of the session's ownership lease, for sessions another
    /// pod may take over (the sweeper spares instances whose lease is held).
    pub lease: Option<String>,
}
