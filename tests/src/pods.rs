//! Helpers for tests of several pods sharing one Redis: their config,
//! short MCP calls, resuming streams and signalling pods.

use serde_json::{Value, json};

use crate::legacy::call;
use crate::redis::RedisServer;
use crate::{Berth, mcp_post, messages};

/// Two pods (A, then B like A) sharing a fresh Redis, a client and a token
/// for `alice` on `demo`. Keep `redis` bound: dropping it stops Redis.
pub struct TwoPods {
    /// The Redis both pods use.
    pub redis: RedisServer,
    /// Pod A.
    pub a: Berth,
    /// Pod B.
    pub b: Berth,
    /// An HTTP client.
    pub c: reqwest::Client,
    /// Alice's token.
    pub token: String,
}

impl TwoPods {
    /// Starts both pods with [`config`] for `backend`.
    pub async fn start(backend: &str) -> TwoPods {
        Self::start_with(backend, |cfg| cfg).await
    }

    /// Like [`TwoPods::start`], with the config changed by `edit` first.
    pub async fn start_with(backend: &str, edit: impl FnOnce(String) -> String) -> TwoPods {
        let redis = RedisServer::start();
        let cfg = edit(config(&redis, backend));
        let a = Berth::serve(&cfg, &[]).await;
        let b = Berth::serve_like(&a, &cfg, &[]).await;
        let token = a.token("alice", "demo", &[]);
        TwoPods {
            redis,
            a,
            b,
            c: reqwest::Client::new(),
            token,
        }
    }
}

/// Two pods (A, then B like A) sharing `redis`, with no server in their
/// config: what they serve comes from the registry they share.
pub async fn registry_pods(redis: &RedisServer) -> (Berth, Berth) {
    let config = format!(
        "listen = \"127.0.0.1:0\"\nstate_dir = \"{{state_dir}}\"\n[store]\nurl = \"{}\"\n",
        redis.url()
    );
    let a = Berth::serve(&config, &[]).await;
    let b = Berth::serve_like(&a, &config, &[]).await;
    (a, b)
}

/// A pod's config over `redis`: servers `demo/everything` (and, with the
/// docker backend, the HTTP-transport `demo/web`).
pub fn config(redis: &RedisServer, backend: &str) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
state_dir = "{{state_dir}}"
backend = "{backend}"
[store]
url = "{url}"
[docker]
internal_network = "berth-test-failover"
[servers.demo.everything]
image = "berth/example-server"
command = {command}
{web}"#,
        url = redis.url(),
        web = if backend == "docker" {
            "[servers.demo.web]\nimage = \"berth/example-server-http\"\ntransport = \"http\"\n"
        } else {
            ""
        },
        command = if backend == "docker" {
            "[]".to_owned()
        } else {
            r#"["{berth_bin}", "example-server"]"#.to_owned()
        },
    )
}

/// The text of a tool result.
pub fn text(reply: &Value) -> String {
    reply["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {reply}"))
        .to_owned()
}

/// Calls `echo` with `said`; returns what came back.
pub async fn echo(c: &reqwest::Client, url: &str, token: &str, sid: &str, said: &str) -> String {
    text(&call(c, url, token, sid, "echo", json!({ "text": said })).await)
}

/// Calls `counter_increment`; returns the count.
pub async fn counter(c: &reqwest::Client, url: &str, token: &str, sid: &str) -> String {
    text(&call(c, url, token, sid, "counter_increment", json!({})).await)
}

/// The `(id, data)` of each event with an id in an SSE body.
pub fn sse_events(body: &str) -> Vec<(String, String)> {
    body.split("\n\n")
        .filter_map(|event| {
            let id = event.lines().find_map(|l| l.strip_prefix("id: "))?;
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(str::trim)
                .collect();
            Some((id.to_owned(), data.join("\n")))
        })
        .collect()
}

/// Sends `sig` (`-STOP`, `-CONT`, `-9`) to a process.
pub fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

/// A 2026-07-28 (sessionless) request; returns its final message.
pub async fn modern(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    method: &str,
    params: Value,
) -> Value {
    let mut params = params;
    params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion":"2026-07-28",
        "io.modelcontextprotocol/clientCapabilities":{}});
    let name = params["name"].as_str().map(str::to_owned);
    let body = json!({"jsonrpc":"2.0","id":7,"method":method,"params":params}).to_string();
    let mut req = mcp_post(c, url, token, &body)
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    if let Some(name) = name {
        req = req.header("mcp-name", name);
    }
    let r = req.send().await.unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    messages(&ct, &r.text().await.unwrap())
        .pop()
        .expect("an answer")
}

/// `kill -9`.
pub fn kill_9(pid: u32) {
    signal(pid, "-9");
}

/// An IPv4 address of this host other than loopback (what a pod in a
/// cluster advertises); panics, saying so, on a host without one.
pub fn routable_ip() -> std::net::Ipv4Addr {
    let out = std::process::Command::new("hostname")
        .arg("-I")
        .output()
        .expect("run `hostname -I`");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .filter_map(|a| a.parse::<std::net::Ipv4Addr>().ok())
        .find(|ip| !ip.is_loopback())
        .expect(
            "this test needs a non-loopback IPv4 address on this host (`hostname -I` lists none)",
        )
}
