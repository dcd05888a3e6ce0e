//! The docker backend against a real dockerd (started by scripts/test):
//! per-session hardened containers, labels, caps, warm pools, reaping,
//! orphan sweeping after `kill -9`, and container deaths reported to the
//! agent. Images come from `images/build`.

use std::time::Duration;

use berth_tests::docker::{containers, docker, inspect, pod_of};
use berth_tests::legacy::{call, init, session};
use berth_tests::{Berth, eventually, mcp_post, messages, tool};
use serde_json::{Value, json};

const CONFIG: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
backend = "docker"
[docker]
max_containers_per_tenant = 3
[servers.demo.everything]
image = "berth/example-server"
idle_timeout = "3s"
[servers.acme.everything]
image = "berth/example-server"
[servers.pools.warm]
image = "berth/example-server"
warm_pool = 2
[servers.demo.missing]
image = "berth/no-such-image"
"#;

#[tokio::test]
async fn containers_are_hardened_pinned_and_labelled() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    let token = berth.token("alice", "demo", &[]);
    let sid = session(&c, &url, &token).await;
    let pod = pod_of(&berth);
    let ids = containers(&[&format!("berth.pod={pod}"), "berth.server=everything"]);
    assert_eq!(ids.len(), 1, "one container for one session");
    let info = inspect(&ids[0]);
    let cfg = &info["Config"];
    let host = &info["HostConfig"];
    assert_eq!(cfg["User"], "65534:65534", "non-root");
    assert_eq!(host["ReadonlyRootfs"], true);
    assert!(host["Tmpfs"]["/tmp"].as_str().unwrap().contains("size=64m"));
    assert_eq!(host["CapDrop"], json!(["ALL"]));
    assert!(
        host["SecurityOpt"]
            .to_string()
            .contains("no-new-privileges")
    );
    assert_eq!(host["Init"], true);
    assert_eq!(host["Memory"], 256 * 1024 * 1024);
    assert_eq!(host["NanoCpus"], 1_000_000_000i64);
    assert_eq!(host["PidsLimit"], 128);
    assert_eq!(host["NetworkMode"], "none");
    assert!(
        cfg["Image"].as_str().unwrap().starts_with("sha256:"),
        "pinned by digest: {}",
        cfg["Image"]
    );
    let labels = &cfg["Labels"];
    for key in [
        "berth.managed",
        "berth.tenant",
        "berth.server",
        "berth.session",
        "berth.pod",
        "berth.config-hash",
    ] {
        assert!(labels[key].is_string(), "label {key} missing: {labels}");
    }
    assert_eq!(labels["berth.tenant"], "demo");
    assert_eq!(labels["berth.pod"], pod);
    // The label is a non-secret digest, never the session id itself.
    assert!(!labels.to_string().contains(&sid));
    let r = call(
        &c,
        &url,
        &token,
        &sid,
        "echo",
        json!({"text":"from a container"}),
    )
    .await;
    assert_eq!(r["result"]["content"][0]["text"], "from a container");
}

#[tokio::test]
async fn agents_and_tenants_never_share_a_container_and_delete_removes_it() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let demo = berth.url("demo", "everything");
    let acme = berth.url("acme", "everything");
    let alice = berth.token("alice", "demo", &[]);
    let mallory = berth.token("mallory", "acme", &[]);
    let a1 = session(&c, &demo, &alice).await;
    let a2 = session(&c, &demo, &alice).await;
    let m1 = session(&c, &acme, &mallory).await;
    let pod = pod_of(&berth);
    assert_eq!(
        containers(&[&format!("berth.pod={pod}"), "berth.tenant=demo"]).len(),
        2
    );
    assert_eq!(
        containers(&[&format!("berth.pod={pod}"), "berth.tenant=acme"]).len(),
        1
    );
    let mut seen = std::collections::HashSet::new();
    for (url, tok, sid) in [
        (&demo, &alice, &a1),
        (&demo, &alice, &a2),
        (&acme, &mallory, &m1),
    ] {
        let r = call(&c, url, tok, sid, "instance_info", json!({})).await;
        assert!(
            seen.insert(r["result"]["content"][0]["text"].to_string()),
            "shared instance"
        );
    }
    let r = call(&c, &demo, &alice, &a1, "counter_increment", json!({})).await;
    assert_eq!(r["result"]["content"][0]["text"], "1");
    let r = c
        .delete(&demo)
        .bearer_auth(&alice)
        .header("mcp-session-id", &a1)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert!(
        eventually(Duration::from_secs(15), || containers(&[
            &format!("berth.pod={pod}"),
            "berth.tenant=demo"
        ])
        .len()
            == 1)
        .await,
        "DELETE removes the session's container"
    );
    // Idle past idle_timeout (3s): reaped, container removed.
    assert!(
        eventually(Duration::from_secs(20), || containers(&[
            &format!("berth.pod={pod}"),
            "berth.tenant=demo"
        ])
        .is_empty())
        .await,
        "idle sessions lose their container"
    );
}

