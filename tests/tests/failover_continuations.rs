//! Multi-round-trip 2026-07-28 requests across pods sharing one Redis: a
//! call Berth parked while its agent answers an `input_required` result
//! (the server asked an elicitation mid-call) is sealed in the store, so
//! the agent's retry completes on another pod, also after the parking pod
//! was `kill -9`ed (the pod that takes the session over re-attaches the
//! container, answers the server's question and hands the retry the
//! server's real answer). A `requestState` is used once, on any pod; a call
//! whose process died with its pod is reported lost at once.

use std::time::Duration;

use berth_tests::docker::{containers, inspect, pod_of};
use berth_tests::pods::{config, kill_9, text};
use berth_tests::redis::RedisServer;
use berth_tests::{Berth, eventually, mcp_post, messages, tool};
use serde_json::{Value, json};

/// The session-era example server, asking for a name mid-call.
const TOOL: &str = "test_input_required_result_elicitation";

/// A pod's config: the example server of the session era as
/// `demo/asks` (Berth translates its questions into input_required).
fn asks_config(redis: &RedisServer, backend: &str) -> String {
    let asks = if backend == "docker" {
        "[servers.demo.asks]\nimage = \"berth/example-server\"\ncommand = [\"--sessions-only\"]\n"
    } else {
        "[servers.demo.asks]\ncommand = [\"{berth_bin}\", \"example-server\", \"--sessions-only\"]\n"
    };
    // Sweeps every second (the leftover check below).
    let base = config(redis, backend).replace("[docker]\n", "[docker]\nsweep_every = \"1s\"\n");
    format!("{base}{asks}")
}

/// One 2026-07-28 `tools/call` of [`TOOL`] by an agent that can answer
/// elicitations; `extra` adds params (`inputResponses`, `requestState`).
/// Returns the HTTP status and the final message.
async fn ask(c: &reqwest::Client, url: &str, token: &str, extra: Value) -> (u16, Value) {
    let mut params = json!({
        "name": TOOL,
        "arguments": {},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
        },
    });
    if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    let body = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params});
    let r = tokio::time::timeout(
        Duration::from_secs(90),
        mcp_post(c, url, token, &body.to_string())
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", TOOL)
            .send(),
    )
    .await
    .expect("Berth answers (no hang)")
    .expect("Berth answers");
    let status = r.status().as_u16();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let reply = messages(&ct, &r.text().await.unwrap())
        .pop()
        .expect("an answer");
    (status, reply)
}

/// Starts the call: the server asks for the user's name. Returns the
/// `requestState` and the answer to send back with it.
async fn start_call(c: &reqwest::Client, url: &str, token: &str) -> (Value, Value) {
    let (status, first) = ask(c, url, token, json!({})).await;
    assert_eq!(status, 200, "{first}");
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{first}");
    assert_eq!(
        result["inputRequests"]["user_name"]["method"], "elicitation/create",
        "{first}"
    );
    let state = result["requestState"].clone();
    assert!(
        state.as_str().is_some_and(|s| s.starts_with("v1.")),
        "{first}"
    );
    let answer = json!({
        "requestState": state,
        "inputResponses": {"user_name": {"action": "accept", "content": {"name": "Alice"}}},
    });
    (state, answer)
}

/// Keys whose TTL is within the park time (5 minutes): parked calls (session
/// records live 10 minutes, leases seconds).
fn parked_calls(redis: &RedisServer) -> usize {
    redis
        .cli(&["--scan"])
        .lines()
        .filter(|key| {
            let ms: i64 = redis.cli(&["PTTL", key]).trim().parse().unwrap_or(-1);
            (60_000..=300_000).contains(&ms)
        })
        .count()
}

