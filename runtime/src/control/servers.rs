//! The `/v1/tenants/{tenant}/servers` handlers: read, deploy and change
//! servers. Changes honour `If-Match` (the record's revision, as its
//! `ETag`): a stale one gets 412; without it the registry's
//! compare-and-set still serialises concurrent changes.
//!
//! May import: `control::{access, problem, state, views}`,
//! `registry`, `audit`, external crates.

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde_json::Value;

use super::access::{Caller, authorize};
use super::problem::{bad_path, problem, registry_error};
use super::state::ControlState;
use super::views::{
    self, DeployRequest, Deployed, DeprecateRequest, ErrorBody, ServerList, ServerView,
    VersionList, VersionView,
};
use crate::registry::{Change, Changed, ServerRecord};

type TenantPath = Result<Path<String>, PathRejection>;
pub(super) type ServerPath = Result<Path<(String, String)>, PathRejection>;
pub(super) type VersionPath = Result<Path<(String, String, String)>, PathRejection>;

/// `GET /v1/tenants/{tenant}/servers`.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/servers", tag = "servers",
    params(("tenant" = String, Path, description = "Tenant")),
    responses(
        (status = 200, description = "The tenant's servers", body = ServerList),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks the admin or operator scope", body = ErrorBody),
        (status = 404, description = "Another tenant's", body = ErrorBody),
    ))]
pub(crate) async fn list(
    State(s): State<ControlState>,
    path: TenantPath,
    headers: HeaderMap,
) -> Response {
    let Ok(Path(tenant)) = path else {
        return bad_path("malformed tenant in the path");
    };
    if let Err(resp) = authorize(&s, &headers, &tenant).await {
        return resp;
    }
    let records = match s.registry.list(&tenant).await {
        Ok(r) => r,
        Err(e) => return registry_error(&e),
    };
    let mut servers: Vec<views::ServerSummary> = records.iter().map(views::summary).collect();
    servers.extend(
        s.registry
            .managed_names(&tenant)
            .iter()
            .map(|n| views::managed_summary(n)),
    );
    servers.sort_by(|a, b| a.name.cmp(&b.name));
    Json(views::ServerList { tenant, servers }).into_response()
}

/// `GET /v1/tenants/{tenant}/servers/{server}`.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/servers/{server}", tag = "servers",
    params(("tenant" = String, Path, description = "Tenant"), ("server" = String, Path, description = "Server name")),
    responses(
        (status = 200, description = "The server and its versions; `ETag` is its revision", body = ServerView),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks the admin or operator scope", body = ErrorBody),
        (status = 404, description = "No such server", body = ErrorBody),
    ))]
pub(crate) async fn show(
    State(s): State<ControlState>,
    path: ServerPath,
    headers: HeaderMap,
) -> Response {
    let (tenant, server) = match read_server(&s, path, &headers).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    if s.registry.is_managed(&tenant, &server) {
        return Json(views::managed_server(&tenant, &server)).into_response();
    }
    match s.registry.get(&tenant, &server).await {
        Ok(record) => with_etag(Json(views::server(&record)).into_response(), &record),
        Err(e) => registry_error(&e),
    }
}

/// `GET …/servers/{server}/versions`.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/servers/{server}/versions", tag = "servers",
    params(("tenant" = String, Path, description = "Tenant"), ("server" = String, Path, description = "Server name")),
    responses(
        (status = 200, description = "Every version, oldest first", body = VersionList),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks the admin or operator scope", body = ErrorBody),
        (status = 404, description = "No such server", body = ErrorBody),
    ))]
pub(crate) async fn versions(
    State(s): State<ControlState>,
    path: ServerPath,
    headers: HeaderMap,
) -> Response {
    let (tenant, server) = match read_server(&s, path, &headers).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    match s.registry.get(&tenant, &server).await {
        Ok(record) => {
            let versions = record.versions.iter().map(views::version).collect();
            with_etag(
                Json(views::VersionList { versions }).into_response(),
                &record,
            )
        }
        Err(e) => registry_error(&e),
    }
}

