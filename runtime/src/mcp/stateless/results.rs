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

use crate::jsonrpc::{Envelope, ErrorCode, Kind, RpcError, span_in};

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

/// A backend answer for a 2026-07-28 agent: its id replaced by `id` (the
/// agent's own), shaped for 2026-07-28, with its HTTP status. The answer
/// is parsed once and edited in place; a message that is not a JSON-RPC
/// response goes as is.
pub fn modernize(
    msg: &[u8],
    id: &RawValue,
    method: &str,
    uri: Option<&str>,
) -> (Vec<u8>, StatusCode) {
    let env = match Envelope::parse(msg) {
        Ok(env) if env.kind == Kind::Response => env,
        _ => return (msg.to_vec(), StatusCode::OK),
    };
    let mut edits = Vec::with_capacity(2);
    if let Some(old) = env.id {
        edits.push(Edit::replace(msg, old, id.get().as_bytes()));
    }
    if let Some(result) = env.result {
        let add = result_fields(result, CACHEABLE.contains(&method));
        if !add.is_empty() {
            edits.push(Edit::insert(
                span_in(msg, result).start + 1,
                add.into_bytes(),
            ));
        }
        return (apply(msg, edits), StatusCode::OK);
    }
    let Some(error) = env.error else {
        return (apply(msg, edits), StatusCode::OK);
    };
    #[derive(serde::Deserialize)]
    struct ErrObj {
        code: i64,
        message: String,
        #[serde(default)]
        data: Option<serde_json::Value>,
    }
    let Ok(err) = serde_json::from_str::<ErrObj>(error.get()) else {
        return (apply(msg, edits), StatusCode::OK);
    };
    if method == "resources/read" && (err.code == -32002 || err.code == -32602) {
        // SEP-2164: resource-not-found is -32602 with the uri in data.
        let mut data = err.data.unwrap_or_else(|| serde_json::json!({}));
        if let (Some(obj), Some(uri)) = (data.as_object_mut(), uri) {
            obj.entry("uri").or_insert_with(|| uri.into());
        }
        let e = RpcError::new(ErrorCode::InvalidParams, err.message).with_data(data);
        return (e.to_response(Some(id)), StatusCode::BAD_REQUEST);
    }
    (apply(msg, edits), status_for(err.code))
}

