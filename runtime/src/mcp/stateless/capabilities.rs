//! What a 2026-07-28 agent declared it can answer, as Berth relays it to
//! a session-era server: sampling, elicitation (form and URL modes) and
//! roots. A session-era server learns its client's capabilities once, in
//! `initialize`; so Berth tells it exactly what the agents of that hosting
//! session declared, and agents that declare different sets get different
//! hosting sessions (never an instance told of a capability its agent
//! lacks).
//!
//! May import: external crates only.

use serde_json::{Map, Value};

/// The relayable client capabilities one request declared.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Relayed {
    sampling: bool,
    /// `sampling.tools`: the agent can sample with tools.
    sampling_tools: bool,
    elicit_form: bool,
    elicit_url: bool,
    roots: bool,
}

/// What a server→client request needs of the agent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Needs {
    Sampling,
    ElicitForm,
    ElicitUrl,
    Roots,
}

// === impl Relayed ===

impl Relayed {
    /// Reads `_meta`'s client capabilities. `elicitation: {}` declares form
    /// mode (as in 2025-11-25).
    pub(super) fn from_declared(caps: &Value) -> Relayed {
        let elicitation = caps.get("elicitation");
        let modes = elicitation.and_then(Value::as_object);
        let (form, url) = match modes {
            Some(m) if m.contains_key("form") || m.contains_key("url") => {
                (m.contains_key("form"), m.contains_key("url"))
            }
            Some(_) => (true, false),
            None => (false, false),
        };
        Relayed {
            sampling: caps.get("sampling").is_some(),
            sampling_tools: caps.pointer("/sampling/tools").is_some(),
            elicit_form: form,
            elicit_url: url,
            roots: caps.get("roots").is_some(),
        }
    }

    /// A short, stable name of the set, for keying hosting sessions
    /// (`-` for none).
    pub(super) fn key(self) -> String {
        let mut k = String::new();
        for (on, part) in [
            (self.sampling, "s"),
            (self.sampling_tools, "t"),
            (self.elicit_form, "f"),
            (self.elicit_url, "u"),
            (self.roots, "r"),
        ] {
            if on {
                k.push_str(part);
            }
        }
        if k.is_empty() {
            k.push('-');
        }
        k
    }

    /// The `capabilities` Berth declares in `initialize` for these agents.
    pub(super) fn to_initialize(self) -> Value {
        let mut caps = Map::new();
        if self.sampling {
            let mut sampling = Map::new();
            if self.sampling_tools {
                sampling.insert("tools".into(), Value::Object(Map::new()));
            }
            caps.insert("sampling".into(), Value::Object(sampling));
        }
        if self.elicit_form || self.elicit_url {
            let mut modes = Map::new();
            if self.elicit_form {
                modes.insert("form".into(), Value::Object(Map::new()));
            }
            if self.elicit_url {
                modes.insert("url".into(), Value::Object(Map::new()));
            }
            caps.insert("elicitation".into(), Value::Object(modes));
        }
        if self.roots {
            caps.insert("roots".into(), Value::Object(Map::new()));
        }
        Value::Object(caps)
    }

    /// Whether the agent can answer what `needs` asks.
    pub(super) fn has(self, needs: Needs) -> bool {
        match needs {
            Needs::Sampling => self.sampling,
            Needs::ElicitForm => self.elicit_form,
            Needs::ElicitUrl => self.elicit_url,
            Needs::Roots => self.roots,
        }
    }
}

// === impl Needs ===

impl Needs {
    /// What a server→client request of `method` with `params` needs;
    /// `None` for methods Berth does not relay.
    pub(super) fn of(method: &str, params: Option<&Value>) -> Option<Needs> {
        match method {
            "sampling/createMessage" => Some(Needs::Sampling),
            "elicitation/create" => {
                let url = params.and_then(|p| p.get("mode")).and_then(Value::as_str) == Some("url");
                Some(if url {
                    Needs::ElicitUrl
                } else {
                    Needs::ElicitForm
                })
            }
            "roots/list" => Some(Needs::Roots),
            _ => None,
        }
    }

    /// The capability to declare, as `requiredCapabilities` names it.
    pub(super) fn required(self) -> Value {
        match self {
            Needs::Sampling => serde_json::json!({"sampling": {}}),
            Needs::ElicitForm => serde_json::json!({"elicitation": {"form": {}}}),
            Needs::ElicitUrl => serde_json::json!({"elicitation": {"url": {}}}),
            Needs::Roots => serde_json::json!({"roots": {}}),
        }
    }

    /// The capability's name, for messages.
    pub(super) fn name(self) -> &'static str {
        match self {
            Needs::Sampling => "sampling",
            Needs::ElicitForm => "elicitation (form mode)",
            Needs::ElicitUrl => "elicitation (url mode)",
            Needs::Roots => "roots",
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn declared_sets_are_read_as_the_spec_reads_them() {
        let none = Relayed::from_declared(&json!({}));
        assert_eq!(none.key(), "-");
        assert_eq!(none.to_initialize(), json!({}));
        let legacy_elicit = Relayed::from_declared(&json!({"elicitation": {}}));
        assert!(legacy_elicit.has(Needs::ElicitForm) && !legacy_elicit.has(Needs::ElicitUrl));
        let url_only = Relayed::from_declared(&json!({"elicitation": {"url": {}}}));
        assert!(!url_only.has(Needs::ElicitForm) && url_only.has(Needs::ElicitUrl));
        let all = Relayed::from_declared(&json!({
            "sampling": {"tools": {}},
            "elicitation": {"form": {}, "url": {}},
            "roots": {"listChanged": true},
            "experimental": {"x": {}},
        }));
        assert_eq!(all.key(), "stfur");
        assert_eq!(
            all.to_initialize(),
            json!({"sampling": {"tools": {}}, "elicitation": {"form": {}, "url": {}}, "roots": {}}),
            "roots.listChanged is not relayed: a stateless agent sends no notifications"
        );
    }

    #[test]
    fn different_sets_have_different_keys() {
        let sets = [
            json!({}),
            json!({"sampling": {}}),
            json!({"sampling": {"tools": {}}}),
            json!({"elicitation": {}}),
            json!({"elicitation": {"url": {}}}),
            json!({"elicitation": {"form": {}, "url": {}}}),
            json!({"roots": {}}),
        ];
        let keys: std::collections::BTreeSet<String> = sets
            .iter()
            .map(|c| Relayed::from_declared(c).key())
            .collect();
        assert_eq!(keys.len(), sets.len());
    }

    #[test]
    fn requests_need_the_mode_they_ask_for() {
        assert_eq!(
            Needs::of("sampling/createMessage", None),
            Some(Needs::Sampling)
        );
        assert_eq!(
            Needs::of(
                "elicitation/create",
                Some(&json!({"mode": "url", "url": "https://x"}))
            ),
            Some(Needs::ElicitUrl)
        );
        assert_eq!(
            Needs::of("elicitation/create", Some(&json!({"message": "m"}))),
            Some(Needs::ElicitForm)
        );
        assert_eq!(Needs::of("roots/list", None), Some(Needs::Roots));
        assert_eq!(Needs::of("ping", None), None);
        assert_eq!(
            Needs::ElicitUrl.required(),
            json!({"elicitation": {"url": {}}})
        );
    }
}