/// `GET …/servers/{server}/versions/{version}`.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/servers/{server}/versions/{version}", tag = "servers",
    params(("tenant" = String, Path, description = "Tenant"), ("server" = String, Path, description = "Server name"), ("version" = u32, Path, description = "Version number")),
    responses(
        (status = 200, description = "One version", body = VersionView),
        (status = 400, description = "The version is not a number", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks the admin or operator scope", body = ErrorBody),
        (status = 404, description = "No such server or version", body = ErrorBody),
    ))]
pub(crate) async fn version(
    State(s): State<ControlState>,
    path: VersionPath,
    headers: HeaderMap,
) -> Response {
    let (_, tenant, server, v) = match read_version(&s, path, &headers).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    match s.registry.get(&tenant, &server).await {
        Ok(record) => match record.version(v) {
            Some(found) => with_etag(Json(views::version(found)).into_response(), &record),
            None => problem(
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{tenant}/{server} has no version {v}"),
            ),
        },
        Err(e) => registry_error(&e),
    }
}

/// `PUT /v1/tenants/{tenant}/servers/{server}`: deploys a new version.
#[utoipa::path(put, path = "/v1/tenants/{tenant}/servers/{server}", tag = "servers",
    params(("tenant" = String, Path, description = "Tenant"), ("server" = String, Path, description = "Server name"), ("If-Match" = Option<String>, Header, description = "Only if the server is still at this revision (its ETag)")),
    request_body(content = DeployRequest, description = "A deployment (or an MCP Registry server.json)"),
    responses(
        (status = 201, description = "A new proposed version; `Location` names it", body = Deployed),
        (status = 400, description = "The body is not JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks the admin or operator scope", body = ErrorBody),
        (status = 404, description = "Another tenant's", body = ErrorBody),
        (status = 409, description = "Managed by the config file, or decommissioned", body = ErrorBody),
        (status = 412, description = "If-Match names an older revision", body = ErrorBody),
        (status = 413, description = "Larger than control.max_body_bytes", body = ErrorBody),
        (status = 422, description = "Invalid: every problem with its JSON pointer", body = ErrorBody),
    ))]
pub(crate) async fn deploy(
    State(s): State<ControlState>,
    path: ServerPath,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(Path((tenant, server))) = path else {
        return bad_path("malformed tenant or server in the path");
    };
    let caller = match authorize(&s, &headers, &tenant).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let body = match body {
        Ok(b) => b,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            return problem(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "the deployment is larger than control.max_body_bytes ({} bytes)",
                    s.registry.control().max_body_bytes
                ),
            );
        }
        Err(e) => return problem(e.status(), "bad_request", e.body_text()),
    };
    let document: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                "bad_request",
                format!("the body is not JSON: {e}"),
            );
        }
    };
    let result = change(
        &s,
        &caller,
        &tenant,
        &server,
        &headers,
        Change::Deploy(document),
    )
    .await;
    match result {
        Ok(changed) => {
            let version = changed.version.unwrap_or_default();
            let digest = changed.record.version(version).map(|v| v.digest.clone());
            crate::audit::control_change(
                "server.deployed",
                &tenant,
                &server,
                Some(version),
                caller.subject(),
            );
            let body = views::Deployed {
                server: server.clone(),
                version,
                digest,
                state: "proposed".into(),
            };
            let mut resp = with_etag(
                (StatusCode::CREATED, Json(body)).into_response(),
                &changed.record,
            );
            let location = format!("/v1/tenants/{tenant}/servers/{server}/versions/{version}");
            if let Ok(v) = HeaderValue::from_str(&location) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            resp
        }
        Err(resp) => resp,
    }
}

