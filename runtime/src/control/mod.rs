//! The control plane: REST under `/v1` for tenants' platform teams —
//! deploy a server, approve, activate, roll back, deprecate and
//! decommission its versions.
//!
//! Every route authenticates like the MCP endpoint (bearer tokens of the
//! same issuer, audience `{public_url}/v1` or one the issuer accepts
//! everywhere) and then authorizes (`access`): a tenant admin needs
//! `control.admin_scope` and the tenant's claim; `control.operator_scope`
//! reaches every tenant.
//!
//! May import: `control::*`, `registry`, `hosting` (probe, sessions
//! directory), `http` (state, Host checks, token validation), `audit`,
//! external crates. Must not import `mcp` or
//! `app`.
//!
//! # Layout
//! - `state`: [`ControlState`]; `access`: who may act on which tenant;
//!   `approval`: approving (listing what a version offers) and drift;
//!   `servers`: the handlers; `sessions`: hosting sessions on every pod;
//!   `registry_api`: the MCP Registry API view;
//! - `views`: the JSON shapes answered (and their schemas); `problem`:
//!   error responses; `openapi`: the OpenAPI document.

mod access;
mod approval;
mod openapi;
mod problem;
mod registry_api;
mod servers;
mod sessions;
mod state;
mod views;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{MethodRouter, delete, get, post, put};

pub(crate) use self::state::ControlState;

/// Every documented `/v1` route: (path, method, handler). The router is
/// built from this list, and a test checks the OpenAPI document has each.
pub(super) fn routes() -> Vec<(&'static str, &'static str, MethodRouter<ControlState>)> {
    const SERVERS: &str = "/v1/tenants/{tenant}/servers";
    const SERVER: &str = "/v1/tenants/{tenant}/servers/{server}";
    const VERSION: &str = "/v1/tenants/{tenant}/servers/{server}/versions/{version}";
    vec![
        (SERVERS, "get", get(servers::list)),
        (SERVER, "get", get(servers::show)),
        (SERVER, "put", put(servers::deploy)),
        (SERVER, "delete", delete(servers::decommission)),
        (
            "/v1/tenants/{tenant}/servers/{server}/versions",
            "get",
            get(servers::versions),
        ),
        (VERSION, "get", get(servers::version)),
        (
            "/v1/tenants/{tenant}/servers/{server}/versions/{version}/approve",
            "post",
            post(approval::approve),
        ),
        (
            "/v1/tenants/{tenant}/servers/{server}/capabilities",
            "get",
            get(approval::capabilities),
        ),
        (
            "/v1/tenants/{tenant}/servers/{server}/versions/{version}/activate",
            "post",
            post(servers::activate),
        ),
        (
            "/v1/tenants/{tenant}/servers/{server}/rollback",
            "post",
            post(servers::rollback),
        ),
        (
            "/v1/tenants/{tenant}/servers/{server}/deprecate",
            "post",
            post(servers::deprecate),
        ),
        ("/v1/tenants/{tenant}/sessions", "get", get(sessions::list)),
        (
            "/v1/tenants/{tenant}/sessions/{id}",
            "delete",
            delete(sessions::end),
        ),
        (
            "/v1/tenants/{tenant}/registry/v0/servers",
            "get",
            get(registry_api::servers),
        ),
    ]
}

/// The `/v1` routes.
pub(crate) fn router(state: ControlState, max_body_bytes: usize) -> Router {
    let mut by_path: Vec<(&str, MethodRouter<ControlState>)> = Vec::new();
    for (path, _, handler) in routes() {
        match by_path.iter_mut().find(|(p, _)| *p == path) {
            Some((_, existing)) => *existing = std::mem::take(existing).merge(handler),
            None => by_path.push((path, handler)),
        }
    }
    let mut router = Router::new();
    for (path, handler) in by_path {
        router = router.route(path, handler);
    }
    router
        .route("/v1/openapi.json", get(openapi::document))
        .route("/v1", get(problem::unknown_route))
        .route(
            "/v1/{*rest}",
            get(problem::unknown_route).post(problem::unknown_route),
        )
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}
