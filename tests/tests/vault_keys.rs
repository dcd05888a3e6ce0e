//! Session sealing keys from a real OpenBao (`keys.vault_path`): every pod
//! reads the same keys at start, a rotation written to Vault (new key
//! first, old after it) keeps existing sessions on new pods, a pod
//! without the old keys cannot open them, and a pod that cannot read its
//! keys refuses to start.

use berth_tests::legacy::session;
use berth_tests::pods::{echo, kill_9};
use berth_tests::redis::RedisServer;
use berth_tests::vault::Bao;
use berth_tests::{Berth, mcp_post};
use serde_json::json;

fn config(
    bao: &Bao,
    role: &berth_tests::vault::AppRole,
    redis: &RedisServer,
    path: &str,
) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
state_dir = "{{state_dir}}"
[store]
url = "{store}"
[keys]
vault_path = "{path}"
{vault}
[servers.acme.echo]
command = ["{{berth_bin}}", "example-server"]
"#,
        store = redis.url(),
        vault = bao.config(role),
    )
}

fn key(id: &str, byte: u8) -> String {
    format!("{id}:{}", hex::encode([byte; 32]))
}

#[tokio::test]
async fn session_keys_come_from_vault_and_rotate_without_dropping_sessions() {
    let bao = Bao::start().await;
    let role = bao.approle("berth", "1h", "4h").await;
    let (m1, b1, m2, b2) = (key("m1", 1), key("b1", 2), key("m2", 3), key("b2", 4));
    bao.put("berth/session-keys", json!({"master": m1, "bind": b1}))
        .await;
    let redis = RedisServer::start();
    let a = Berth::serve(&config(&bao, &role, &redis, "berth/session-keys"), &[]).await;
    assert!(
        a.log().contains("session keys read from Vault"),
        "{}",
        a.log()
    );
    let c = reqwest::Client::new();
    let alice = a.token("alice", "acme", &[]);
    let sid = session(&c, &a.url("acme", "echo"), &alice).await;
    assert!(
        sid.ends_with(".b1"),
        "the session id names its bind key: {sid}"
    );
    assert_eq!(
        echo(&c, &a.url("acme", "echo"), &alice, &sid, "on a").await,
        "on a"
    );

    // Rotation: new keys first, the old ones after them.
    bao.put(
        "berth/session-keys",
        json!({"master": format!("{m2},{m1}"), "bind": format!("{b2},{b1}")}),
    )
    .await;
    let b = Berth::serve_like(&a, &config(&bao, &role, &redis, "berth/session-keys"), &[]).await;
    kill_9(a.pid());
    // The session made under m1/b1 goes on on the rotated pod.
    assert_eq!(
        echo(&c, &b.url("acme", "echo"), &alice, &sid, "on b").await,
        "on b"
    );
    let fresh = session(&c, &b.url("acme", "echo"), &alice).await;
    assert!(
        fresh.ends_with(".b2"),
        "new sessions use the new bind key: {fresh}"
    );

    // A pod holding only the new keys cannot find the old session.
    bao.put("berth/only-new", json!({"master": m2, "bind": b2}))
        .await;
    let only_new = Berth::serve_like(&b, &config(&bao, &role, &redis, "berth/only-new"), &[]).await;
    let body = json!({"jsonrpc":"2.0","id":3,"method":"tools/list"}).to_string();
    let r = mcp_post(&c, &only_new.url("acme", "echo"), &alice, &body)
        .header("mcp-session-id", &sid)
        .header("mcp-protocol-version", "2025-11-25")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "{}", r.text().await.unwrap());
    // ...and the dump holds no key material.
    let dump = redis.dump_everything();
    for k in [&m1, &b1, &m2, &b2] {
        assert!(!dump.contains(&k[3..]), "Redis holds a key");
    }
}

#[tokio::test]
async fn a_pod_that_cannot_read_its_keys_from_vault_does_not_start() {
    let bao = Bao::start().await;
    let role = bao.approle("berth", "1h", "4h").await;
    let redis = RedisServer::start();
    // Nothing at the path: a clear error naming the key, and no start.
    let text = config(&bao, &role, &redis, "berth/missing")
        .replace("{state_dir}", "/tmp")
        .replace("{berth_bin}", "x");
    let (_, stderr) = berth_tests::serve_refused(&text).await;
    assert!(
        stderr.contains("keys.vault_path") && stderr.contains("berth/missing"),
        "{stderr}"
    );
}
