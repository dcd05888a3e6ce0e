//! A call's params as the backend gets them: the agent's params with a few
//! members dropped or replaced, serialized straight from the validated map
//! (no copy of it per call).
//!
//! May import: `protocol`.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::protocol::META_PROTOCOL_VERSION;

/// What becomes of the agent's `requestState`.
#[derive(Debug, Clone, Copy)]
pub(super) enum StateEdit<'a> {
    /// Sent as the agent sent it (or not at all).
    Keep,
    /// Not sent.
    Drop,
    /// Sent with this value, in place of the agent's (or added).
    Set(&'a str),
}

/// The edits to the agent's params.
#[derive(Debug, Clone, Copy)]
pub(super) struct BackendParams<'a> {
    /// The validated params.
    pub(super) params: &'a Map<String, Value>,
    /// `requestState`.
    pub(super) state: StateEdit<'a>,
    /// Whether `inputResponses` is left out.
    pub(super) drop_input_responses: bool,
    /// Whether `_meta`'s per-request protocol version is left out.
    pub(super) drop_version: bool,
    /// The `_meta.progressToken` the backend sees instead of the agent's.
    pub(super) progress_token: Option<&'a str>,
}

impl BackendParams<'_> {
    /// The params as JSON text.
    pub(super) fn to_json(self) -> String {
        serde_json::to_string(&self).expect("JSON values serialize")
    }
}

impl Serialize for BackendParams<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (key, value) in self.params {
            match (key.as_str(), value) {
                ("inputResponses", _) if self.drop_input_responses => {}
                ("requestState", _) => match self.state {
                    StateEdit::Keep => map.serialize_entry(key, value)?,
                    StateEdit::Drop | StateEdit::Set(_) => {}
                },
                ("_meta", Value::Object(meta)) => {
                    map.serialize_entry(key, &MetaOut { meta, of: self })?
                }
                _ => map.serialize_entry(key, value)?,
            }
        }
        if let StateEdit::Set(state) = self.state {
            map.serialize_entry("requestState", state)?;
        }
        map.end()
    }
}

/// `_meta` with the version dropped and the progress token replaced.
struct MetaOut<'a> {
    meta: &'a Map<String, Value>,
    of: &'a BackendParams<'a>,
}

impl Serialize for MetaOut<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(None)?;
        for (key, value) in self.meta {
            match (key.as_str(), self.of.progress_token) {
                (META_PROTOCOL_VERSION, _) if self.of.drop_version => {}
                ("progressToken", Some(token)) => map.serialize_entry(key, token)?,
                _ => map.serialize_entry(key, value)?,
            }
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn params(v: Value) -> Map<String, Value> {
        let Value::Object(map) = v else {
            panic!("an object")
        };
        map
    }

    fn sent(p: &BackendParams<'_>) -> Value {
        serde_json::from_str(&p.to_json()).unwrap()
    }

    #[test]
    fn untouched_params_are_sent_as_they_came() {
        let agent = params(json!({
            "name": "echo", "arguments": {"text": "hi \"there\""},
            "requestState": "s", "inputResponses": {"a": {}},
            "_meta": {(META_PROTOCOL_VERSION): "2026-07-28", "progressToken": 5, "x": [1]},
        }));
        let p = BackendParams {
            params: &agent,
            state: StateEdit::Keep,
            drop_input_responses: false,
            drop_version: false,
            progress_token: None,
        };
        assert_eq!(sent(&p), Value::Object(agent.clone()));
    }

    #[test]
    fn edits_drop_and_replace_only_their_members() {
        let agent = params(json!({
            "name": "echo", "requestState": "agent's", "inputResponses": {"a": {}},
            "_meta": {(META_PROTOCOL_VERSION): "2026-07-28", "progressToken": 5, "x": [1]},
        }));
        let p = BackendParams {
            params: &agent,
            state: StateEdit::Drop,
            drop_input_responses: true,
            drop_version: true,
            progress_token: Some("berth-9"),
        };
        assert_eq!(
            sent(&p),
            json!({"name": "echo", "_meta": {"progressToken": "berth-9", "x": [1]}})
        );
        let p = BackendParams {
            state: StateEdit::Set("server's"),
            drop_input_responses: false,
            ..p
        };
        assert_eq!(
            sent(&p),
            json!({
                "name": "echo", "requestState": "server's", "inputResponses": {"a": {}},
                "_meta": {"progressToken": "berth-9", "x": [1]},
            })
        );
        // A state is added when the agent sent none.
        let bare = params(json!({"name": "echo"}));
        let p = BackendParams { params: &bare, ..p };
        assert_eq!(
            sent(&p),
            json!({"name": "echo", "requestState": "server's"})
        );
    }
}
