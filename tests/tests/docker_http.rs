//! HTTP-transport servers in containers: Berth speaks Streamable HTTP to
//! the server's port on an internal Docker network it creates (no route
//! out, no container-to-container traffic), with the same hardening,
//! pools and reaping as stdio containers. Needs the dockerd and images
//! `scripts/test` provides.

use std::time::Duration;

use berth_tests::docker::{containers, docker, inspect, pod_of};
use berth_tests::legacy::{call, init, session};
use berth_tests::{Berth, eventually, mcp_post, messages};
use serde_json::{Value, json};

const CONFIG: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
backend = "docker"
[docker]
internal_network = "berth-test-internal"
[servers.demo.web]
image = "berth/example-server-http"
transport = "http"
port = 8080
idle_timeout = "4s"
[servers.demo.pooled]
image = "berth/example-server-http"
transport = "http"
warm_pool = 1
[servers.demo.deaf]
image = "berth/example-server-http"
transport = "http"
port = 9999
request_timeout = "2s"
"#;

fn text(reply: &Value) -> String {
    reply["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {reply}"))
        .to_owned()
}

#[tokio::test]
async fn http_servers_run_on_an_internal_network_and_keep_their_state() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "web");
    let token = berth.token("alice", "demo", &[]);
    let sid = session(&c, &url, &token).await;
    // In-process state lives in the one container behind the session.
    for expected in ["1", "2", "3"] {
        let r = call(&c, &url, &token, &sid, "counter_increment", json!({})).await;
        assert_eq!(text(&r), expected);
    }
    let r = call(&c, &url, &token, &sid, "echo", json!({"text":"over http"})).await;
    assert_eq!(text(&r), "over http");

    let pod = pod_of(&berth);
    let ids = containers(&[&format!("berth.pod={pod}"), "berth.server=web"]);
    assert_eq!(ids.len(), 1, "one container for one session");
    let info = inspect(&ids[0]);
    let host = &info["HostConfig"];
    let networks = info["NetworkSettings"]["Networks"].as_object().unwrap();
    assert_eq!(
        networks.keys().collect::<Vec<_>>(),
        ["berth-test-internal"],
        "only the internal network"
    );
    let network_id = networks["berth-test-internal"]["NetworkID"]
        .as_str()
        .unwrap()
        .to_owned();
    // Hardening is the same as for stdio containers; stdin stays closed.
    assert_eq!(host["ReadonlyRootfs"], true);
    assert_eq!(host["CapDrop"], json!(["ALL"]));
    assert_eq!(info["Config"]["User"], "65534:65534");
    assert_eq!(info["Config"]["OpenStdin"], false);
    // The network has no route out and containers on it cannot reach
    // each other.
    let net = inspect(&network_id);
    assert_eq!(net["Internal"], true, "{net}");
    assert_eq!(
        net["Options"]["com.docker.network.bridge.enable_icc"], "false",
        "{net}"
    );
    assert_eq!(net["Labels"]["berth.managed"], "true");

    // Two agents, two containers.
    let bob = berth.token("bob", "demo", &[]);
    let other = session(&c, &url, &bob).await;
    let r = call(&c, &url, &bob, &other, "counter_get", json!({})).await;
    assert_eq!(text(&r), "0", "bob's server is not alice's");

    // DELETE removes the container at once; idle sessions are reaped.
    let r = c
        .delete(&url)
        .bearer_auth(&token)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert!(
        eventually(Duration::from_secs(15), || !containers(&[&format!(
            "berth.pod={pod}"
        )])
        .contains(&ids[0]))
        .await,
        "DELETE removes the session's container"
    );
    assert!(
        eventually(Duration::from_secs(20), || containers(&[
            &format!("berth.pod={pod}"),
            "berth.server=web"
        ])
        .is_empty())
        .await,
        "idle sessions lose their container"
    );
}

#[tokio::test]
async fn http_servers_stream_progress_and_answer_from_warm_pools() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let pod = pod_of(&berth);
    let pool = [&format!("berth.pod={pod}"), "berth.server=pooled"];
    assert!(
        eventually(Duration::from_secs(20), || containers(&pool).len() == 1).await,
        "the pool is filled"
    );
    let warm = containers(&pool);
    let url = berth.url("demo", "pooled");
    let token = berth.token("alice", "demo", &[]);
    let sid = session(&c, &url, &token).await;
    // The session got the warm container.
    let r = call(&c, &url, &token, &sid, "instance_info", json!({})).await;
    assert!(!text(&r).is_empty());
    assert!(containers(&pool).contains(&warm[0]));
    // Progress notifications come through the server's SSE response, ahead
    // of the result, with the agent's own token.
    let body = json!({"jsonrpc":"2.0","id":"p","method":"tools/call","params":{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":"tok-1"}}}).to_string();
    let r = mcp_post(&c, &url, &token, &body)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let msgs = messages(&ct, &r.text().await.unwrap());
    let progress: Vec<&Value> = msgs
        .iter()
        .filter(|m| m["method"] == "notifications/progress")
        .collect();
    assert!(!progress.is_empty(), "{msgs:?}");
    assert!(
        progress
            .iter()
            .all(|m| m["params"]["progressToken"] == "tok-1")
    );
    let last = msgs.last().unwrap();
    assert_eq!(last["id"], "p");
    assert!(last["result"].is_object(), "{last}");
    // The pool refills.
    assert!(
        eventually(Duration::from_secs(20), || containers(&pool).len() == 2).await,
        "the pool is refilled after a claim"
    );
}

#[tokio::test]
async fn a_server_that_never_listens_fails_only_its_own_session() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let token = berth.token("alice", "demo", &[]);
    let r = init(&c, &berth.url("demo", "deaf"), &token).await;
    let status = r.status();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let body = r.text().await.unwrap();
    let msgs = messages(&ct, &body);
    let err = msgs
        .last()
        .unwrap_or_else(|| panic!("HTTP {status}: {body}"));
    assert_eq!(err["error"]["code"], -32001, "{err}");
    // The working server next to it is unaffected.
    let url = berth.url("demo", "web");
    let sid = session(&c, &url, &token).await;
    let r = call(&c, &url, &token, &sid, "echo", json!({"text":"fine"})).await;
    assert_eq!(text(&r), "fine");
}

#[tokio::test]
async fn granted_egress_adds_a_network_next_to_the_internal_one() {
    let egress = "berth-test-egress";
    let _ = std::process::Command::new("docker")
        .args(["network", "create", egress])
        .output();
    let config = format!(
        "{CONFIG}[servers.demo.online]\nimage = \"berth/example-server-http\"\ntransport = \"http\"\nnetwork = \"{egress}\"\n"
    );
    let berth = Berth::serve(&config, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "online");
    let token = berth.token("alice", "demo", &[]);
    let sid = session(&c, &url, &token).await;
    let r = call(&c, &url, &token, &sid, "echo", json!({"text":"both"})).await;
    assert_eq!(text(&r), "both");
    let pod = pod_of(&berth);
    let ids = containers(&[&format!("berth.pod={pod}"), "berth.server=online"]);
    assert_eq!(ids.len(), 1);
    let mut nets: Vec<String> = inspect(&ids[0])["NetworkSettings"]["Networks"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    nets.sort();
    assert_eq!(nets, ["berth-test-egress", "berth-test-internal"]);
    drop(berth);
    assert!(
        eventually(Duration::from_secs(20), || containers(&[&format!(
            "berth.pod={pod}"
        )])
        .is_empty())
        .await
    );
    let _ = docker(&["network", "rm", egress]);
}
