//! A stdio server whose answer is over `limits.max_message_bytes`: the
//! request it answered fails at once with an error naming the limit and
//! the key to raise, not at the request timeout (set long here, so a
//! timeout would be a different answer, -32001, long after); the line is
//! never kept whole, and the session goes on. Through the process backend
//! (`hostile-server`'s `giant` tool) and the docker backend (the example
//! server's `echo` of a long text), whose stdout reaches the line reader
//! in the engine's chunks.

use std::time::Instant;

use berth_tests::legacy::{call, session};
use berth_tests::pods::{modern, text};
use berth_tests::{Berth, berth_bin, mcp_post, messages, tool};
use serde_json::{Value, json};

const PROCESS: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
[limits]
request_timeout = "120s"
max_message_bytes = 1048576
[servers.demo.hostile]
command = ["{hostile}"]
"#;

const DOCKER: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
backend = "docker"
[limits]
request_timeout = "120s"
max_message_bytes = 16384
[servers.demo.everything]
image = "berth/example-server"
"#;

/// Calls `tool` in session `sid` under JSON-RPC id `id`; the last message.
async fn call_as(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    sid: &str,
    id: u64,
    tool: &str,
    args: Value,
) -> Value {
    let body = json!({"jsonrpc":"2.0","id":id,"method":"tools/call",
        "params":{"name":tool,"arguments":args}});
    let r = mcp_post(c, url, token, &body.to_string())
        .header("mcp-session-id", sid)
        .send()
        .await
        .unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let mut all = messages(&ct, &r.text().await.unwrap());
    let last = all.pop().expect("an answer");
    assert_eq!(last["id"], id, "{last}");
    last
}

/// Asserts `reply` is the oversized-answer error (not a timeout).
fn assert_over_limit(reply: &Value, limit: usize) {
    let error = &reply["error"];
    assert_eq!(error["code"], -32603, "not the framing error: {reply}");
    let message = error["message"].as_str().unwrap_or_default();
    assert!(
        message.contains(&format!("over the {limit}-byte limit"))
            && message.contains("limits.max_message_bytes"),
        "the error names the limit and the key to raise: {message}"
    );
    assert_eq!(error["data"]["retryable"], false, "{reply}");
}

#[tokio::test]
async fn an_oversized_answer_fails_its_request_at_once_and_the_session_goes_on() {
    let hostile = berth_bin().with_file_name("hostile-server");
    let config = PROCESS.replace("{hostile}", hostile.to_str().unwrap());
    let berth = Berth::serve(&config, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "hostile");
    let alice = berth.token("alice", "demo", &[]);
    let sid = session(&c, &url, &alice).await;
    // A slow request is pending when the giant answer to another arrives.
    let slow = {
        let (c, url, alice, sid) = (c.clone(), url.clone(), alice.clone(), sid.clone());
        tokio::spawn(async move {
            call(
                &c,
                &url,
                &alice,
                &sid,
                "slow",
                json!({"ms": 1500, "text": "a"}),
            )
            .await
        })
    };
    let started = Instant::now();
    let giant = call_as(
        &c,
        &url,
        &alice,
        &sid,
        5,
        "giant",
        json!({"bytes": 2 << 20}),
    )
    .await;
    let took = started.elapsed();
    assert_over_limit(&giant, 1_048_576);
    eprintln!("oversized answer failed after {took:?} (request_timeout 120s)");
    // Only that request failed: the pending one is answered as usual ...
    let slow = slow.await.unwrap();
    assert_eq!(text(&slow), "slow answer: a", "{slow}");
    // ... just under the limit is delivered whole, and the session goes on.
    let near = call(&c, &url, &alice, &sid, "giant", json!({"bytes": 900_000})).await;
    assert_eq!(text(&near).len(), 900_000);
    let echo = call(
        &c,
        &url,
        &alice,
        &sid,
        "echo",
        json!({"text": "still here"}),
    )
    .await;
    assert_eq!(text(&echo), "still here");
    assert!(
        berth.log().contains("dropped an oversized server message"),
        "Berth's log names the dropped message"
    );

    // The same through a 2026-07-28 request (Berth initializes the
    // session-era server on the agent's behalf).
    let bob = berth.token("bob", "demo", &[]);
    let params = json!({"name": "giant", "arguments": {"bytes": 2 << 20}});
    let giant = modern(&c, &url, &bob, "tools/call", params).await;
    assert_over_limit(&giant, 1_048_576);
    let params = json!({"name": "echo", "arguments": {"text": "bob goes on"}});
    let echo = modern(&c, &url, &bob, "tools/call", params).await;
    assert_eq!(text(&echo), "bob goes on");
}

#[tokio::test]
async fn an_oversized_answer_from_a_container_fails_its_request_at_once() {
    let _ = tool("DOCKER_HOST");
    let berth = Berth::serve(DOCKER, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    let alice = berth.token("alice", "demo", &[]);
    let sid = session(&c, &url, &alice).await;
    let started = Instant::now();
    let long = "x".repeat(64 * 1024);
    let reply = call_as(&c, &url, &alice, &sid, 5, "echo", json!({"text": long})).await;
    let took = started.elapsed();
    assert_over_limit(&reply, 16_384);
    eprintln!("oversized container answer failed after {took:?} (request_timeout 120s)");
    let echo = call(&c, &url, &alice, &sid, "echo", json!({"text": "short"})).await;
    assert_eq!(text(&echo), "short");
}
