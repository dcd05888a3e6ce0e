//! Reading a deployment document: the body of `PUT …/servers/{server}`,
//! the same shape as a `[servers.TENANT.SERVER]` entry of `berth.toml`
//! plus the metadata keys. Every problem is found at once, each at its
//! JSON pointer, so a tenant fixes them all in one round.
//!
//! May import: `config` (the deployment's type and rules),
//! `registry::model`, external crates.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::model::Metadata;
use crate::config::{Config, Problem, ServerConfig};

/// Keys of a deployment that are metadata, not `ServerConfig`.
const METADATA_KEYS: &[&str] = &[
    "owner",
    "contact",
    "description",
    "risk_tier",
    "data_classification",
];

/// Keys of a `[servers.T.S]` entry (`ServerConfig`'s fields).
const DEPLOYMENT_KEYS: &[&str] = &[
    "transport",
    "port",
    "path",
    "command",
    "env",
    "cwd",
    "idle_timeout",
    "request_timeout",
    "required_scopes",
    "image",
    "memory",
    "cpus",
    "pids",
    "network",
    "warm_pool",
    "secrets",
    "kubernetes",
];

/// Longest owner, contact or description accepted.
const MAX_TEXT: usize = 2048;

/// A deployment that passed every check.
#[derive(Debug)]
pub(crate) struct Deployment {
    /// The deployment document without the metadata keys.
    pub document: Value,
    /// The metadata keys.
    pub metadata: Metadata,
    /// SHA-256 of the canonical document, `sha256:…`.
    pub digest: String,
}

/// Reads and checks `body` against the rules of `config` (backend, Vault).
pub(crate) fn read(config: &Config, body: &Value) -> Result<Deployment, Vec<Problem>> {
    let Some(object) = body.as_object() else {
        return Err(vec![Problem::new(
            "",
            "the deployment must be a JSON object, e.g. {\"command\": [\"my-server\"]}",
        )]);
    };
    let mut problems = Vec::new();
    let mut document = Map::new();
    let mut meta = Map::new();
    for (key, value) in object {
        if METADATA_KEYS.contains(&key.as_str()) {
            meta.insert(key.clone(), value.clone());
        } else if DEPLOYMENT_KEYS.contains(&key.as_str()) {
            if let Err(p) = parse_field(key, value) {
                problems.push(p);
            }
            document.insert(key.clone(), value.clone());
        } else {
            problems.push(Problem::new(
                &pointer(&[key]),
                &format!(
                    "unknown field `{key}`; known fields: {}, {}",
                    DEPLOYMENT_KEYS.join(", "),
                    METADATA_KEYS.join(", ")
                ),
            ));
        }
    }
    let metadata = read_metadata(&meta, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let document = Value::Object(document);
    let parsed: ServerConfig = match serde_json::from_value(document.clone()) {
        Ok(c) => c,
        Err(e) => return Err(vec![Problem::new("", &e.to_string())]),
    };
    let problems = config.server_problems(&parsed);
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Deployment {
        digest: digest(&document),
        document,
        metadata: metadata.unwrap_or_default(),
    })
}

/// Parses a stored deployment document again (it passed [`read`] when
/// it was deployed).
pub(crate) fn parse(document: &Value) -> Result<ServerConfig, String> {
    serde_json::from_value(document.clone()).map_err(|e| e.to_string())
}

/// Checks one `ServerConfig` field alone, so each bad field is reported.
fn parse_field(key: &str, value: &Value) -> Result<(), Problem> {
    let mut one = Map::new();
    one.insert(key.to_owned(), value.clone());
    let de = Value::Object(one);
    serde_path_to_error::deserialize::<_, ServerConfig>(de)
        .map(|_| ())
        .map_err(|e| {
            let mut at = vec![key.to_owned()];
            at.extend(e.path().iter().skip(1).map(|s| {
                s.to_string()
                    .trim_start_matches('[')
                    .trim_end_matches(']')
                    .to_owned()
            }));
            let refs: Vec<&str> = at.iter().map(String::as_str).collect();
            Problem::new(&pointer(&refs), &e.into_inner().to_string())
        })
}

