//! The API's error answers: `metav1.Status` objects with the reasons,
//! codes and message shapes kube-apiserver uses, as axum responses.
//!
//! Imports no sibling module.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// A failed request: the HTTP code, the Status `reason` and `message`, and
/// optional `details` (`name`, `kind`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    /// The HTTP status code (also the Status `code`).
    pub(crate) code: u16,
    /// The Status `reason`, e.g. `NotFound`.
    pub(crate) reason: String,
    /// The human-readable message, e.g. `pods "x" not found`.
    pub(crate) message: String,
    /// `details.name`, when the error is about one object.
    pub(crate) name: Option<String>,
    /// `details.kind` (the plural resource, e.g. `pods`).
    pub(crate) kind: Option<String>,
}

impl ApiError {
    /// Any Status failure.
    pub(crate) fn new(code: u16, reason: &str, message: impl Into<String>) -> ApiError {
        ApiError {
            code,
            reason: reason.to_owned(),
            message: message.into(),
            name: None,
            kind: None,
        }
    }

    /// Adds `details` naming the object.
    pub(crate) fn about(mut self, kind: &str, name: &str) -> ApiError {
        self.kind = Some(kind.to_owned());
        self.name = Some(name.to_owned());
        self
    }

    /// 404 `<kind> "<name>" not found`.
    pub(crate) fn not_found(kind: &str, name: &str) -> ApiError {
        ApiError::new(404, "NotFound", format!("{kind} \"{name}\" not found")).about(kind, name)
    }

    /// 409 `<kind> "<name>" already exists`.
    pub(crate) fn already_exists(kind: &str, name: &str) -> ApiError {
        ApiError::new(
            409,
            "AlreadyExists",
            format!("{kind} \"{name}\" already exists"),
        )
        .about(kind, name)
    }

    /// 409 Conflict: the object changed since the caller read it.
    pub(crate) fn conflict(kind: &str, name: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {kind} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
            ),
        )
        .about(kind, name)
    }

    /// 422 Invalid: `<Kind> "<name>" is invalid: <what>`.
    pub(crate) fn invalid(kind_singular: &str, plural: &str, name: &str, what: &str) -> ApiError {
        ApiError::new(
            422,
            "Invalid",
            format!("{kind_singular} \"{name}\" is invalid: {what}"),
        )
        .about(plural, name)
    }

    /// 400 BadRequest.
    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    /// The Status object.
    pub(crate) fn to_json(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if self.name.is_some() || self.kind.is_some() {
            let mut details = serde_json::Map::new();
            if let Some(n) = &self.name {
                details.insert("name".into(), json!(n));
            }
            if let Some(k) = &self.kind {
                details.insert("kind".into(), json!(k));
            }
            status["details"] = Value::Object(details);
        }
        status
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(code, &self.to_json())
    }
}

/// A JSON body with `content-type: application/json`.
pub(crate) fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A handler's outcome: a JSON object or a Status failure.
pub(crate) type ApiResult = Result<Response, ApiError>;

/// 200 with `body`.
pub(crate) fn ok(body: &Value) -> ApiResult {
    Ok(json_response(StatusCode::OK, body))
}

/// 201 with `body`.
pub(crate) fn created(body: &Value) -> ApiResult {
    Ok(json_response(StatusCode::CREATED, body))
}

/// Parses a request body as a JSON object (400 otherwise).
pub(crate) fn parse_object(body: &[u8]) -> Result<Value, ApiError> {
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body of the request could not be decoded as JSON: {e}"
        ))
    })?;
    if !value.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request must be a JSON object",
        ));
    }
    Ok(value)
}