/// The members to add at the start of a result object (with a trailing
/// comma when the object has members); empty when it has them all or is
/// not an object.
fn result_fields(result: &RawValue, cacheable: bool) -> String {
    /// The members looked at (present even when `null`); the others are
    /// skipped, not collected.
    #[derive(serde::Deserialize)]
    #[allow(non_snake_case)]
    struct Present {
        #[serde(default, deserialize_with = "present")]
        resultType: bool,
        #[serde(default, deserialize_with = "present")]
        ttlMs: bool,
        #[serde(default, deserialize_with = "present")]
        cacheScope: bool,
    }
    fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        <serde::de::IgnoredAny as serde::Deserialize>::deserialize(d).map(|_| true)
    }
    let raw = result.get();
    // A derived struct also accepts an array: only objects are shaped.
    if !raw.starts_with('{') {
        return String::new();
    }
    let present = match serde_json::from_str::<Present>(raw) {
        Ok(p) => [p.resultType, p.ttlMs, p.cacheScope],
        // A member given twice: read as a map (the last one counts).
        Err(_) => match serde_json::from_str::<HashMap<Cow<'_, str>, &RawValue>>(raw) {
            Ok(keys) => ["resultType", "ttlMs", "cacheScope"].map(|k| keys.contains_key(k)),
            Err(_) => return String::new(),
        },
    };
    let mut add = String::new();
    if !present[0] {
        add.push_str(r#""resultType":"complete""#);
    }
    if cacheable {
        if !present[1] {
            push_field(&mut add, r#""ttlMs":0"#);
        }
        if !present[2] {
            // Results may depend on the principal: never shared caches.
            push_field(&mut add, r#""cacheScope":"private""#);
        }
    }
    if !add.is_empty() && !raw[1..].trim_start().starts_with('}') {
        add.push(',');
    }
    add
}

fn push_field(buf: &mut String, field: &str) {
    if !buf.is_empty() {
        buf.push(',');
    }
    buf.push_str(field);
}

/// One change to a message: `msg[start..end]` becomes `with`.
struct Edit<'a> {
    start: usize,
    end: usize,
    with: Cow<'a, [u8]>,
}

impl<'a> Edit<'a> {
    /// Replaces `part` (a value parsed from `msg`) with `with`.
    fn replace(msg: &[u8], part: &RawValue, with: &'a [u8]) -> Edit<'a> {
        let span = span_in(msg, part);
        Edit {
            start: span.start,
            end: span.end,
            with: Cow::Borrowed(with),
        }
    }

    /// Inserts `with` before `msg[at]`.
    fn insert(at: usize, with: Vec<u8>) -> Edit<'a> {
        Edit {
            start: at,
            end: at,
            with: Cow::Owned(with),
        }
    }
}

/// `msg` with `edits` (non-overlapping, in any order) applied.
fn apply(msg: &[u8], mut edits: Vec<Edit<'_>>) -> Vec<u8> {
    edits.sort_by_key(|e| e.start);
    let grow: usize = edits.iter().map(|e| e.with.len()).sum();
    let mut out = Vec::with_capacity(msg.len() + grow);
    let mut at = 0;
    for e in &edits {
        out.extend_from_slice(&msg[at..e.start]);
        out.extend_from_slice(&e.with);
        at = e.end;
    }
    out.extend_from_slice(&msg[at..]);
    out
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

    fn agent_id() -> Box<RawValue> {
        RawValue::from_string(r#""agent-7""#.to_owned()).unwrap()
    }

    #[test]
    fn results_gain_result_type_and_cache_hints() {
        let id = agent_id();
        let (out, st) = modernize(
            br#"{"jsonrpc":"2.0","id":3,"result":{"tools":[]}}"#,
            &id,
            "tools/list",
            None,
        );
        assert_eq!(st, StatusCode::OK);
        let j = v(&out);
        assert_eq!(j["id"], "agent-7");
        assert_eq!(j["result"]["resultType"], "complete");
        assert_eq!(j["result"]["ttlMs"], 0);
        assert_eq!(j["result"]["cacheScope"], "private");
        assert_eq!(j["result"]["tools"], serde_json::json!([]));
        let (out, _) = modernize(
            br#"{"jsonrpc":"2.0","id":3,"result":{ }}"#,
            &id,
            "tools/call",
            None,
        );
        assert_eq!(
            v(&out)["result"],
            serde_json::json!({"resultType":"complete"})
        );
        let (out, _) = modernize(
            br#"{"jsonrpc":"2.0","id":3,"result":{"resultType":"input_required"}}"#,
            &id,
            "tools/call",
            None,
        );
        assert_eq!(v(&out)["result"]["resultType"], "input_required");
        assert_eq!(v(&out)["id"], "agent-7");
    }

    #[test]
    fn the_id_is_replaced_wherever_the_server_puts_it() {
        // The TypeScript SDK writes the result first, the id last.
        let id = agent_id();
        let (out, _) = modernize(
            br#"{"result":{"content":[{"type":"text","text":"\"id\":3"}]},"jsonrpc":"2.0","id":3}"#,
            &id,
            "tools/call",
            None,
        );
        let j = v(&out);
        assert_eq!(j["id"], "agent-7");
        assert_eq!(j["result"]["resultType"], "complete");
        assert_eq!(j["result"]["content"][0]["text"], "\"id\":3");
        // An error keeps its code and gets its status, with the agent's id.
        let (out, st) = modernize(
            br#"{"jsonrpc":"2.0","id":"b-9","error":{"code":-32601,"message":"no"}}"#,
            &id,
            "tools/call",
            None,
        );
        assert_eq!(st, StatusCode::NOT_FOUND);
        assert_eq!(v(&out)["id"], "agent-7");
        assert_eq!(v(&out)["error"]["code"], -32601);
    }

    #[test]
    fn odd_results_are_shaped_as_before() {
        let id = agent_id();
        // A member given twice: the map reading finds it present.
        let (out, _) = modernize(
            br#"{"jsonrpc":"2.0","id":3,"result":{"resultType":"complete","resultType":"complete"}}"#,
            &id,
            "tools/call",
            None,
        );
        assert_eq!(
            out,
            br#"{"jsonrpc":"2.0","id":"agent-7","result":{"resultType":"complete","resultType":"complete"}}"#
        );
        // A member that is null is there: nothing added for it.
        let (out, _) = modernize(
            br#"{"jsonrpc":"2.0","id":3,"result":{"resultType":null}}"#,
            &id,
            "tools/call",
            None,
        );
        assert_eq!(
            out,
            br#"{"jsonrpc":"2.0","id":"agent-7","result":{"resultType":null}}"#
        );
        // Not an object: nothing added (a derived struct would read an array).
        let (out, _) = modernize(
            br#"{"jsonrpc":"2.0","id":3,"result":[1,2,3]}"#,
            &id,
            "tools/list",
            None,
        );
        assert_eq!(out, br#"{"jsonrpc":"2.0","id":"agent-7","result":[1,2,3]}"#);
        // Not JSON-RPC, or not a response: as is.
        let (out, st) = modernize(b"not json", &id, "tools/call", None);
        assert_eq!((out.as_slice(), st), (&b"not json"[..], StatusCode::OK));
        let request = br#"{"jsonrpc":"2.0","id":3,"method":"ping"}"#;
        let (out, _) = modernize(request, &id, "tools/call", None);
        assert_eq!(out, request);
    }

    #[test]
    fn resource_not_found_becomes_invalid_params_with_uri() {
        let msg =
            br#"{"jsonrpc":"2.0","id":4,"error":{"code":-32002,"message":"Resource not found"}}"#;
        let (out, st) = modernize(msg, &agent_id(), "resources/read", Some("test://x"));
        assert_eq!(st, StatusCode::BAD_REQUEST);
        let j = v(&out);
        assert_eq!(j["error"]["code"], -32602);
        assert_eq!(j["error"]["data"]["uri"], "test://x");
        assert_eq!(j["id"], "agent-7");
    }

    #[test]
    fn statuses_follow_the_table() {
        assert_eq!(status_for(-32601), StatusCode::NOT_FOUND);
        assert_eq!(status_for(-32021), StatusCode::BAD_REQUEST);
        assert_eq!(status_for(-32603), StatusCode::OK);
    }
}
