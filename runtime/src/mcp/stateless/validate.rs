//! Validating a 2026-07-28 request, step by step; the first failing step
//! wins, in the order the spec (and the conformance suite) fixes:
//! JSON → envelope → `_meta` (-32602) → routing headers (-32020) →
//! protocol version (-32022) → method (-32601).
//!
//! May import: `protocol`, `jsonrpc`.

use http::{HeaderMap, HeaderName};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::jsonrpc::{Envelope, ErrorCode, Kind, ParseError, RpcError};
use crate::protocol::{
    MCP_METHOD, MCP_NAME, MCP_PROTOCOL_VERSION, META_CLIENT_CAPS as META_CAPS,
    META_CLIENT_INFO as META_INFO, META_LOG_LEVEL, META_PROTOCOL_VERSION as META_VERSION, Version,
    decode_header_value, name_field,
};

/// Methods a 2026-07-28 agent may call that Berth forwards to the server.
pub const FORWARDED: &[&str] = &[
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "completion/complete",
];

/// A validated 2026-07-28 request.
#[derive(Debug)]
pub struct StatelessRequest {
    /// The agent's request id (raw JSON).
    pub id: Box<RawValue>,
    /// The method.
    pub method: String,
    /// `params` as an object (with `_meta`).
    pub params: Map<String, Value>,
    /// Requested log level, if any.
    pub log_level: Option<String>,
}

impl StatelessRequest {
    /// Client capabilities from `_meta` (an object, once validated).
    pub fn caps(&self) -> &Value {
        self.meta()
            .and_then(|m| m.get(META_CAPS))
            .unwrap_or(&Value::Null)
    }

    /// Client identity from `_meta`, if sent.
    pub fn client_info(&self) -> Option<&Value> {
        self.meta().and_then(|m| m.get(META_INFO))
    }

    fn meta(&self) -> Option<&Map<String, Value>> {
        self.params.get("_meta").and_then(Value::as_object)
    }
}

/// What validation decided.
#[derive(Debug)]
pub enum Outcome {
    /// A valid request.
    Request(StatelessRequest),
    /// A notification: accepted and dropped (2026 has no client
    /// notifications over HTTP).
    Notification,
}

/// A validation failure: the error and the id to echo.
#[derive(Debug)]
pub struct Rejection {
    /// The request id, when readable.
    pub id: Option<Box<RawValue>>,
    /// The error.
    pub error: RpcError,
}

/// Validates a request, step by step in the spec's order.
pub fn validate(headers: &HeaderMap, body: &[u8]) -> Result<Outcome, Rejection> {
    let env = match Envelope::parse(body) {
        Ok(e) => e,
        Err(ParseError::NotJson(m)) => {
            return Err(reject(
                None,
                ErrorCode::ParseError,
                format!("Parse error: {m}"),
            ));
        }
        Err(ParseError::Batch) => {
            return Err(reject(
                None,
                ErrorCode::InvalidRequest,
                "Invalid Request: batches are not supported",
            ));
        }
        Err(ParseError::Invalid { reason, id }) => {
            return Err(reject(
                id,
                ErrorCode::InvalidRequest,
                format!("Invalid Request: {reason}"),
            ));
        }
    };
    match env.kind {
        Kind::Notification => return Ok(Outcome::Notification),
        Kind::Response => {
            return Err(reject(
                env.id.map(|i| i.to_owned()),
                ErrorCode::InvalidRequest,
                "Invalid Request: 2026-07-28 agents answer server requests with inputResponses, not JSON-RPC responses",
            ));
        }
        Kind::Request => {}
    }
    let id = env.id.expect("requests have ids").to_owned();
    let method = env.method_str().to_owned();
    let params: Map<String, Value> = match env.params {
        None => Map::new(),
        Some(p) => match serde_json::from_str(p.get()) {
            Ok(m) => m,
            Err(_) => {
                return Err(reject(
                    Some(id),
                    ErrorCode::InvalidParams,
                    "Invalid params: params must be an object",
                ));
            }
        },
    };
    // Step 2: the _meta envelope.
    let meta = match params.get("_meta") {
        Some(Value::Object(m)) => m,
        _ => {
            return Err(reject(
                Some(id),
                ErrorCode::InvalidParams,
                format!(
                    "Invalid params: params._meta with `{META_VERSION}` and `{META_CAPS}` is required"
                ),
            ));
        }
    };
    let Some(Value::String(version)) = meta.get(META_VERSION) else {
        return Err(reject(
            Some(id),
            ErrorCode::InvalidParams,
            format!("Invalid params: params._meta[\"{META_VERSION}\"] is required"),
        ));
    };
    match meta.get(META_CAPS) {
        Some(Value::Object(_)) => {}
        _ => {
            return Err(reject(
                Some(id),
                ErrorCode::InvalidParams,
                format!("Invalid params: params._meta[\"{META_CAPS}\"] must be an object"),
            ));
        }
    };
    // Step 3: routing headers must match the body.
    check_header(headers, &MCP_PROTOCOL_VERSION, version, &id)?;
    check_header(headers, &MCP_METHOD, &method, &id)?;
    if let Some(field) = name_field(&method) {
        let Some(Value::String(name)) = params.get(field) else {
            return Err(reject(
                Some(id),
                ErrorCode::InvalidParams,
                format!("Invalid params: `{field}` is required for {method}"),
            ));
        };
        check_header(headers, &MCP_NAME, name, &id)?;
    }
    // Step 4: the version itself.
    if Version::parse(version) != Some(Version::STATELESS) {
        let supported: Vec<&str> = Version::SUPPORTED.iter().map(|v| v.as_str()).collect();
        let mut err = RpcError::new(
            ErrorCode::UnsupportedVersion,
            format!(
                "Unsupported protocol version `{version}`; this endpoint speaks {}",
                Version::list(Version::SUPPORTED)
            ),
        );
        err = err.with_data(serde_json::json!({"supported": supported, "requested": version}));
        return Err(Rejection {
            id: Some(id),
            error: err,
        });
    }
    // Step 5: the method.
    if !(FORWARDED.contains(&method.as_str())
        || method == "server/discover"
        || method == "subscriptions/listen")
    {
        return Err(reject(
            Some(id),
            ErrorCode::MethodNotFound,
            format!("Method not found: `{method}` is not a 2026-07-28 method"),
        ));
    }
    let log_level = meta
        .get(META_LOG_LEVEL)
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(Outcome::Request(StatelessRequest {
        id,
        method,
        params,
        log_level,
    }))
}

