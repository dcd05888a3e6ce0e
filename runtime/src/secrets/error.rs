//! The two ways secrets fail: at start ([`SetupError`]: Vault login or
//! session keys unusable, Berth does not start) and at call time
//! ([`SecretsError`]: a deployment's secrets could not be read for a
//! caller, that caller's session does not start).
//!
//! May import: `config` (its error type).

use crate::config::ConfigError;

/// Why Berth's secrets could not be set up at start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// A `[vault]` or `[keys]` value, or a file one names, is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Berth's Vault client could not be built.
    #[error("vault")]
    Vault(#[source] berth_auth::Error),
    /// The session keys could not be loaded or created.
    #[error("session keys")]
    Keys(#[from] berth_session_store::Error),
}

/// A deployment's secrets could not be read for a caller.
#[derive(Debug, thiserror::Error)]
#[error("server {tenant}/{server} needs secrets that could not be read ({source})")]
pub(crate) struct SecretsError {
    /// Tenant of the server.
    pub tenant: String,
    /// The server.
    pub server: String,
    /// What Vault (or the path check) said.
    #[source]
    pub source: berth_auth::Error,
}

// === impl SecretsError ===

impl SecretsError {
    /// Wraps a failed read, and logs it (paths and keys only, never a value).
    pub(crate) fn new(tenant: &str, server: &str, source: berth_auth::Error) -> Self {
        tracing::warn!(tenant, server, error = %source, "server instance not started: its secrets could not be read");
        SecretsError {
            tenant: tenant.to_owned(),
            server: server.to_owned(),
            source,
        }
    }

    /// The caller's subject made a secret path that leaves the tenant's
    /// prefix (e.g. `../other`): refused before Vault is asked. Not
    /// retryable, unlike Vault being unreachable.
    pub(crate) fn is_path_refused(&self) -> bool {
        matches!(self.source, berth_auth::Error::SecretPath(_))
    }
}
