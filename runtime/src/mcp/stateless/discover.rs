//! `server/discover`, answered from the backend's `InitializeResult`:
//! the versions Berth speaks, the server's capabilities a 2026 agent may
//! see, its instructions and identity.
//!
//! May import: `mcp::stateless::{validate, results}`, `http`, `hosting`,
//! `protocol`.

use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use serde_json::{Map, Value};

use super::results::result_message;
use super::validate::StatelessRequest;
use crate::hosting::HostingSession;
use crate::http::json;
use crate::protocol::{META_SERVER_INFO, Version};

/// Capabilities a 2026 agent may see (the `tasks` key moved to an extension).
const CAPABILITY_KEYS: &[&str] = &[
    "completions",
    "experimental",
    "extensions",
    "logging",
    "prompts",
    "resources",
    "tools",
];

/// Answers `server/discover`.
pub(super) fn discover(session: &HostingSession, req: &StatelessRequest) -> Response {
    let init = session.backend_init().unwrap_or_default();
    let result = discover_result(&init);
    json(
        StatusCode::OK,
        Bytes::from(result_message(&req.id, &result)),
    )
}

fn discover_result(init: &Value) -> Value {
    let mut caps = Map::new();
    if let Some(Value::Object(c)) = init.get("capabilities") {
        for (k, v) in c {
            if CAPABILITY_KEYS.contains(&k.as_str()) {
                caps.insert(k.clone(), v.clone());
            }
        }
    }
    let supported: Vec<&str> = Version::SUPPORTED.iter().map(|v| v.as_str()).collect();
    let mut result = serde_json::json!({
        "resultType": "complete",
        "supportedVersions": supported,
        "capabilities": caps,
        "ttlMs": 0,
        "cacheScope": "private",
    });
    if let Some(i) = init.get("instructions") {
        result["instructions"] = i.clone();
    }
    if let Some(info) = init.get("serverInfo") {
        result["_meta"] = serde_json::json!({META_SERVER_INFO: info});
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_shows_2026_capabilities_versions_and_identity() {
        let init = serde_json::json!({
            "protocolVersion": "2025-11-25",
            "capabilities": {"tools": {"listChanged": true}, "tasks": {}, "logging": {}},
            "serverInfo": {"name": "everything", "version": "1"},
            "instructions": "be nice",
        });
        let r = discover_result(&init);
        assert_eq!(
            r["supportedVersions"],
            serde_json::json!(["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"])
        );
        assert_eq!(r["capabilities"]["tools"]["listChanged"], true);
        assert!(
            r["capabilities"].get("tasks").is_none(),
            "tasks moved to an extension"
        );
        assert_eq!(r["_meta"][META_SERVER_INFO]["name"], "everything");
        assert_eq!(r["instructions"], "be nice");
        assert_eq!(r["resultType"], "complete");
    }
}
