//! Hostile and broken servers in containers: each fault reaches only its
//! own session's agent, as a clear JSON-RPC error, and Berth stays healthy.
//! The broken behaviours are the example server's `--misbehave` modes.

use std::time::Duration;

use berth_tests::docker::{containers, docker, pod_of};
use berth_tests::{Berth, eventually, mcp_post, messages, tool};
use serde_json::{Value, json};

const CONFIG: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
backend = "docker"
[limits]
request_timeout = "3s"
max_message_bytes = 1048576
[servers.demo.everything]
image = "berth/example-server"
[servers.demo.exits]
image = "berth/example-server"
command = ["--misbehave", "exit-now"]
[servers.demo.flood]
image = "berth/example-server"
command = ["--misbehave", "flood"]
[servers.demo.biglines]
image = "berth/example-server"
command = ["--misbehave", "big-lines"]
[servers.demo.silent]
image = "berth/example-server"
command = ["--misbehave", "silent"]
[servers.demo.forkbomb]
image = "berth/example-server"
command = ["--misbehave", "fork-bomb"]
pids = 32
"#;

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"fault-test","version":"1"}}}"#;

async fn init(c: &reqwest::Client, url: &str, token: &str) -> (Option<String>, Value) {
    let r = mcp_post(c, url, token, INIT).send().await.unwrap();
    let sid = r
        .headers()
        .get("mcp-session-id")
        .map(|v| v.to_str().unwrap().to_owned());
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let msgs = messages(&ct, &r.text().await.unwrap());
    (sid, msgs.last().cloned().unwrap_or(Value::Null))
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// A healthy session keeps answering while `fault` misbehaves.
async fn healthy_echo(berth: &Berth, c: &reqwest::Client, token: &str) {
    let url = berth.url("demo", "everything");
    let (sid, _) = init(c, &url, token).await;
    let sid = sid.expect("healthy session");
    let body = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"fine"}}}).to_string();
    let r = mcp_post(c, &url, token, &body)
        .header("mcp-session-id", sid)
        .send()
        .await
        .unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let m = messages(&ct, &r.text().await.unwrap());
    assert_eq!(m.last().unwrap()["result"]["content"][0]["text"], "fine");
}

#[tokio::test]
async fn servers_that_exit_flood_or_never_answer_fail_only_their_session() {
    let _ = tool("DOCKER_HOST");
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let token = berth.token("alice", "demo", &[]);
    let (sid, v) = init(&c, &berth.url("demo", "exits"), &token).await;
    assert!(sid.is_none());
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exited with status 3"),
        "{v}"
    );
    for server in ["flood", "silent", "biglines"] {
        let url = berth.url("demo", server);
        let pending = {
            let c = c.clone();
            let token = token.clone();
            tokio::spawn(async move { init(&c, &url, &token).await })
        };
        // While the broken server floods or sulks, others are served and
        // Berth's memory stays bounded.
        healthy_echo(&berth, &c, &token).await;
        let (sid, v) = tokio::time::timeout(Duration::from_secs(30), pending)
            .await
            .expect("no hang")
            .unwrap();
        assert!(sid.is_none(), "{server}");
        assert_eq!(v["error"]["code"], -32001, "{server}: {v}");
        let rss = rss_kib(berth.pid());
        assert!(rss < 300 * 1024, "{server}: Berth RSS {rss} KiB");
    }
}

#[tokio::test]
async fn a_fork_bomb_is_held_by_the_pids_limit() {
    let _ = tool("DOCKER_HOST");
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let token = berth.token("alice", "demo", &[]);
    let url = berth.url("demo", "forkbomb");
    let (sid, v) = init(&c, &url, &token).await;
    let sid = sid.unwrap_or_else(|| panic!("the server still serves after its bomb fizzles: {v}"));
    let body = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"contained"}}}).to_string();
    let r = mcp_post(&c, &url, &token, &body)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let m = messages(&ct, &r.text().await.unwrap());
    assert_eq!(
        m.last().unwrap()["result"]["content"][0]["text"],
        "contained"
    );
    // The server reported (on stderr, which Berth logs) where the pids
    // limit stopped it.
    let log = berth.log();
    let started: usize = log
        .split("fork bomb stopped after ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no fork bomb report in the log:\n{log}"));
    assert!(started < 32, "{started} processes despite pids = 32");
    assert!(started > 8, "the bomb did fork ({started})");
    healthy_echo(&berth, &c, &token).await;
}

#[tokio::test]
async fn a_warm_container_that_died_is_not_handed_to_a_session() {
    let _ = tool("DOCKER_HOST");
    let config =
        format!("{CONFIG}[servers.demo.pooled]\nimage = \"berth/example-server\"\nwarm_pool = 1\n");
    let berth = Berth::serve(&config, &[]).await;
    let c = reqwest::Client::new();
    let token = berth.token("alice", "demo", &[]);
    let pod = format!("berth.pod={}", pod_of(&berth));
    let pooled = [pod.as_str(), "berth.server=pooled", "berth.session=pool"];
    assert!(
        eventually(Duration::from_secs(30), || containers(&pooled).len() == 1).await,
        "the pool fills"
    );
    // The waiting server dies (OOM, a crash, an operator): the next
    // session gets a live instance, not the corpse and a timeout.
    let dead = containers(&pooled).remove(0);
    docker(&["kill", &dead]);
    let (sid, v) = init(&c, &berth.url("demo", "pooled"), &token).await;
    assert!(sid.is_some(), "served by a live instance: {v}");
    assert_eq!(v["result"]["protocolVersion"], "2025-11-25", "{v}");
    assert!(
        eventually(Duration::from_secs(30), || !containers(&[pod.as_str()])
            .contains(&dead))
        .await,
        "the dead warm container is removed"
    );
}
