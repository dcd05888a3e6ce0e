//! How the session era answers failures: a body that is not a JSON-RPC
//! message (400 with -32700/-32600), a hosting failure at session start
//! (503 when capacity or infrastructure is the problem, else the JSON-RPC
//! error) and within a session (the JSON-RPC error, HTTP 200).
//!
//! May import: `http` (replies and the hosting-error mapping), `hosting`,
//! `jsonrpc`.

use axum::response::Response;
use http::StatusCode;
use serde_json::value::RawValue;

use crate::hosting::HostingError;
use crate::http::{error, hosting_error, rpc_error, status_for_start};
use crate::jsonrpc::{ErrorCode, ParseError, RpcError};

/// Maps a parse failure to 400 with -32700 / -32600.
pub(super) fn parse_error(e: ParseError) -> Response {
    match e {
        ParseError::NotJson(m) => error(
            StatusCode::BAD_REQUEST,
            ErrorCode::ParseError,
            format!("Parse error: the body is not valid JSON ({m})"),
        ),
        ParseError::Batch => error(
            StatusCode::BAD_REQUEST,
            ErrorCode::InvalidRequest,
            "Invalid Request: JSON-RPC batches are not supported; send one message per request",
        ),
        ParseError::Invalid { reason, id } => rpc_error(
            StatusCode::BAD_REQUEST,
            id.as_deref(),
            RpcError::new(
                ErrorCode::InvalidRequest,
                format!("Invalid Request: {reason}"),
            ),
        ),
    }
}

/// A session could not be started for this request.
pub(super) fn start_failed(e: &HostingError, id: Option<&RawValue>) -> Response {
    let err = hosting_error(e);
    rpc_error(status_for_start(&err), id, err)
}

/// A request within a session could not be forwarded.
pub(super) fn forward_failed(e: &HostingError, id: Option<&RawValue>) -> Response {
    rpc_error(StatusCode::OK, id, hosting_error(e))
}

/// Berth is shutting down before the server answered.
pub(super) fn shutting_down(id: Option<&RawValue>, message: &str) -> Response {
    rpc_error(
        StatusCode::SERVICE_UNAVAILABLE,
        id,
        RpcError::new(ErrorCode::BackendUnavailable, message),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::BackendError;

    async fn body(r: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[tokio::test]
    async fn unparseable_bodies_are_400_with_the_spec_code() {
        let r = parse_error(ParseError::NotJson("expected value".into()));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body(r).await["error"]["code"], -32700);
        let r = parse_error(ParseError::Batch);
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        assert_eq!(body(r).await["error"]["code"], -32600);
        let id = RawValue::from_string("7".into()).unwrap();
        let r = parse_error(ParseError::Invalid {
            reason: "the method must be a string".into(),
            id: Some(id),
        });
        let b = body(r).await;
        assert_eq!(b["id"], 7, "the readable id is echoed");
        assert_eq!(b["error"]["code"], -32600);
    }

    #[tokio::test]
    async fn start_failures_are_503_for_capacity_and_200_otherwise() {
        let id = RawValue::from_string("\"a\"".into()).unwrap();
        let full = HostingError::Backend(BackendError::Capacity("full".into()));
        let r = start_failed(&full, Some(&id));
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert!(r.headers().contains_key(http::header::RETRY_AFTER));
        let b = body(r).await;
        assert_eq!(b["id"], "a");
        assert_eq!(b["error"]["data"]["retryable"], true);
        let r = start_failed(&HostingError::AtSessionLimit, Some(&id));
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(body(r).await["error"]["code"], -32002);
        let r = forward_failed(&HostingError::NotRunning, Some(&id));
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            body(r).await["error"]["message"],
            "server instance is not running"
        );
        let r = shutting_down(None, "Berth is shutting down; retry");
        assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(body(r).await["error"]["code"], -32002);
    }
}
