//! `backend`, `[docker]` and `[kubernetes]`: where server instances run.
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
    /// One Pod per hosting session, through the Kubernetes API.
    Kubernetes,
}

// === impl BackendKind ===

impl BackendKind {
    /// Whether instances run from images (`docker`, `kubernetes`).
    pub fn runs_images(self) -> bool {
        matches!(self, BackendKind::Docker | BackendKind::Kubernetes)
    }
}

/// The Kubernetes API and the limits of the kubernetes backend.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesConfig {
    /// Namespace session Pods (and their env Secrets) live in; required
    /// with `backend = "kubernetes"`.
    pub namespace: Option<String>,
    /// API server URL; default: the in-cluster service account, else
    /// `$KUBECONFIG` or `~/.kube/config`.
    pub api_url: Option<String>,
    /// Session Pods in the namespace at once, warm pools included, counted
    /// over every runtime pod (HTTP 503 above). A `ResourceQuota` on the
    /// namespace is the hard limit.
    pub max_pods: usize,
    /// Session Pods one tenant may run in the namespace at once.
    pub max_pods_per_tenant: usize,
    /// UID (and GID) the server process runs as (`runAsUser`, `runAsGroup`).
    pub run_as_user: i64,
    /// Size of the writable `/tmp` (a memory-backed `emptyDir`).
    pub tmpfs_size: String,
    /// How long a Pod may take to run (image pull, scheduling) before its
    /// session fails and the Pod is deleted.
    #[serde(with = "humantime_serde")]
    pub start_timeout: Duration,
    /// How often orphaned session Pods are looked for.
    #[serde(with = "humantime_serde")]
    pub sweep_every: Duration,
    /// `imagePullPolicy` of session Pods.
    pub image_pull_policy: String,
    /// Secrets (in the namespace) used to pull server images.
    pub image_pull_secrets: Vec<String>,
    /// `runtimeClassName` for servers that name none (e.g. `gvisor`).
    pub runtime_class_name: Option<String>,
}

// === impl KubernetesConfig ===

impl Default for KubernetesConfig {
    fn default() -> Self {
        KubernetesConfig {
            namespace: None,
            api_url: None,
            max_pods: 500,
            max_pods_per_tenant: 100,
            run_as_user: 65534,
            tmpfs_size: "64m".into(),
            start_timeout: Duration::from_secs(120),
            sweep_every: Duration::from_secs(30),
            image_pull_policy: "IfNotPresent".into(),
            image_pull_secrets: Vec::new(),
            runtime_class_name: None,
        }
    }
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
