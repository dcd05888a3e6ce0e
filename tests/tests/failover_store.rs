//! The Redis store under stress: a primary failover under Sentinel,
//! corrupt records, Redis down, proof that it holds nothing in the clear,
//! and the store over TLS (`rediss://` with a private CA and a client
//! certificate; an untrusted server refused; a bad CA file refused at start;
//! certificates rotated while Berth runs).

use std::time::Duration;

use berth_tests::legacy::init_reply;
use berth_tests::legacy::{call, session};
use berth_tests::pki::{Pki, plain_and_tls_ports};
use berth_tests::pods::{TwoPods, config, echo, kill_9, text};
use berth_tests::redis::RedisServer;
use berth_tests::{Berth, mcp_post, serve_refused};
use serde_json::{Value, json};

#[tokio::test]
async fn sessions_survive_a_redis_primary_failover_under_sentinel() {
    let mut primary = RedisServer::start();
    let replica = RedisServer::replica_of(&primary);
    let sentinel = RedisServer::sentinel(&primary, "berth", 1);
    let cfg = format!(
        r#"
listen = "127.0.0.1:0"
state_dir = "{{state_dir}}"
[store]
url = "redis+sentinel://127.0.0.1:{}/berth"
min_replicas_acked = 1
[servers.demo.everything]
command = ["{{berth_bin}}", "example-server"]
"#,
        sentinel.port
    );
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    // Acknowledged (a replica holds it) before the agent gets the id.
    let sid = session(&c, &a.url("demo", "everything"), &token).await;
    primary.kill();
    assert!(
        berth_tests::eventually(Duration::from_secs(30), || sentinel.primary_port("berth")
            == Some(replica.port))
        .await,
        "Sentinel promotes the replica"
    );
    // The session's pod dies too: pod B finds the record on the promoted
    // replica and takes the session over.
    kill_9(a.pid());
    // Until Berth's store sees the promoted primary, calls get -32003
    // `retryable`, which an agent retries.
    let mut r = Value::Null;
    for _ in 0..40 {
        r = call(
            &c,
            &b.url("demo", "everything"),
            &token,
            &sid,
            "echo",
            json!({"text":"after failover"}),
        )
        .await;
        if r["error"]["code"] != -32003 {
            break;
        }
        assert_eq!(r["error"]["data"]["retryable"], true, "{r}");
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(text(&r), "after failover", "{r}");
    // With no replica left, a new session cannot be made durable: it is
    // refused with a clear, retryable 503 rather than handed out at risk.
    let r = berth_tests::legacy::init(&c, &b.url("demo", "everything"), &token).await;
    assert_eq!(r.status(), 503);
    let body = r.text().await.unwrap();
    assert!(body.contains("replicas acknowledged"), "{body}");
}

#[tokio::test]
async fn corrupt_or_truncated_records_are_unknown_sessions_not_errors() {
    let TwoPods {
        redis,
        a,
        b,
        c,
        token,
    } = TwoPods::start("process").await;
    let first = session(&c, &a.url("demo", "everything"), &token).await;
    let second = session(&c, &a.url("demo", "everything"), &token).await;
    kill_9(a.pid());
    let records: Vec<String> = redis
        .cli(&["--scan", "--pattern", "berth:demo:s:*"])
        .lines()
        .filter(|k| !k.ends_with(":lease"))
        .map(str::to_owned)
        .collect();
    assert_eq!(records.len(), 2, "two session records");
    // One record overwritten with garbage, the other cut in half.
    redis.cli(&["SET", &records[0], "not a sealed record"]);
    let halve = "local v = redis.call('GET', KEYS[1]); \
                 return redis.call('SET', KEYS[1], string.sub(v, 1, math.floor(#v / 2)), 'KEEPTTL')";
    assert_eq!(redis.cli(&["EVAL", halve, "1", &records[1]]).trim(), "OK");
    for sid in [&first, &second] {
        let r = mcp_post(
            &c,
            &b.url("demo", "everything"),
            &token,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        )
        .header("mcp-session-id", sid.as_str())
        .send()
        .await
        .unwrap();
        assert_eq!(r.status(), 404, "{}", r.text().await.unwrap());
    }
    assert!(b.log().contains("unusable session record"));
    // Pod B is fine: new sessions work.
    let sid = session(&c, &b.url("demo", "everything"), &token).await;
    assert_eq!(
        echo(&c, &b.url("demo", "everything"), &token, &sid, "ok").await,
        "ok"
    );
}

#[tokio::test]
async fn redis_holds_nothing_in_the_clear() {
    let redis = RedisServer::start();
    let cfg = config(&redis, "process");
    let a = Berth::serve(&cfg, &[]).await;
    let c = reqwest::Client::new();
    let subject = "subject-5a1d-plaintext-probe";
    let token = a.token(subject, "demo", &[]);
    let url = a.url("demo", "everything");
    let sid = session(&c, &url, &token).await;
    let argument = "argument-93fe-plaintext-probe";
    assert_eq!(echo(&c, &url, &token, &sid, argument).await, argument);
    // A slow call is answered over SSE, so its events are journaled too.
    let progress_token = "progress-77c2-plaintext-probe";
    let request_id = "request-0b4e-plaintext-probe";
    let body = json!({"jsonrpc":"2.0","id":request_id,"method":"tools/call",
        "params":{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":progress_token}}})
    .to_string();
    let r = mcp_post(&c, &url, &token, &body)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    let streamed = r.text().await.unwrap();
    assert!(streamed.contains(progress_token), "{streamed}");
    assert!(redis.key_count() >= 3, "a record, a lease and a journal");
    let blob = redis.dump_everything();
    for secret in [
        sid.as_str(),
        subject,
        argument,
        token.as_str(),
        "alice",
        progress_token,
        request_id,
    ] {
        assert!(!blob.contains(secret), "`{secret}` is in Redis:\n{blob}");
    }
    // Not even the client's name from `initialize` (it is in the record).
    assert!(!blob.contains("berth-tests"), "{blob}");
}

#[tokio::test]
async fn redis_down_gives_503_and_berth_recovers() {
    let mut redis = RedisServer::start();
    let port = redis.port;
    let cfg = config(&redis, "process");
    let a = Berth::serve(&cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let url = a.url("demo", "everything");
    let sid = session(&c, &url, &token).await;
    redis.kill();
    let r = mcp_post(&c, &url, &token, berth_tests::legacy::INIT)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 503);
    assert!(r.headers().contains_key("retry-after"));
    let body = r.text().await.unwrap();
    assert!(body.contains("session store unavailable"), "{body}");
    // The open session goes on from the pod's hot map.
    assert_eq!(echo(&c, &url, &token, &sid, "still").await, "still");
    let _again = RedisServer::start_on(port);
    let mut ok = false;
    for _ in 0..50 {
        let r = mcp_post(&c, &url, &token, berth_tests::legacy::INIT)
            .send()
            .await
            .unwrap();
        if r.status() == 200 {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ok, "new sessions work again once Redis is back");
}

/// `[store]` for a `rediss://` URL at `port` trusting `ca`, with the PKI's
/// client certificate.
fn tls_config(pki: &Pki, port: u16, ca: &str) -> String {
    let files = [pki.path(ca), pki.path("client.pem"), pki.path("client.key")];
    tls_config_of(port, &files, "")
}

/// A pod on the TLS Redis at `port` with `[ca, cert, key]` files and
/// `extra` store keys, serving `demo/everything`.
fn tls_config_of(port: u16, [ca, cert, key]: &[std::path::PathBuf; 3], extra: &str) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
state_dir = "{{state_dir}}"
[store]
url = "rediss://127.0.0.1:{port}"
tls_ca_file = "{}"
tls_cert_file = "{}"
tls_key_file = "{}"
{extra}
[servers.demo.everything]
command = ["{{berth_bin}}", "example-server"]
"#,
        ca.display(),
        cert.display(),
        key.display()
    )
}

/// A Redis serving TLS (and requiring client certificates of the PKI's
/// CA) on the port returned, and plain on its own for the helpers.
fn tls_redis() -> (Pki, RedisServer, u16) {
    let pki = Pki::new();
    let (plain_port, tls_port) = plain_and_tls_ports();
    let args = pki.server_args(tls_port, "server", true);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let redis = RedisServer::start_with(plain_port, &args);
    (pki, redis, tls_port)
}

#[tokio::test]
async fn sessions_live_in_redis_over_tls_and_an_untrusted_server_is_refused() {
    let (pki, redis, tls_port) = tls_redis();

    let a = Berth::serve(&tls_config(&pki, tls_port, "ca.pem"), &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let url = a.url("demo", "everything");
    let sid = session(&c, &url, &token).await;
    assert_eq!(echo(&c, &url, &token, &sid, "over tls").await, "over tls");
    let records = redis.cli(&["--scan", "--pattern", "berth:demo:s:*"]);
    assert!(!records.trim().is_empty(), "the session is in Redis");

    // A pod told to trust another CA never sends the server anything: the
    // session cannot start, and the log says what to fix.
    let b = Berth::serve(&tls_config(&pki, tls_port, "other-ca.pem"), &[]).await;
    let reply = init_reply(&c, &b.url("demo", "everything"), &token).await;
    assert!(reply.get("error").is_some(), "{reply}");
    assert!(
        b.log().contains("store.tls_ca_file"),
        "{reply}\n{}",
        b.log()
    );

    // A CA file that holds no certificate stops Berth at start.
    let state = tempfile::tempdir().unwrap();
    let not_a_ca = state.path().join("ca.pem");
    std::fs::write(&not_a_ca, "not a certificate\n").unwrap();
    let cfg = format!(
        "state_dir = \"{}\"\n[store]\nurl = \"rediss://127.0.0.1:{tls_port}\"\n\
         tls_ca_file = \"{}\"\n",
        state.path().display(),
        not_a_ca.display()
    );
    let (_, stderr) = serve_refused(&cfg).await;
    assert!(
        stderr.contains("store.tls_ca_file") && stderr.contains("no PEM certificate"),
        "{stderr}"
    );
}

/// Replaces `to` with `from` as a Kubernetes Secret volume does: a new
/// file renamed over the old, so a reader never sees half of one.
fn install(from: &[u8], to: &std::path::Path) {
    let tmp = to.with_extension("new");
    std::fs::write(&tmp, from).unwrap();
    std::fs::rename(&tmp, to).unwrap();
}

/// Waits (up to 20 s) until `berth`'s log contains `what`.
async fn log_says(berth: &Berth, what: &str) {
    for _ in 0..200 {
        if berth.log().contains(what) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the log never said {what:?}:\n{}", berth.log());
}

#[tokio::test]
async fn store_certificates_rotated_while_berth_runs_are_used_without_a_restart() {
    let (pki, redis, tls_port) = tls_redis();
    // The files Berth is told about, as a mounted Secret holds them.
    let live = tempfile::tempdir().unwrap();
    let (ca, cert, key) = (
        live.path().join("ca.crt"),
        live.path().join("tls.crt"),
        live.path().join("tls.key"),
    );
    install(&pki.read("ca.pem"), &ca);
    install(&pki.read("client.pem"), &cert);
    install(&pki.read("client.key"), &key);
    let files = [ca.clone(), cert.clone(), key.clone()];
    let cfg = tls_config_of(tls_port, &files, "tls_reload_interval = \"200ms\"");
    let a = Berth::serve(&cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let url = a.url("demo", "everything");
    let sid = session(&c, &url, &token).await;
    assert_eq!(echo(&c, &url, &token, &sid, "before").await, "before");
    // Drops Berth's connections. The operation that finds its connection
    // broken fails (retryable: it is never sent twice) and the next one
    // connects again.
    let kill_connections = || async {
        redis.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
        let reply = init_reply(&c, &url, &token).await;
        if let Some(e) = reply.get("error") {
            assert_eq!(e["data"]["retryable"], true, "{reply}");
        }
    };

    // A key file caught half-written is refused, and the certificates in
    // use are kept: Berth reconnects with them.
    install(b"-----BEGIN PRIVATE KEY-----\nMII", &key);
    log_says(&a, "cannot be used").await;
    assert!(a.log().contains("store.tls_key_file"), "{}", a.log());
    kill_connections().await;
    let kept = session(&c, &url, &token).await;
    assert_eq!(echo(&c, &url, &token, &kept, "kept").await, "kept");

    // Redis moves to another CA (its certificate, and the client
    // certificates it accepts), its clients are disconnected, and the
    // Secret gets the new CA and client certificate.
    let file = |name: &str| pki.path(name).display().to_string();
    let set = redis.cli(&[
        "CONFIG",
        "SET",
        "tls-cert-file",
        &file("other-server.pem"),
        "tls-key-file",
        &file("other-server.key"),
        "tls-ca-cert-file",
        &file("other-ca.pem"),
    ]);
    assert_eq!(set.trim(), "OK", "{set}");
    redis.cli(&["CLIENT", "KILL", "TYPE", "normal"]);
    install(&pki.read("other-ca.pem"), &ca);
    install(&pki.read("other-client.pem"), &cert);
    install(&pki.read("other-client.key"), &key);
    log_says(&a, "new Redis connections use them").await;
    let after = session(&c, &url, &token).await;
    assert_eq!(echo(&c, &url, &token, &after, "rotated").await, "rotated");
    assert_eq!(echo(&c, &url, &token, &sid, "still").await, "still");
    let records = redis.cli(&["--scan", "--pattern", "berth:demo:s:*"]);
    assert!(records.lines().count() >= 3, "{records}");
}
