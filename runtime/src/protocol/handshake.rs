//! The `initialize` handshake's messages, written once for every place
//! that initializes a server: an agent's own `initialize` (its reply is
//! read here), a session restored on another pod (the agent's stored
//! params are replayed), and a server Berth initializes on a stateless
//! agent's behalf (Berth's own params, from here).
//!
//! May import: `protocol::version`.

use serde_json::Value;

use super::headers::{META_CLIENT_CAPS, META_PROTOCOL_VERSION};
use super::version::Version;

/// The `notifications/initialized` a client sends after the reply.
pub(crate) const INITIALIZED: &[u8] = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;

/// A successful `initialize` reply.
#[derive(Clone, Debug)]
pub(crate) struct InitializeResult {
    /// The reply's `result` object (capabilities, serverInfo, …).
    pub(crate) result: Value,
    /// The version the server chose, if it named one.
    pub(crate) protocol_version: Option<String>,
}

/// Why an `initialize` reply is not a success.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum HandshakeError {
    /// The reply is not a JSON-RPC response at all.
    #[error("the MCP server answered initialize with garbage: {0}")]
    Garbage(String),
    /// The server answered with an error (its JSON, verbatim).
    #[error("the MCP server refused to initialize: {0}")]
    Refused(String),
}

/// Reads an `initialize` reply.
pub(crate) fn initialize_outcome(reply: &[u8]) -> Result<InitializeResult, HandshakeError> {
    #[derive(serde::Deserialize)]
    struct Reply {
        result: Option<Value>,
        error: Option<Value>,
    }
    let reply: Reply =
        serde_json::from_slice(reply).map_err(|e| HandshakeError::Garbage(e.to_string()))?;
    let Some(result) = reply.result else {
        let detail = reply.error.map(|e| e.to_string()).unwrap_or_default();
        return Err(HandshakeError::Refused(detail));
    };
    let protocol_version = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .map(str::to_owned);
    Ok(InitializeResult {
        result,
        protocol_version,
    })
}

/// The params of the `server/discover` Berth sends to learn whether a
/// server speaks the stateless era: the stateless version and no client
/// capabilities (Berth asks for itself, not for an agent).
pub(crate) fn discover_params() -> String {
    serde_json::json!({
        "_meta": {
            META_PROTOCOL_VERSION: Version::STATELESS.as_str(),
            META_CLIENT_CAPS: {},
        }
    })
    .to_string()
}

/// Whether a `server/discover` reply says the server speaks the stateless
/// version Berth serves.
pub(crate) fn speaks_stateless(reply: &[u8]) -> bool {
    #[derive(serde::Deserialize)]
    struct Reply {
        result: Option<Discovered>,
    }
    #[derive(serde::Deserialize)]
    struct Discovered {
        #[serde(rename = "supportedVersions", default)]
        supported: Vec<String>,
    }
    serde_json::from_slice::<Reply>(reply)
        .ok()
        .and_then(|r| r.result)
        .is_some_and(|d| d.supported.iter().any(|v| v == Version::STATELESS.as_str()))
}

/// The `initialize` params Berth sends when it initializes a server on a
/// stateless agent's behalf: the newest session-era version, the client
/// `capabilities` the agents of that session declared, and the agent's
/// `clientInfo` when it sent one.
pub(crate) fn client_initialize_params(client_info: Option<Value>, capabilities: Value) -> String {
    let info = client_info.unwrap_or_else(
        || serde_json::json!({"name": "berth", "version": env!("CARGO_PKG_VERSION")}),
    );
    serde_json::json!({
        "protocolVersion": Version::LATEST_SESSIONS.as_str(),
        "capabilities": capabilities,
        "clientInfo": info,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_result_is_a_success_and_names_its_version() {
        let ok = initialize_outcome(
            br#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18","capabilities":{}}}"#,
        )
        .unwrap();
        assert_eq!(ok.protocol_version.as_deref(), Some("2025-06-18"));
        assert_eq!(ok.result["capabilities"], serde_json::json!({}));
        let unnamed = initialize_outcome(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#).unwrap();
        assert_eq!(unnamed.protocol_version, None);
    }

    #[test]
    fn errors_and_garbage_are_failures() {
        let refused = initialize_outcome(
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"bad version"}}"#,
        )
        .unwrap_err();
        assert!(matches!(&refused, HandshakeError::Refused(d) if d.contains("bad version")));
        assert!(matches!(
            initialize_outcome(b"not json"),
            Err(HandshakeError::Garbage(_))
        ));
        assert!(matches!(
            initialize_outcome(br#"{"jsonrpc":"2.0","id":1}"#),
            Err(HandshakeError::Refused(d)) if d.is_empty()
        ));
    }

    #[test]
    fn discovery_tells_stateless_servers_from_the_rest() {
        let params: Value = serde_json::from_str(&discover_params()).unwrap();
        assert_eq!(params["_meta"][META_PROTOCOL_VERSION], "2026-07-28");
        assert!(speaks_stateless(
            br#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2025-11-25","2026-07-28"]}}"#
        ));
        assert!(!speaks_stateless(
            br#"{"jsonrpc":"2.0","id":1,"result":{"supportedVersions":["2025-11-25"]}}"#
        ));
        assert!(!speaks_stateless(
            br#"{"jsonrpc":"2.0","id":1,"error":{"code":-32601,"message":"Method not found"}}"#
        ));
        assert!(!speaks_stateless(b"garbage"));
    }

    #[test]
    fn berth_asks_for_the_newest_session_version_with_the_agents_identity() {
        let params: Value = serde_json::from_str(&client_initialize_params(
            Some(serde_json::json!({"name": "agent", "version": "1"})),
            serde_json::json!({"roots": {}}),
        ))
        .unwrap();
        assert_eq!(params["protocolVersion"], "2025-11-25");
        assert_eq!(params["clientInfo"]["name"], "agent");
        assert_eq!(params["capabilities"], serde_json::json!({"roots": {}}));
        let default: Value =
            serde_json::from_str(&client_initialize_params(None, serde_json::json!({}))).unwrap();
        assert_eq!(default["clientInfo"]["name"], "berth");
        assert_eq!(
            default["capabilities"],
            serde_json::json!({}),
            "nothing claimed"
        );
    }
}
