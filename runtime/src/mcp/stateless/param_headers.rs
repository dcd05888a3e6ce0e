//! `Mcp-Param-*` headers (SEP-2243): a tool may declare arguments that
//! clients mirror in headers (`x-mcp-header` in its input schema, on a
//! chain of `properties`), so gateways can route on them; the server must
//! reject a request whose headers and body disagree. Berth checks them for
//! every server, against the declarations it learns from the server's
//! `tools/list` (once per server definition): a server behind stdio never
//! sees the headers, and one behind Streamable HTTP gets them anew from
//! the bridge, mirrored from the body Berth checked.
//!
//! May import: `hosting`, `servers`, `jsonrpc`, `protocol`.

use std::time::Duration;

use http::HeaderMap;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::hosting::{Composed, HostingError, HostingSession, Next};
use crate::jsonrpc::{ErrorCode, RpcError};
use crate::protocol::{
    META_CLIENT_CAPS, META_PROTOCOL_VERSION, ParamHeaders, Version,
    declarations as declarations_of, decode_header_value, header_text, value_at,
};
use crate::servers::HostedServer;

/// Pages of `tools/list` Berth reads at most.
const MAX_PAGES: usize = 32;

/// The declarations of `server`'s tools, asked of `session` the first
/// time (a server that cannot list its tools declares none).
pub(super) async fn declarations<'a>(
    server: &'a HostedServer,
    session: &HostingSession,
    timeout: Duration,
) -> &'a ParamHeaders {
    server
        .spec
        .param_headers
        .get_or_init(|| async {
            match list_tools(session, timeout).await {
                Ok(tools) => declarations_of(&tools),
                Err(e) => {
                    tracing::warn!(error = %e, "could not list the server's tools to learn its Mcp-Param headers");
                    ParamHeaders::new()
                }
            }
        })
        .await
}

/// Checks a `tools/call`'s `Mcp-Param-*` headers against its arguments.
pub(super) fn check(
    declared: &ParamHeaders,
    tool: &str,
    arguments: Option<&Map<String, Value>>,
    headers: &HeaderMap,
) -> Result<(), RpcError> {
    let Some(params) = declared.get(tool) else {
        return Ok(());
    };
    for param in params {
        let suffix = &param.suffix;
        let name = format!("mcp-param-{}", suffix.to_ascii_lowercase());
        let mut values = headers.get_all(&name).iter();
        let first = values.next();
        let mismatch = |why: &str| {
            Err(RpcError::new(
                ErrorCode::HeaderMismatch,
                format!("Header mismatch: `Mcp-Param-{suffix}` {why}"),
            ))
        };
        if values.next().is_some() {
            return mismatch("is repeated");
        }
        let header = first
            .and_then(|v| v.to_str().ok())
            .map(|v| v.trim_matches([' ', '\t']));
        let body = arguments.and_then(|a| value_at(a, &param.path));
        match (header, body.map(header_text)) {
            (None, None | Some(None)) => {}
            (None, Some(Some(_))) => {
                return mismatch("is required: the body sets that argument");
            }
            (Some(_), None) => return mismatch("is set but the body has no such argument"),
            (Some(_), Some(None)) => {
                return mismatch("is set but that argument has no header form");
            }
            (Some(h), Some(Some(b))) => {
                let Some(decoded) = decode_header_value(h) else {
                    return mismatch("is not valid Base64");
                };
                if decoded != b {
                    return mismatch("does not match the body");
                }
            }
        }
    }
    Ok(())
}

