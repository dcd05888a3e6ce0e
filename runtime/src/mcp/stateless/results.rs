//! Shaping backend (2025-era) answers for 2026-07-28 agents: `resultType`,
//! caching hints, error-code translation, and the HTTP status per code.
//!
//! Results are edited by splicing fields into the raw JSON, never by
//! decoding and re-encoding the whole payload.
//!
//! May import: `jsonrpc`.

use std::borrow::Cow;
use std::collections::HashMap;

use http::StatusCode;
use serde_json::value::RawValue;

use crate::jsonrpc::{Envelope, ErrorCode, RpcError};

/// Methods whose results carry `ttlMs`/`cacheScope`.
const CACHEABLE: &[&str] = &[
    "tools/list",
    "prompts/list",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "server/discover",
];

/// The HTTP status for a JSON-RPC error code (2026-07-28 transport table).
pub fn status_for(code: i64) -> StatusCode {
    match code {
        -32700 | -32600 | -32602 | -32020 | -32021 | -32022 => StatusCode::BAD_REQUEST,
        -32601 => StatusCode::NOT_FOUND,
        _ => StatusCode::OK,
    }
}

/// A backend message for the agent, shaped for 2026-07-28, with its status.
pub fn modernize(msg: &[u8], method: &str, uri: Option<&str>) -> (Vec<u8>, StatusCode) {
    let Ok(env) = Envelope::parse(msg) else {
        return (msg.to_vec(), StatusCode::OK);
    };
    if let Some(result) = env.result {
        return (
            add_result_fields(msg, result, CACHEABLE.contains(&method)),
            StatusCode::OK,
        );
    }
    let Some(error) = env.error else {
        return (msg.to_vec(), StatusCode::OK);
    };
    #[derive(serde::Deserialize)]
    struct ErrObj {
        code: i64,
        message: String,
        #[serde(default)]
        data: Option<serde_json::Value>,
    }
    let Ok(err) = serde_json::from_str::<ErrObj>(error.get()) else {
        return (msg.to_vec(), StatusCode::OK);
    };
    if method == "resources/read" && (err.code == -32002 || err.code == -32602) {
        // SEP-2164: resource-not-found is -32602 with the uri in data.
        let mut data = err.data.unwrap_or_else(|| serde_json::json!({}));
        if let (Some(obj), Some(uri)) = (data.as_object_mut(), uri) {
            obj.entry("uri").or_insert_with(|| uri.into());
        }
        let e = RpcError::new(ErrorCode::InvalidParams, err.message).with_data(data);
        return (e.to_response(env.id), StatusCode::BAD_REQUEST);
    }
    (msg.to_vec(), status_for(err.code))
}

fn add_result_fields(msg: &[u8], result: &RawValue, cacheable: bool) -> Vec<u8> {
    let keys: HashMap<Cow<'_, str>, &RawValue> = match serde_json::from_str(result.get()) {
        Ok(k) => k,
        Err(_) => return msg.to_vec(),
    };
    let mut add = String::new();
    if !keys.contains_key("resultType") {
        add.push_str(r#""resultType":"complete""#);
    }
    if cacheable {
        if !keys.contains_key("ttlMs") {
            push_field(&mut add, r#""ttlMs":0"#);
        }
        if !keys.contains_key("cacheScope") {
            // Results may depend on the principal: never shared caches.
            push_field(&mut add, r#""cacheScope":"private""#);
        }
    }
    if add.is_empty() {
        return msg.to_vec();
    }
    if !keys.is_empty() {
        add.push(',');
    }
    let open = result.get().as_ptr() as usize - msg.as_ptr() as usize + 1;
    let mut out = Vec::with_capacity(msg.len() + add.len());
    out.extend_from_slice(&msg[..open]);
    out.extend_from_slice(add.as_bytes());
    out.extend_from_slice(&msg[open..]);
    out
}

fn push_field(buf: &mut String, field: &str) {
    if !buf.is_empty() {
        buf.push(',');
    }
    buf.push_str(field);
}

/// Serializes a result object for `id`.
pub(crate) fn result_message(id: &RawValue, result: &serde_json::Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    out.extend_from_slice(id.get().as_bytes());
    out.extend_from_slice(br#","result":"#);
    serde_json::to_writer(&mut out, result).expect("writing to a Vec cannot fail");
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(b: &[u8]) -> serde_json::Value {
        serde_json::from_slice(b).unwrap()
    }

    #[test]
    fn results_gain_result_type_and_cache_hints() {
        let (out, st) = modernize(
            br#"{"jsonrpc":"2.0","id":3,"result":{"tools":[]}}"#,
            "tools/list",
            None,
        );
        assert_eq!(st, StatusCode::OK);
        let j = v(&out);
        assert_eq!(j["result"]["resultType"], "complete");
        assert_eq!(j["result"]["ttlMs"], 0);
        assert_eq!(j["result"]["cacheScope"], "private");
        assert_eq!(j["result"]["tools"], serde_json::json!([]));
        let (out, _) = modernize(
            br#"{"jsonrpc":"2.0","id":3,"result":{}}"#,
            "tools/call",
            None,
        );
        assert_eq!(
            v(&out)["result"],
            serde_json::json!({"resultType":"complete"})
        );
        let (out, _) = modernize(
            br#"{"jsonrpc":"2.0","id":3,"result":{"resultType":"input_required"}}"#,
            "tools/call",
            None,
        );
        assert_eq!(v(&out)["result"]["resultType"], "input_required");
    }

    #[test]
    fn resource_not_found_becomes_invalid_params_with_uri() {
        let msg =
            br#"{"jsonrpc":"2.0","id":4,"error":{"code":-32002,"message":"Resource not found"}}"#;
        let (out, st) = modernize(msg, "resources/read", Some("test://x"));
        assert_eq!(st, StatusCode::BAD_REQUEST);
        let j = v(&out);
        assert_eq!(j["error"]["code"], -32602);
        assert_eq!(j["error"]["data"]["uri"], "test://x");
        assert_eq!(j["id"], 4);
    }

    #[test]
    fn statuses_follow_the_table() {
        assert_eq!(status_for(-32601), StatusCode::NOT_FOUND);
        assert_eq!(status_for(-32021), StatusCode::BAD_REQUEST);
        assert_eq!(status_for(-32603), StatusCode::OK);
    }
}
