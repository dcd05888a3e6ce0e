//! `berth server …`: the control plane from a shell. Each subcommand is
//! one `/v1` request; answers print as tables (or JSON with `--json`);
//! an error prints the API's message and exits non-zero.
//!
//! May import: external crates only (it speaks HTTP to a Berth).

use std::path::PathBuf;

use clap::{Args, Subcommand};
use comfy_table::{Table, presets::NOTHING};
use serde_json::Value;

/// `berth server` options.
#[derive(Debug, Args)]
pub struct ServerArgs {
    /// Berth's base URL.
    #[arg(
        long,
        env = "BERTH_URL",
        default_value = "http://127.0.0.1:8080",
        global = true
    )]
    pub url: String,
    /// Bearer token with the admin (or operator) scope, e.g. from
    /// `berth token --subject me --scope berth:admin`.
    #[arg(long, env = "BERTH_TOKEN", hide_env_values = true, global = true)]
    pub token: Option<String>,
    /// Print the API's JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// What to do.
    #[command(subcommand)]
    pub action: ServerAction,
}

/// `berth server` subcommands.
#[derive(Debug, Subcommand)]
pub enum ServerAction {
    /// Deploy a new version from a deployment file (TOML or JSON: the body
    /// of a `[servers.TENANT.SERVER]` entry, plus owner, contact,
    /// description, risk_tier, data_classification).
    Deploy {
        /// TENANT/SERVER.
        name: String,
        /// The deployment file (`-` reads stdin as JSON).
        #[arg(long, short = 'f')]
        file: PathBuf,
    },
    /// List a tenant's servers.
    List {
        /// Tenant.
        tenant: String,
    },
    /// Show one server and its versions.
    Show {
        /// TENANT/SERVER.
        name: String,
    },
    /// List a server's versions.
    Versions {
        /// TENANT/SERVER.
        name: String,
    },
    /// Approve a proposed version.
    Approve {
        /// TENANT/SERVER.
        name: String,
        /// Version number.
        version: u32,
    },
    /// Make an approved version the one new sessions use.
    Activate {
        /// TENANT/SERVER.
        name: String,
        /// Version number.
        version: u32,
    },
    /// Activate the previous approved version.
    Rollback {
        /// TENANT/SERVER.
        name: String,
    },
    /// Announce the server's end (it stays callable).
    Deprecate {
        /// TENANT/SERVER.
        name: String,
        /// Announced end date, YYYY-MM-DD.
        #[arg(long)]
        sunset: Option<String>,
    },
    /// The active version's approved capabilities and every drift seen.
    Caps {
        /// TENANT/SERVER.
        name: String,
    },
    /// Remove the server: calls are refused from now on.
    Decommission {
        /// TENANT/SERVER.
        name: String,
    },
}

// === impl ServerArgs ===

impl ServerArgs {
    /// Runs the subcommand; `Err` holds what to print.
    pub async fn run(&self) -> anyhow::Result<()> {
        let (method, path, body) = self.request()?;
        let json = call(&self.url, self.token.as_deref(), method, &path, body).await?;
        if self.json {
            println!("{}", serde_json::to_string_pretty(&json)?);
        } else {
            println!("{}", self.render(&json));
        }
        Ok(())
    }

