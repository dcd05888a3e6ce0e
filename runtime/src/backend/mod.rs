//! Backends: where a hosting session's MCP server instance runs.
//!
//! A [`Backend`] starts an [`Instance`] for a [`ServerSpec`]. The instance is a
//! message pipe: Berth writes whole JSON-RPC messages to
//! [`Instance::outbound`] and the backend delivers whatever the server writes
//! to the [`InboundSink`] it was started with. Both backends (`process` and
//! `docker`) and both transports (stdio, HTTP) share this shape, so the session layer never knows which one
//! it talks to.
//!
//! # Layout
//! - [`framing`]: newline-delimited JSON-RPC reading with a size limit.
//! - [`process`]: one child process per instance over stdio.
//! - [`docker`]: one hardened container per instance (bollard).
//! - [`http_bridge`]: the same message pipe over Streamable HTTP, for
//!   servers that listen on a port (`transport = "http"`).
//! - [`delivery`]: secrets handed to an instance (env at start, headers
//!   per request).

pub mod delivery;
pub mod docker;
pub mod framing;
pub mod http_bridge;
pub mod process;

pub use self::delivery::{CallHeaders, HeaderSource, SecretEnv};
pub use self::docker::DockerBackend;
pub use self::process::ProcessBackend;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use tokio::sync::mpsc;

use crate::config::Transport;

/// What to run for one MCP server deployment.
#[derive(Clone, Debug)]
pub struct ServerSpec {
    /// Tenant that owns the server.
    pub tenant: String,
    /// Server name within the tenant.
    pub server: String,
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
    /// Working directory for the process backend.
    pub cwd: Option<std::path::PathBuf>,
    /// Largest message accepted from the server, in bytes.
    pub max_message_bytes: usize,
    /// Grace period for each shutdown step (stdin close, SIGTERM).
    pub shutdown_grace: Duration,
    /// Image (docker backend).
    pub image: Option<String>,
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
}

/// Labels identifying an instance's owner, for logs and (docker) labels.
#[derive(Clone, Debug)]
pub struct InstanceLabels {
    /// Short, non-secret id of the hosting session (never the session id).
    pub session: String,
    /// The pod (Berth process) that started the instance.
    pub pod: String,
    /// Store key of the session's ownership lease, for sessions another
    /// pod may take over (the sweeper spares instances whose lease is held).
    pub lease: Option<String>,
}

/// Receives what an instance produces. Called from the backend's reader task;
/// implementations must not block.
pub trait InboundSink: Send + Sync + 'static {
    /// One complete message (a line without its newline).
    fn on_message(&self, line: Bytes);
    /// The server wrote something that is not a usable message.
    fn on_garbage(&self, reason: &str);
    /// The instance is gone; no more calls follow.
    fn on_exit(&self, reason: String);
}

/// A running server instance.
pub struct Instance {
    /// Human-readable instance id (pid or container id).
    pub id: String,
    /// What another pod needs to re-attach to this instance after a
    /// failover (the container id); `None` if it dies with its pod.
    pub resume: Option<String>,
    /// Whole messages to the server, each one line ending in `\n`.
    pub outbound: mpsc::Sender<Bytes>,
    /// Stops the instance.
    pub control: Box<dyn InstanceControl>,
}

/// Stops an instance.
#[async_trait]
pub trait InstanceControl: Send + Sync {
    /// Stops the instance and waits until it is gone: close its input, then
    /// escalate (SIGTERM, SIGKILL) after `grace` each.
    async fn shutdown(&self);

    /// Lets go of the instance without stopping it, so another pod can
    /// re-attach (pod shutdown with a shared store). Instances that cannot
    /// outlive their pod are stopped instead.
    async fn detach(&self) {
        self.shutdown().await;
    }
}

/// Stops an instance run by a supervisor task: cancels `stop` and waits
/// until the supervisor reports the instance gone through `done`.
pub struct StopControl {
    /// Tells the supervisor to stop the instance.
    pub stop: tokio_util::sync::CancellationToken,
    /// Becomes `true` once the instance is gone (or let go).
    pub done: tokio::sync::watch::Receiver<bool>,
    /// Tells the supervisor to let go without stopping; `None` when the
    /// instance cannot outlive this pod.
    pub detach: Option<tokio_util::sync::CancellationToken>,
}

#[async_trait]
impl InstanceControl for StopControl {
    async fn shutdown(&self) {
        self.stop.cancel();
        let mut done = self.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }

    async fn detach(&self) {
        let Some(detach) = &self.detach else {
            return self.shutdown().await;
        };
        detach.cancel();
        let mut done = self.done.clone();
        let _ = done.wait_for(|d| *d).await;
    }
}

/// Failure to start an instance.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A container cap is reached; existing sessions are unaffected.
    #[error("{0}; retry shortly")]
    Capacity(String),
    /// The container engine failed or is unreachable.
    #[error("the Docker engine {0}")]
    Engine(String),
    /// The deployment's image is not on the Docker host.
    #[error("image `{0}` is not on the Docker host; build or load it there first")]
    MissingImage(String),
    /// The deployment has no command to run.
    #[error("server {tenant}/{server} has no command configured; set `command` in its deployment")]
    NoCommand {
        /// Tenant.
        tenant: String,
        /// Server.
        server: String,
    },
    /// The program could not be started.
    #[error(
        "could not start server command `{program}`: {source}; check the deployment's `command`"
    )]
    Spawn {
        /// The program that failed.
        program: String,
        /// The OS error.
        source: std::io::Error,
    },
}

/// Starts instances.
#[async_trait]
pub trait Backend: Send + Sync + 'static {
    /// Backend name for logs and metrics (`process`, `docker`).
    fn name(&self) -> &'static str;
    /// Prepares for serving `specs` (e.g. fills warm pools). Default: nothing.
    async fn prepare(&self, _specs: &[ServerSpec]) {}
    /// Releases what the backend holds besides sessions (e.g. warm pools)
    /// at shutdown. Default: nothing.
    async fn drain(&self) {}
    /// Starts one instance that reports to `sink`.
    async fn start(
        &self,
        spec: &ServerSpec,
        labels: &InstanceLabels,
        sink: Arc<dyn InboundSink>,
    ) -> Result<Instance, BackendError>;

    /// Re-attaches to an instance another pod started (its
    /// [`Instance::resume`] handle), if it still runs; `Ok(None)` when it
    /// is gone or this backend cannot re-attach (the caller starts anew).
    async fn reattach(
        &self,
        _spec: &ServerSpec,
        _labels: &InstanceLabels,
        _resume: &str,
        _sink: Arc<dyn InboundSink>,
    ) -> Result<Option<Instance>, BackendError> {
        Ok(None)
    }
}

/// Answers whether a session another pod may take over is still alive.
#[async_trait]
pub trait LeaseProbe: Send + Sync + 'static {
    /// Names the store the leases live in (a digest, not the URL): pods of
    /// another deployment, with another store, never judge these leases.
    fn scope(&self) -> &str;

    /// `true` if its lease is held or its record has not expired, or if
    /// it cannot be known right now.
    async fn held(&self, lease_key: &str) -> bool;

    /// Records that `container` (started unlabelled, e.g. for a warm pool)
    /// now serves the session with `lease_key`: containers cannot be
    /// relabelled, so the sweeper asks [`LeaseProbe::claim_of`].
    async fn claim(&self, container: &str, lease_key: &str);

    /// The lease key a [`LeaseProbe::claim`] recorded for `container`.
    async fn claim_of(&self, container: &str) -> Option<String>;
}
