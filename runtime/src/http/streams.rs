//! GET (server-to-client SSE streams, `Last-Event-ID` resumption) and
//! DELETE (session termination) on the MCP endpoint.

use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::Response;
use http::{HeaderMap, Method, StatusCode, header};

use super::guard::Accepts;
use super::legacy::session_not_found;
use super::locate::{self, Original, Resolved};
use super::reply::{self, MCP_SESSION_ID, SseStart};
use super::{AppState, LEGACY_VERSIONS};
use crate::hosting::EventId;
use crate::jsonrpc::ErrorCode;

/// `GET /mcp/{tenant}/{server}`: open the standalone stream, or resume one.
pub async fn get_mcp(
    State(app): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(Path((tenant, server))) = path else {
        return super::bad_path();
    };
    let admitted = match app.admit(&headers, &tenant, &server).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let Some(sid) = headers.get(MCP_SESSION_ID).and_then(|v| v.to_str().ok()) else {
        return method_not_allowed(
            "GET needs an Mcp-Session-Id (legacy sessions only); 2026-07-28 clients use subscriptions/listen",
        );
    };
    if !Accepts::parse(&headers).sse {
        return reply::error(
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::InvalidRequest,
            "Not Acceptable: GET streams need Accept: text/event-stream",
        );
    }
    if let Some(v) = headers
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        && !LEGACY_VERSIONS.contains(&v)
    {
        return reply::error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            format!("Bad Request: unsupported MCP-Protocol-Version `{v}`"),
        );
    }
    let original = Original {
        method: Method::GET,
        headers: &headers,
        body: &[],
        id: None,
    };
    let session = match locate::resolve(&app, &admitted, sid, original).await {
        Resolved::Here(session, _) => session,
        Resolved::Answered(response) => return response,
    };
    let priming = session
        .protocol_version()
        .is_some_and(|v| v >= "2025-11-25")
        .then_some(app.sse_retry);
    if let Some(last) = headers.get("last-event-id") {
        let Some(id) = last.to_str().ok().and_then(EventId::parse) else {
            return reply::error(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "Bad Request: malformed Last-Event-ID",
            );
        };
        let Some(stream) = session.stream(id.stream) else {
            return reply::error(
                StatusCode::NOT_FOUND,
                ErrorCode::InvalidRequest,
                "Not Found: the stream of this Last-Event-ID is no longer available; retry the request",
            );
        };
        let delivered: Option<reply::Delivered> = (id.stream == 0).then(|| {
            let session = Arc::clone(&session);
            Box::new(move |seq| session.standalone_delivered(seq)) as reply::Delivered
        });
        return reply::sse(
            stream,
            SseStart {
                after: id.seq,
                priming: None,
                close_idle: None,
            },
            app.shutdown.clone(),
            delivered,
        );
    }
    let (stream, after) = session.standalone();
    let session2 = Arc::clone(&session);
    reply::sse(
        stream,
        SseStart {
            after,
            priming,
            close_idle: None,
        },
        app.shutdown.clone(),
        Some(Box::new(move |seq| session2.standalone_delivered(seq))),
    )
}

/// `DELETE /mcp/{tenant}/{server}`: end a legacy session.
pub async fn delete_mcp(
    State(app): State<AppState>,
    path: Result<Path<(String, String)>, PathRejection>,
    headers: HeaderMap,
) -> Response {
    let Ok(Path((tenant, server))) = path else {
        return super::bad_path();
    };
    let admitted = match app.admit(&headers, &tenant, &server).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let Some(sid) = headers.get(MCP_SESSION_ID).and_then(|v| v.to_str().ok()) else {
        return method_not_allowed("DELETE needs an Mcp-Session-Id (legacy sessions only)");
    };
    let original = Original {
        method: Method::DELETE,
        headers: &headers,
        body: &[],
        id: None,
    };
    if let Resolved::Answered(response) = locate::resolve(&app, &admitted, sid, original).await {
        return response;
    }
    let p = &admitted.principal;
    let s = &admitted.server;
    let binding = app.sessions.bind(&s.tenant, &s.name, &p.subject, sid);
    if app.sessions.remove(&binding).await {
        tracing::info!(tenant = %s.tenant, server = %s.name, subject = %p.subject, "session deleted by client");
        let mut resp = Response::new(axum::body::Body::empty());
        *resp.status_mut() = StatusCode::NO_CONTENT;
        resp
    } else {
        session_not_found(None)
    }
}

fn method_not_allowed(message: &str) -> Response {
    let mut resp = reply::error(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::InvalidRequest,
        format!("Method Not Allowed: {message}"),
    );
    resp.headers_mut()
        .insert(header::ALLOW, http::HeaderValue::from_static("POST"));
    resp
}
