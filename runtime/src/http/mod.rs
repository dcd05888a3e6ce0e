//! The HTTP front: routes, shared state, and the MCP endpoint handlers.
//!
//! `POST|GET|DELETE /mcp/{tenant}/{server}` speak MCP Streamable HTTP in both
//! eras: legacy sessions (`initialize` + `Mcp-Session-Id`, see [`legacy`])
//! and 2026-07-28 stateless requests (see [`crate::stateless`]). Every
//! request passes the same guards first ([`guard`]): Host/Origin, bearer
//! token, tenant. Errors are rendered in [`reply`] only.
//!
//! # Layout
//! - [`guard`]: Host/Origin, Accept, Content-Type, authentication.
//! - [`legacy`]: POST handling for sessions with an `Mcp-Session-Id`.
//! - [`streams`]: GET (SSE resume/standalone stream) and DELETE.
//! - [`wellknown`]: RFC 9728 metadata, JWKS, health.
//! - [`reply`]: responses, JSON-RPC errors, SSE bodies.

pub mod guard;
pub mod legacy;
pub mod locate;
pub mod reply;
pub mod streams;
pub mod wellknown;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::response::Response;
use axum::routing::post;
use berth_auth::{Principal, TokenValidator};
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use tokio_util::sync::CancellationToken;

use self::guard::HostPolicy;
use crate::config::{Config, ServerConfig};
use crate::hosting::Sessions;
use crate::jsonrpc::ErrorCode;

/// Protocol versions served with legacy sessions.
pub const LEGACY_VERSIONS: &[&str] = &["2025-03-26", "2025-06-18", "2025-11-25"];

/// The stateless protocol version.
pub const STATELESS_VERSION: &str = "2026-07-28";

/// Shared state of the HTTP front (cheap to clone).
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

/// What handlers need.
pub struct Inner {
    /// The validated configuration.
    pub config: Config,
    /// Host/Origin policy.
    pub hosts: HostPolicy,
    /// Bearer-token validation.
    pub validator: Arc<dyn TokenValidator>,
    /// Open hosting sessions.
    pub sessions: Sessions,
    /// Public keys of the built-in dev issuer (served at `/.well-known/jwks.json`).
    pub jwks: Option<serde_json::Value>,
    /// Cancelled when Berth shuts down; every SSE stream watches it.
    pub shutdown: CancellationToken,
    /// `retry` sent in SSE priming events.
    pub sse_retry: Duration,
    /// Parked 2026-07-28 calls waiting for agent input.
    pub mrtr: crate::stateless::mrtr::Continuations,
    servers: HashMap<String, HashMap<String, Arc<HostedServer>>>,
    public_base: String,
}

/// A hosted server with its precomputed URLs.
#[derive(Debug)]
pub struct HostedServer {
    /// Tenant.
    pub tenant: String,
    /// Server name.
    pub name: String,
    /// Deployment configuration.
    pub config: ServerConfig,
    /// Canonical resource URL (the token audience).
    pub resource: String,
    /// RFC 9728 metadata URL.
    pub metadata_url: String,
    /// Scopes required for this server.
    pub scopes: Vec<String>,
}

/// A request that passed the guards.
pub struct Admitted {
    /// The authenticated caller.
    pub principal: Principal,
    /// The target server.
    pub server: Arc<HostedServer>,
}

// === impl AppState ===

impl AppState {
    /// Builds the state.
    pub fn new(
        config: Config,
        validator: Arc<dyn TokenValidator>,
        sessions: Sessions,
        jwks: Option<serde_json::Value>,
        shutdown: CancellationToken,
    ) -> Self {
        let public_base = config.public_base();
        let hosts = HostPolicy::new(
            config.listen.ip().is_loopback(),
            &public_base,
            &config.security.allowed_hosts,
            &config.security.allowed_origins,
        );
        let mut servers: HashMap<String, HashMap<String, Arc<HostedServer>>> = HashMap::new();
        for (tenant, list) in &config.servers {
            for (name, sc) in list {
                let mut scopes = config.auth.required_scopes.clone();
                scopes.extend(sc.required_scopes.iter().cloned());
                let hosted = HostedServer {
                    tenant: tenant.clone(),
                    name: name.clone(),
                    config: sc.clone(),
                    resource: format!("{public_base}/mcp/{tenant}/{name}"),
                    metadata_url: format!(
                        "{public_base}/.well-known/oauth-protected-resource/mcp/{tenant}/{name}"
                    ),
                    scopes,
                };
                servers
                    .entry(tenant.clone())
                    .or_default()
                    .insert(name.clone(), Arc::new(hosted));
            }
        }
        AppState {
            inner: Arc::new(Inner {
                config,
                hosts,
                validator,
                sessions,
                jwks,
                shutdown,
                sse_retry: Duration::from_millis(1000),
                mrtr: crate::stateless::mrtr::Continuations::default(),
                servers,
                public_base,
            }),
        }
    }

