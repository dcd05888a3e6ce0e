//! The data-plane router: `POST|GET|DELETE /mcp/{tenant}/{server}` and the
//! well-known routes. Every MCP request is read within the limits and
//! admitted (`http`), then handed to its era: requests with an
//! `Mcp-Session-Id`, or without a 2026-07-28 `MCP-Protocol-Version`, go to
//! the session era; the rest to the stateless era.
//!
//! May import: `mcp::{legacy, stateless, wellknown}`, `http`, `protocol`,
//! `jsonrpc`.

use axum::Router;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::response::Response;
use axum::routing::post;
use http::{HeaderMap, Method, StatusCode};

use super::{legacy, stateless, wellknown};
use crate::http::{AppState, bad_path, error, read_body};
use crate::jsonrpc::ErrorCode;
use crate::protocol::{Era, MCP_PROTOCOL_VERSION, MCP_SESSION_ID, Version};

type TenantServer = Result<Path<(String, String)>, PathRejection>;

/// The data-plane router.
pub(crate) fn router(state: AppState) -> Router {
    let body_limit = state.limits().max_body_bytes;
    Router::new()
        .route(
            "/mcp/{tenant}/{server}",
            post(post_mcp).get(get_mcp).delete(delete_mcp),
        )
        .merge(wellknown::routes())
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// True when a POST belongs to the 2026-07-28 era: an
/// `MCP-Protocol-Version` header that is present and not a session-era
/// version (unknown versions included: they get -32022 from validation).
pub(crate) fn is_stateless(headers: &HeaderMap) -> bool {
    if headers.contains_key(MCP_SESSION_ID) {
        return false;
    }
    match headers
        .get(MCP_PROTOCOL_VERSION)
        .and_then(|v| v.to_str().ok())
    {
        Some(v) => Version::parse(v).is_none_or(|v| v.era() == Era::Stateless),
        None => false,
    }
}

async fn post_mcp(State(app): State<AppState>, path: TenantServer, request: Request) -> Response {
    let Ok(Path((tenant, server))) = path else {
        return bad_path();
    };
    let (mut parts, body) = request.into_parts();
    let headers = std::mem::take(&mut parts.headers);
    let body = match read_body(app.limits(), &headers, Request::from_parts(parts, body)).await {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    if let Err(resp) = app.check_forwarded(&Method::POST, &tenant, &server, &headers, &body) {
        return resp;
    }
    let admitted = match app.admit(&headers, &tenant, &server).await {
        Ok(a) => a,
        Err(resp) => return resp,
    };
    if is_stateless(&headers) {
        stateless::post(&app, admitted, &headers, &body).await
    } else {
        legacy::post(&app, admitted, &headers, &body).await
    }
}

async fn get_mcp(State(app): State<AppState>, path: TenantServer, headers: HeaderMap) -> Response {
    let Ok(Path((tenant, server))) = path else {
        return bad_path();
    };
    if let Err(resp) = app.check_forwarded(&Method::GET, &tenant, &server, &headers, &[]) {
        return resp;
    }
    match app.admit(&headers, &tenant, &server).await {
        Ok(admitted) => legacy::get(&app, admitted, &headers).await,
        Err(resp) => resp,
    }
}

async fn delete_mcp(
    State(app): State<AppState>,
    path: TenantServer,
    headers: HeaderMap,
) -> Response {
    let Ok(Path((tenant, server))) = path else {
        return bad_path();
    };
    if let Err(resp) = app.check_forwarded(&Method::DELETE, &tenant, &server, &headers, &[]) {
        return resp;
    }
    match app.admit(&headers, &tenant, &server).await {
        Ok(admitted) => legacy::delete(&app, admitted, &headers).await,
        Err(resp) => resp,
    }
}

async fn not_found() -> Response {
    error(
        StatusCode::NOT_FOUND,
        ErrorCode::InvalidRequest,
        "Not Found: MCP endpoints are at /mcp/{tenant}/{server}",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::testing::headers;

    #[test]
    fn eras_are_told_apart_by_session_and_version_headers() {
        assert!(!is_stateless(&headers(&[])), "no version: initialize era");
        for v in ["2025-03-26", "2025-06-18", "2025-11-25", "2024-11-05"] {
            let h = headers(&[("mcp-protocol-version", v)]);
            assert!(!is_stateless(&h), "{v}");
        }
        assert!(is_stateless(&headers(&[(
            "mcp-protocol-version",
            "2026-07-28"
        )])));
        // Unknown versions belong to the stateless era: they get -32022.
        assert!(is_stateless(&headers(&[(
            "mcp-protocol-version",
            "v999.0.0"
        )])));
        // A session id always means the session era.
        assert!(!is_stateless(&headers(&[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-session-id", "abc"),
        ])));
    }
}