/// `POST …/versions/{version}/activate`.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/servers/{server}/versions/{version}/activate", tag = "lifecycle",
    params(("tenant" = String, Path, description = "Tenant"), ("server" = String, Path, description = "Server name"), ("version" = u32, Path, description = "Version number"), ("If-Match" = Option<String>, Header, description = "Only if the server is still at this revision")),
    responses(
        (status = 200, description = "New sessions use this version", body = ServerView),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks the admin or operator scope", body = ErrorBody),
        (status = 404, description = "No such server or version", body = ErrorBody),
        (status = 409, description = "Proposed (not approved), or decommissioned", body = ErrorBody),
        (status = 412, description = "If-Match names an older revision", body = ErrorBody),
    ))]
pub(crate) async fn activate(
    State(s): State<ControlState>,
    path: VersionPath,
    headers: HeaderMap,
) -> Response {
    version_change(&s, path, &headers, "version.activated", Change::Activate).await
}

/// `POST …/servers/{server}/rollback`: activates the previous approved
/// version.
#[utoipa::path(post, path = "/v1/tenants/{tenant}/servers/{server}/rollback", tag = "lifecycle",
    params(("tenant" = String, Path, description = "Tenant"), ("server" = String, Path, description = "Server name"), ("If-Match" = Option<String>, Header, description = "Only if the server is still at this revision")),
    responses(
        (status = 200, description = "The previous approved version is active", body = ServerView),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks the admin or operator scope", body = ErrorBody),
        (status = 404, description = "No such server", body = ErrorBody),
        (status = 409, description = "Nothing to roll back to", body = ErrorBody),
    ))]
pub(crate) async fn rollback(
    State(s): State<ControlState>,
    path: ServerPath,
    headers: HeaderMap,
) -> Response {
    server_change(&s, path, &headers, "version.activated", Change::Rollback).await
}

/// `POST …/servers/{server}/deprecate`, body `{"sunset": "YYYY-MM-DD"}`
/// (optional).
#[utoipa::path(post, path = "/v1/tenants/{tenant}/servers/{server}/deprecate", tag = "lifecycle",
    params(("tenant" = String, Path, description = "Tenant"), ("server" = String, Path, description = "Server name")),
    request_body(content = Option<DeprecateRequest>, description = "An optional sunset date"),
    responses(
        (status = 200, description = "Deprecated (still callable)", body = ServerView),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks the admin or operator scope", body = ErrorBody),
        (status = 404, description = "No such server", body = ErrorBody),
        (status = 422, description = "`sunset` is not a date", body = ErrorBody),
    ))]
pub(crate) async fn deprecate(
    State(s): State<ControlState>,
    path: ServerPath,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let sunset = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        match serde_json::from_slice::<views::DeprecateRequest>(&body) {
            Ok(views::DeprecateRequest { sunset: None }) => None,
            Ok(views::DeprecateRequest { sunset: Some(d) }) if is_date(&d) => Some(d),
            Ok(_) | Err(_) => {
                return problem(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    "invalid_request",
                    "the body must be {\"sunset\": \"YYYY-MM-DD\"} (or empty): `sunset` must be a date like 2027-01-31",
                );
            }
        }
    };
    server_change(
        &s,
        path,
        &headers,
        "server.deprecated",
        Change::Deprecate(sunset),
    )
    .await
}

/// `DELETE /v1/tenants/{tenant}/servers/{server}`: decommissions.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/servers/{server}", tag = "lifecycle",
    params(("tenant" = String, Path, description = "Tenant"), ("server" = String, Path, description = "Server name"), ("If-Match" = Option<String>, Header, description = "Only if the server is still at this revision")),
    responses(
        (status = 200, description = "Decommissioned: its sessions ended on every pod", body = ServerView),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks the admin or operator scope", body = ErrorBody),
        (status = 404, description = "No such server", body = ErrorBody),
        (status = 409, description = "Already decommissioned, or managed by the config file", body = ErrorBody),
    ))]
pub(crate) async fn decommission(
    State(s): State<ControlState>,
    path: ServerPath,
    headers: HeaderMap,
) -> Response {
    server_change(
        &s,
        path,
        &headers,
        "server.decommissioned",
        Change::Decommission,
    )
    .await
}