    /// The public base URL.
    pub fn public_base(&self) -> &str {
        &self.inner.public_base
    }

    /// Looks up a hosted server.
    pub fn server(&self, tenant: &str, name: &str) -> Option<Arc<HostedServer>> {
        self.inner.servers.get(tenant)?.get(name).cloned()
    }

    /// Runs the guards every MCP request passes: Host/Origin (403), bearer
    /// token (401), tenant (403), server exists (404).
    pub async fn admit(
        &self,
        headers: &HeaderMap,
        tenant: &str,
        name: &str,
    ) -> Result<Admitted, Response> {
        self.hosts.check(headers)?;
        let server = self.server(tenant, name);
        let (resource, metadata_url, scopes) = match &server {
            Some(s) => (s.resource.clone(), s.metadata_url.clone(), s.scopes.clone()),
            None => (
                format!("{}/mcp/{tenant}/{name}", self.public_base()),
                format!(
                    "{}/.well-known/oauth-protected-resource/mcp/{tenant}/{name}",
                    self.public_base()
                ),
                self.config.auth.required_scopes.clone(),
            ),
        };
        let principal =
            guard::authenticate(&*self.validator, headers, &resource, &metadata_url, &scopes)
                .await?;
        if principal.tenant != tenant {
            tracing::info!(subject = %principal.subject, token_tenant = %principal.tenant, tenant, "cross-tenant request refused");
            return Err(reply::error(
                StatusCode::FORBIDDEN,
                ErrorCode::InvalidRequest,
                format!(
                    "Forbidden: this token is for tenant `{}`; it cannot use servers of tenant `{tenant}`",
                    principal.tenant
                ),
            ));
        }
        let Some(server) = server else {
            return Err(reply::error(
                StatusCode::NOT_FOUND,
                ErrorCode::InvalidRequest,
                format!(
                    "Not Found: tenant `{tenant}` has no MCP server named `{name}`; check the URL (/mcp/{{tenant}}/{{server}})"
                ),
            ));
        };
        Ok(Admitted { principal, server })
    }
}

impl std::ops::Deref for AppState {
    type Target = Inner;
    fn deref(&self) -> &Inner {
        &self.inner
    }
}

/// The data-plane router.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config.limits.max_body_bytes;
    Router::new()
        .route(
            "/mcp/{tenant}/{server}",
            post(post_mcp)
                .get(streams::get_mcp)
                .delete(streams::delete_mcp),
        )
        .merge(wellknown::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

async fn post_mcp(
    State(app): State<AppState>,
    Path((tenant, server)): Path<(String, String)>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(e) => {
            let status = e.status();
            let message = if status == StatusCode::PAYLOAD_TOO_LARGE {
                format!(
                    "Payload Too Large: the body exceeds {} bytes (limits.max_body_bytes)",
                    app.config.limits.max_body_bytes
                )
            } else {
                format!("Bad Request: could not read the body ({e})")
            };
            return reply::error(status, ErrorCode::InvalidRequest, message);
        }
    };
    let admitted = match app.admit(&headers, &tenant, &server).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    if headers.contains_key(reply::MCP_SESSION_ID)
        || !crate::stateless::is_stateless(&headers, &body)
    {
        legacy::post(&app, admitted, &headers, &body).await
    } else {
        crate::stateless::post(&app, admitted, &headers, &body).await
    }
}

async fn not_found() -> Response {
    reply::error(
        StatusCode::NOT_FOUND,
        ErrorCode::InvalidRequest,
        "Not Found: MCP endpoints are at /mcp/{tenant}/{server}",
    )
}