fn check_header(
    headers: &HeaderMap,
    name: &HeaderName,
    expected: &str,
    id: &RawValue,
) -> Result<(), Rejection> {
    let mut values = headers.get_all(name).iter();
    let first = values.next();
    if values.next().is_some() {
        return Err(reject(
            Some(id.to_owned()),
            ErrorCode::HeaderMismatch,
            format!("Header mismatch: `{name}` is repeated"),
        ));
    }
    let Some(value) = first.and_then(|v| v.to_str().ok()) else {
        return Err(reject(
            Some(id.to_owned()),
            ErrorCode::HeaderMismatch,
            format!(
                "Header mismatch: the `{name}` header is required and must equal the request body"
            ),
        ));
    };
    let decoded = decode_header_value(value.trim_matches(|c| c == ' ' || c == '\t'));
    if decoded.as_deref() != Some(expected) {
        return Err(reject(
            Some(id.to_owned()),
            ErrorCode::HeaderMismatch,
            format!("Header mismatch: `{name}` does not match the request body"),
        ));
    }
    Ok(())
}

fn reject(id: Option<Box<RawValue>>, code: ErrorCode, message: impl Into<String>) -> Rejection {
    Rejection {
        id,
        error: RpcError::new(code, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(method: &str, name: Option<&str>) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "mcp-protocol-version",
            HeaderValue::from_static("2026-07-28"),
        );
        h.insert("mcp-method", HeaderValue::from_str(method).unwrap());
        if let Some(n) = name {
            h.insert("mcp-name", HeaderValue::from_str(n).unwrap());
        }
        h
    }

    fn body(method: &str, params: Value) -> Vec<u8> {
        serde_json::to_vec(
            &serde_json::json!({"jsonrpc":"2.0","id":7,"method":method,"params":params}),
        )
        .unwrap()
    }

    fn meta(version: &str) -> Value {
        serde_json::json!({META_VERSION: version, META_CAPS: {}})
    }

    fn code(r: Result<Outcome, Rejection>) -> i64 {
        r.unwrap_err().error.code.code()
    }

    #[test]
    fn checks_run_meta_then_headers_then_version_then_method() {
        let h = headers("server/discover", None);
        assert_eq!(
            code(validate(
                &h,
                &body("server/discover", serde_json::json!({}))
            )),
            -32602
        );
        let no_caps = serde_json::json!({"_meta": {META_VERSION: "2026-07-28"}});
        assert_eq!(
            code(validate(&h, &body("server/discover", no_caps))),
            -32602
        );
        // Header says 2026-07-28, body says v999: mismatch beats unsupported.
        assert_eq!(
            code(validate(
                &h,
                &body(
                    "server/discover",
                    serde_json::json!({"_meta": meta("v999.0.0")})
                )
            )),
            -32020
        );
        let mut h999 = h.clone();
        h999.insert("mcp-protocol-version", HeaderValue::from_static("v999.0.0"));
        let r = validate(
            &h999,
            &body(
                "server/discover",
                serde_json::json!({"_meta": meta("v999.0.0")}),
            ),
        );
        let rej = r.unwrap_err();
        assert_eq!(rej.error.code.code(), -32022);
        assert_eq!(rej.error.data.unwrap()["requested"], "v999.0.0");
        let hp = headers("ping", None);
        assert_eq!(
            code(validate(
                &hp,
                &body("ping", serde_json::json!({"_meta": meta("2026-07-28")}))
            )),
            -32601
        );
    }

    #[test]
    fn name_header_must_match_and_is_trimmed_and_decoded() {
        let p = serde_json::json!({"name": "echo", "_meta": meta("2026-07-28")});
        assert!(
            validate(
                &headers("tools/call", Some("  echo ")),
                &body("tools/call", p.clone())
            )
            .is_ok()
        );
        assert!(
            validate(
                &headers("tools/call", Some("=?base64?ZWNobw==?=")),
                &body("tools/call", p.clone())
            )
            .is_ok()
        );
        assert_eq!(
            code(validate(
                &headers("tools/call", Some("other")),
                &body("tools/call", p.clone())
            )),
            -32020
        );
        assert_eq!(
            code(validate(
                &headers("tools/call", None),
                &body("tools/call", p.clone())
            )),
            -32020
        );
        assert_eq!(
            code(validate(
                &headers("TOOLS/CALL", Some("echo")),
                &body("tools/call", p)
            )),
            -32020
        );
    }
}
