//! Pods sharing a Redis Cluster (`redis+cluster://`, three primaries): a
//! session started on one pod is served by the other, its keys share one
//! slot while sessions spread over the shards, and after a `kill -9` of its
//! pod the session is taken over and its SSE journal replayed from the
//! cluster. A URL naming nodes that are not a cluster stops Berth at start.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use berth_tests::legacy::{resume, session};
use berth_tests::pods::{echo, kill_9, sse_events};
use berth_tests::redis::RedisServer;
use berth_tests::redis_cluster::RedisCluster;
use berth_tests::{Berth, mcp_post, serve_refused};
use serde_json::json;

fn config(store_url: &str) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
state_dir = "{{state_dir}}"
[store]
url = "{store_url}"
[servers.demo.everything]
command = ["{{berth_bin}}", "example-server"]
"#
    )
}

/// The hash tag of a stored key (`berth:demo:s:{HASH}…` → `HASH`).
fn tag(key: &str) -> Option<&str> {
    let (_, rest) = key.split_once('{')?;
    Some(rest.split_once('}')?.0)
}

#[tokio::test]
async fn pods_share_a_redis_cluster_and_survive_a_kill_9() {
    let cluster = RedisCluster::start();
    let cfg = config(&cluster.url());
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let (on_a, on_b) = (a.url("demo", "everything"), b.url("demo", "everything"));

    // Sessions made on pod A, each served by pod B too (forwarded).
    let mut sids = Vec::new();
    for i in 0..12 {
        let sid = session(&c, &on_a, &token).await;
        let said = format!("via b {i}");
        assert_eq!(echo(&c, &on_b, &token, &sid, &said).await, said);
        sids.push(sid);
    }
    // One journaled stream (the event log and its counter).
    let body = json!({"jsonrpc":"2.0","id":"p1","method":"tools/call",
        "params":{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":"t"}}})
    .to_string();
    let r = mcp_post(&c, &on_a, &token, &body)
        .header("mcp-session-id", &sids[0])
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let seen = sse_events(&r.text().await.unwrap());
    assert!(
        seen.len() >= 4,
        "priming, progress and the answer: {seen:?}"
    );

    // Each session's keys carry one hash tag, sit in one slot and on one
    // node; the sessions spread over the shards.
    let mut node_of_tag: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    let mut keys_of_tag: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (port, keys) in cluster.keys_by_node() {
        for key in keys.iter().filter(|k| k.starts_with("berth:demo:")) {
            let t = tag(key).unwrap_or_else(|| panic!("a session key without a hash tag: {key}"));
            node_of_tag.entry(t.to_owned()).or_default().insert(port);
            keys_of_tag
                .entry(t.to_owned())
                .or_default()
                .push(key.clone());
        }
    }
    assert_eq!(node_of_tag.len(), 12, "{keys_of_tag:?}");
    for (t, keys) in &keys_of_tag {
        assert_eq!(node_of_tag[t].len(), 1, "{keys:?}");
        let slots: BTreeSet<u16> = keys.iter().map(|k| cluster.keyslot(k)).collect();
        assert_eq!(slots, BTreeSet::from([cluster.keyslot(t)]), "{keys:?}");
        assert!(
            keys.iter()
                .any(|k| k.starts_with("berth:demo:s:{") && k.ends_with(":lease")),
            "record and its lease: {keys:?}"
        );
    }
    let journaled = keys_of_tag
        .values()
        .find(|keys| keys.iter().any(|k| k.starts_with("berth:demo:e:{")))
        .expect("the journal is in the cluster");
    assert!(
        journaled.iter().any(|k| k.ends_with("}:seq")),
        "{journaled:?}"
    );
    let shards: BTreeSet<u16> = node_of_tag.values().flatten().copied().collect();
    assert!(
        shards.len() >= 2,
        "12 sessions on one shard: {node_of_tag:?}"
    );

    // Pod A dies: pod B takes every session over, replays the journal from
    // the cluster, and serves on.
    kill_9(a.pid());
    let r = resume(&c, &on_b, &token, &sids[0], &seen[1].0).await;
    assert_eq!(r.status(), 200);
    let replayed = tokio::time::timeout(Duration::from_secs(20), r.text())
        .await
        .expect("the replay ends with the answer")
        .unwrap();
    assert_eq!(sse_events(&replayed), seen[2..].to_vec());
    for (i, sid) in sids.iter().enumerate() {
        let said = format!("after {i}");
        assert_eq!(echo(&c, &on_b, &token, sid, &said).await, said);
    }
    assert!(b.log().contains("took over"), "{}", b.log());
}

#[tokio::test]
async fn a_cluster_url_naming_a_plain_redis_stops_berth_at_start() {
    let plain = RedisServer::start();
    let state = tempfile::tempdir().unwrap();
    let cfg = format!(
        r#"
listen = "127.0.0.1:0"
state_dir = "{}"
[store]
url = "redis+cluster://127.0.0.1:{}"
"#,
        state.path().display(),
        plain.port
    );
    let (_, stderr) = serve_refused(&cfg).await;
    assert!(stderr.contains("store.url"), "{stderr}");
    assert!(stderr.contains("is not a Redis Cluster"), "{stderr}");
    assert!(stderr.contains("redis://"), "{stderr}");
}
