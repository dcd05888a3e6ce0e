//! Reading a POST body within the limits: 413 above
//! `limits.max_body_bytes` (at once when the Content-Length already says
//! so), 408 when it has not arrived within `limits.request_timeout`; and
//! the 400 for a path that does not decode.
//!
//! May import: `http::reply`, `config`, `jsonrpc`.

use axum::extract::{FromRequest, Request};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::reply;
use crate::config::Limits;
use crate::jsonrpc::ErrorCode;

/// Reads a POST body: 413 above `limits.max_body_bytes` (at once when the
/// Content-Length already says so), and 408 when the body has not arrived
/// within `limits.request_timeout`, so a client that stalls mid-body
/// cannot hold the connection (and what it sent so far) forever.
pub(crate) async fn read_body(
    limits: &Limits,
    headers: &HeaderMap,
    request: Request,
) -> Result<Bytes, Response> {
    let max = limits.max_body_bytes;
    let too_large = || {
        close(reply::error(
            StatusCode::PAYLOAD_TOO_LARGE,
            ErrorCode::InvalidRequest,
            format!("Payload Too Large: the body exceeds {max} bytes (limits.max_body_bytes)"),
        ))
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large());
    }
    match tokio::time::timeout(limits.request_timeout, Bytes::from_request(request, &())).await {
        Ok(Ok(body)) => Ok(body),
        Ok(Err(e)) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => Err(too_large()),
        Ok(Err(e)) => Err(reply::error(
            e.status(),
            ErrorCode::InvalidRequest,
            format!("Bad Request: could not read the body ({e})"),
        )),
        Err(_) => Err(close(reply::error(
            StatusCode::REQUEST_TIMEOUT,
            ErrorCode::InvalidRequest,
            format!(
                "Request Timeout: the body did not arrive within {}s (limits.request_timeout)",
                limits.request_timeout.as_secs_f32()
            ),
        ))),
    }
}

/// Ends the connection after this response (its request was not read to
/// the end, so nothing after it on the connection can be trusted).
fn close(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// 400 for a tenant or server segment that does not decode (e.g. `%ff`).
pub(crate) fn bad_path() -> Response {
    reply::error(
        StatusCode::BAD_REQUEST,
        ErrorCode::InvalidRequest,
        "Bad Request: the tenant and server in /mcp/{tenant}/{server} must be valid UTF-8",
    )
}
