//! The sessions API (`/v1/tenants/{t}/sessions`, `berth sessions`): a
//! tenant's hosting sessions on every pod with server, version, subject,
//! instance and owning pod; ending one from another pod stops its
//! instance and the agent gets 404 next time; tenants and agents are kept
//! out.

use std::path::Path;
use std::time::Duration;

use berth_tests::control::api;
use berth_tests::legacy::{call, session};
use berth_tests::pods::registry_pods;
use berth_tests::redis::RedisServer;
use berth_tests::{berth_bin, berth_command, mcp_post, run};
use reqwest::Method;
use serde_json::{Value, json};

#[tokio::test]
async fn admins_see_every_pods_sessions_and_end_one_from_another_pod() {
    let redis = RedisServer::start();
    let (a, b) = registry_pods(&redis).await;
    let c = reqwest::Client::new();
    let alice = a.token("alice", "acme", &["berth:admin"]);
    let bob = a.token("bob", "acme", &["berth:admin"]);
    let server = format!("{}/v1/tenants/acme/servers/files", a.base);
    let doc = json!({"command": [berth_bin(), "example-server"]});
    assert_eq!(
        api(&c, Method::PUT, &server, &alice, Some(doc)).await.0,
        201
    );
    for step in ["approve", "activate"] {
        let (status, body, _) = api(
            &c,
            Method::POST,
            &format!("{server}/versions/1/{step}"),
            &bob,
            None,
        )
        .await;
        assert_eq!(status, 200, "{body}");
    }

    // One session on each pod.
    let carol = a.token("carol", "acme", &[]);
    let dave = a.token("dave", "acme", &[]);
    let url_a = a.url("acme", "files");
    let url_b = b.url("acme", "files");
    tokio::time::sleep(Duration::from_millis(500)).await; // B reads the activation
    let on_a = session(&c, &url_a, &carol).await;
    let on_b = session(&c, &url_b, &dave).await;
    let info = call(&c, &url_a, &carol, &on_a, "instance_info", json!({})).await;
    let pid = info["result"]["structuredContent"]["pid"].as_u64().unwrap();

    // Listed through pod B: both, with server, version, subject, instance, pod.
    let listing = format!("{}/v1/tenants/acme/sessions", b.base);
    let mut sessions = Vec::new();
    for _ in 0..50 {
        let (status, body, _) = api(&c, Method::GET, &listing, &alice, None).await;
        assert_eq!(status, 200, "{body}");
        sessions = body["sessions"].as_array().cloned().unwrap_or_default();
        if sessions.len() >= 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let subjects: Vec<&str> = sessions
        .iter()
        .map(|s| s["subject"].as_str().unwrap())
        .collect();
    assert!(
        subjects.contains(&"carol") && subjects.contains(&"dave"),
        "{sessions:?}"
    );
    let carols = sessions.iter().find(|s| s["subject"] == "carol").unwrap();
    assert_eq!(carols["server"], "files");
    assert_eq!(carols["version"], 1);
    assert_eq!(carols["instance"], format!("pid:{pid}"));
    let pods: Vec<&Value> = sessions.iter().map(|s| &s["pod"]).collect();
    assert_ne!(pods[0], pods[1], "one per pod: {sessions:?}");
    assert!(
        !carols["id"].as_str().unwrap().contains(&on_a),
        "never the agent's session id"
    );

    // Other tenants and agents are kept out.
    let eve = a.token("eve", "globex", &["berth:admin"]);
    assert_eq!(api(&c, Method::GET, &listing, &eve, None).await.0, 404);
    assert_eq!(api(&c, Method::GET, &listing, &carol, None).await.0, 403);
    let id = carols["id"].as_str().unwrap().to_owned();
    let end_on_b = format!("{listing}/{id}");
    assert_eq!(api(&c, Method::DELETE, &end_on_b, &eve, None).await.0, 404);

    // Ended through pod B (the owner is A), with the CLI: A's instance
    // stops and carol's next request is 404, as for an ended session.
    let (code, out, err) = run(
        berth_command()
            .args(["sessions", "end", "acme", &id])
            .env("BERTH_URL", &b.base)
            .env("BERTH_TOKEN", &alice),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("ended") && out.contains("carol"), "{out}");
    assert!(
        berth_tests::eventually(Duration::from_secs(10), || !Path::new(&format!(
            "/proc/{pid}"
        ))
        .exists())
        .await,
        "the ended session's instance kept running"
    );
    let next = mcp_post(
        &c,
        &url_a,
        &carol,
        r#"{"jsonrpc":"2.0","id":9,"method":"tools/list"}"#,
    )
    .header("mcp-session-id", &on_a)
    .send()
    .await
    .unwrap();
    assert_eq!(next.status(), 404);
    assert!(
        a.log().contains("session.ended_by_admin"),
        "audit event missing"
    );
    let r = call(
        &c,
        &url_b,
        &dave,
        &on_b,
        "echo",
        json!({"text": "still here"}),
    )
    .await;
    assert_eq!(
        r["result"]["content"][0]["text"], "still here",
        "only that session ended"
    );

    let (code, out, _) = run(
        berth_command()
            .args(["sessions", "list", "acme"])
            .env("BERTH_URL", &a.base)
            .env("BERTH_TOKEN", &alice),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(code, Some(0));
    assert!(out.contains("dave") && !out.contains("carol"), "{out}");
}