pub(super) async fn version_change(
    s: &ControlState,
    path: VersionPath,
    headers: &HeaderMap,
    event: &'static str,
    make: fn(u32) -> Change,
) -> Response {
    let (caller, tenant, server, v) = match read_version(s, path, headers).await {
        Ok(t) => t,
        Err(resp) => return resp,
    };
    finish(
        change(s, &caller, &tenant, &server, headers, make(v)).await,
        event,
        &tenant,
        &server,
        &caller,
    )
}

async fn server_change(
    s: &ControlState,
    path: ServerPath,
    headers: &HeaderMap,
    event: &'static str,
    what: Change,
) -> Response {
    let Ok(Path((tenant, server))) = path else {
        return bad_path("malformed tenant or server in the path");
    };
    let caller = match authorize(s, headers, &tenant).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    finish(
        change(s, &caller, &tenant, &server, headers, what).await,
        event,
        &tenant,
        &server,
        &caller,
    )
}

pub(super) fn finish(
    result: Result<Changed, Response>,
    event: &'static str,
    tenant: &str,
    server: &str,
    caller: &Caller,
) -> Response {
    match result {
        Ok(changed) => {
            crate::audit::control_change(event, tenant, server, changed.version, caller.subject());
            with_etag(
                Json(views::server(&changed.record)).into_response(),
                &changed.record,
            )
        }
        Err(resp) => resp,
    }
}

pub(super) async fn change(
    s: &ControlState,
    caller: &Caller,
    tenant: &str,
    server: &str,
    headers: &HeaderMap,
    what: Change,
) -> Result<Changed, Response> {
    let if_match = match if_match(headers) {
        Ok(m) => m,
        Err(resp) => return Err(resp),
    };
    s.registry
        .change(tenant, server, caller.subject(), if_match, what)
        .await
        .map_err(|e| registry_error(&e))
}

/// The revision named by `If-Match` (`"7"` or `7`); `*` or none: any.
fn if_match(headers: &HeaderMap) -> Result<Option<u64>, Response> {
    let Some(raw) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let text = raw.to_str().unwrap_or("").trim();
    if text == "*" {
        return Ok(None);
    }
    text.trim_start_matches("W/")
        .trim_matches('"')
        .parse()
        .map(Some)
        .map_err(|_| {
            problem(
                StatusCode::BAD_REQUEST,
                "bad_request",
                "If-Match must be an ETag this API gave out, e.g. \"3\"",
            )
        })
}

pub(super) async fn read_server(
    s: &ControlState,
    path: ServerPath,
    headers: &HeaderMap,
) -> Result<(String, String), Response> {
    let Ok(Path((tenant, server))) = path else {
        return Err(bad_path("malformed tenant or server in the path"));
    };
    authorize(s, headers, &tenant).await?;
    Ok((tenant, server))
}

/// The tenant, server and version of the path, and the caller allowed to
/// act on that tenant.
pub(super) async fn read_version(
    s: &ControlState,
    path: VersionPath,
    headers: &HeaderMap,
) -> Result<(Caller, String, String, u32), Response> {
    let Ok(Path((tenant, server, v))) = path else {
        return Err(bad_path("malformed tenant, server or version in the path"));
    };
    let Ok(v) = v.parse::<u32>() else {
        return Err(bad_path(
            "the version in the path must be a number: 1, 2, …",
        ));
    };
    let caller = authorize(s, headers, &tenant).await?;
    Ok((caller, tenant, server, v))
}

fn with_etag(mut resp: Response, record: &ServerRecord) -> Response {
    if let Ok(v) = HeaderValue::from_str(&format!("\"{}\"", record.revision)) {
        resp.headers_mut().insert(header::ETAG, v);
    }
    resp
}

/// `YYYY-MM-DD`.
fn is_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
        && humantime::parse_rfc3339(&format!("{s}T00:00:00Z")).is_ok()
}
