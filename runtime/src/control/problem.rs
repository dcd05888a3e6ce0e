//! Error responses of `/v1`: a status and `{"error": {"code", "message",
//! "problems"?}}`, where `problems` lists each invalid field of a
//! deployment at its JSON pointer.
//!
//! May import: `control::views`, `registry` (its error), external crates.

use axum::Json;
use axum::response::{IntoResponse, Response};
use http::StatusCode;

use super::views::{ErrorBody, ErrorDetail, ProblemView};
use crate::registry::RegistryError;

/// A `/v1` error response.
pub(crate) fn problem(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = ErrorBody {
        error: ErrorDetail {
            code: code.to_owned(),
            message: message.into(),
            problems: None,
        },
    };
    (status, Json(body)).into_response()
}

/// The response for a refused registry operation.
pub(crate) fn registry_error(e: &RegistryError) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let problems = match e {
        RegistryError::Invalid(problems) => Some(
            problems
                .iter()
                .map(|p| ProblemView {
                    pointer: p.pointer.clone(),
                    message: p.message.clone(),
                })
                .collect(),
        ),
        _ => None,
    };
    let body = ErrorBody {
        error: ErrorDetail {
            code: e.code().to_owned(),
            message: e.to_string(),
            problems,
        },
    };
    if let RegistryError::Unavailable(m) = e {
        tracing::warn!(error = %m, "registry store unavailable");
    }
    let mut resp = (status, Json(body)).into_response();
    if let RegistryError::Stale { current } = e
        && let Ok(v) = http::HeaderValue::from_str(&format!("\"{current}\""))
    {
        resp.headers_mut().insert(http::header::ETAG, v);
    }
    resp
}

/// 400 for a path segment that is not what the route expects.
pub(crate) fn bad_path(what: &str) -> Response {
    problem(StatusCode::BAD_REQUEST, "bad_request", what)
}

/// Any `/v1` path that is not a route.
pub(crate) async fn unknown_route() -> Response {
    problem(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such /v1 route; servers are at /v1/tenants/{tenant}/servers[/{server}[/versions/{v}]]",
    )
}
