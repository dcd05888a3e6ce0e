//! GET (server-to-client SSE streams, `Last-Event-ID` resumption) and
//! DELETE (session termination) on the MCP endpoint: session era only.
//!
//! May import: `http`, `hosting`, `protocol`, `jsonrpc`.

use std::sync::Arc;

use axum::response::Response;
use http::{HeaderMap, Method, StatusCode, header};

use crate::hosting::EventId;
use crate::http::{
    Accepts, Admitted, AppState, Delivered, Original, Resolved, SseStart, error, resolve,
    session_not_found, sse,
};
use crate::jsonrpc::ErrorCode;
use crate::protocol::{LAST_EVENT_ID, MCP_PROTOCOL_VERSION, MCP_SESSION_ID, Version};

/// `GET /mcp/{tenant}/{server}`: open the standalone stream, or resume one.
pub(crate) async fn get(app: &AppState, admitted: Admitted, headers: &HeaderMap) -> Response {
    let Some(sid) = headers.get(MCP_SESSION_ID).and_then(|v| v.to_str().ok()) else {
        return method_not_allowed(
            "GET needs an Mcp-Session-Id (legacy sessions only); 2026-07-28 clients use subscriptions/listen",
        );
    };
    if !Accepts::parse(headers).sse {
        return error(
            StatusCode::NOT_ACCEPTABLE,
            ErrorCode::InvalidRequest,
            "Not Acceptable: GET streams need Accept: text/event-stream",
        );
    }
    if let Some(v) = headers
        .get(MCP_PROTOCOL_VERSION)
        .and_then(|v| v.to_str().ok())
        && !Version::parse(v).is_some_and(Version::is_served_with_sessions)
    {
        return error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            format!("Bad Request: unsupported MCP-Protocol-Version `{v}`"),
        );
    }
    let original = Original {
        method: Method::GET,
        headers,
        body: &[],
        id: None,
    };
    let session = match resolve(app, &admitted, sid, original).await {
        Resolved::Here(session, _) => session,
        Resolved::Answered(response) => return response,
    };
    let priming = session
        .protocol_version()
        .is_some_and(|v| v.has_priming_events())
        .then_some(app.sse_retry());
    if let Some(last) = headers.get(LAST_EVENT_ID) {
        let Some(id) = last.to_str().ok().and_then(EventId::parse) else {
            return error(
                StatusCode::BAD_REQUEST,
                ErrorCode::InvalidRequest,
                "Bad Request: malformed Last-Event-ID",
            );
        };
        let Some(stream) = session.stream(id.stream) else {
            return error(
                StatusCode::NOT_FOUND,
                ErrorCode::InvalidRequest,
                "Not Found: the stream of this Last-Event-ID is no longer available; retry the request",
            );
        };
        let delivered: Option<Delivered> = (id.stream == 0).then(|| {
            let session = Arc::clone(&session);
            Box::new(move |seq| session.standalone_delivered(seq)) as Delivered
        });
        return sse(
            stream,
            SseStart {
                after: id.seq,
                priming: None,
                close_idle: None,
            },
            app.shutdown().clone(),
            delivered,
        );
    }
    let (stream, after) = session.standalone();
    let session2 = Arc::clone(&session);
    sse(
        stream,
        SseStart {
            after,
            priming,
            close_idle: None,
        },
        app.shutdown().clone(),
        Some(Box::new(move |seq| session2.standalone_delivered(seq))),
    )
}

/// `DELETE /mcp/{tenant}/{server}`: end a legacy session.
pub(crate) async fn delete(app: &AppState, admitted: Admitted, headers: &HeaderMap) -> Response {
    let Some(sid) = headers.get(MCP_SESSION_ID).and_then(|v| v.to_str().ok()) else {
        return method_not_allowed("DELETE needs an Mcp-Session-Id (legacy sessions only)");
    };
    let original = Original {
        method: Method::DELETE,
        headers,
        body: &[],
        id: None,
    };
    if let Resolved::Answered(response) = resolve(app, &admitted, sid, original).await {
        return response;
    }
    let p = &admitted.principal;
    let s = &admitted.server;
    let route = app.sessions().legacy_route(s, &p.subject, sid);
    if app.sessions().remove(&route).await {
        tracing::info!(tenant = %s.tenant, server = %s.name, subject = %p.subject, "session deleted by client");
        let mut resp = Response::new(axum::body::Body::empty());
        *resp.status_mut() = StatusCode::NO_CONTENT;
        resp
    } else {
        session_not_found(None)
    }
}

fn method_not_allowed(message: &str) -> Response {
    let mut resp = error(
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::InvalidRequest,
        format!("Method Not Allowed: {message}"),
    );
    resp.headers_mut()
        .insert(header::ALLOW, http::HeaderValue::from_static("POST"));
    resp
}