    fn request(&self) -> anyhow::Result<(reqwest::Method, String, Option<Value>)> {
        use reqwest::Method;
        let base = |name: &str| -> anyhow::Result<String> {
            let (tenant, server) = split(name)?;
            Ok(format!("/v1/tenants/{tenant}/servers/{server}"))
        };
        Ok(match &self.action {
            ServerAction::Deploy { name, file } => {
                (Method::PUT, base(name)?, Some(read_file(file)?))
            }
            ServerAction::List { tenant } => {
                (Method::GET, format!("/v1/tenants/{tenant}/servers"), None)
            }
            ServerAction::Show { name } => (Method::GET, base(name)?, None),
            ServerAction::Versions { name } => {
                (Method::GET, format!("{}/versions", base(name)?), None)
            }
            ServerAction::Approve { name, version } => (
                Method::POST,
                format!("{}/versions/{version}/approve", base(name)?),
                None,
            ),
            ServerAction::Activate { name, version } => (
                Method::POST,
                format!("{}/versions/{version}/activate", base(name)?),
                None,
            ),
            ServerAction::Rollback { name } => {
                (Method::POST, format!("{}/rollback", base(name)?), None)
            }
            ServerAction::Deprecate { name, sunset } => (
                Method::POST,
                format!("{}/deprecate", base(name)?),
                Some(serde_json::json!({"sunset": sunset})),
            ),
            ServerAction::Caps { name } => {
                (Method::GET, format!("{}/capabilities", base(name)?), None)
            }
            ServerAction::Decommission { name } => (Method::DELETE, base(name)?, None),
        })
    }

    fn render(&self, json: &Value) -> String {
        match &self.action {
            ServerAction::List { .. } => {
                let mut t = table(&[
                    "NAME",
                    "STATE",
                    "ACTIVE",
                    "LATEST",
                    "OWNER",
                    "RISK",
                    "MANAGED BY",
                ]);
                for s in json["servers"].as_array().into_iter().flatten() {
                    t.add_row(vec![
                        text(&s["name"]),
                        text(&s["state"]),
                        text(&s["active_version"]),
                        text(&s["latest_version"]),
                        text(&s["owner"]),
                        text(&s["risk_tier"]),
                        text(&s["managed_by"]),
                    ]);
                }
                t.to_string()
            }
            ServerAction::Deploy { name, .. } => format!(
                "deployed {name} version {} ({}), state {}\nnext: berth server approve {name} {}",
                text(&json["version"]),
                text(&json["digest"]),
                text(&json["state"]),
                text(&json["version"]),
            ),
            ServerAction::Versions { .. } => versions(json["versions"].as_array()),
            ServerAction::Caps { .. } => {
                let mut t = table(&["KIND", "NAME", "FINGERPRINT"]);
                for c in json["approved"].as_array().into_iter().flatten() {
                    t.add_row(vec![
                        text(&c["kind"]),
                        text(&c["name"]),
                        text(&c["fingerprint"]),
                    ]);
                }
                let mut out = format!("version {}\n{t}", text(&json["version"]));
                let drift = json["drift"].as_array().cloned().unwrap_or_default();
                if !drift.is_empty() {
                    let mut d = table(&["VERSION", "KIND", "NAME", "APPROVED", "LIVE", "SEEN AT"]);
                    for x in &drift {
                        d.add_row(vec![
                            text(&x["version"]),
                            text(&x["kind"]),
                            text(&x["name"]),
                            text(&x["approved"]).chars().take(19).collect(),
                            text(&x["live"]).chars().take(19).collect(),
                            text(&x["seen_at"]),
                        ]);
                    }
                    out.push_str(&format!("\n\ndrift:\n{d}"));
                }
                out
            }
            _ => {
                let mut head = table(&["SERVER", "STATE", "ACTIVE", "REVISION"]);
                head.add_row(vec![
                    format!("{}/{}", text(&json["tenant"]), text(&json["name"])),
                    text(&json["state"]),
                    text(&json["active_version"]),
                    text(&json["revision"]),
                ]);
                let mut out = head.to_string();
                if let Some(sunset) = json.get("sunset").filter(|s| !s.is_null()) {
                    out.push_str(&format!("\nsunset: {}", text(sunset)));
                }
                if json["versions"].as_array().is_some_and(|v| !v.is_empty()) {
                    out.push_str("\n\n");
                    out.push_str(&versions(json["versions"].as_array()));
                }
                out
            }
        }
    }
}

