//! Approving a version, and what it offers: `POST …/versions/{v}/approve`
//! starts one instance of the version, lists its tools, prompts,
//! resources and resource templates, and records each with its
//! fingerprint in the approval; `GET …/servers/{server}/capabilities`
//! shows the active version's approved set and every drift seen since.
//!
//! May import: `control::{problem, servers, state, views}`,
//! `hosting` (the probe), `registry`, external crates.

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};

use super::problem::{problem, registry_error};
use super::servers::{ServerPath, VersionPath, change, finish, read_server, read_version};
use super::state::ControlState;
use super::views::{CapabilitiesView, ErrorBody, ServerView};
use crate::registry::Change;

/// `POST …/versions/{version}/approve`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/servers/{server}/versions/{version}/approve", tag = "lifecycle",
    params(("tenant" = String, Path, description = "Tenant"), ("server" = String, Path, description = "Server name"),
        ("version" = u32, Path, description = "Version number"),
        ("If-Match" = Option<String>, Header, description = "Only if the server is still at this revision")),
    responses(
        (status = 200, description = "Approved, with the capabilities it offered (each with its fingerprint)", body = ServerView),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks the admin or operator scope, or the deployer approves their own version", body = ErrorBody),
        (status = 404, description = "No such server or version", body = ErrorBody),
        (status = 409, description = "Not proposed", body = ErrorBody),
        (status = 412, description = "If-Match names an older revision", body = ErrorBody),
        (status = 502, description = "The version did not start or list what it offers", body = ErrorBody),
    ))]
pub(crate) async fn approve(
    State(s): State<ControlState>,
    path: VersionPath,
    headers: HeaderMap,
) -> Response {
    let (caller, tenant, server, v) = match read_version(&s, path, &headers).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    // Only a version that can be approved is started (the change below
    // refuses the rest with the right error).
    let proposed = s
        .registry
        .get(&tenant, &server)
        .await
        .ok()
        .and_then(|r| r.version(v).map(|x| x.state.as_str() == "proposed"))
        .unwrap_or(false);
    let capabilities = if proposed {
        let spec = match s.registry.spec_of(&tenant, &server, v).await {
            Ok(spec) => spec,
            Err(e) => return registry_error(&e),
        };
        let backend = s.app.sessions().backend().clone();
        match crate::hosting::list_capabilities(&*backend, &spec).await {
            Ok(listed) => Some(listed),
            Err(m) => {
                return problem(
                    StatusCode::BAD_GATEWAY,
                    "approval_probe_failed",
                    format!(
                        "approving version {v} of {tenant}/{server} starts it to record what it offers, and that failed: {m}"
                    ),
                );
            }
        }
    } else {
        None
    };
    let result = change(
        &s,
        &caller,
        &tenant,
        &server,
        &headers,
        Change::Approve(v, capabilities),
    )
    .await;
    finish(result, "version.approved", &tenant, &server, &caller)
}

/// `GET …/servers/{server}/capabilities`.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/servers/{server}/capabilities", tag = "servers",
    params(("tenant" = String, Path, description = "Tenant"), ("server" = String, Path, description = "Server name")),
    responses(
        (status = 200, description = "The active version's approved capabilities and every drift seen", body = CapabilitiesView),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks the admin or operator scope", body = ErrorBody),
        (status = 404, description = "No such server", body = ErrorBody),
    ))]
pub(crate) async fn capabilities(
    State(s): State<ControlState>,
    path: ServerPath,
    headers: HeaderMap,
) -> Response {
    let (tenant, server) = match read_server(&s, path, &headers).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    match s.registry.get(&tenant, &server).await {
        Ok(record) => Json(super::views::capabilities(&record)).into_response(),
        Err(e) => registry_error(&e),
    }
}
