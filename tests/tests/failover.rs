//! Pods sharing one Redis: a session started on one pod is served by any
//! pod (forwarded to its owner), survives `kill -9` of its pod (taken over,
//! the same container re-attached, or a new process re-initialized), stays
//! bound to its user, and Redis never holds anything in the clear.

use std::time::Duration;

use berth_tests::docker::{containers, inspect, pod_of};
use berth_tests::legacy::{call, session};
use berth_tests::redis::RedisServer;
use berth_tests::{Berth, first_event, mcp_post, messages, tool};
use serde_json::{Value, json};

fn config(redis: &RedisServer, backend: &str) -> String {
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

fn text(reply: &Value) -> String {
    reply["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("no text in {reply}"))
        .to_owned()
}

/// Calls `echo` with `said`; returns what came back.
async fn echo(c: &reqwest::Client, url: &str, token: &str, sid: &str, said: &str) -> String {
    text(&call(c, url, token, sid, "echo", json!({ "text": said })).await)
}

async fn counter(c: &reqwest::Client, url: &str, token: &str, sid: &str) -> String {
    text(&call(c, url, token, sid, "counter_increment", json!({})).await)
}

#[tokio::test]
async fn a_docker_session_survives_its_pod_with_the_same_container() {
    let _ = tool("DOCKER_HOST");
    let redis = RedisServer::start();
    let cfg = config(&redis, "docker");
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let on_a = a.url("demo", "everything");
    let on_b = b.url("demo", "everything");
    let sid = session(&c, &on_a, &token).await;
    assert_eq!(counter(&c, &on_a, &token, &sid).await, "1");
    // Pod B forwards to the owner: same container, same counter.
    assert_eq!(counter(&c, &on_b, &token, &sid).await, "2");
    let pod_a = pod_of(&a);
    let before = containers(&[&format!("berth.pod={pod_a}")]);
    assert_eq!(before.len(), 1);
    // Another user holding the session id gets 404 on either pod.
    let bob = a.token("bob", "demo", &[]);
    let r = mcp_post(
        &c,
        &on_b,
        &bob,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
    )
    .header("mcp-session-id", &sid)
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404);

    // kill -9 the owner; the next call on B waits for the lease to lapse,
    // takes over and re-attaches the very same container.
    let pid = a.pid();
    kill_9(pid);
    assert_eq!(counter(&c, &on_b, &token, &sid).await, "3");
    // The counter went on (3 after 2): the very container pod A started
    // serves the session, still running.
    assert_eq!(
        inspect(&before[0])["State"]["Running"],
        true,
        "the same container serves the session"
    );
    assert!(b.log().contains("taking over a session whose pod is gone"));
    // And the session goes on normally on B.
    assert_eq!(counter(&c, &on_b, &token, &sid).await, "4");
    drop(b);
    drop(a);
}

#[tokio::test]
async fn a_session_on_a_warm_pool_container_keeps_it_after_its_pod_dies() {
    let _ = tool("DOCKER_HOST");
    let redis = RedisServer::start();
    let cfg = format!(
        r#"
listen = "127.0.0.1:0"
state_dir = "{{state_dir}}"
backend = "docker"
[store]
url = "{}"
[docker]
sweep_every = "1s"
[servers.demo.pooled]
image = "berth/example-server"
warm_pool = 1
"#,
        redis.url()
    );
    let a = Berth::serve(&cfg, &[]).await;
    let pod_a = pod_of(&a);
    let pool = [
        format!("berth.pod={pod_a}"),
        "berth.session=pool".to_owned(),
    ];
    let pool: Vec<&str> = pool.iter().map(String::as_str).collect();
    assert!(
        berth_tests::eventually(Duration::from_secs(20), || containers(&pool).len() == 1).await
    );
    let warm = containers(&pool);
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let sid = session(&c, &a.url("demo", "pooled"), &token).await;
    assert_eq!(
        counter(&c, &a.url("demo", "pooled"), &token, &sid).await,
        "1"
    );
    kill_9(a.pid());
    // Pod B sweeps every second while the lease lapses; the claimed pool
    // container (labelled `pool`, not with its session) must survive.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        inspect(&warm[0])["State"]["Running"],
        true,
        "the claimed container was swept"
    );
    assert_eq!(
        counter(&c, &b.url("demo", "pooled"), &token, &sid).await,
        "2"
    );
}

