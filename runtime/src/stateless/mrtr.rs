//! Multi-round-trip requests (2026-07-28 `input_required` results) on top of
//! legacy backends.
//!
//! When a backend asks its client something mid-call (sampling, elicitation,
//! roots), a 2026 agent cannot be asked over a stream. Berth parks the
//! backend call, answers the agent with an `InputRequiredResult`, and keeps a
//! [`Continuation`]. The agent retries with `inputResponses` and the
//! `requestState` Berth issued; Berth verifies it, hands the answers to the
//! backend, and resumes reading the same call.
//!
//! `requestState` is `v1.<id>.<sealed>`: AES-256-GCM (the session-store
//! sealing, keyed per principal) over the round and a digest of who asked
//! what, so a tampered, replayed, expired or foreign state is rejected with
//! -32602 before the backend is touched. Continuations are single-use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use berth_session_store::KeyRing;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::hosting::{EventStream, HostingSession};
use crate::jsonrpc::{ErrorCode, RpcError};

/// How long a parked call waits for its agent to come back.
pub const PARK_FOR: Duration = Duration::from_secs(300);

/// `_meta` key a backend may set on a server→client request to choose the
/// `inputRequests` key the agent sees (stripped before forwarding).
pub const INPUT_KEY_HINT: &str = "berth/inputKey";

/// Prefix of every `requestState` Berth issues.
pub const STATE_PREFIX: &str = "v1.";

/// A backend request waiting for the agent's answer.
#[derive(Clone, Debug)]
pub struct PendingInput {
    /// Key in `inputRequests` / `inputResponses`.
    pub key: String,
    /// The backend's JSON-RPC id of its request.
    pub backend_request_id: Box<RawValue>,
    /// `sampling/createMessage`, `elicitation/create` or `roots/list`.
    pub method: String,
    /// The request as shown to the agent (`{method, params}`).
    pub shown: Value,
}

/// A parked backend call.
pub struct Continuation {
    /// The hosting session running the call.
    pub session: Arc<HostingSession>,
    /// Backend id of the parked call.
    pub backend_id: u64,
    /// The call's event stream.
    pub stream: Arc<EventStream>,
    /// Stream position already consumed.
    pub after: u64,
    /// Questions not yet answered.
    pub pending: Vec<PendingInput>,
    /// Round number (1 for the first input_required).
    pub round: u32,
    /// Digest binding the state to principal, method and target.
    pub digest: String,
    /// Progress token mapping of the original call (backend raw, agent raw).
    pub progress: Option<(Box<str>, Box<RawValue>)>,
    /// Counter for generated input keys.
    pub key_seq: u32,
    expires: Instant,
}

/// Parked calls of this pod.
#[derive(Clone, Default)]
pub struct Continuations {
    // std Mutex: insert/remove only, never held across .await.
    map: Arc<Mutex<HashMap<String, Continuation>>>,
}

/// Why a `requestState` was refused (logged, never sent).
#[derive(Debug)]
enum StateError {
    Malformed,
    Sealed,
    Unknown,
    Mismatch,
}

// === impl Continuations ===

impl Continuations {
    /// Parks a continuation and returns the `requestState` for the agent.
    pub fn park(
        &self,
        keys: &KeyRing,
        owner: &Owner,
        mut cont: Continuation,
    ) -> Result<String, RpcError> {
        let id = crate::hosting::new_session_id();
        cont.expires = Instant::now() + PARK_FOR;
        cont.session.park(cont.backend_id, cont.expires);
        let payload = serde_json::json!({"round": cont.round, "digest": cont.digest});
        let binding = keys.bind(
            &owner.tenant,
            &owner.server,
            &owner.subject,
            &format!("~mrtr:{id}"),
        );
        let sealed = keys
            .seal(&binding, payload.to_string().as_bytes())
            .map_err(|e| {
                RpcError::new(
                    ErrorCode::InternalError,
                    format!("could not seal requestState: {e}"),
                )
            })?;
        let state = format!(
            "{STATE_PREFIX}{id}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
        );
        let mut map = self.map.lock().expect("continuations lock poisoned");
        let now = Instant::now();
        map.retain(|_, c| c.expires > now);
        map.insert(id, cont);
        Ok(state)
    }

    /// Verifies and takes the continuation named by `state` (single use).
    pub fn take(
        &self,
        keys: &KeyRing,
        owner: &Owner,
        state: &str,
        digest: &str,
    ) -> Result<Continuation, RpcError> {
        self.take_inner(keys, owner, state, digest).map_err(|e| {
            tracing::info!(subject = %owner.subject, reason = ?e, "refused requestState");
            RpcError::new(
                ErrorCode::InvalidParams,
                "Invalid params: requestState is invalid, expired or was already used; start the request again without it",
            )
        })
    }

