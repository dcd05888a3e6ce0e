//! The official MCP Registry's `server.json`, both ways: a deployment can
//! be given as a `server.json` (its `oci` package, transport and
//! environment variables become Berth's deployment document), and a
//! tenant's active servers are listed in the registry API's shape
//! (`GET /v1/tenants/{t}/registry/v0/servers`) so clients that read a
//! registry can find them.
//!
//! Berth settings a `server.json` cannot say (limits, Vault secrets,
//! egress) go in its `_meta["io.berth/deployment"]`, merged over the
//! translation.
//!
//! May import: `config` ([`Problem`]), `registry::model`, external crates.

use serde_json::{Map, Value, json};

use super::model::ServerRecord;
use crate::config::Problem;

/// `_meta` key of the Berth settings inside a `server.json`.
pub(crate) const BERTH_META: &str = "io.berth/deployment";

/// Whether `body` is a `server.json` (it has `packages` or a `$schema`
/// naming the server schema) rather than a Berth deployment.
pub(crate) fn is_server_json(body: &Value) -> bool {
    body.get("packages").is_some()
        || body
            .get("$schema")
            .and_then(Value::as_str)
            .is_some_and(|s| s.contains("server.schema.json"))
}

/// Translates a `server.json` into a Berth deployment document (with its
/// description as metadata); every problem at its pointer.
pub(crate) fn to_deployment(doc: &Value) -> Result<Value, Vec<Problem>> {
    let mut problems = Vec::new();
    let packages = doc.get("packages").and_then(Value::as_array);
    let oci: Vec<(usize, &Value)> = packages
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, p)| p.get("registryType").and_then(Value::as_str) == Some("oci"))
        .collect();
    let Some(&(i, package)) = oci.first() else {
        return Err(vec![Problem::new(
            "/packages",
            "Berth runs OCI images: give a package with \"registryType\": \"oci\"",
        )]);
    };
    let at = |field: &str| format!("/packages/{i}{field}");
    let mut out = Map::new();
    match package.get("identifier").and_then(Value::as_str) {
        Some(id) if !id.is_empty() => {
            let tagged = id
                .rsplit('/')
                .next()
                .is_some_and(|last| last.contains(':') || last.contains('@'));
            let image = match package.get("version").and_then(Value::as_str) {
                Some(v) if !tagged => format!("{id}:{v}"),
                _ => id.to_owned(),
            };
            out.insert("image".into(), image.into());
        }
        _ => problems.push(Problem::new(
            &at("/identifier"),
            "the image reference is missing",
        )),
    }
    match package.pointer("/transport/type").and_then(Value::as_str) {
        None | Some("stdio") => {}
        Some("streamable-http") => {
            out.insert("transport".into(), "http".into());
            let url = package
                .pointer("/transport/url")
                .and_then(Value::as_str)
                .unwrap_or("");
            let (port, path) = port_and_path(url);
            out.insert("port".into(), port.into());
            out.insert("path".into(), path.into());
        }
        Some(other) => problems.push(Problem::new(
            &at("/transport/type"),
            &format!("transport `{other}` is not served by Berth; use stdio or streamable-http"),
        )),
    }
    let mut env = Map::new();
    for (j, var) in package
        .get("environmentVariables")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let here = at(&format!("/environmentVariables/{j}"));
        let Some(name) = var.get("name").and_then(Value::as_str) else {
            problems.push(Problem::new(&here, "needs a `name`"));
            continue;
        };
        let value = var
            .get("value")
            .or_else(|| var.get("default"))
            .and_then(Value::as_str);
        let secret = var
            .get("isSecret")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let required = var
            .get("isRequired")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        match value {
            Some(v) if !secret => {
                env.insert(name.to_owned(), v.into());
            }
            _ if secret && required => problems.push(Problem::new(
                &here,
                &format!(
                    "`{name}` is a required secret: give it from Vault in _meta[\"{BERTH_META}\"].secrets \
                     (e.g. {{\"path\": \"…\", \"key\": \"…\", \"env\": \"{name}\"}})"
                ),
            )),
            None if required => problems.push(Problem::new(
                &here,
                &format!("`{name}` is required and has no `value` or `default`"),
            )),
            _ => {}
        }
    }
    if !env.is_empty() {
        out.insert("env".into(), Value::Object(env));
    }
    if let Some(d) = doc.get("description").and_then(Value::as_str) {
        out.insert("description".into(), d.into());
    }
    if let Some(extra) = doc.pointer(&format!("/_meta/{}", BERTH_META.replace('/', "~1"))) {
        match extra.as_object() {
            Some(extra) => {
                for (k, v) in extra {
                    out.insert(k.clone(), v.clone());
                }
            }
            None => problems.push(Problem::new(
                "/_meta",
                &format!("`{BERTH_META}` must be an object"),
            )),
        }
    }
    // Secrets given through `_meta` cover required secret variables.
    let provided: Vec<String> = out
        .get("secrets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|s| s.get("env").and_then(Value::as_str).map(str::to_owned))
        .collect();
    problems.retain(|p| {
        !provided.iter().any(|name| {
            p.message
                .starts_with(&format!("`{name}` is a required secret"))
        })
    });
    if problems.is_empty() {
        Ok(Value::Object(out))
    } else {
        Err(problems)
    }
}

