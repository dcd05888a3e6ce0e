//! `GET /v1/tenants/{tenant}/sessions` and `DELETE …/sessions/{id}`: the
//! tenant's hosting sessions on every pod (server, version, subject,
//! instance, owning pod, started, last used), and ending one (its
//! instance stops; the agent gets 404 next time, as for an ended
//! session). A delete that lands on another pod than the owner is
//! forwarded there with the caller's own token.
//!
//! May import: `control::{access, problem, state, views}`, `hosting`
//! (the directory), `audit`, external crates.

use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode, header};

use super::access::authorize;
use super::problem::{bad_path, problem};
use super::state::ControlState;
use super::views::{ErrorBody, SessionList};
use crate::hosting::SessionEntry;

/// Marks a delete forwarded by another pod (answered locally only).
const FORWARDED: &str = "x-berth-forwarded-by";

/// `GET /v1/tenants/{tenant}/sessions`.
#[utoipa::path(get, path = "/v1/tenants/{tenant}/sessions", tag = "sessions", operation_id = "list_sessions",
    params(("tenant" = String, Path, description = "Tenant")),
    responses(
        (status = 200, description = "The tenant's hosting sessions on every pod (other pods' as of their last publication, at most a few seconds old)", body = SessionList),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks the admin or operator scope", body = ErrorBody),
        (status = 404, description = "Another tenant's", body = ErrorBody),
        (status = 503, description = "The store cannot be read", body = ErrorBody),
    ))]
pub(crate) async fn list(
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
    match s.app.sessions().cluster_directory().await {
        Ok(all) => {
            let mut sessions: Vec<SessionEntry> =
                all.into_iter().filter(|e| e.tenant == tenant).collect();
            sessions.sort_by(|a, b| (&a.server, &a.started).cmp(&(&b.server, &b.started)));
            Json(SessionList { tenant, sessions }).into_response()
        }
        Err(e) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            format!("cannot read other pods' sessions: {e}; retry shortly"),
        ),
    }
}

/// `DELETE /v1/tenants/{tenant}/sessions/{id}`.
#[utoipa::path(delete, path = "/v1/tenants/{tenant}/sessions/{id}", tag = "sessions", operation_id = "end_session",
    params(("tenant" = String, Path, description = "Tenant"), ("id" = String, Path, description = "Session id, from the listing")),
    responses(
        (status = 200, description = "Ended: its instance stopped", body = SessionEntry),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "The token lacks the admin or operator scope", body = ErrorBody),
        (status = 404, description = "No such session (or another tenant's)", body = ErrorBody),
    ))]
pub(crate) async fn end(
    State(s): State<ControlState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(Path((tenant, id))) = path else {
        return bad_path("malformed tenant or session id in the path");
    };
    let caller = match authorize(&s, &headers, &tenant).await {
        Ok(c) => c,
        Err(resp) => return resp,
    };
    let not_found = || {
        problem(
            StatusCode::NOT_FOUND,
            "not_found",
            format!(
                "tenant `{tenant}` has no session `{id}`; list them with GET /v1/tenants/{tenant}/sessions"
            ),
        )
    };
    let sessions = s.app.sessions();
    let reason = "an administrator ended the session";
    if let Some(ended) = sessions.end_by_id(&id, &tenant, reason).await {
        crate::audit::session_ended_by_admin(
            &tenant,
            &ended.server,
            &ended.subject,
            caller.subject(),
        );
        return Json(ended).into_response();
    }
    if headers.contains_key(FORWARDED) {
        return not_found();
    }
    let elsewhere = match sessions.cluster_directory().await {
        Ok(all) => all.into_iter().find(|e| e.id == id && e.tenant == tenant),
        Err(_) => None,
    };
    let Some(entry) = elsewhere else {
        return not_found();
    };
    forward(&entry, &tenant, &id, &headers).await
}

/// Sends the delete to the owning pod with the caller's token.
async fn forward(entry: &SessionEntry, tenant: &str, id: &str, headers: &HeaderMap) -> Response {
    let url = format!("{}/v1/tenants/{tenant}/sessions/{id}", entry.pod_url);
    let client = crate::backend::http_bridge::client();
    let mut req = client.delete(&url).header(FORWARDED, "1");
    if let Some(auth) = headers.get(header::AUTHORIZATION) {
        req = req.header(header::AUTHORIZATION, auth);
    }
    if let Some(host) = headers.get(header::HOST) {
        req = req.header(header::HOST, host);
    }
    match req.send().await {
        Ok(resp) => {
            let status =
                StatusCode::from_u16(resp.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY);
            let body = resp.bytes().await.unwrap_or_default();
            let mut out = (status, body).into_response();
            out.headers_mut().insert(
                header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            out
        }
        Err(e) => problem(
            StatusCode::BAD_GATEWAY,
            "owner_unreachable",
            format!(
                "the pod that owns the session ({}) did not answer: {e}; retry shortly",
                entry.pod
            ),
        ),
    }
}
