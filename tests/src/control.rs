//! Helpers for control-plane tests: `berth server` runs, `/v1` requests,
//! example-server deployments.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::legacy::call;
use crate::pods::text;
use crate::{berth_bin, berth_command, run};

/// `berth server ARGS` against `base` with `token`: (exit code, stdout, stderr).
pub async fn cli(base: &str, token: &str, args: &[&str]) -> (Option<i32>, String, String) {
    run(
        berth_command()
            .arg("server")
            .args(args)
            .env("BERTH_URL", base)
            .env("BERTH_TOKEN", token),
        Duration::from_secs(30),
    )
    .await
}

/// A CLI call that must succeed; its stdout.
pub async fn ok(base: &str, token: &str, args: &[&str]) -> String {
    let (code, out, err) = cli(base, token, args).await;
    assert_eq!(code, Some(0), "berth server {args:?}: {err}");
    out
}

/// A deployment of the example server (process backend) with `RELEASE`.
pub fn example(release: &str) -> String {
    format!(
        "command = [\"{}\", \"example-server\"]\nowner = \"team-echo\"\nrisk_tier = \"low\"\n[env]\nRELEASE = \"{release}\"\n",
        berth_bin().display()
    )
}

/// The `RELEASE` the instance behind session `sid` runs with.
pub async fn release(c: &reqwest::Client, url: &str, token: &str, sid: &str) -> String {
    text(&call(c, url, token, sid, "env_get", json!({"name": "RELEASE"})).await)
}

/// A `/v1` request: (status, JSON body, headers).
pub async fn api(
    c: &reqwest::Client,
    method: reqwest::Method,
    url: &str,
    token: &str,
    body: Option<Value>,
) -> (u16, Value, reqwest::header::HeaderMap) {
    let mut req = c.request(method, url).bearer_auth(token);
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.json().await.unwrap_or(Value::Null);
    (status, body, headers)
}

/// `berth token` against `state_dir`.
pub fn token_in(state_dir: &Path, subject: &str, tenant: &str, scopes: &[&str]) -> String {
    let mut cmd = std::process::Command::new(berth_bin());
    cmd.args([
        "token",
        "--subject",
        subject,
        "--tenant",
        tenant,
        "--state-dir",
    ])
    .arg(state_dir);
    for s in scopes {
        cmd.args(["--scope", s]);
    }
    String::from_utf8(cmd.output().unwrap().stdout)
        .unwrap()
        .trim()
        .to_owned()
}
