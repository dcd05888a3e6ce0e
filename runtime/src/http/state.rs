//! [`AppState`]: what every handler of the HTTP front needs, behind one
//! cheap `Clone` handle with named accessors.
//!
//! May import: `hosting`, `servers`, `http::host`, `config`, external
//! crates.

use std::sync::Arc;
use std::time::Duration;

use berth_auth::TokenValidator;
use tokio_util::sync::CancellationToken;

use super::host::HostPolicy;
use crate::config::{AuthMode, Config, Limits};
use crate::hosting::{Continuations, Sessions};
use crate::servers::ServerTable;

/// Shared state of the HTTP front (cheap to clone).
#[derive(Clone)]
pub(crate) struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    limits: Limits,
    hosts: HostPolicy,
    validator: Arc<dyn TokenValidator>,
    servers: ServerTable,
    sessions: Sessions,
    continuations: Continuations,
    /// Public keys of the built-in dev issuer (served at `/.well-known/jwks.json`).
    jwks: Option<serde_json::Value>,
    /// The authorization server named in RFC 9728 metadata.
    issuer: String,
    public_base: String,
    shutdown: CancellationToken,
}

/// The parts [`AppState::new`] is built from.
pub(crate) struct StateParts {
    /// Bearer-token validation.
    pub validator: Arc<dyn TokenValidator>,
    /// The hosted servers.
    pub servers: ServerTable,
    /// Open hosting sessions.
    pub sessions: Sessions,
    /// Parked 2026-07-28 calls.
    pub continuations: Continuations,
    /// The dev issuer's JWKS, if it runs.
    pub jwks: Option<serde_json::Value>,
    /// Cancelled when Berth shuts down; every SSE stream watches it.
    pub shutdown: CancellationToken,
}

// === impl AppState ===

impl AppState {
    /// Builds the state.
    pub(crate) fn new(config: &Config, parts: StateParts) -> Self {
        let public_base = config.public_base();
        let hosts = HostPolicy::new(
            config.listen.ip().is_loopback(),
            &public_base,
            &config.security.allowed_hosts,
            &config.security.allowed_origins,
        );
        let issuer = match config.auth.mode {
            AuthMode::Dev => berth_auth::DevIssuer::ISSUER.to_owned(),
            AuthMode::Jwt | AuthMode::Oidc => config.auth.issuer.clone().unwrap_or_default(),
        };
        AppState {
            inner: Arc::new(Inner {
                limits: config.limits.clone(),
                hosts,
                validator: parts.validator,
                servers: parts.servers,
                sessions: parts.sessions,
                continuations: parts.continuations,
                jwks: parts.jwks,
                issuer,
                public_base,
                shutdown: parts.shutdown,
            }),
        }
    }

    /// Request and resource limits.
    pub(crate) fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// Host/Origin policy.
    pub(crate) fn hosts(&self) -> &HostPolicy {
        &self.inner.hosts
    }

    /// Bearer-token validation.
    pub(crate) fn validator(&self) -> &dyn TokenValidator {
        &*self.inner.validator
    }

    /// The hosted servers.
    pub(crate) fn servers(&self) -> &ServerTable {
        &self.inner.servers
    }

    /// Open hosting sessions.
    pub(crate) fn sessions(&self) -> &Sessions {
        &self.inner.sessions
    }

    /// Parked 2026-07-28 calls waiting for agent input.
    pub(crate) fn continuations(&self) -> &Continuations {
        &self.inner.continuations
    }

    /// The dev issuer's public keys, if it runs.
    pub(crate) fn jwks(&self) -> Option<&serde_json::Value> {
        self.inner.jwks.as_ref()
    }

    /// The authorization server agents get tokens from.
    pub(crate) fn issuer(&self) -> &str {
        &self.inner.issuer
    }

    /// The public base URL (no trailing slash).
    pub(crate) fn public_base(&self) -> &str {
        &self.inner.public_base
    }

    /// `retry` sent in SSE priming events (`limits.sse_retry`).
    pub(crate) fn sse_retry(&self) -> Duration {
        self.inner.limits.sse_retry
    }

    /// Cancelled when Berth shuts down.
    pub(crate) fn shutdown(&self) -> &CancellationToken {
        &self.inner.shutdown
    }
}
