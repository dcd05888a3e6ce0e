//! Building HTTP responses: JSON-RPC errors with the right status, JSON
//! bodies, the headers of SSE bodies, and the replies both eras share
//! (unknown session, unreachable owner).
//!
//! May import: `jsonrpc`.

use axum::body::Body;
use axum::response::Response;
use bytes::{BufMut, Bytes};
use http::{HeaderValue, StatusCode, header};
use serde_json::value::RawValue;

use crate::jsonrpc::{ErrorCode, RpcError};

/// A JSON-RPC error response with an HTTP status.
pub(crate) fn rpc_error(status: StatusCode, id: Option<&RawValue>, err: RpcError) -> Response {
    let mut resp = json(status, Bytes::from(err.to_response(id)));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

/// The HTTP status for a failure to start a hosting session: 503 (with
/// `Retry-After`) when capacity or the engine is the problem, else 200 with
/// the JSON-RPC error.
pub(crate) fn status_for_start(e: &RpcError) -> StatusCode {
    if e.code == ErrorCode::Overloaded {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    }
}

/// Shorthand for an error code and message.
pub(crate) fn error(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Response {
    rpc_error(status, None, RpcError::new(code, message))
}

/// A JSON body.
pub(crate) fn json(status: StatusCode, body: Bytes) -> Response {
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

/// 202 Accepted with no body (notifications and responses).
pub(crate) fn accepted() -> Response {
    let mut resp = Response::new(Body::empty());
    *resp.status_mut() = StatusCode::ACCEPTED;
    resp
}

/// A `text/event-stream` response with the headers that keep proxies from
/// buffering or caching it.
pub(crate) fn sse_response(body: Body) -> Response {
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    resp
}

/// Appends one JSON message as the value of an SSE `data:` line. CR and
/// LF can only be whitespace between JSON tokens (JSON strings cannot hold
/// them raw), but in SSE each ends a line: a server that writes them (a raw
/// CR from a stdio server, a pretty-printed body from an HTTP server) would
/// otherwise split the event and break the message, so they become spaces.
pub(crate) fn put_sse_data(out: &mut impl BufMut, data: &[u8]) {
    if memchr::memchr2(b'\n', b'\r', data).is_none() {
        out.put_slice(data);
        return;
    }
    for &b in data {
        out.put_u8(if b == b'\n' || b == b'\r' { b' ' } else { b });
    }
}

/// 404 for unknown, ended and foreign sessions alike.
pub(crate) fn session_not_found(id: Option<&RawValue>) -> Response {
    rpc_error(
        StatusCode::NOT_FOUND,
        id,
        RpcError::new(
            ErrorCode::InvalidRequest,
            "Not Found: this MCP session does not exist or has ended; start a new one with initialize",
        ),
    )
}

/// 503 for a session whose owner could not be reached.
pub(crate) fn owner_unreachable(id: Option<&RawValue>) -> Response {
    rpc_error(
        StatusCode::SERVICE_UNAVAILABLE,
        id,
        RpcError::new(
            ErrorCode::Overloaded,
            "the pod that owns this session could not be reached; retry shortly",
        )
        .with_data(serde_json::json!({"retryable": true})),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_answers_say_when_to_retry() {
        let r = owner_unreachable(None);
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(r.headers()[header::RETRY_AFTER], "1");
        let r = session_not_found(None);
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        assert!(r.headers().get(header::RETRY_AFTER).is_none());
        assert_eq!(r.headers()[header::CONTENT_TYPE], "application/json");
    }

    #[test]
    fn start_failures_are_503_only_when_capacity_is_the_problem() {
        let overloaded = RpcError::new(ErrorCode::Overloaded, "full");
        assert_eq!(
            status_for_start(&overloaded),
            StatusCode::SERVICE_UNAVAILABLE
        );
        let failed = RpcError::new(ErrorCode::BackendUnavailable, "crashed");
        assert_eq!(status_for_start(&failed), StatusCode::OK);
    }

    #[test]
    fn sse_data_never_breaks_a_line() {
        let mut out = Vec::new();
        put_sse_data(&mut out, b"{\"a\":\r\n1}");
        assert_eq!(out, b"{\"a\":  1}");
    }
}
