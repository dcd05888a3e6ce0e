//! Input requests of the 2026-07-28 era: a backend's server→client
//! request (sampling, elicitation, roots) as an agent must answer it —
//! the shape a valid answer has, the key it is listed under — and the
//! digest that binds a `requestState` to one call. (The capability each
//! needs is in `capabilities`.)
//!
//! May import: `hosting` (the route a state is bound to).

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use crate::hosting::Route;

/// `_meta` key a backend may set on a server→client request to choose the
/// `inputRequests` key the agent sees (stripped before forwarding).
pub(super) const INPUT_KEY_HINT: &str = "berth/inputKey";

/// Methods that may answer `input_required`.
pub(super) const INPUT_METHODS: &[&str] = &["tools/call", "prompts/get", "resources/read"];

/// Binds a continuation to the principal, the method and its target and
/// arguments, so a state cannot be replayed on another call.
pub(super) fn digest(route: &Route, method: &str, params: &Map<String, Value>) -> String {
    let mut h = Sha256::new();
    for part in [
        route.tenant(),
        route.server_name(),
        route.subject.as_str(),
        method,
    ] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    for field in ["name", "uri", "arguments"] {
        let v = params.get(field).map(|v| v.to_string()).unwrap_or_default();
        h.update((v.len() as u64).to_be_bytes());
        h.update(v.as_bytes());
    }
    hex::encode(h.finalize())
}

/// Checks an agent's answer has the shape its question needs.
pub(super) fn valid_answer(method: &str, answer: &Value) -> bool {
    let Some(obj) = answer.as_object() else {
        return false;
    };
    match method {
        "elicitation/create" => matches!(
            obj.get("action").and_then(Value::as_str),
            Some("accept" | "decline" | "cancel")
        ),
        "sampling/createMessage" => {
            obj.contains_key("role") && obj.contains_key("content") && obj.contains_key("model")
        }
        "roots/list" => obj.get("roots").is_some_and(Value::is_array),
        _ => true,
    }
}

/// Short method names for generated keys.
pub(super) fn key_prefix(method: &str) -> &'static str {
    match method {
        "sampling/createMessage" => "sample",
        "elicitation/create" => "elicit",
        "roots/list" => "roots",
        _ => "input",
    }
}

/// Takes the key hint out of a server→client request's `_meta`, with its
/// `progressToken` (the server's session-era token: an embedded input
/// request has no progress of its own), and drops `_meta` when nothing
/// else is in it.
pub(super) fn take_hint(params: &mut Value) -> Option<String> {
    let meta = params.get_mut("_meta")?.as_object_mut()?;
    let hint = meta
        .remove(INPUT_KEY_HINT)
        .and_then(|h| h.as_str().map(str::to_owned));
    meta.remove("progressToken");
    if meta.is_empty() {
        params.as_object_mut()?.remove("_meta");
    }
    hint
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_shape_checked() {
        assert!(valid_answer(
            "elicitation/create",
            &serde_json::json!({"action":"accept","content":{}})
        ));
        assert!(!valid_answer(
            "elicitation/create",
            &serde_json::json!(12345)
        ));
        assert!(!valid_answer(
            "elicitation/create",
            &serde_json::json!({"action":"maybe"})
        ));
        assert!(!valid_answer(
            "sampling/createMessage",
            &serde_json::json!({"role":"assistant"})
        ));
        assert!(valid_answer("roots/list", &serde_json::json!({"roots":[]})));
    }

    #[test]
    fn hints_are_taken_out_of_meta() {
        let mut p = serde_json::json!({"message": "m", "_meta": {INPUT_KEY_HINT: "pick"}});
        assert_eq!(take_hint(&mut p).as_deref(), Some("pick"));
        assert_eq!(p, serde_json::json!({"message": "m"}));
        let mut keep = serde_json::json!({"_meta": {INPUT_KEY_HINT: "k", "other": 1}});
        assert_eq!(take_hint(&mut keep).as_deref(), Some("k"));
        assert_eq!(keep, serde_json::json!({"_meta": {"other": 1}}));
        assert_eq!(take_hint(&mut serde_json::json!({})), None);
        let mut progress = serde_json::json!({"_meta": {"progressToken": 4, "other": 1}});
        assert_eq!(take_hint(&mut progress), None);
        assert_eq!(progress, serde_json::json!({"_meta": {"other": 1}}));
    }

    #[test]
    fn digests_bind_principal_and_target() {
        let keys = crate::hosting::testing::keys();
        let alice = crate::hosting::testing::route(&keys, "alice", "~stateless");
        let bob = crate::hosting::testing::route(&keys, "bob", "~stateless");
        let mut p = Map::new();
        p.insert("name".into(), "x".into());
        assert_ne!(
            digest(&alice, "tools/call", &p),
            digest(&bob, "tools/call", &p)
        );
        assert_ne!(
            digest(&alice, "tools/call", &p),
            digest(&alice, "prompts/get", &p)
        );
        let mut q = p.clone();
        q.insert("arguments".into(), serde_json::json!({"k":1}));
        assert_ne!(
            digest(&alice, "tools/call", &p),
            digest(&alice, "tools/call", &q)
        );
        assert_eq!(
            digest(&alice, "tools/call", &p),
            digest(&alice, "tools/call", &p)
        );
    }

    #[test]
    fn capabilities_and_keys_per_method() {
        assert_eq!(key_prefix("elicitation/create"), "elicit");
    }
}
