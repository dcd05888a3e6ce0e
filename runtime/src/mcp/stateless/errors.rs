//! How the stateless era answers failures: the HTTP status each JSON-RPC
//! code implies (the 2026-07-28 transport table), and hosting and
//! continuation failures as JSON-RPC errors.
//!
//! May import: `mcp::stateless::results`, `http`, `hosting`, `jsonrpc`.

use axum::response::Response;
use http::StatusCode;
use serde_json::value::RawValue;

use super::results::status_for;
use crate::hosting::{ContinuationError, HostingError};
use crate::http::{hosting_error, rpc_error, status_for_start};
use crate::jsonrpc::{ErrorCode, RpcError};

/// The agent's error for a continuation that could not be parked or taken.
pub(super) fn continuation_error(e: &ContinuationError) -> RpcError {
    match e {
        ContinuationError::Seal(_) => RpcError::new(ErrorCode::InternalError, e.to_string()),
        ContinuationError::Refused(_) => refused_state(),
        ContinuationError::Lost => RpcError::new(
            ErrorCode::InvalidParams,
            "Invalid params: the call behind requestState was lost: the Berth pod holding it went away and the MCP server instance running it did not survive; start the request again without requestState and inputResponses",
        )
        .with_data(serde_json::json!({"reason": "lost"})),
        ContinuationError::Store(_) => RpcError::new(
            ErrorCode::BackendUnavailable,
            "the session store could not be reached to resume the call behind requestState; retry the same request",
        )
        .with_data(serde_json::json!({"retryable": true})),
    }
}

/// The HTTP status of a continuation that could not be taken.
pub(super) fn continuation_status(e: &ContinuationError) -> StatusCode {
    match e {
        ContinuationError::Refused(_) | ContinuationError::Lost => StatusCode::BAD_REQUEST,
        ContinuationError::Store(_) => StatusCode::SERVICE_UNAVAILABLE,
        ContinuationError::Seal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The agent's error for a `requestState` Berth will not honour.
pub(super) fn refused_state() -> RpcError {
    RpcError::new(
        ErrorCode::InvalidParams,
        "Invalid params: requestState is invalid, expired or was already used; start the request again without it",
    )
}

/// The principal's session could not be had.
pub(super) fn start_failed(e: &HostingError, id: &RawValue) -> Response {
    let err = hosting_error(e);
    rpc_error(status_for_start(&err), Some(id), err)
}

/// The call could not be forwarded.
pub(super) fn forward_failed(e: &HostingError, id: &RawValue) -> Response {
    rpc_error(StatusCode::OK, Some(id), hosting_error(e))
}

/// A JSON-RPC error with the status its code implies in this era.
pub(super) fn rejected(id: Option<&RawValue>, err: RpcError) -> Response {
    rpc_error(status_for(err.code.code()), id, err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosting::StateError;

    #[test]
    fn refused_states_are_invalid_params_and_say_nothing_of_why() {
        let e = continuation_error(&ContinuationError::Refused(StateError::Mismatch));
        assert_eq!(e.code.code(), -32602);
        assert!(!e.message.contains("Mismatch"));
        let e = continuation_error(&ContinuationError::Seal("no key".into()));
        assert_eq!(e.code.code(), -32603);
        let lost = ContinuationError::Lost;
        let e = continuation_error(&lost);
        assert_eq!(e.code.code(), -32602);
        assert!(e.message.contains("was lost"), "{}", e.message);
        assert!(
            e.message.contains("start the request again"),
            "{}",
            e.message
        );
        assert_eq!(continuation_status(&lost), StatusCode::BAD_REQUEST);
        let down = ContinuationError::Store("down".into());
        assert_eq!(continuation_status(&down), StatusCode::SERVICE_UNAVAILABLE);
    }

    #[tokio::test]
    async fn rejections_take_the_status_of_their_code() {
        let id = RawValue::from_string("1".into()).unwrap();
        let r = rejected(Some(&id), RpcError::new(ErrorCode::MethodNotFound, "m"));
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
        let r = rejected(Some(&id), RpcError::new(ErrorCode::HeaderMismatch, "h"));
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
}
