//! Shared by the tenancy tests (`tenants.rs`, `tenants_door.rs`): a config
//! with two tenants that both run a server called `echo`, and requests as
//! an agent (or an attacker) sends them.

use reqwest::Method;
use serde_json::{Value, json};

use crate::Berth;
use crate::legacy::INIT;

/// Two tenants, `acme` and `globex`, each with `echo`; acme's `scoped`
/// needs a scope.
pub const CONFIG: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
[servers.acme.echo]
command = ["{berth_bin}", "example-server"]
[servers.acme.scoped]
command = ["{berth_bin}", "example-server"]
required_scopes = ["mcp:tools:call"]
[servers.globex.echo]
command = ["{berth_bin}", "example-server"]
"#;

/// The docker backend: `shared` for both tenants, acme with a warm pool.
pub const DOCKER: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
backend = "docker"
[servers.acme.shared]
image = "berth/example-server"
warm_pool = 1
[servers.globex.shared]
image = "berth/example-server"
"#;

/// The three methods of the MCP endpoint.
pub const METHODS: [Method; 3] = [Method::POST, Method::GET, Method::DELETE];

/// A request of `method` as an agent sends it, without credentials.
pub fn bare(c: &reqwest::Client, method: Method, url: &str) -> reqwest::RequestBuilder {
    c.request(method, url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(INIT)
}

/// A request of `method` with `token` and session `sid`.
pub fn with_session(
    c: &reqwest::Client,
    method: Method,
    url: &str,
    token: &str,
    sid: &str,
) -> reqwest::RequestBuilder {
    let body = json!({"jsonrpc":"2.0","id":9,"method":"tools/call",
        "params":{"name":"counter_increment","arguments":{}}})
    .to_string();
    c.request(method, url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-session-id", sid)
        .body(body)
}

/// The `WWW-Authenticate` challenge of a 401, asserting it is one.
pub async fn challenge(r: reqwest::Response) -> String {
    assert_eq!(r.status(), 401);
    r.headers()
        .get("www-authenticate")
        .expect("a 401 carries a challenge")
        .to_str()
        .unwrap()
        .to_owned()
}

/// The events Berth logged on the `berth::audit` target.
pub fn audit_events(berth: &Berth) -> Vec<Value> {
    berth
        .log()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l["target"] == "berth::audit")
        .map(|l| l["fields"].clone())
        .collect()
}
