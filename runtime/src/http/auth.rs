//! Bearer-token authentication of MCP requests: 401 with an RFC 9728
//! `WWW-Authenticate` challenge, 403 `insufficient_scope`, 503 when the
//! issuer cannot be asked.
//!
//! May import: `http::reply`, `jsonrpc`, external crates (`berth-auth`).

use axum::response::Response;
use berth_auth::{Principal, TokenValidator};
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::reply;
use crate::jsonrpc::{ErrorCode, RpcError};

/// Authenticates the bearer token for `resource`; 401 with
/// `WWW-Authenticate` (RFC 9728 `resource_metadata`) when it fails.
pub(crate) async fn authenticate(
    validator: &dyn TokenValidator,
    headers: &HeaderMap,
    resource: &str,
    metadata_url: &str,
    scopes: &[String],
) -> Result<Principal, Response> {
    let raw = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    if headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .nth(1)
        .is_some()
    {
        // Which one would a proxy in front have checked? RFC 6750 §3.1:
        // a repeated credential is `invalid_request`.
        let e = berth_auth::Error::Malformed(
            "more than one Authorization header; send exactly one bearer token".into(),
        );
        let mut resp = unauthorized(metadata_url, scopes, Some(&e));
        *resp.status_mut() = StatusCode::BAD_REQUEST;
        return Err(resp);
    }
    let token = berth_auth::bearer_token(raw);
    let result = match token {
        Ok(t) => validator.validate(t, resource).await,
        Err(e) => Err(e),
    };
    let principal = match result {
        Ok(p) => p,
        Err(e) if e.http_status() >= 500 => {
            // Not the agent's fault: the issuer could not be asked.
            tracing::warn!(error = %e, resource, "could not validate a token");
            return Err(reply::rpc_error(
                StatusCode::SERVICE_UNAVAILABLE,
                None,
                RpcError::new(ErrorCode::Overloaded, format!("Service Unavailable: {e}"))
                    .with_data(serde_json::json!({"retryable": true})),
            ));
        }
        Err(e) => {
            tracing::info!(error = %e, resource, "rejected MCP request: authentication failed");
            let presented = raw.is_some();
            return Err(unauthorized(metadata_url, scopes, presented.then_some(&e)));
        }
    };
    if let Err(e) = berth_auth::require_scopes(&principal, scopes) {
        let scope = scopes.join(" ");
        let challenge = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{metadata_url}\", error_description=\"{}\"",
            e.to_string().replace('"', "'")
        );
        let mut resp = reply::error(
            StatusCode::FORBIDDEN,
            ErrorCode::InvalidRequest,
            e.to_string(),
        );
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        return Err(resp);
    }
    Ok(principal)
}

fn unauthorized(
    metadata_url: &str,
    scopes: &[String],
    err: Option<&berth_auth::Error>,
) -> Response {
    let mut challenge = format!("Bearer resource_metadata=\"{metadata_url}\"");
    if !scopes.is_empty() {
        challenge.push_str(&format!(", scope=\"{}\"", scopes.join(" ")));
    }
    let message = match err {
        Some(e) => {
            challenge.push_str(&format!(
                ", error=\"{}\", error_description=\"{}\"",
                e.www_authenticate_error(),
                e.to_string().replace('"', "'")
            ));
            format!("Unauthorized: {e}")
        }
        None => "Unauthorized: send an OAuth bearer token in the Authorization header (see WWW-Authenticate for where to get one)".to_owned(),
    };
    let mut resp = reply::error(StatusCode::UNAUTHORIZED, ErrorCode::InvalidRequest, message);
    if let Ok(v) = HeaderValue::from_str(&challenge) {
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
    }
    resp
}