#[tokio::test]
async fn a_dying_container_fails_only_its_own_requests() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    let token = berth.token("alice", "demo", &[]);
    let other_url = berth.url("acme", "everything");
    let other_token = berth.token("mallory", "acme", &[]);
    let doomed = session(&c, &url, &token).await;
    let healthy = session(&c, &other_url, &other_token).await;
    let pod = pod_of(&berth);
    let victim = containers(&[&format!("berth.pod={pod}"), "berth.tenant=demo"]);
    assert_eq!(victim.len(), 1);
    let body = json!({"jsonrpc":"2.0","id":"long","method":"tools/call","params":{"name":"sleep_ms","arguments":{"ms":60000}}}).to_string();
    let pending = tokio::spawn(
        mcp_post(&c, &url, &token, &body)
            .header("mcp-session-id", &doomed)
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    docker(&["kill", &victim[0]]);
    let reply = tokio::time::timeout(Duration::from_secs(20), pending)
        .await
        .expect("no hang")
        .unwrap()
        .unwrap();
    let ct = reply.headers()["content-type"].to_str().unwrap().to_owned();
    let msgs = messages(&ct, &reply.text().await.unwrap());
    let last = msgs.last().expect("an answer for the in-flight request");
    assert_eq!(last["id"], "long");
    assert_eq!(last["error"]["code"], -32002, "{last}");
    assert!(
        last["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exited with status 137"),
        "{last}"
    );
    assert_eq!(last["error"]["data"]["retryable"], true);
    let r = call(
        &c,
        &other_url,
        &other_token,
        &healthy,
        "echo",
        json!({"text":"unaffected"}),
    )
    .await;
    assert_eq!(r["result"]["content"][0]["text"], "unaffected");
    assert!(
        eventually(Duration::from_secs(15), || !containers(&[&format!(
            "berth.pod={pod}"
        )])
        .contains(&victim[0]))
        .await,
        "the dead container is removed"
    );
}

#[tokio::test]
async fn caps_answer_503_and_spare_existing_sessions() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("acme", "everything");
    let token = berth.token("mallory", "acme", &[]);
    let mut sids = Vec::new();
    for _ in 0..3 {
        sids.push(session(&c, &url, &token).await);
    }
    let r = init(&c, &url, &token).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = r.json().await.unwrap();
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("docker.max_containers_per_tenant"),
        "{v}"
    );
    // Another tenant is not affected by acme's cap.
    let alice = berth.token("alice", "demo", &[]);
    assert_eq!(
        init(&c, &berth.url("demo", "everything"), &alice)
            .await
            .status(),
        200
    );
    // Existing sessions still work.
    let r = call(
        &c,
        &url,
        &token,
        &sids[0],
        "echo",
        json!({"text":"still served"}),
    )
    .await;
    assert_eq!(r["result"]["content"][0]["text"], "still served");
}

#[tokio::test]
async fn warm_pools_are_kept_full_and_claimed() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let pod = pod_of(&berth);
    let pool = || {
        containers(&[
            &format!("berth.pod={pod}"),
            "berth.server=warm",
            "berth.session=pool",
        ])
    };
    assert!(
        eventually(Duration::from_secs(30), || pool().len() == 2).await,
        "pool filled to 2"
    );
    let ready = pool();
    let c = reqwest::Client::new();
    let token = berth.token("pat", "pools", &[]);
    let url = berth.url("pools", "warm");
    let sid = session(&c, &url, &token).await;
    let r = call(&c, &url, &token, &sid, "echo", json!({"text":"warm"})).await;
    assert_eq!(r["result"]["content"][0]["text"], "warm");
    // The session runs in a container that was in the pool, and the pool
    // is refilled behind it.
    let all = containers(&[&format!("berth.pod={pod}"), "berth.server=warm"]);
    assert!(ready.iter().any(|id| all.contains(id)));
    assert!(
        eventually(Duration::from_secs(30), || containers(&[
            &format!("berth.pod={pod}"),
            "berth.server=warm"
        ])
        .len()
            == 3)
        .await,
        "pool refilled to 2 next to the claimed one"
    );
}

#[tokio::test]
async fn missing_images_give_a_clear_error() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let token = berth.token("alice", "demo", &[]);
    let r = init(&c, &berth.url("demo", "missing"), &token).await;
    let v: Value = r.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("berth/no-such-image") && msg.contains("not on the Docker host"),
        "{msg}"
    );
}

#[tokio::test]
async fn kill_9_leaves_nothing_behind_after_restart() {
    let first = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let token = first.token("alice", "demo", &[]);
    session(&c, &first.url("demo", "everything"), &token).await;
    let pod = pod_of(&first);
    assert!(
        eventually(Duration::from_secs(30), || containers(&[&format!(
            "berth.pod={pod}"
        )])
        .len()
            == 3)
        .await,
        "one session + two pool containers"
    );
    let pid = first.pid();
    let _ = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Whichever pod sweeps next (this test's second pod, or another on this
    // host) removes the dead pod's containers.
    let _second = Berth::serve(CONFIG, &[]).await;
    assert!(
        eventually(Duration::from_secs(30), || containers(&[&format!(
            "berth.pod={pod}"
        )])
        .is_empty())
        .await,
        "the next pod's sweeper removes the dead pod's containers"
    );
    drop(first);
}

#[tokio::test]
async fn an_unreachable_engine_gives_503_and_berth_recovers_when_it_returns() {
    let real = tool("DOCKER_HOST")
        .to_string_lossy()
        .trim_start_matches("unix://")
        .to_owned();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("docker.sock");
    let config = format!(
        "listen = \"127.0.0.1:0\"\nstate_dir = \"{{state_dir}}\"\nbackend = \"docker\"\n[docker]\nhost = \"unix://{}\"\n[servers.demo.everything]\nimage = \"berth/example-server\"\n",
        socket.display()
    );
    let berth = Berth::serve(&config, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    let token = berth.token("alice", "demo", &[]);
    let r = init(&c, &url, &token).await;
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let v: Value = r.json().await.unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("Docker engine") && msg.contains("unreachable"),
        "{msg}"
    );
    // The engine "comes back" at the configured address.
    std::os::unix::fs::symlink(&real, &socket).unwrap();
    let r = init(&c, &url, &token).await;
    assert_eq!(r.status(), 200, "Berth recovers without a restart");
}
