//! MCP 2026-07-28 (stateless) requests.
//!
//! A stateless request carries its protocol version per request; there is no
//! `initialize` and no `Mcp-Session-Id`. Berth maps all stateless requests of
//! one principal to one server onto one hosting session, so stateful servers
//! keep working, and speaks the legacy protocol to the backend.

use axum::response::Response;
use http::{HeaderMap, StatusCode};

use crate::http::{Admitted, AppState, STATELESS_VERSION, reply};
use crate::jsonrpc::ErrorCode;

/// True when a POST without a session id is a 2026-07-28 request.
pub fn is_stateless(headers: &HeaderMap, _body: &[u8]) -> bool {
    headers
        .get("mcp-protocol-version")
        .is_some_and(|v| v.as_bytes() == STATELESS_VERSION.as_bytes())
}

/// Handles a stateless POST.
pub async fn post(_app: &AppState, _admitted: Admitted, _headers: &HeaderMap, _body: &[u8]) -> Response {
    reply::error(
        StatusCode::BAD_REQUEST,
        ErrorCode::UnsupportedVersion,
        "protocol version 2026-07-28 is not served yet",
    )
}
