//! `backend` and `[docker]`: where server instances run.
//!
//! May import: nothing else in the crate.

use std::time::Duration;

use serde::Deserialize;

/// Which backend runs server instances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// Child processes over stdio (embedded default).
    #[default]
    Process,
    /// One container per hosting session.
    Docker,
}

/// The Docker engine and the limits of the docker backend.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DockerConfig {
    /// Engine socket (`unix:///path`); default `$DOCKER_HOST` or
    /// `unix:///var/run/docker.sock`.
    pub host: Option<String>,
    /// Containers this pod runs at once, warm pools included (HTTP 503 above).
    pub max_containers: usize,
    /// Containers one tenant may run on this pod at once.
    pub max_containers_per_tenant: usize,
    /// User the server process runs as inside the container.
    pub user: String,
    /// Size of the writable `/tmp` tmpfs.
    pub tmpfs_size: String,
    /// How often orphaned containers are looked for.
    #[serde(with = "humantime_serde")]
    pub sweep_every: Duration,
    /// Internal (no route out) network Berth creates to reach servers with
    /// `transport = "http"`.
    pub internal_network: String,
}

// === impl DockerConfig ===

impl Default for DockerConfig {
    fn default() -> Self {
        DockerConfig {
            host: None,
            max_containers: 500,
            max_containers_per_tenant: 100,
            // `nobody`: exists in every image, owns nothing.
            user: "65534:65534".into(),
            tmpfs_size: "64m".into(),
            sweep_every: Duration::from_secs(30),
            internal_network: "berth-internal".into(),
        }
    }
}