/// Every tool the session's server lists (following cursors).
async fn list_tools(
    session: &HostingSession,
    timeout: Duration,
) -> Result<Vec<Value>, HostingError> {
    let native = session.is_native();
    let mut tools = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let mut params = Map::new();
        if native {
            params.insert(
                "_meta".into(),
                serde_json::json!({
                    META_PROTOCOL_VERSION: Version::STATELESS.as_str(),
                    META_CLIENT_CAPS: {},
                }),
            );
        }
        if let Some(c) = &cursor {
            params.insert("cursor".into(), Value::String(c.clone()));
        }
        let id = RawValue::from_string(r#""berth-tools-list""#.to_owned())
            .expect("a constant id is JSON");
        let stream = session.open_stream();
        session
            .forward_composed(
                Composed {
                    client_id: id,
                    method: "tools/list",
                    params: &Value::Object(params).to_string(),
                    tool: None,
                },
                stream.clone(),
                timeout,
                None,
            )
            .await?;
        let mut after = 0;
        let answer = loop {
            match stream.next_after(after).await {
                Next::Event(e) if e.last => break e,
                Next::Event(e) => after = e.seq,
                Next::Finished | Next::Gap => return Err(HostingError::NoInitializeAnswer),
            }
        };
        let page: Value = serde_json::from_slice(&answer.data).unwrap_or(Value::Null);
        let result = &page["result"];
        if let Some(list) = result.get("tools").and_then(Value::as_array) {
            tools.extend(list.iter().cloned());
        }
        cursor = result
            .get("nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    Ok(tools)
}

/// Declarations from a `tools` array (for tests).
#[cfg(test)]
fn declared(tools: Value) -> ParamHeaders {
    declarations_of(tools.as_array().unwrap())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::http::testing::headers;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn headers_must_mirror_declared_arguments() {
        let d = declared(json!([
            {"name": "route", "inputSchema": {"type": "object", "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"},
                "note": {"type": "string"},
            }}},
            {"name": "plain", "inputSchema": {"type": "object"}},
        ]));
        let a = args(json!({"region": "Hello", "note": "x"}));
        let ok = |h: &[(&str, &str)]| check(&d, "route", Some(&a), &headers(h)).is_ok();
        assert!(ok(&[("mcp-param-region", "Hello")]));
        assert!(ok(&[("Mcp-Param-Region", " Hello ")]), "OWS is trimmed");
        assert!(ok(&[("mcp-param-region", "=?base64?SGVsbG8=?=")]));
        assert!(
            !ok(&[("mcp-param-region", "=?base64?SGVsbG8?=")]),
            "bad padding"
        );
        assert!(
            !ok(&[("mcp-param-region", "=?base64?SGVs!!!bG8=?=")]),
            "bad alphabet"
        );
        assert!(!ok(&[("mcp-param-region", "Bye")]), "mismatch");
        assert!(!ok(&[]), "omitted while the body sets it");
        let literal = args(json!({"region": "=?base64?SGVsbG8="}));
        assert!(
            check(
                &d,
                "route",
                Some(&literal),
                &headers(&[("mcp-param-region", "=?base64?SGVsbG8=")])
            )
            .is_ok(),
            "no ?= suffix: literal"
        );
        let e = check(&d, "route", Some(&a), &headers(&[])).unwrap_err();
        assert_eq!(e.code.code(), -32020);
        assert!(
            check(&d, "plain", None, &headers(&[])).is_ok(),
            "nothing declared"
        );
        assert!(check(&d, "unknown", None, &headers(&[])).is_ok());
        assert!(
            !ok(&[("mcp-param-region", "Hello"), ("mcp-param-region", "Hello")]),
            "repeated"
        );
    }

    #[test]
    fn nested_arguments_are_checked_at_their_path() {
        let d = declared(json!([
            {"name": "deploy", "inputSchema": {"type": "object", "properties": {
                "target": {"type": "object", "properties": {
                    "zone": {"type": "integer", "x-mcp-header": "Zone"}}},
            }}},
        ]));
        let a = args(json!({"target": {"zone": 3}}));
        let ok = |a: &Map<String, Value>, h: &[(&str, &str)]| {
            check(&d, "deploy", Some(a), &headers(h)).is_ok()
        };
        assert!(ok(&a, &[("mcp-param-zone", "3")]));
        assert!(!ok(&a, &[("mcp-param-zone", "4")]));
        assert!(!ok(&a, &[]));
        assert!(ok(&args(json!({"target": {}})), &[]));
        assert!(!ok(
            &args(json!({"target": {}})),
            &[("mcp-param-zone", "3")]
        ));
    }
}
