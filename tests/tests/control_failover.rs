//! A rollout and a failover together: a session that started on version
//! 1 stays on version 1 when its pod dies after version 2 was activated
//! (the pod that takes it over starts version 1's deployment, held to
//! version 1's approved capabilities), while new sessions get version 2.
//! Idle pods poll a small change marker, not the registry index.

use std::time::Duration;

use berth_tests::berth_bin;
use berth_tests::control::{api, release};
use berth_tests::legacy::{call, init_reply, request, session};
use berth_tests::pods::{kill_9, registry_pods};
use berth_tests::redis::RedisServer;
use reqwest::Method;
use serde_json::{Value, json};

/// Deploys `RELEASE = release` as the next version of acme/files through
/// `base`, approves and activates it; returns the version.
async fn roll_out(c: &reqwest::Client, base: &str, alice: &str, bob: &str, release: &str) -> u64 {
    let server = format!("{base}/v1/tenants/acme/servers/files");
    let doc = json!({"command": [berth_bin(), "example-server"], "env": {"RELEASE": release}});
    let (status, body, _) = api(c, Method::PUT, &server, alice, Some(doc)).await;
    assert_eq!(status, 201, "{body}");
    let version = body["version"].as_u64().unwrap();
    for step in ["approve", "activate"] {
        let url = format!("{server}/versions/{version}/{step}");
        let (status, body, _) = api(c, Method::POST, &url, bob, None).await;
        assert_eq!(status, 200, "{body}");
    }
    version
}

/// Whether `url` starts a session for `token` within 5 s (a registry
/// change reaching a pod).
async fn serves(c: &reqwest::Client, url: &str, token: &str) -> bool {
    for _ in 0..50 {
        if init_reply(c, url, token).await["result"].is_object() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Carol's sessions as the sessions API lists them through `base`.
async fn carols_sessions(c: &reqwest::Client, base: &str, alice: &str) -> Vec<Value> {
    let listing = format!("{base}/v1/tenants/acme/sessions");
    let (status, body, _) = api(c, Method::GET, &listing, alice, None).await;
    assert_eq!(status, 200, "{body}");
    body["sessions"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|s| s["subject"] == "carol")
        .collect()
}

#[tokio::test]
async fn a_session_taken_over_after_a_rollout_keeps_its_version() {
    let redis = RedisServer::start();
    let (a, b) = registry_pods(&redis).await;
    let c = reqwest::Client::new();
    let alice = a.token("alice", "acme", &["berth:admin"]);
    let bob = a.token("bob", "acme", &["berth:admin"]);
    let carol = a.token("carol", "acme", &[]);
    let (url_a, url_b) = (a.url("acme", "files"), b.url("acme", "files"));

    assert_eq!(roll_out(&c, &a.base, &alice, &bob, "one").await, 1);
    assert!(
        serves(&c, &url_a, &carol).await,
        "pod A never served version 1"
    );
    let sid = session(&c, &url_a, &carol).await;
    assert_eq!(release(&c, &url_a, &carol, &sid).await, "one");
    let info = call(&c, &url_a, &carol, &sid, "instance_info", json!({})).await;
    let first_pid = info["result"]["structuredContent"]["pid"].as_u64().unwrap();

    // Version 2 goes live on both pods; new sessions get it.
    assert_eq!(roll_out(&c, &a.base, &alice, &bob, "two").await, 2);
    let mut on_two = false;
    for _ in 0..50 {
        if !init_reply(&c, &url_b, &carol).await["result"].is_object() {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        let fresh = session(&c, &url_b, &carol).await;
        if release(&c, &url_b, &carol, &fresh).await == "two" {
            on_two = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(on_two, "pod B never served version 2");
    let before = carols_sessions(&c, &a.base, &alice).await;
    let pod_a = before
        .iter()
        .find(|s| s["version"] == 1)
        .map(|s| s["pod"].clone())
        .unwrap_or_else(|| panic!("the version 1 session is not listed: {before:?}"));

    // Its pod dies; pod B takes the session over on version 1, not on the
    // active version 2.
    kill_9(a.pid());
    assert_eq!(
        release(&c, &url_b, &carol, &sid).await,
        "one",
        "a session taken over after a rollout moved to the new version"
    );
    let info = call(&c, &url_b, &carol, &sid, "instance_info", json!({})).await;
    let pid = info["result"]["structuredContent"]["pid"].as_u64().unwrap();
    assert_ne!(
        pid, first_pid,
        "a new process (the process backend cannot re-attach)"
    );
    assert!(
        b.log().contains("took over a session whose pod is gone"),
        "{}",
        b.log()
    );
    // The tools it lists are version 1's approved ones (the guard holds
    // it to version 1, so nothing is hidden).
    let listed = request(&c, &url_b, &carol, &sid, "tools/list", json!({})).await;
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("{listed}"))
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(
        names.contains(&"env_get") && names.contains(&"echo"),
        "{listed}"
    );

    // The sessions API shows it on pod B, still version 1.
    let instance = format!("pid:{pid}");
    let mut moved = None;
    for _ in 0..50 {
        moved = carols_sessions(&c, &b.base, &alice)
            .await
            .into_iter()
            .find(|s| s["instance"] == instance.as_str());
        if moved.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let moved = moved.expect("the taken-over session is not listed");
    assert_eq!(moved["version"], 1, "{moved}");
    assert_ne!(moved["pod"], pod_a, "{moved}");
}

/// What Redis was asked for `secs` seconds (`MONITOR`), lowercased.
fn monitor(port: u16, secs: u64) -> String {
    let out = std::process::Command::new("timeout")
        .args([
            &secs.to_string(),
            "redis-cli",
            "-p",
            &port.to_string(),
            "monitor",
        ])
        .output()
        .expect("timeout redis-cli monitor");
    String::from_utf8_lossy(&out.stdout).to_lowercase()
}

/// How many `GET key` lines `log` holds.
fn gets(log: &str, key: &str) -> usize {
    let get = format!("\"get\" \"{key}\"");
    log.lines().filter(|l| l.contains(&get)).count()
}

#[tokio::test]
async fn idle_pods_read_the_registry_index_only_after_it_changed() {
    // The index lists every server; polling it 4 times a second per pod
    // would cost Redis bandwidth in proportion to servers x pods.
    let redis = RedisServer::start();
    let (a, b) = registry_pods(&redis).await;
    let c = reqwest::Client::new();
    let alice = a.token("alice", "acme", &["berth:admin"]);
    let bob = a.token("bob", "acme", &["berth:admin"]);
    let carol = a.token("carol", "acme", &[]);
    // Past each pod's first read of the index.
    tokio::time::sleep(Duration::from_secs(1)).await;

    let port = redis.port;
    let idle = tokio::task::spawn_blocking(move || monitor(port, 2))
        .await
        .unwrap();
    assert!(
        gets(&idle, "berth:registry:changed") >= 8,
        "both pods poll the marker:\n{idle}"
    );
    assert_eq!(
        gets(&idle, "berth:registry:index"),
        0,
        "idle pods read the index:\n{idle}"
    );

    // A change made through pod A reaches pod B through the marker.
    assert_eq!(roll_out(&c, &a.base, &alice, &bob, "one").await, 1);
    assert!(
        serves(&c, &b.url("acme", "files"), &carol).await,
        "pod B never served the server deployed through pod A"
    );
    let marker = redis.cli(&["GET", "berth:registry:changed"]);
    assert_eq!(marker.trim().len(), 32, "{marker}");
}
