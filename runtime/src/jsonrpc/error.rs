//! JSON-RPC error objects and the codes Berth uses.
//!
//! This is the one place where failures become `-32xxx` codes; everything
//! else returns [`RpcError`] and lets the HTTP layer pick the status.
//!
//! May import: external crates only.

use serde_json::value::RawValue;

/// JSON-RPC and MCP error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// Invalid JSON was received.
    ParseError,
    /// The JSON sent is not a valid request object.
    InvalidRequest,
    /// The method does not exist or is not available.
    MethodNotFound,
    /// Invalid method parameters.
    InvalidParams,
    /// Internal error (also used for backend failures).
    InternalError,
    /// Berth-specific: the backend did not answer in time (`-32001`).
    RequestTimeout,
    /// Berth-specific: the backend instance is gone or could not start (`-32002`).
    BackendUnavailable,
    /// Berth-specific: capacity reached or the container engine is down;
    /// retry later (`-32003`, HTTP 503 with `Retry-After`).
    Overloaded,
    /// MCP 2026-07-28: a routing header is missing or does not match the
    /// body (`-32020`).
    HeaderMismatch,
    /// MCP 2026-07-28: the request needs a client capability the client did
    /// not declare (`-32021`).
    MissingCapability,
    /// MCP 2026-07-28: unsupported protocol version (`-32022`).
    UnsupportedVersion,
    /// Any other code, e.g. one relayed from elsewhere.
    Other(i64),
}

/// A JSON-RPC error to send to an agent.
#[derive(Clone, Debug)]
pub struct RpcError {
    /// The error code.
    pub code: ErrorCode,
    /// A message that says what went wrong and what to do.
    pub message: String,
    /// Optional structured data (raw JSON).
    pub data: Option<serde_json::Value>,
}

// === impl ErrorCode ===

impl ErrorCode {
    /// The numeric code on the wire.
    pub fn code(self) -> i64 {
        match self {
            ErrorCode::ParseError => -32700,
            ErrorCode::InvalidRequest => -32600,
            ErrorCode::MethodNotFound => -32601,
            ErrorCode::InvalidParams => -32602,
            ErrorCode::InternalError => -32603,
            ErrorCode::RequestTimeout => -32001,
            ErrorCode::BackendUnavailable => -32002,
            ErrorCode::Overloaded => -32003,
            ErrorCode::HeaderMismatch => -32020,
            ErrorCode::MissingCapability => -32021,
            ErrorCode::UnsupportedVersion => -32022,
            ErrorCode::Other(c) => c,
        }
    }
}

// === impl RpcError ===

impl RpcError {
    /// An error with a code and message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        RpcError {
            code,
            message: message.into(),
            data: None,
        }
    }

    /// Attaches structured `data`.
    pub fn with_data(mut self, data: serde_json::Value) -> Self {
        self.data = Some(data);
        self
    }

    /// Serializes a full JSON-RPC error response echoing `id` (raw bytes).
    pub fn to_response(&self, id: Option<&RawValue>) -> Vec<u8> {
        error_response(id, self)
    }
}

/// Builds `{"jsonrpc":"2.0","id":<id|null>,"error":{...}}`.
fn error_response(id: Option<&RawValue>, err: &RpcError) -> Vec<u8> {
    let mut error = serde_json::json!({
        "code": err.code.code(),
        "message": err.message,
    });
    if let Some(data) = &err.data {
        error["data"] = data.clone();
    }
    let mut out = Vec::with_capacity(96 + err.message.len());
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    out.extend_from_slice(id.map(|r| r.get()).unwrap_or("null").as_bytes());
    out.extend_from_slice(br#","error":"#);
    serde_json::to_writer(&mut out, &error).expect("serializing a Value to a Vec cannot fail");
    out.push(b'}');
    out
}
