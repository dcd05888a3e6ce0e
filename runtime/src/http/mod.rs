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
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, FromRequest, Path, Request, State};
use axum::response::Response;
use axum::routing::post;
use berth_auth::{Principal, TokenValidator};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use tokio_util::sync::CancellationToken;

use self::guard::HostPolicy;
use crate::config::{Config, Limits, ServerConfig};
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
            crate::audit::tenant_refused(&principal.tenant, tenant, name, &principal.subject);
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
    path: Result<Path<(String, String)>, PathRejection>,
    request: Request,
) -> Response {
    let Ok(Path((tenant, server))) = path else {
        return bad_path();
    };
    let (mut parts, body) = request.into_parts();
    let headers = std::mem::take(&mut parts.headers);
    let body = match read_body(
        &app.config.limits,
        &headers,
        Request::from_parts(parts, body),
    )
    .await
    {
        Ok(b) => b,
        Err(resp) => return resp,
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

/// Reads a POST body: 413 above `limits.max_body_bytes` (at once when the
/// Content-Length already says so), and 408 when the body has not arrived
/// within `limits.request_timeout`, so a client that stalls mid-body
/// cannot hold the connection (and what it sent so far) forever.
async fn read_body(
    limits: &Limits,
    headers: &HeaderMap,
    request: Request,
) -> Result<Bytes, Response> {
    let max = limits.max_body_bytes;
    let too_large = || {
        close(reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InvalidRequest,
            format!("Payload Too Large: the body exceeds {max} bytes (limits.max_body_bytes)"),
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(limits.request_timeout, Bytes::from_request(request, &())).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
        Ok(Err(e)) => Err(reply::error(
            e.status(),
            ErrorCode::InvalidRequest,
            format!("Bad Request: could not read the body ({e})"),
        )),
        Err(_) => Err(close(reply::error(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::InvalidRequest,
            format!(
                "Request Timeout: the body did not arrive within {}s (limits.request_timeout)",
                limits.request_timeout.as_secs_f32()
            ),
        ))),
    }
}

/// Ends the connection after this response (its request was not read to
/// the end, so nothing after it on the connection can be trusted).
fn close(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// 400 for a tenant or server segment that does not decode (e.g. `%ff`).
pub(crate) fn bad_path() -> Response {
    reply::error(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidRequest,
        "Bad Request: the tenant and server in /mcp/{tenant}/{server} must be valid UTF-8",
    )
}

async fn not_found() -> Response {
    reply::error(
        StatusCode::NOT_FOUND,
        ErrorCode::InvalidRequest,
        "Not Found: MCP endpoints are at /mcp/{tenant}/{server}",
    )
}