#[tokio::test]
async fn a_graceful_stop_hands_docker_sessions_over_at_once() {
    let _ = tool("DOCKER_HOST");
    let redis = RedisServer::start();
    let cfg = format!(
        "{}[cluster]\nhandoff_on_shutdown = true\n",
        config(&redis, "docker")
    );
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let on_a = a.url("demo", "everything");
    let on_b = b.url("demo", "everything");
    let sid = session(&c, &on_a, &token).await;
    assert_eq!(counter(&c, &on_a, &token, &sid).await, "1");
    let pod_a = pod_of(&a);
    let before = containers(&[&format!("berth.pod={pod_a}")]);
    assert_eq!(before.len(), 1);
    // SIGTERM (a rolling update): pod A lets go of the container and its
    // lease; pod B re-attaches without waiting for a lease to lapse.
    assert_eq!(a.stop().await, Some(0));
    assert_eq!(
        containers(&[&format!("berth.pod={pod_a}")]),
        before,
        "the container outlives its pod"
    );
    assert_eq!(counter(&c, &on_b, &token, &sid).await, "2");
    assert!(
        !b.log().contains("waiting for its lease to lapse"),
        "the lease was released, not left to lapse"
    );
    // The agent ends the session: the container goes with it.
    let r = c
        .delete(&on_b)
        .bearer_auth(&token)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    assert!(
        berth_tests::eventually(Duration::from_secs(15), || containers(&[&format!(
            "berth.pod={pod_a}"
        )])
        .is_empty())
        .await
    );
}

#[tokio::test]
async fn a_process_session_is_reinitialized_on_another_pod() {
    let redis = RedisServer::start();
    let cfg = config(&redis, "process");
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let on_a = a.url("demo", "everything");
    let on_b = b.url("demo", "everything");
    let sid = session(&c, &on_a, &token).await;
    assert_eq!(echo(&c, &on_a, &token, &sid, "before").await, "before");
    kill_9(a.pid());
    // Same session id, no new initialize from the agent: Berth replays the
    // stored initialize to a new process on B.
    assert_eq!(echo(&c, &on_b, &token, &sid, "after").await, "after");
    let body = json!({"jsonrpc":"2.0","id":9,"method":"tools/list"}).to_string();
    let r = mcp_post(&c, &on_b, &token, &body)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let listed = messages(&ct, &r.text().await.unwrap()).pop().unwrap();
    assert!(listed["result"]["tools"].as_array().unwrap().len() > 3);
}

#[tokio::test]
async fn an_http_transport_session_is_reinitialized_on_another_pod() {
    let _ = tool("DOCKER_HOST");
    let redis = RedisServer::start();
    let cfg = config(&redis, "docker");
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let sid = session(&c, &a.url("demo", "web"), &token).await;
    assert_eq!(
        echo(&c, &a.url("demo", "web"), &token, &sid, "a").await,
        "a"
    );
    kill_9(a.pid());
    // The server's own HTTP session died with pod A's bridge: pod B starts
    // a fresh container and replays the agent's initialize to it.
    assert_eq!(
        echo(&c, &b.url("demo", "web"), &token, &sid, "b").await,
        "b"
    );
    let pod_a = pod_of(&a);
    assert!(
        containers(&[&format!("berth.pod={pod_a}"), "berth.server=web"]).is_empty(),
        "the dead pod's container is removed"
    );
}