fn read_metadata(meta: &Map<String, Value>, problems: &mut Vec<Problem>) -> Option<Metadata> {
    for key in ["owner", "contact", "description"] {
        match meta.get(key) {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s.len() <= MAX_TEXT => {}
            Some(Value::String(_)) => problems.push(Problem::new(
                &pointer(&[key]),
                &format!("longer than {MAX_TEXT} bytes"),
            )),
            Some(_) => problems.push(Problem::new(&pointer(&[key]), "must be a string")),
        }
    }
    let mut ok = true;
    for (key, allowed) in [
        ("risk_tier", "low, medium, high or critical"),
        (
            "data_classification",
            "public, internal, confidential or restricted",
        ),
    ] {
        let mut one = Map::new();
        if let Some(v) = meta.get(key) {
            one.insert(key.to_owned(), v.clone());
        }
        if serde_json::from_value::<PartialMetadata>(Value::Object(one)).is_err() {
            ok = false;
            problems.push(Problem::new(
                &pointer(&[key]),
                &format!("must be one of {allowed}"),
            ));
        }
    }
    if !ok {
        return None;
    }
    serde_json::from_value::<PartialMetadata>(Value::Object(meta.clone()))
        .ok()
        .map(PartialMetadata::into_metadata)
}

/// Metadata as sent: every key optional.
#[derive(serde::Deserialize)]
struct PartialMetadata {
    owner: Option<String>,
    contact: Option<String>,
    description: Option<String>,
    risk_tier: Option<super::model::RiskTier>,
    data_classification: Option<super::model::DataClassification>,
}

impl PartialMetadata {
    fn into_metadata(self) -> Metadata {
        let d = Metadata::default();
        Metadata {
            owner: self.owner,
            contact: self.contact,
            description: self.description,
            risk_tier: self.risk_tier.unwrap_or(d.risk_tier),
            data_classification: self.data_classification.unwrap_or(d.data_classification),
        }
    }
}

/// A JSON pointer (RFC 6901) from its parts.
fn pointer(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| format!("/{}", p.replace('~', "~0").replace('/', "~1")))
        .collect()
}

/// SHA-256 of the canonical JSON (keys sorted, no spaces).
fn digest(document: &Value) -> String {
    let canonical = serde_json::to_vec(document).unwrap_or_default();
    format!("sha256:{}", hex::encode(Sha256::digest(canonical)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pointers(r: Result<Deployment, Vec<Problem>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|p| p.pointer).collect()
    }

    #[test]
    fn a_good_deployment_is_read_with_its_metadata_and_digest() {
        let body = json!({
            "command": ["/bin/cat"], "idle_timeout": "5m", "owner": "team-a",
            "risk_tier": "high", "data_classification": "confidential"
        });
        let d = read(&Config::default(), &body).unwrap();
        let config = parse(&d.document).unwrap();
        assert_eq!(config.command, ["/bin/cat"]);
        assert_eq!(config.idle_timeout.as_secs(), 300);
        assert_eq!(d.metadata.owner.as_deref(), Some("team-a"));
        assert_eq!(d.metadata.risk_tier, super::super::model::RiskTier::High);
        assert!(d.document.get("owner").is_none(), "metadata is kept apart");
        assert!(d.digest.starts_with("sha256:") && d.digest.len() == 71);
        // Key order does not change the digest.
        let reordered = json!({"idle_timeout": "5m", "command": ["/bin/cat"]});
        assert_eq!(
            read(&Config::default(), &reordered).unwrap().digest,
            d.digest
        );
    }

    #[test]
    fn every_problem_is_listed_at_once_with_its_pointer() {
        let body = json!({
            "command": "not-a-list", "cpus": "many", "colour": "blue",
            "risk_tier": "extreme", "owner": 7,
            "secrets": [{"path": "p", "key": "k", "env": "K", "extra": 1}]
        });
        let mut got = pointers(read(&Config::default(), &body));
        got.sort();
        assert_eq!(
            got,
            [
                "/colour",
                "/command",
                "/cpus",
                "/owner",
                "/risk_tier",
                "/secrets/0/extra"
            ]
        );
    }

    #[test]
    fn rules_of_the_configuration_are_checked_too() {
        let body = json!({"command": [], "pids": 2, "memory": "lots"});
        let mut got = pointers(read(&Config::default(), &body));
        got.sort();
        assert_eq!(got, ["/command", "/memory", "/pids"]);
        let not_object = read(&Config::default(), &json!(["x"])).unwrap_err();
        assert_eq!(not_object[0].pointer, "");
    }

    #[test]
    fn the_known_fields_are_exactly_those_of_a_config_entry() {
        let e = serde_json::from_value::<ServerConfig>(json!({"no_such_field": 1}))
            .unwrap_err()
            .to_string();
        for key in DEPLOYMENT_KEYS {
            assert!(e.contains(&format!("`{key}`")), "{key} not in {e}");
        }
        assert_eq!(e.matches('`').count() / 2 - 1, DEPLOYMENT_KEYS.len(), "{e}");
    }
}
