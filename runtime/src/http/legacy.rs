//! POST for legacy (2025-03-26 .. 2025-11-25) sessions.
//!
//! `initialize` without a session id starts a hosting session and its
//! instance; later messages must carry the `Mcp-Session-Id` Berth returned
//! and must come from the same principal (another principal derives another
//! record key and gets 404, exactly like an unknown id).

use std::sync::Arc;

use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode};
use serde_json::value::RawValue;

use super::guard::{self, Accepts};
use super::locate::{self, Original, Resolved};
use super::reply::{self, MCP_SESSION_ID, SseStart};
use super::{Admitted, AppState, LEGACY_VERSIONS};
use crate::hosting::record::{RECORD_VERSION, SessionRecord};
use crate::hosting::{EventStream, HostingSession, Next};
use crate::jsonrpc::{Envelope, ErrorCode, Kind, ParseError, RpcError};

/// Handles a POST that belongs to the legacy era.
pub async fn post(
    app: &AppState,
    admitted: Admitted,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let accepts = match guard::check_post_media(headers) {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let env = match Envelope::parse(body) {
        Ok(env) => env,
        Err(e) => return parse_error(e),
    };
    if let Some(v) = headers.get("mcp-protocol-version") {
        let v = v.to_str().unwrap_or("");
        if !LEGACY_VERSIONS.contains(&v) {
            return reply::rpc_error(
                StatusCode::BAD_REQUEST,
                env.id,
                RpcError::new(
                    ErrorCode::InvalidRequest,
                    format!(
                        "Bad Request: unsupported MCP-Protocol-Version `{v}`; supported: {}",
                        LEGACY_VERSIONS.join(", ")
                    ),
                ),
            );
        }
    }
    match headers.get(MCP_SESSION_ID) {
        None if env.kind == Kind::Request && env.method_str() == "initialize" => {
            initialize(app, admitted, body, &env).await
        }
        None => reply::rpc_error(
            StatusCode::BAD_REQUEST,
            env.id,
            RpcError::new(
                ErrorCode::InvalidRequest,
                "Bad Request: Mcp-Session-Id header is required; start with an initialize request (or use protocol version 2026-07-28 without sessions)",
            ),
        ),
        Some(sid) => in_session(app, admitted, sid, headers, body, &env, accepts).await,
    }
}

/// Maps a parse failure to 400 with -32700 / -32600.
pub fn parse_error(e: ParseError) -> Response {
    match e {
        ParseError::NotJson(m) => reply::error(
            StatusCode::BAD_REQUEST,
            ErrorCode::ParseError,
            format!("Parse error: the body is not valid JSON ({m})"),
        ),
        ParseError::Batch => reply::error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            "Invalid Request: JSON-RPC batches are not supported; send one message per request",
        ),
        ParseError::Invalid { reason, id } => reply::rpc_error(
            StatusCode::BAD_REQUEST,
            id.as_deref(),
            RpcError::new(
                ErrorCode::InvalidRequest,
                format!("Invalid Request: {reason}"),
            ),
        ),
    }
}

async fn initialize(
    app: &AppState,
    admitted: Admitted,
    body: &[u8],
    env: &Envelope<'_>,
) -> Response {
    let Admitted { principal, server } = admitted;
    let sessions = &app.sessions;
    let new = match sessions
        .create_legacy(
            &server.tenant,
            &server.name,
            &principal.subject,
            &server.config,
        )
        .await
    {
        Ok(n) => n,
        Err(e) => return reply::rpc_error(reply::status_for_start(&e), env.id, e),
    };
    let stream = new.session.open_stream();
    let timeout = sessions.request_timeout(&new.binding);
    if let Err(e) = new
        .session
        .forward_request(body, env, stream.clone(), timeout)
        .await
    {
        sessions.remove(&new.binding).await;
        return reply::rpc_error(StatusCode::OK, env.id, e);
    }
    let first = tokio::select! {
        n = stream.next_after(0) => n,
        _ = app.shutdown.cancelled() => Next::Finished,
    };
    let Next::Event(event) = first else {
        sessions.remove(&new.binding).await;
        return reply::rpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            env.id,
            RpcError::new(
                ErrorCode::BackendUnavailable,
                "Berth is shutting down; retry",
            ),
        );
    };
    let version = match initialize_outcome(&event.data) {
        Ok(v) => v,
        Err(()) => {
            // The server refused to initialize, did not answer, or ended:
            // no session. Only an instance that ended makes new sessions
            // fail fast for a while: a live server refusing (or choking
            // on) *this* agent's initialize says nothing about anyone
            // else's, and one agent must not lock the others out.
            if new.session.closed_reason().is_some() {
                let reason = crate::stateless::shape::error_message(&event.data)
                    .unwrap_or_else(|| "the MCP server failed to initialize".into());
                sessions.record_start_failure(&server.tenant, &server.name, &reason);
            }
            sessions.remove(&new.binding).await;
            return reply::json(StatusCode::OK, event.data);
        }
    };
    sessions.clear_start_failure(&server.tenant, &server.name);
    new.session.set_protocol_version(version.clone());
    let record = SessionRecord {
        v: RECORD_VERSION,
        tenant: server.tenant.clone(),
        server: server.name.clone(),
        subject: principal.subject.clone(),
        protocol_version: version,
        initialize_params: env.params.map(|p| p.get().to_owned()).unwrap_or_default(),
        pod: sessions.cluster().pod().to_owned(),
        instance: new.session.instance_resume(),
        created_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or_default(),
        backend_init: None,
    };
    // `create` (SET NX): with `store.min_replicas_acked`, the session is
    // only handed out once replicas hold it.
    if let Err(e) = sessions
        .store()
        .create(&new.binding, &record, server.config.idle_timeout)
        .await
    {
        tracing::error!(error = %e, "could not store the session record");
        sessions.remove(&new.binding).await;
        return reply::rpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            env.id,
            RpcError::new(ErrorCode::Overloaded, e.to_string())
                .with_data(serde_json::json!({"retryable": true})),
        );
    }
    tracing::info!(
        tenant = %server.tenant, server = %server.name, subject = %principal.subject,
        session = %new.session.identity().label, "legacy session started"
    );
    let mut resp = reply::json(StatusCode::OK, event.data);
    if let Ok(v) = HeaderValue::from_str(&new.session_id) {
        resp.headers_mut().insert(MCP_SESSION_ID, v);
    }
    resp
}