/// `port` and `path` of a `streamable-http` URL such as
/// `http://localhost:8080/mcp` (templated ports default to 8080).
fn port_and_path(url: &str) -> (u16, String) {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_owned()),
        None => (rest, "/mcp".to_owned()),
    };
    let port = authority
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or(8080);
    (port, path)
}

/// The registry API's entry for an active server (what agents connect to
/// is the remote: Berth's endpoint).
pub(crate) fn entry(record: &ServerRecord, endpoint: &str) -> Option<Value> {
    let active = record.active()?;
    let description = active
        .metadata
        .description
        .clone()
        .unwrap_or_else(|| format!("{} on Berth", record.name));
    Some(json!({
        "server": {
            "$schema": "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json",
            "name": format!("{}/{}", record.tenant, record.name),
            "description": description,
            "version": format!("{}.0.0", active.version),
            "remotes": [{"type": "streamable-http", "url": endpoint}],
        },
        "_meta": {
            "io.berth/registry": {
                "version": active.version,
                "digest": active.digest,
                "state": record.summary_state(),
                "activatedAt": active.activated_at,
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointers(r: Result<Value, Vec<Problem>>) -> Vec<String> {
        r.unwrap_err().into_iter().map(|p| p.pointer).collect()
    }

    #[test]
    fn an_oci_server_json_becomes_a_deployment() {
        let doc = json!({
            "$schema": "https://static.modelcontextprotocol.io/schemas/2025-12-11/server.schema.json",
            "name": "io.github.acme/weather", "description": "Weather", "version": "1.0.2",
            "packages": [
                {"registryType": "npm", "identifier": "@acme/weather", "version": "1.0.2"},
                {"registryType": "oci", "identifier": "docker.io/acme/weather", "version": "1.0.2",
                 "transport": {"type": "streamable-http", "url": "http://localhost:9000/api/mcp"},
                 "environmentVariables": [
                    {"name": "UNITS", "default": "metric"},
                    {"name": "API_KEY", "isSecret": true, "isRequired": true},
                    {"name": "OPTIONAL"}
                 ]}
            ],
            "_meta": {"io.berth/deployment": {"memory": "512m",
                "secrets": [{"path": "weather", "key": "api_key", "env": "API_KEY"}]}}
        });
        assert!(is_server_json(&doc));
        let d = to_deployment(&doc).unwrap();
        assert_eq!(d["image"], "docker.io/acme/weather:1.0.2");
        assert_eq!(
            (
                d["transport"].as_str(),
                d["port"].as_u64(),
                d["path"].as_str()
            ),
            (Some("http"), Some(9000), Some("/api/mcp"))
        );
        assert_eq!(d["env"], json!({"UNITS": "metric"}));
        assert_eq!(d["memory"], "512m");
        assert_eq!(d["description"], "Weather");
        assert!(!is_server_json(&json!({"image": "x"})));
    }

    #[test]
    fn what_berth_cannot_run_is_listed_with_pointers() {
        assert_eq!(
            pointers(to_deployment(
                &json!({"packages": [{"registryType": "npm"}]})
            )),
            ["/packages"]
        );
        let doc = json!({"packages": [{"registryType": "oci", "identifier": "img:1",
            "transport": {"type": "sse"},
            "environmentVariables": [{"name": "KEY", "isSecret": true, "isRequired": true}, {"name": "NEED", "isRequired": true}]}]});
        assert_eq!(
            pointers(to_deployment(&doc)),
            [
                "/packages/0/transport/type",
                "/packages/0/environmentVariables/0",
                "/packages/0/environmentVariables/1"
            ]
        );
    }
}
