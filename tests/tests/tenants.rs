//! Who may reach what, as an attacker would try it (the door itself —
//! tokens only from the `Authorization` header, challenges, metadata — is
//! in `tenants_door.rs`): tenants (`acme`, `globex`, which both run a server called `echo`) and
//! their users stay apart: another tenant's token is 403; another tenant's
//! or user's session id is 404; another session's `Last-Event-ID` replays
//! nothing of it; Redis keeps each tenant's records under its own prefix;
//! and a globex principal is never handed an acme container. Refusals leave
//! log lines naming the tenant. The docker test needs the dockerd and
//! images `scripts/test` provides, the Redis test `redis-server`.

use std::time::Duration;

use berth_tests::docker::{containers, inspect, pod_of};
use berth_tests::legacy::{INIT, call, resume, session};
use berth_tests::pods::{modern, text};
use berth_tests::redis::RedisServer;
use berth_tests::tenancy::{CONFIG, DOCKER, METHODS, audit_events, with_session};
use berth_tests::{Berth, eventually, first_event, mcp_post};
use reqwest::Method;
use serde_json::{Value, json};

/// Calls `test_tool_with_progress` in `sid` with JSON-RPC id and progress
/// token `marker`, keeps the first event and drops the stream; returns the
/// event's id.
async fn lose_a_stream(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    sid: &str,
    marker: &str,
) -> String {
    let body = json!({"jsonrpc":"2.0","id":marker,"method":"tools/call",
        "params":{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":marker}}})
    .to_string();
    let r = mcp_post(c, url, token, &body)
        .header("mcp-session-id", sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let (text, id) = first_event(r).await;
    assert!(text.contains(marker), "{text}");
    id.expect("the first event has an id")
}

/// The body of a resumed stream (empty for a refusal), and its status.
async fn replay(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    sid: &str,
    last: &str,
) -> (u16, String) {
    let r = resume(c, url, token, sid, last).await;
    let status = r.status().as_u16();
    let body = tokio::time::timeout(Duration::from_secs(10), r.text())
        .await
        .expect("a replay ends with its stream's response")
        .unwrap_or_default();
    (status, body)
}

// --- tenants and users apart (issue 5 item 3) ---

#[tokio::test]
async fn a_token_of_one_tenant_is_refused_at_another_tenants_server() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let globex = berth.url("globex", "echo");
    let acme_alice = berth.token("alice", "acme", &[]);
    let globex_alice = berth.token("alice", "globex", &[]);
    let sid = session(&c, &globex, &globex_alice).await;
    // acme's token at globex's server, even with a real globex session id
    // and the same subject name: 403 on every method.
    let r = mcp_post(&c, &globex, &acme_alice, INIT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body = r.text().await.unwrap();
    assert!(body.contains("tenant"), "{body}");
    for method in METHODS {
        let r = with_session(&c, method.clone(), &globex, &acme_alice, &sid)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{method}");
    }
    // The globex session was not touched: its counter starts at 1.
    let r = call(
        &c,
        &globex,
        &globex_alice,
        &sid,
        "counter_increment",
        json!({}),
    )
    .await;
    assert_eq!(text(&r), "1");
    // Each refusal is an audit event naming both tenants.
    let log = berth.log();
    let refused: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("\"event\":\"tenant.refused\"") && l.contains("berth::audit"))
        .collect();
    assert_eq!(refused.len(), 4, "{log}");
    assert!(
        refused
            .iter()
            .all(|l| l.contains("\"tenant\":\"globex\"") && l.contains("\"token_tenant\":\"acme\"")),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_session_id_of_one_tenant_is_unknown_to_another_tenant() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let acme = berth.url("acme", "echo");
    let globex = berth.url("globex", "echo");
    let acme_alice = berth.token("alice", "acme", &[]);
    // Same subject name, other tenant, same server name.
    let globex_alice = berth.token("alice", "globex", &[]);
    let sid = session(&c, &acme, &acme_alice).await;
    assert_eq!(
        text(&call(&c, &acme, &acme_alice, &sid, "counter_increment", json!({})).await),
        "1"
    );
    for method in METHODS {
        let r = with_session(&c, method.clone(), &globex, &globex_alice, &sid)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{method}");
    }
    // acme's session went on untouched (no increment, not deleted).
    assert_eq!(
        text(&call(&c, &acme, &acme_alice, &sid, "counter_increment", json!({})).await),
        "2"
    );
    // Each attempt is an audit event naming globex, never the session id.
    let refused: Vec<Value> = audit_events(&berth)
        .into_iter()
        .filter(|e| e["event"] == "session.refused")
        .collect();
    assert_eq!(refused.len(), 3, "{refused:?}");
    for e in &refused {
        assert_eq!(e["tenant"], "globex", "{e}");
        assert_eq!(e["server"], "echo", "{e}");
        assert_eq!(e["subject"], "alice", "{e}");
        assert!(!e.to_string().contains(&sid), "{e}");
    }
}

#[tokio::test]
async fn a_session_id_of_one_user_is_unknown_to_another_user_of_the_tenant() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let acme = berth.url("acme", "echo");
    let alice = berth.token("alice", "acme", &[]);
    let bob = berth.token("bob", "acme", &[]);
    let sid = session(&c, &acme, &alice).await;
    for method in METHODS {
        let r = with_session(&c, method.clone(), &acme, &bob, &sid)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{method}");
    }
    // Nor at another server of the tenant, for alice herself.
    let scoped = berth.token("alice", "acme", &["mcp:tools:call"]);
    let r = with_session(
        &c,
        Method::POST,
        &berth.url("acme", "scoped"),
        &scoped,
        &sid,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(
        text(&call(&c, &acme, &alice, &sid, "counter_increment", json!({})).await),
        "1"
    );
    let refused: Vec<Value> = audit_events(&berth)
        .into_iter()
        .filter(|e| e["event"] == "session.refused")
        .collect();
    assert_eq!(refused.len(), 4, "{refused:?}");
    assert!(refused.iter().all(|e| e["tenant"] == "acme"), "{refused:?}");
    assert_eq!(refused.iter().filter(|e| e["subject"] == "bob").count(), 3);
}

/// An agent's view of one session: endpoint, token, session id.
struct Seat {
    url: String,
    token: String,
    sid: String,
}

impl Seat {
    async fn open(c: &reqwest::Client, url: String, token: String) -> Seat {
        let sid = session(c, &url, &token).await;
        Seat { url, token, sid }
    }
}

/// Both sessions lose a stream with the same number; the attacker then
/// presents the victim's event id on its own session (at most its own
/// events) and with the victim's session id (404). The victim's own resume
/// still has `private`, so there was something to steal.
async fn stolen_event_id_replays_nothing(
    c: &reqwest::Client,
    victim: &Seat,
    attacker: &Seat,
    private: &str,
) {
    let stolen = lose_a_stream(c, &victim.url, &victim.token, &victim.sid, private).await;
    let own = lose_a_stream(c, &attacker.url, &attacker.token, &attacker.sid, "own-51b2").await;
    assert_eq!(
        stolen.split('_').next(),
        own.split('_').next(),
        "precondition: the attacker's session has a stream with the stolen id's number"
    );
    let (status, body) = replay(c, &attacker.url, &attacker.token, &attacker.sid, &stolen).await;
    assert!(status == 200 || status == 404, "{status}");
    assert!(
        !body.contains(private),
        "the victim's events leaked: {body}"
    );
    let (status, body) = replay(c, &attacker.url, &attacker.token, &victim.sid, &stolen).await;
    assert_eq!(status, 404);
    assert!(!body.contains(private), "{body}");
    let (status, body) = replay(c, &victim.url, &victim.token, &victim.sid, &stolen).await;
    assert_eq!(status, 200);
    assert!(body.contains(private), "{body}");
}

#[tokio::test]
async fn a_last_event_id_of_another_tenants_session_replays_none_of_its_events() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let acme = Seat::open(
        &c,
        berth.url("acme", "echo"),
        berth.token("alice", "acme", &[]),
    )
    .await;
    let globex = Seat::open(
        &c,
        berth.url("globex", "echo"),
        berth.token("alice", "globex", &[]),
    )
    .await;
    stolen_event_id_replays_nothing(&c, &acme, &globex, "acme-private-7f3a").await;
}

#[tokio::test]
async fn a_last_event_id_of_another_users_session_replays_none_of_its_events() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let alice = Seat::open(
        &c,
        berth.url("acme", "echo"),
        berth.token("alice", "acme", &[]),
    )
    .await;
    let bob = Seat::open(
        &c,
        berth.url("acme", "echo"),
        berth.token("bob", "acme", &[]),
    )
    .await;
    stolen_event_id_replays_nothing(&c, &alice, &bob, "alice-private-c4d9").await;
}

#[tokio::test]
async fn redis_keeps_each_tenants_sessions_under_its_own_prefix() {
    let redis = RedisServer::start();
    let cfg = CONFIG.replace(
        "[servers.acme.echo]",
        &format!("[store]\nurl = \"{}\"\n[servers.acme.echo]", redis.url()),
    );
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let acme_alice = a.token("alice", "acme", &[]);
    let globex_alice = a.token("alice", "globex", &[]);
    let acme_sid = session(&c, &a.url("acme", "echo"), &acme_alice).await;
    let stolen = lose_a_stream(
        &c,
        &a.url("acme", "echo"),
        &acme_alice,
        &acme_sid,
        "acme-private-93e1",
    )
    .await;
    let keys = |pattern: &str| -> Vec<String> {
        redis
            .cli(&["--scan", "--pattern", pattern])
            .lines()
            .map(str::to_owned)
            .collect()
    };
    let acme_keys = keys("berth:acme:*");
    assert!(
        acme_keys.iter().any(|k| k.starts_with("berth:acme:s:")),
        "{acme_keys:?}"
    );
    assert!(keys("berth:globex:*").is_empty());
    let globex_sid = session(&c, &a.url("globex", "echo"), &globex_alice).await;
    let globex_keys = keys("berth:globex:*");
    assert!(
        globex_keys.iter().any(|k| k.starts_with("berth:globex:s:")),
        "{globex_keys:?}"
    );
    // Every session record and event log is under its tenant's prefix; no
    // key names a session id or a subject.
    let all = keys("*");
    let session_keys: Vec<&String> = all
        .iter()
        .filter(|k| k.contains(":s:") || k.contains(":e:"))
        .collect();
    assert!(session_keys.len() >= 3, "two records and a log: {all:?}");
    for key in session_keys {
        assert!(
            key.starts_with("berth:acme:") || key.starts_with("berth:globex:"),
            "{key}"
        );
    }
    for key in &all {
        assert!(
            !key.contains(&acme_sid) && !key.contains(&globex_sid) && !key.contains("alice"),
            "{key}"
        );
    }
    // Pod B knows the sessions only through Redis: acme's session id and
    // event id are still nothing to globex's alice there.
    let on_b = b.url("globex", "echo");
    for method in METHODS {
        let r = with_session(&c, method.clone(), &on_b, &globex_alice, &acme_sid)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{method}");
    }
    let (status, body) = replay(&c, &on_b, &globex_alice, &acme_sid, &stolen).await;
    assert_eq!(status, 404);
    assert!(!body.contains("acme-private-93e1"), "{body}");
    let (_, body) = replay(&c, &on_b, &globex_alice, &globex_sid, &stolen).await;
    assert!(!body.contains("acme-private-93e1"), "{body}");
    // acme's alice reaches her session through pod B.
    let r = call(
        &c,
        &b.url("acme", "echo"),
        &acme_alice,
        &acme_sid,
        "echo",
        json!({"text":"mine"}),
    )
    .await;
    assert_eq!(text(&r), "mine");
}

#[tokio::test]
async fn a_globex_principal_is_never_handed_an_acme_container() {
    let berth = Berth::serve(DOCKER, &[]).await;
    let c = reqwest::Client::new();
    let pod = pod_of(&berth);
    let acme_pool = [
        format!("berth.pod={pod}"),
        "berth.tenant=acme".to_owned(),
        "berth.session=pool".to_owned(),
    ];
    let acme_pool: Vec<&str> = acme_pool.iter().map(String::as_str).collect();
    assert!(
        eventually(Duration::from_secs(30), || containers(&acme_pool).len()
            == 1)
        .await,
        "acme's warm pool is filled"
    );
    let warm = containers(&acme_pool).remove(0);
    // Same server name, same image, same limits: only the tenant differs,
    // and acme has a started container waiting.
    let globex = berth.url("globex", "shared");
    let acme = berth.url("acme", "shared");
    let globex_alice = berth.token("alice", "globex", &[]);
    let sid = session(&c, &globex, &globex_alice).await;
    for expected in ["1", "2"] {
        let r = call(
            &c,
            &globex,
            &globex_alice,
            &sid,
            "counter_increment",
            json!({}),
        )
        .await;
        assert_eq!(text(&r), expected);
    }
    let globex_host = text(
        &call(
            &c,
            &globex,
            &globex_alice,
            &sid,
            "env_get",
            json!({"name":"HOSTNAME"}),
        )
        .await,
    );
    // A 2026-07-28 globex principal too.
    let globex_bob = berth.token("bob", "globex", &[]);
    let bob_host = text(
        &modern(
            &c,
            &globex,
            &globex_bob,
            "tools/call",
            json!({"name":"env_get","arguments":{"name":"HOSTNAME"}}),
        )
        .await,
    );
    for (who, hostname) in [("alice", &globex_host), ("bob", &bob_host)] {
        assert!(
            !hostname.is_empty() && !warm.starts_with(hostname.as_str()),
            "{who} got acme's warm container"
        );
        let serving: Vec<String> = containers(&[&format!("berth.pod={pod}")])
            .into_iter()
            .filter(|id| id.starts_with(hostname.as_str()))
            .collect();
        assert_eq!(serving.len(), 1, "{who}: {hostname}");
        let labels = &inspect(&serving[0])["Config"]["Labels"];
        assert_eq!(labels["berth.tenant"], "globex", "{who}: {labels}");
        assert_eq!(labels["berth.server"], "shared", "{who}: {labels}");
    }
    assert_ne!(globex_host, bob_host, "two principals, two containers");
    // acme's alice (same subject name) gets the warm acme container, with
    // its own counter.
    let acme_alice = berth.token("alice", "acme", &[]);
    let acme_sid = session(&c, &acme, &acme_alice).await;
    let r = call(
        &c,
        &acme,
        &acme_alice,
        &acme_sid,
        "counter_increment",
        json!({}),
    )
    .await;
    assert_eq!(text(&r), "1", "acme's counter is its own");
    let acme_host = text(
        &call(
            &c,
            &acme,
            &acme_alice,
            &acme_sid,
            "env_get",
            json!({"name":"HOSTNAME"}),
        )
        .await,
    );
    assert!(
        warm.starts_with(acme_host.as_str()),
        "{warm} vs {acme_host}"
    );
    let r = call(&c, &globex, &globex_alice, &sid, "counter_get", json!({})).await;
    assert_eq!(text(&r), "2", "globex's counter is its own");
}
