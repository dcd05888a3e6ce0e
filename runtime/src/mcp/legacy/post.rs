//! POST for session-era (2025-03-26 .. 2025-11-25) requests.
//!
//! `initialize` without a session id starts a hosting session and its
//! instance (`initialize`); later messages must carry the `Mcp-Session-Id`
//! Berth returned and must come from the same principal (another principal
//! derives another record key and gets 404, exactly like an unknown id).
//!
//! May import: `mcp::legacy::{errors, initialize, respond}`, `http`,
//! `hosting`, `protocol`, `jsonrpc`.

use axum::response::Response;
use http::{HeaderMap, HeaderValue, Method, StatusCode};

use super::errors::{forward_failed, parse_error};
use super::initialize::initialize;
use super::respond::respond;
use crate::http::{
    Accepts, Admitted, AppState, Original, Resolved, accepted, check_post_media, resolve,
    rpc_error, session_not_found,
};
use crate::jsonrpc::{Envelope, ErrorCode, Kind, RpcError};
use crate::protocol::{MCP_PROTOCOL_VERSION, MCP_SESSION_ID, Version};

/// Handles a POST that belongs to the session era.
pub(crate) async fn post(
    app: &AppState,
    admitted: Admitted,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    let accepts = match check_post_media(headers) {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    let env = match Envelope::parse(body) {
        Ok(env) => env,
        Err(e) => return parse_error(e),
    };
    if let Some(v) = headers.get(MCP_PROTOCOL_VERSION) {
        let v = v.to_str().unwrap_or("");
        if !Version::parse(v).is_some_and(Version::is_served_with_sessions) {
            return rpc_error(
                StatusCode::BAD_REQUEST,
                env.id,
                RpcError::new(
                    ErrorCode::InvalidRequest,
                    format!(
                        "Bad Request: unsupported MCP-Protocol-Version `{v}`; supported: {}",
                        Version::list(Version::SESSION_VERSIONS)
                    ),
                ),
            );
        }
    }
    match headers.get(MCP_SESSION_ID) {
        None if env.kind == Kind::Request && env.method_str() == "initialize" => {
            initialize(app, admitted, body, &env).await
        }
        None => rpc_error(
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
    let (session, timeout) = match resolve(app, &admitted, session_id, original).await {
        Resolved::Here(session, timeout) => (session, timeout),
        Resolved::Answered(response) => return response,
    };
    if session.closed_reason().is_some() {
        let (p, s) = (&admitted.principal, &admitted.server);
        let route = app.sessions().legacy_route(s, &p.subject, session_id);
        app.sessions().remove(&route).await;
        return session_not_found(env.id);
    }
    match env.kind {
        Kind::Request if env.method_str() == "initialize" => rpc_error(
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
                return forward_failed(&e, env.id);
            }
            respond(app, &session, stream, accepts, env.id).await
        }
        Kind::Notification | Kind::Response => match session.forward_other(body, env).await {
            Ok(()) => accepted(),
            Err(e) => forward_failed(&e, None),
        },
    }
}