    fn take_inner(
        &self,
        keys: &KeyRing,
        owner: &Owner,
        state: &str,
        digest: &str,
    ) -> Result<Continuation, StateError> {
        let rest = state
            .strip_prefix(STATE_PREFIX)
            .ok_or(StateError::Malformed)?;
        let (id, sealed) = rest.split_once('.').ok_or(StateError::Malformed)?;
        let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| StateError::Malformed)?;
        let binding = keys.bind(
            &owner.tenant,
            &owner.server,
            &owner.subject,
            &format!("~mrtr:{id}"),
        );
        let opened = keys
            .open(&binding, &sealed)
            .map_err(|_| StateError::Sealed)?;
        let payload: Value =
            serde_json::from_slice(&opened.plaintext).map_err(|_| StateError::Sealed)?;
        if payload["digest"] != digest {
            return Err(StateError::Mismatch);
        }
        let cont = self
            .map
            .lock()
            .expect("continuations lock poisoned")
            .remove(id)
            .ok_or(StateError::Unknown)?;
        if cont.expires <= Instant::now() || payload["round"] != cont.round || cont.digest != digest
        {
            return Err(StateError::Mismatch);
        }
        Ok(cont)
    }

    /// Drops expired continuations, cancelling their backend calls.
    pub async fn sweep(&self) {
        let now = Instant::now();
        let expired: Vec<Continuation> = {
            let mut map = self.map.lock().expect("continuations lock poisoned");
            let ids: Vec<String> = map
                .iter()
                .filter(|(_, c)| c.expires <= now)
                .map(|(k, _)| k.clone())
                .collect();
            ids.into_iter().filter_map(|k| map.remove(&k)).collect()
        };
        for c in expired {
            c.session
                .cancel(c.backend_id, "the agent did not answer the input request")
                .await;
        }
    }
}

/// Who a continuation belongs to.
#[derive(Clone, Debug)]
pub struct Owner {
    /// Tenant.
    pub tenant: String,
    /// Server.
    pub server: String,
    /// Principal subject.
    pub subject: String,
}

// === impl Continuation ===

impl Continuation {
    /// A new continuation (not yet parked).
    pub fn new(
        session: Arc<HostingSession>,
        backend_id: u64,
        stream: Arc<EventStream>,
        digest: String,
        progress: Option<(Box<str>, Box<RawValue>)>,
    ) -> Self {
        Continuation {
            session,
            backend_id,
            stream,
            after: 0,
            pending: Vec::new(),
            round: 0,
            digest,
            progress,
            key_seq: 0,
            expires: Instant::now() + PARK_FOR,
        }
    }
}

/// Binds a continuation to the principal, the method and its target and
/// arguments, so a state cannot be replayed on another call.
pub fn digest(owner: &Owner, method: &str, params: &Map<String, Value>) -> String {
    let mut h = Sha256::new();
    for part in [
        owner.tenant.as_str(),
        owner.server.as_str(),
        owner.subject.as_str(),
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

/// The client capability a server→client request needs.
pub fn required_capability(method: &str) -> Option<&'static str> {
    match method {
        "sampling/createMessage" => Some("sampling"),
        "elicitation/create" => Some("elicitation"),
        "roots/list" => Some("roots"),
        _ => None,
    }
}

/// Checks an agent's answer has the shape its question needs.
pub fn valid_answer(method: &str, answer: &Value) -> bool {
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
pub fn key_prefix(method: &str) -> &'static str {
    match method {
        "sampling/createMessage" => "sample",
        "elicitation/create" => "elicit",
        "roots/list" => "roots",
        _ => "input",
    }
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
    fn digests_bind_principal_and_target() {
        let a = Owner {
            tenant: "t".into(),
            server: "s".into(),
            subject: "alice".into(),
        };
        let b = Owner {
            subject: "bob".into(),
            ..a.clone()
        };
        let mut p = Map::new();
        p.insert("name".into(), "x".into());
        assert_ne!(digest(&a, "tools/call", &p), digest(&b, "tools/call", &p));
        let mut q = p.clone();
        q.insert("arguments".into(), serde_json::json!({"k":1}));
        assert_ne!(digest(&a, "tools/call", &p), digest(&a, "tools/call", &q));
    }
}
