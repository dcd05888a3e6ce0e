//! What a server offers (tools, prompts, resources, resource templates),
//! as Berth approves it: each definition's fingerprint, the set approved
//! for a version, and the list methods and result keys per kind.
//!
//! A fingerprint is the SHA-256 of the canonical JSON (keys sorted, no
//! spaces) of the fields that say what a capability does: its name (or
//! URI), title, description, input and output schema, arguments, MIME
//! type and annotations. Anything else (`_meta`, icons) may change freely.
//!
//! May import: external crates only.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// A kind of capability.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub(crate) enum CapabilityKind {
    /// `tools/list`.
    Tool,
    /// `prompts/list`.
    Prompt,
    /// `resources/list`.
    Resource,
    /// `resources/templates/list`.
    ResourceTemplate,
}

/// Every kind, in listing order.
pub(crate) const KINDS: [CapabilityKind; 4] = [
    CapabilityKind::Tool,
    CapabilityKind::Prompt,
    CapabilityKind::Resource,
    CapabilityKind::ResourceTemplate,
];

impl CapabilityKind {
    /// The method that lists this kind.
    pub(crate) fn list_method(self) -> &'static str {
        match self {
            CapabilityKind::Tool => "tools/list",
            CapabilityKind::Prompt => "prompts/list",
            CapabilityKind::Resource => "resources/list",
            CapabilityKind::ResourceTemplate => "resources/templates/list",
        }
    }

    /// The kind a list method lists.
    pub(crate) fn of_list_method(method: &str) -> Option<Self> {
        KINDS.into_iter().find(|k| k.list_method() == method)
    }

    /// The key of the list in the method's result.
    pub(crate) fn result_key(self) -> &'static str {
        match self {
            CapabilityKind::Tool => "tools",
            CapabilityKind::Prompt => "prompts",
            CapabilityKind::Resource => "resources",
            CapabilityKind::ResourceTemplate => "resourceTemplates",
        }
    }

    /// The server capability that announces this kind.
    pub(crate) fn server_capability(self) -> &'static str {
        match self {
            CapabilityKind::Tool => "tools",
            CapabilityKind::Prompt => "prompts",
            CapabilityKind::Resource | CapabilityKind::ResourceTemplate => "resources",
        }
    }

    /// The field naming one item.
    fn id_field(self) -> &'static str {
        match self {
            CapabilityKind::Tool | CapabilityKind::Prompt => "name",
            CapabilityKind::Resource => "uri",
            CapabilityKind::ResourceTemplate => "uriTemplate",
        }
    }
}

/// The fields a fingerprint covers.
const FINGERPRINTED: &[&str] = &[
    "name",
    "uri",
    "uriTemplate",
    "title",
    "description",
    "inputSchema",
    "outputSchema",
    "arguments",
    "mimeType",
    "annotations",
];

/// The name (or URI) of one listed item.
pub(crate) fn item_id(kind: CapabilityKind, item: &Value) -> Option<&str> {
    item.get(kind.id_field()).and_then(Value::as_str)
}

/// `sha256:…` of what `item` says it does.
pub(crate) fn fingerprint(item: &Value) -> String {
    let mut kept = Map::new();
    for field in FINGERPRINTED {
        if let Some(v) = item.get(*field) {
            kept.insert((*field).to_owned(), v.clone());
        }
    }
    let canonical = serde_json::to_vec(&Value::Object(kept)).unwrap_or_default();
    format!("sha256:{}", hex::encode(Sha256::digest(canonical)))
}

/// One approved capability.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub(crate) struct Approved {
    /// Its kind.
    pub kind: CapabilityKind,
    /// Its name (URI for resources).
    pub name: String,
    /// Its fingerprint when it was approved.
    pub fingerprint: String,
}

/// The capabilities approved for a version, by kind and name.
#[derive(Debug, Default)]
pub(crate) struct ApprovedSet {
    by_kind: HashMap<CapabilityKind, HashMap<String, String>>,
}

