//! `GET /v1/tenants/{tenant}/registry/v0/servers`: the tenant's active
//! servers in the official MCP Registry API's shape (`{"servers": [{"server":
//! server.json, "_meta"}], "metadata": {"count"}}`), each with Berth's
//! endpoint as its remote, so clients that read a registry find them.
//!
//! May import: `control::{access, problem, state}`, `registry`, external
//! crates.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::json;

use super::access::authorize;
use super::problem::{bad_path, registry_error};
use super::state::ControlState;
use super::views::ErrorBody;

/// `GET /v1/tenants/{tenant}/registry/v0/servers`.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/registry/v0/servers", tag = "registry",
    params(("tenant" = String, Path, description = "Tenant")),
    responses(
        (status = 200, description = "Active servers as MCP Registry API entries (`{servers: [{server, _meta}], metadata: {count}}`)", body = Object),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks the admin or operator scope", body = ErrorBody),
    ))]
pub(crate) async fn servers(
    State(s): State<ControlState>,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(Path(tenant)) = path else {
        return bad_path("malformed tenant in the path");
    };
    if let Err(resp) = authorize(&s, &headers, &tenant).await {
        return resp;
    }
    let base = s.app.public_base().to_owned();
    let entries = s
        .registry
        .registry_entries(&tenant, |name| format!("{base}/mcp/{tenant}/{name}"))
        .await;
    match entries {
        Ok(servers) => {
            let count = servers.len();
            Json(json!({"servers": servers, "metadata": {"count": count}})).into_response()
        }
        Err(e) => registry_error(&e),
    }
}
