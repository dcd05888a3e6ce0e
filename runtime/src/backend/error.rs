//! [`BackendError`]: why an instance could not be started.
//!
//! May import: external crates only.

/// Failure to start an instance.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// A container cap is reached; existing sessions are unaffected.
    #[error("{0}; retry shortly")]
    Capacity(String),
    /// The container engine failed or is unreachable.
    #[error("the Docker engine {0}")]
    Engine(String),
    /// The Kubernetes API server is unreachable or failed (transient).
    #[error("the Kubernetes API {0}")]
    Cluster(String),
    /// The Kubernetes API refused what Berth asked (RBAC, admission, an
    /// invalid object): retrying does not help until an operator acts.
    #[error("{0}")]
    Refused(String),
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
    /// The executable is missing, unreadable, or not the one its version
    /// was pinned to.
    #[error("{0}")]
    Executable(String),
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
