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
//! May import: `control::*`, `registry`, `http` (state, Host checks,
//! token validation), `audit`, external crates. Must not import `mcp` or
//! `app`.
//!
//! # Layout
//! - `state`: [`ControlState`]; `access`: who may act on which tenant;
//!   `servers`: the handlers; `registry_api`: the MCP Registry API view;
//! - `views`: the JSON shapes answered; `problem`: error responses.

mod access;
mod problem;
mod registry_api;
mod servers;
mod state;
mod views;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};

pub(crate) use self::state::ControlState;

/// The `/v1` routes.
pub(crate) fn router(state: ControlState, max_body_bytes: usize) -> Router {
    let servers = "/v1/tenants/{tenant}/servers";
    Router::new()
        .route(servers, get(servers::list))
        .route(
            &format!("{servers}/{{server}}"),
            get(servers::show)
                .put(servers::deploy)
                .delete(servers::decommission),
        )
        .route(
            &format!("{servers}/{{server}}/versions"),
            get(servers::versions),
        )
        .route(
            &format!("{servers}/{{server}}/versions/{{version}}"),
            get(servers::version),
        )
        .route(
            &format!("{servers}/{{server}}/versions/{{version}}/approve"),
            post(servers::approve),
        )
        .route(
            &format!("{servers}/{{server}}/versions/{{version}}/activate"),
            post(servers::activate),
        )
        .route(
            &format!("{servers}/{{server}}/rollback"),
            post(servers::rollback),
        )
        .route(
            &format!("{servers}/{{server}}/deprecate"),
            post(servers::deprecate),
        )
        .route(
            "/v1/tenants/{tenant}/registry/v0/servers",
            get(registry_api::servers),
        )
        .route("/v1", get(problem::unknown_route))
        .route(
            "/v1/{*rest}",
            get(problem::unknown_route).post(problem::unknown_route),
        )
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .with_state(state)
}
