//! What the bridge needs to know about a message before it sends it: the
//! request id its answer comes back with, the method, and — for a
//! 2026-07-28 request (one whose `_meta` names the protocol version) — the
//! routing headers a client sends with it: `MCP-Protocol-Version`,
//! `Mcp-Method`, `Mcp-Name` and the `Mcp-Param-*` headers the server's
//! tools declare (SEP-2243), all mirrored from the body, as the server
//! checks them against it.
//!
//! May import: `jsonrpc`, `protocol`.

use http::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::jsonrpc::{Envelope, Kind};
use crate::protocol::{
    MCP_METHOD, MCP_NAME, MCP_PROTOCOL_VERSION, META_PROTOCOL_VERSION, ParamHeaders,
    encode_header_value, name_field, param_headers_for,
};

/// The notification that cancels a request.
pub(super) const CANCELLED: &str = "notifications/cancelled";

/// One message on its way to the server.
pub(super) struct Outbound {
    /// Raw id of a request (its answer must come back).
    pub(super) request_id: Option<Box<RawValue>>,
    /// The method of a request or notification.
    pub(super) method: Option<String>,
    /// The routing headers of a 2026-07-28 request.
    pub(super) stateless: Option<HeaderMap>,
    /// The raw id of the request a `notifications/cancelled` cancels.
    pub(super) cancels: Option<String>,
}

// === impl Outbound ===

impl Outbound {
    /// Reads `message`; `declared` are the server's `Mcp-Param-*`
    /// declarations, when known.
    pub(super) fn of(message: &[u8], declared: Option<&ParamHeaders>) -> Self {
        let mut out = Outbound {
            request_id: None,
            method: None,
            stateless: None,
            cancels: None,
        };
        let Ok(env) = Envelope::parse(message) else {
            return out;
        };
        out.method = env.method.as_deref().map(str::to_owned);
        let params = env
            .params
            .and_then(|raw| serde_json::from_str::<Map<String, Value>>(raw.get()).ok());
        match env.kind {
            Kind::Request => {
                out.request_id = env.id.map(ToOwned::to_owned);
                if let (Some(method), Some(params)) = (out.method.as_deref(), params.as_ref()) {
                    out.stateless = routing_headers(method, params, declared);
                }
            }
            Kind::Notification if out.method.as_deref() == Some(CANCELLED) => {
                out.cancels = params
                    .as_ref()
                    .and_then(|p| p.get("requestId"))
                    .map(Value::to_string);
            }
            _ => {}
        }
        out
    }
}

/// The headers a client sends with a 2026-07-28 request; `None` for a
/// request of the session era (no protocol version in its `_meta`).
fn routing_headers(
    method: &str,
    params: &Map<String, Value>,
    declared: Option<&ParamHeaders>,
) -> Option<HeaderMap> {
    let version = params.get("_meta")?.get(META_PROTOCOL_VERSION)?.as_str()?;
    let mut headers = HeaderMap::new();
    let mut put = |name: HeaderName, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    put(MCP_PROTOCOL_VERSION, version);
    put(MCP_METHOD, &encode_header_value(method));
    if let Some(name) = name_field(method).and_then(|f| params.get(f)?.as_str()) {
        put(MCP_NAME, &encode_header_value(name));
    }
    if method == "tools/call"
        && let (Some(declared), Some(tool)) = (declared, params.get("name").and_then(Value::as_str))
    {
        let arguments = params.get("arguments").and_then(Value::as_object);
        for (name, value) in param_headers_for(declared, tool, arguments) {
            if let Ok(name) = HeaderName::from_bytes(name.as_bytes()) {
                put(name, &value);
            }
        }
    }
    Some(headers)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::protocol::declarations;

    fn of(message: Value, declared: Option<&ParamHeaders>) -> Outbound {
        Outbound::of(message.to_string().as_bytes(), declared)
    }

    #[test]
    fn stateless_requests_carry_the_headers_mirrored_from_their_body() {
        let declared = declarations(&[json!({"name": "route", "inputSchema": {"properties": {
            "region": {"type": "string", "x-mcp-header": "Region"}}}})]);
        let out = of(
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
                "name": "route", "arguments": {"region": "eu west"},
                "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}}),
            Some(&declared),
        );
        assert_eq!(out.request_id.unwrap().get(), "7");
        let h = out.stateless.expect("a 2026-07-28 request");
        assert_eq!(h[&MCP_PROTOCOL_VERSION], "2026-07-28");
        assert_eq!(h[&MCP_METHOD], "tools/call");
        assert_eq!(h[&MCP_NAME], "route");
        assert_eq!(h["mcp-param-region"], "eu west");

        let out = of(
            json!({"jsonrpc": "2.0", "id": "r", "method": "resources/read", "params": {
                "uri": "file:///ä",
                "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}}}),
            None,
        );
        let h = out.stateless.unwrap();
        assert_eq!(h[&MCP_NAME], encode_header_value("file:///ä").as_str());
    }

    #[test]
    fn session_era_messages_get_no_routing_headers() {
        let out = of(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "x"}}),
            None,
        );
        assert!(out.stateless.is_none());
        assert_eq!(out.method.as_deref(), Some("tools/call"));
        let out = of(
            json!({"jsonrpc": "2.0", "method": CANCELLED, "params": {"requestId": 12}}),
            None,
        );
        assert!(out.request_id.is_none());
        assert_eq!(out.cancels.as_deref(), Some("12"));
    }
}