/// The agent's error for a refused replay.
fn assert_refused(status: u16, reply: &Value) {
    assert_eq!(status, 400, "{reply}");
    assert_eq!(reply["error"]["code"], -32602, "{reply}");
    let message = reply["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("already used"), "{reply}");
}

#[tokio::test]
async fn a_call_parked_on_one_pod_is_completed_by_a_retry_sent_to_another() {
    let _ = tool("DOCKER_HOST");
    let redis = RedisServer::start();
    let cfg = asks_config(&redis, "docker");
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let (on_a, on_b) = (a.url("demo", "asks"), b.url("demo", "asks"));

    let (_, answer) = start_call(&c, &on_a, &token).await;
    assert_eq!(parked_calls(&redis), 1, "the parked call is in Redis");
    let blob = redis.dump_everything();
    for clear in ["alice", "What is your name", "user_name"] {
        assert!(!blob.contains(clear), "{clear} in Redis in the clear");
    }
    // The retry reaches pod B while pod A, which parked the call, is alive.
    let retried = std::time::Instant::now();
    let (status, done) = ask(&c, &on_b, &token, answer.clone()).await;
    eprintln!("retry through pod B (forwarded): {:?}", retried.elapsed());
    assert_eq!(status, 200, "{done}");
    assert_eq!(text(&done), "Hello, Alice!", "{done}");
    assert_eq!(parked_calls(&redis), 0, "used up");
    // Used once: replayed on either pod, it is refused.
    let (status, again) = ask(&c, &on_b, &token, answer.clone()).await;
    assert_refused(status, &again);
    let (status, again) = ask(&c, &on_a, &token, answer).await;
    assert_refused(status, &again);
    drop(b);
    drop(a);
}

#[tokio::test]
async fn a_parked_call_survives_the_kill_of_its_pod_and_is_used_only_once() {
    let _ = tool("DOCKER_HOST");
    let redis = RedisServer::start();
    let cfg = asks_config(&redis, "docker");
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c3 = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let (on_a, on_b, on_c) = (
        a.url("demo", "asks"),
        b.url("demo", "asks"),
        c3.url("demo", "asks"),
    );

    let (_, answer) = start_call(&c, &on_a, &token).await;
    let pod_a = pod_of(&a);
    let asking = containers(&[&format!("berth.pod={pod_a}"), "berth.server=asks"]);
    assert_eq!(asking.len(), 1, "pod A runs the server");

    // Pod A dies while the server waits for the answer. Pod B takes the
    // session over, re-attaches the very container, answers the server's
    // question and hands the retry the server's real answer.
    kill_9(a.pid());
    let killed = std::time::Instant::now();
    let (status, done) = ask(&c, &on_b, &token, answer.clone()).await;
    // A figure for the report (the lease lapse dominates), not asserted.
    eprintln!(
        "kill -9 to the parked call's answer on pod B: {:?}",
        killed.elapsed()
    );
    assert_eq!(status, 200, "{done}\n{}", b.log());
    assert_eq!(text(&done), "Hello, Alice!", "{done}");
    assert_eq!(inspect(&asking[0])["State"]["Running"], true);
    // Pod A's finding of the server's era is in the store: pod B started
    // no container of its own just to ask it again.
    let on_pod_b = format!("berth.pod={}", pod_of(&b));
    assert_eq!(
        containers(&[&on_pod_b]),
        Vec::<String>::new(),
        "{}",
        b.log()
    );
    assert!(
        b.log().contains("resumed a call parked by another pod"),
        "{}",
        b.log()
    );
    // Replayed on B: refused.
    let (status, again) = ask(&c, &on_b, &token, answer.clone()).await;
    assert_refused(status, &again);

    // Pod B dies too; pod C takes over (same container again), and the
    // requestState pod C never saw is still refused: its use is recorded
    // in the store, not in a pod.
    kill_9(b.pid());
    let (status, again) = ask(&c, &on_c, &token, answer).await;
    assert_refused(status, &again);
    assert_eq!(inspect(&asking[0])["State"]["Running"], true);
    // The agent starts over on C and is asked again, as new.
    let (_, answer) = start_call(&c, &on_c, &token).await;
    let (status, done) = ask(&c, &on_c, &token, answer).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(text(&done), "Hello, Alice!", "{done}");

    // A pod killed between stopping a container and removing it (say,
    // one whose session was closed) leaves it exited, with the lease of a
    // session pod C now holds. Pod C's sweeper removes it; the container
    // serving the session stays.
    let mut run = vec!["run".to_owned()];
    let labels = inspect(&asking[0])["Config"]["Labels"].clone();
    for (k, v) in labels.as_object().expect("labels") {
        let v = if k == "berth.pod" {
            pod_of(&b)
        } else {
            v.as_str().unwrap_or_default().to_owned()
        };
        run.extend(["--label".to_owned(), format!("{k}={v}")]);
    }
    // Its id from --cidfile: the sweeper may remove it before a listing
    // here would see it.
    let cid_dir = tempfile::tempdir().unwrap();
    let cid_file = cid_dir.path().join("cid");
    run.extend([
        "--rm=false".to_owned(),
        format!("--cidfile={}", cid_file.display()),
        "berth/example-server".to_owned(),
    ]);
    // No stdin: the server reads end-of-file and exits (status 1).
    let exited = std::process::Command::new("docker")
        .args(&run)
        .output()
        .expect("docker CLI");
    assert_eq!(exited.status.code(), Some(1), "{exited:?}");
    let leftover = std::fs::read_to_string(&cid_file).expect("docker run wrote the container id");
    assert!(!leftover.trim().is_empty(), "the exited leftover was made");
    let gone = |id: &str| {
        !std::process::Command::new("docker")
            .args(["inspect", "--type", "container", id])
            .output()
            .expect("docker CLI")
            .status
            .success()
    };
    assert!(
        eventually(Duration::from_secs(30), || gone(leftover.trim())).await,
        "pod C's sweeper removes the exited container of dead pod B"
    );
    assert!(containers(&[&on_pod_b]).is_empty());
    assert_eq!(inspect(&asking[0])["State"]["Running"], true);
    drop(c3);
}

#[tokio::test]
async fn a_parked_process_call_lost_with_its_pod_says_so_at_once() {
    let redis = RedisServer::start();
    let cfg = asks_config(&redis, "process");
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = a.token("alice", "demo", &[]);
    let (on_a, on_b) = (a.url("demo", "asks"), b.url("demo", "asks"));

    let (_, answer) = start_call(&c, &on_a, &token).await;
    // The server process dies with its pod: the parked call cannot go on.
    kill_9(a.pid());
    let (status, lost) = ask(&c, &on_b, &token, answer.clone()).await;
    assert_eq!(status, 400, "{lost}");
    assert_eq!(lost["error"]["code"], -32602, "{lost}");
    assert_eq!(lost["error"]["data"]["reason"], "lost", "{lost}");
    let message = lost["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.contains("was lost") && message.contains("start the request again"),
        "{lost}"
    );
    // Once said, it is used up: the same retry is now simply refused.
    let (status, again) = ask(&c, &on_b, &token, answer).await;
    assert_refused(status, &again);
    // Starting over works on the new process.
    let (_, answer) = start_call(&c, &on_b, &token).await;
    let (status, done) = ask(&c, &on_b, &token, answer).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(text(&done), "Hello, Alice!", "{done}");
}