impl ApprovedSet {
    /// The set of `approved`.
    pub(crate) fn new(approved: &[Approved]) -> Self {
        let mut by_kind: HashMap<CapabilityKind, HashMap<String, String>> = HashMap::new();
        for a in approved {
            by_kind
                .entry(a.kind)
                .or_default()
                .insert(a.name.clone(), a.fingerprint.clone());
        }
        ApprovedSet { by_kind }
    }

    /// The approved fingerprint of `kind` `name`, if it was approved.
    pub(crate) fn fingerprint(&self, kind: CapabilityKind, name: &str) -> Option<&str> {
        self.by_kind.get(&kind)?.get(name).map(String::as_str)
    }
}

/// What an approved capability looks like now when it differs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Drift {
    /// Its kind.
    pub kind: CapabilityKind,
    /// Its name.
    pub name: String,
    /// The approved fingerprint (`None`: never approved).
    pub approved: Option<String>,
    /// The live one.
    pub live: String,
}

/// Filters a list result of `kind` to the approved items whose live
/// fingerprint matches; returns every item's live fingerprint and the
/// drifts. `result` is the `result` object of the list response.
pub(crate) fn filter_listing(
    kind: CapabilityKind,
    result: &mut Value,
    approved: &ApprovedSet,
) -> (Vec<(String, String)>, Vec<Drift>) {
    let mut live = Vec::new();
    let mut drifts = Vec::new();
    let Some(items) = result
        .get_mut(kind.result_key())
        .and_then(Value::as_array_mut)
    else {
        return (live, drifts);
    };
    items.retain(|item| {
        let Some(name) = item_id(kind, item) else {
            return false;
        };
        let now = fingerprint(item);
        live.push((name.to_owned(), now.clone()));
        match approved.fingerprint(kind, name) {
            Some(fp) if fp == now => true,
            other => {
                drifts.push(Drift {
                    kind,
                    name: name.to_owned(),
                    approved: other.map(str::to_owned),
                    live: now,
                });
                false
            }
        }
    });
    (live, drifts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn fingerprints_cover_what_a_tool_does_and_nothing_else() {
        let a = json!({"name": "echo", "description": "Returns text", "inputSchema": {"type": "object"}});
        let reordered = json!({"inputSchema": {"type": "object"}, "description": "Returns text", "name": "echo"});
        assert_eq!(fingerprint(&a), fingerprint(&reordered));
        let mut meta = a.clone();
        meta["_meta"] = json!({"x": 1});
        assert_eq!(
            fingerprint(&a),
            fingerprint(&meta),
            "_meta is not what the tool does"
        );
        let mut changed = a.clone();
        changed["description"] = json!("Returns text, and mails it elsewhere");
        assert_ne!(fingerprint(&a), fingerprint(&changed));
        let mut schema = a.clone();
        schema["inputSchema"]["required"] = json!(["to"]);
        assert_ne!(fingerprint(&a), fingerprint(&schema));
    }

    #[test]
    fn listings_keep_only_approved_unchanged_items_and_report_the_rest() {
        let echo = json!({"name": "echo", "description": "Returns text"});
        let approved = ApprovedSet::new(&[Approved {
            kind: CapabilityKind::Tool,
            name: "echo".into(),
            fingerprint: fingerprint(&echo),
        }]);
        let mut result = json!({"tools": [echo, {"name": "new_tool"}], "nextCursor": "c"});
        let (live, drifts) = filter_listing(CapabilityKind::Tool, &mut result, &approved);
        assert_eq!(result["tools"].as_array().unwrap().len(), 1);
        assert_eq!(result["nextCursor"], "c");
        assert_eq!(live.len(), 2);
        assert_eq!(drifts.len(), 1);
        assert_eq!(
            (drifts[0].name.as_str(), drifts[0].approved.as_deref()),
            ("new_tool", None)
        );

        let mut changed = json!({"tools": [{"name": "echo", "description": "Now different"}]});
        let (_, drifts) = filter_listing(CapabilityKind::Tool, &mut changed, &approved);
        assert!(changed["tools"].as_array().unwrap().is_empty());
        assert_eq!(
            drifts[0].approved.as_deref(),
            Some(fingerprint(&echo).as_str())
        );
        assert_eq!(
            CapabilityKind::of_list_method("resources/templates/list"),
            Some(CapabilityKind::ResourceTemplate)
        );
    }
}