/// `Ok(protocolVersion)` for a successful initialize result.
pub(crate) fn initialize_outcome(data: &[u8]) -> Result<String, ()> {
    #[derive(serde::Deserialize)]
    struct Init {
        result: Option<InitResult>,
    }
    #[derive(serde::Deserialize)]
    struct InitResult {
        #[serde(rename = "protocolVersion")]
        protocol_version: String,
    }
    let init: Init = serde_json::from_slice(data).map_err(|_| ())?;
    init.result.map(|r| r.protocol_version).ok_or(())
}

async fn in_session(
    app: &AppState,
    admitted: Admitted,
    sid: &HeaderValue,
    headers: &HeaderMap,
    body: &[u8],
    env: &Envelope<'_>,
    accepts: Accepts,
) -> Response {
    let Some(session_id) = sid.to_str().ok() else {
        return session_not_found(env.id);
    };
    let original = Original {
        method: Method::POST,
        headers,
        body,
        id: env.id,
    };
    let (session, timeout) = match locate::resolve(app, &admitted, session_id, original).await {
        Resolved::Here(session, timeout) => (session, timeout),
        Resolved::Answered(response) => return response,
    };
    if session.closed_reason().is_some() {
        let (p, s) = (&admitted.principal, &admitted.server);
        let binding = app
            .sessions
            .bind(&s.tenant, &s.name, &p.subject, session_id);
        app.sessions.remove(&binding).await;
        return session_not_found(env.id);
    }
    match env.kind {
        Kind::Request if env.method_str() == "initialize" => reply::rpc_error(
            StatusCode::BAD_REQUEST,
            env.id,
            RpcError::new(
                ErrorCode::InvalidRequest,
                "Invalid Request: this session is already initialized",
            ),
        ),
        Kind::Request => {
            let stream = session.open_stream();
            if let Err(e) = session
                .forward_request(body, env, stream.clone(), timeout)
                .await
            {
                return reply::rpc_error(StatusCode::OK, env.id, e);
            }
            respond(app, &session, stream, accepts, env.id).await
        }
        Kind::Notification | Kind::Response => match session.forward_other(body, env).await {
            Ok(()) => reply::accepted(),
            Err(e) => reply::rpc_error(StatusCode::OK, None, e),
        },
    }
}

/// Answers a forwarded request: plain JSON when the response is the only
/// message, SSE when the server sends anything before it. SSE answers are
/// journaled (with a shared store) so the agent can resume them on any pod.
pub async fn respond(
    app: &AppState,
    session: &Arc<HostingSession>,
    stream: Arc<EventStream>,
    accepts: Accepts,
    request_id: Option<&RawValue>,
) -> Response {
    let primes = session
        .protocol_version()
        .is_some_and(|v| v >= "2025-11-25");
    let limits = &app.config.limits;
    let first = tokio::select! {
        n = stream.next_after(0) => Some(n),
        // A slow answer: switch to SSE and prime it, so a lost connection
        // can be resumed with Last-Event-ID.
        _ = tokio::time::sleep(limits.sse_prime_after), if primes => None,
        _ = app.shutdown.cancelled() => Some(Next::Finished),
    };
    let start = SseStart {
        after: 0,
        priming: primes.then_some(app.sse_retry),
        close_idle: if primes { limits.sse_poll_close } else { None },
    };
    match first {
        Some(Next::Event(e)) if e.last && accepts.json => reply::json(StatusCode::OK, e.data),
        None | Some(Next::Event(_)) => {
            session.journal_stream(&stream, request_id).await;
            reply::sse(stream, start, app.shutdown.clone(), None)
        }
        Some(Next::Finished) if !app.shutdown.is_cancelled() => {
            // The agent cancelled the request: an empty stream, no answer.
            let mut resp = Response::new(axum::body::Body::empty());
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            resp
        }
        Some(Next::Finished | Next::Gap) => reply::rpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            None,
            RpcError::new(
                ErrorCode::BackendUnavailable,
                "Berth is shutting down; retry the request",
            ),
        ),
    }
}

/// 404 for unknown, ended and foreign sessions alike.
pub fn session_not_found(id: Option<&RawValue>) -> Response {
    reply::rpc_error(
        StatusCode::NOT_FOUND,
        id,
        RpcError::new(
            ErrorCode::InvalidRequest,
            "Not Found: this MCP session does not exist or has ended; start a new one with initialize",
        ),
    )
}