#[tokio::test]
async fn a_stream_lost_on_one_pod_resumes_on_another() {
    let redis = RedisServer::start();
    let cfg = config(&redis, "process");
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let on_a = a.url("demo", "everything");
    let sid = session(&c, &on_a, &token).await;
    let body = json!({"jsonrpc":"2.0","id":"p1","method":"tools/call",
        "params":{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":"t"}}})
    .to_string();
    let r = mcp_post(&c, &on_a, &token, &body)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    // Read the first event with data from pod A, then lose the stream.
    let (_, last_id) = first_event(r).await;
    let last_id = last_id.expect("the first event has an id");
    // Resume on pod B: it forwards to the owner, which replays the rest of
    // the stream, the response included.
    let r = c
        .get(b.url("demo", "everything"))
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .header("last-event-id", &last_id)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let rest = tokio::time::timeout(Duration::from_secs(10), r.text())
        .await
        .expect("the resumed stream ends with the response")
        .unwrap();
    let msgs = messages("text/event-stream", &rest);
    let last = msgs.last().expect("events after Last-Event-ID");
    assert_eq!(last["id"], "p1", "{rest}");
    assert!(last["result"].is_object(), "{rest}");
    // Another user cannot resume it, on either pod.
    let bob = a.token("bob", "demo", &[]);
    let r = c
        .get(b.url("demo", "everything"))
        .bearer_auth(&bob)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", &sid)
        .header("last-event-id", &last_id)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
}

/// The `(id, data)` of each event with an id in an SSE body.
fn sse_events(body: &str) -> Vec<(String, String)> {
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

/// `GET` with `Last-Event-ID`: resume a stream.
async fn resume(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    sid: &str,
    last_event_id: &str,
) -> reqwest::Response {
    c.get(url)
        .bearer_auth(token)
        .header("accept", "text/event-stream")
        .header("mcp-session-id", sid)
        .header("last-event-id", last_event_id)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_stream_is_replayed_by_another_pod_after_its_pod_died() {
    let redis = RedisServer::start();
    let cfg = config(&redis, "process");
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let (on_a, on_b) = (a.url("demo", "everything"), b.url("demo", "everything"));
    let sid = session(&c, &on_a, &token).await;
    let body = json!({"jsonrpc":"2.0","id":"p1","method":"tools/call",
        "params":{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":"t"}}})
    .to_string();
    let r = mcp_post(&c, &on_a, &token, &body)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let seen = sse_events(&r.text().await.unwrap());
    assert!(
        seen.len() >= 4,
        "priming, progress and the answer: {seen:?}"
    );
    assert!(seen.last().unwrap().1.contains(r#""id":"p1""#), "{seen:?}");

    // Pod A dies. Pod B takes the session over and replays, from its
    // journal in Redis, every event after the agent's Last-Event-ID: the
    // same ids, the same messages, the answer included.
    kill_9(a.pid());
    let r = resume(&c, &on_b, &token, &sid, &seen[1].0).await;
    assert_eq!(r.status(), 200);
    let replayed = tokio::time::timeout(Duration::from_secs(20), r.text())
        .await
        .expect("the replay ends with the answer")
        .unwrap();
    assert_eq!(sse_events(&replayed), seen[2..].to_vec());
    // Replays are bound to the user: another one gets 404.
    let bob = a.token("bob", "demo", &[]);
    assert_eq!(
        resume(&c, &on_b, &bob, &sid, &seen[1].0).await.status(),
        404
    );
    // A made-up event id of this session finds nothing to replay.
    let r = resume(&c, &on_b, &token, &sid, "424242_1").await;
    assert_eq!(r.status(), 404);
    assert_eq!(echo(&c, &on_b, &token, &sid, "on").await, "on");
}

#[tokio::test]
async fn a_call_in_flight_when_its_pod_died_gets_a_retryable_error() {
    let _ = tool("DOCKER_HOST");
    let redis = RedisServer::start();
    let cfg = config(&redis, "docker");
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let (on_a, on_b) = (a.url("demo", "everything"), b.url("demo", "everything"));
    let sid = session(&c, &on_a, &token).await;
    assert_eq!(counter(&c, &on_a, &token, &sid).await, "1");
    let body = json!({"jsonrpc":"2.0","id":"slow-1","method":"tools/call",
        "params":{"name":"sleep_ms","arguments":{"ms":20000}}})
    .to_string();
    let r = mcp_post(&c, &on_a, &token, &body)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    // The slow answer switches to SSE with a priming event; read just that.
    let priming = {
        use futures::StreamExt;
        let mut stream = r.bytes_stream();
        let mut text = String::new();
        while !text.contains("\n\n") {
            let chunk = stream.next().await.expect("a priming event").unwrap();
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        sse_events(&text).remove(0).0
    };

    // Its pod dies mid-call. Resuming on B answers the request with an
    // error that says it may be retried, under the agent's own id.
    kill_9(a.pid());
    let r = resume(&c, &on_b, &token, &sid, &priming).await;
    assert_eq!(r.status(), 200);
    let rest = tokio::time::timeout(Duration::from_secs(20), r.text())
        .await
        .expect("the stream ends")
        .unwrap();
    let answer = messages("text/event-stream", &rest)
        .pop()
        .expect("an answer");
    assert_eq!(answer["id"], "slow-1", "{rest}");
    assert_eq!(answer["error"]["data"]["retryable"], true, "{rest}");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("may be retried"), "{message}");
    // The session carries on in the same container.
    assert_eq!(counter(&c, &on_b, &token, &sid).await, "2");
}

#[tokio::test]
async fn a_stalled_pod_lets_go_of_a_session_another_pod_took_over() {
    let redis = RedisServer::start();
    let cfg = config(&redis, "process");
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let (on_a, on_b) = (a.url("demo", "everything"), b.url("demo", "everything"));
    let sid = session(&c, &on_a, &token).await;
    assert_eq!(echo(&c, &on_a, &token, &sid, "1").await, "1");
    assert_eq!(children(a.pid()).len(), 1, "pod A runs the server");

    // Pod A stalls: it accepts connections but answers nothing and stops
    // renewing its lease. B gives up forwarding once the lease lapses and
    // takes the session over with a new server process.
    signal(a.pid(), "-STOP");
    assert_eq!(echo(&c, &on_b, &token, &sid, "2").await, "2");
    assert_eq!(children(b.pid()).len(), 1, "pod B runs the server now");
    signal(a.pid(), "-CONT");

    // A wakes up, finds its lease taken and lets go of its server process.
    let mut left = children(a.pid());
    for _ in 0..100 {
        if left.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        left = children(a.pid());
    }
    assert!(left.is_empty(), "pod A still runs {left:?}:\n{}", a.log());
    assert!(a.log().contains("lost a session lease to another pod"));
    // Requests reaching A go to the session's new owner.
    assert_eq!(echo(&c, &on_a, &token, &sid, "3").await, "3");
    assert_eq!(children(b.pid()).len(), 1);
}

/// Pids of a process's children.
fn children(pid: u32) -> Vec<String> {
    let out = std::process::Command::new("pgrep")
        .args(["-P", &pid.to_string()])
        .output()
        .expect("pgrep");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(str::to_owned)
        .collect()
}

fn signal(pid: u32, sig: &str) {
    let status = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
}

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
    let redis = RedisServer::start();
    let cfg = config(&redis, "process");
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
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

fn kill_9(pid: u32) {
    signal(pid, "-9");
}