/// One `/v1` request; the answer's JSON, or an error with the API's
/// message (and every problem of an invalid deployment).
pub(super) async fn call(
    base: &str,
    token: Option<&str>,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let url = format!("{}{path}", base.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .tls_backend_preconfigured(berth_auth::tls::client_config())
        .build()?;
    let mut req = client.request(method, &url);
    let token = token.filter(|t| !t.is_empty());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.map_err(|e| {
        anyhow::anyhow!("cannot reach Berth at {base}: {e} (set --url or BERTH_URL)")
    })?;
    let status = resp.status();
    let text = resp.text().await.unwrap_or_default();
    let json: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(json);
    }
    let message = json["error"]["message"]
        .as_str()
        .map(str::to_owned)
        .unwrap_or_else(|| text.trim().to_owned());
    let mut out = format!("{status}: {message}");
    if let Some(problems) = json["error"]["problems"].as_array() {
        for p in problems {
            let at = p["pointer"].as_str().unwrap_or("");
            let at = if at.is_empty() { "(document)" } else { at };
            out.push_str(&format!(
                "\n  {at}: {}",
                p["message"].as_str().unwrap_or("")
            ));
        }
    }
    if status == reqwest::StatusCode::UNAUTHORIZED && token.is_none() {
        out.push_str("\n(no token given: set --token or BERTH_TOKEN)");
    }
    anyhow::bail!(out)
}

fn versions(list: Option<&Vec<Value>>) -> String {
    let mut t = table(&[
        "VERSION",
        "STATE",
        "DIGEST",
        "DEPLOYED BY",
        "APPROVED BY",
        "DEPLOYED AT",
    ]);
    for v in list.into_iter().flatten() {
        let digest = text(&v["digest"]);
        t.add_row(vec![
            text(&v["version"]),
            text(&v["state"]),
            digest.chars().take(19).collect(),
            text(&v["deployed_by"]),
            text(&v["approved_by"]),
            text(&v["deployed_at"]),
        ]);
    }
    t.to_string()
}

pub(super) fn table(header: &[&str]) -> Table {
    let mut t = Table::new();
    t.load_preset(NOTHING).set_header(header.to_vec());
    t
}

pub(super) fn text(v: &Value) -> String {
    match v {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `TENANT/SERVER`.
fn split(name: &str) -> anyhow::Result<(&str, &str)> {
    match name.split_once('/') {
        Some((t, s)) if !t.is_empty() && !s.is_empty() && !s.contains('/') => Ok((t, s)),
        _ => anyhow::bail!("`{name}`: name the server as TENANT/SERVER, e.g. acme/files"),
    }
}

/// A deployment file: TOML (`.toml`), or JSON (anything else, `-` = stdin).
fn read_file(path: &std::path::Path) -> anyhow::Result<Value> {
    let text = if path.as_os_str() == "-" {
        std::io::read_to_string(std::io::stdin())?
    } else {
        std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("-f {}: cannot read it: {e}", path.display()))?
    };
    if path.extension().is_some_and(|e| e == "toml") {
        let parsed: toml::Value = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("-f {}: not valid TOML: {e}", path.display()))?;
        return Ok(serde_json::to_value(parsed)?);
    }
    serde_json::from_str(&text)
        .map_err(|e| anyhow::anyhow!("-f {}: not valid JSON: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_files_are_read_like_the_api_expects() {
        assert_eq!(split("acme/files").unwrap(), ("acme", "files"));
        for bad in ["acme", "/files", "acme/", "a/b/c"] {
            assert!(
                split(bad)
                    .unwrap_err()
                    .to_string()
                    .contains("TENANT/SERVER"),
                "{bad}"
            );
        }
        let dir = tempfile::tempdir().unwrap();
        let toml_file = dir.path().join("d.toml");
        std::fs::write(
            &toml_file,
            "command = [\"/bin/cat\"]\nidle_timeout = \"5m\"\nowner = \"team\"\n",
        )
        .unwrap();
        assert_eq!(
            read_file(&toml_file).unwrap(),
            serde_json::json!({"command": ["/bin/cat"], "idle_timeout": "5m", "owner": "team"})
        );
        let bad = dir.path().join("d.json");
        std::fs::write(&bad, "{nope").unwrap();
        assert!(
            read_file(&bad)
                .unwrap_err()
                .to_string()
                .contains("not valid JSON")
        );
    }
}
