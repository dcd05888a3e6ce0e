//! Hosting-session lifecycle as an agent and an operator see it: idle
//! reaping, no zombie processes, server stderr in Berth's log, SSE
//! resumption with `Last-Event-ID`, and id remapping for concurrent
//! stateless requests that reuse the same JSON-RPC id.

use std::time::Duration;

use berth_tests::legacy::{resume, session};
use berth_tests::{Berth, child_pids, eventually, first_event, mcp_post, messages};
use serde_json::{Value, json};

const CONFIG: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
[servers.demo.everything]
command = ["{berth_bin}", "example-server"]
[servers.demo.short]
command = ["python3", "{fixtures}/misbehaving_server.py"]
idle_timeout = "1s"
"#;

fn state_of(pid: u32) -> Option<char> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    stat.rsplit(')').next()?.trim().chars().next()
}

#[tokio::test]
async fn idle_sessions_are_reaped_and_leave_no_zombies() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "short");
    let token = berth.token("alice", "demo", &[]);
    let sid = session(&c, &url, &token).await;
    let children = child_pids(berth.pid());
    assert_eq!(children.len(), 1, "one server process for one session");
    let server = children[0];
    // Idle past idle_timeout (1s): the process is stopped and reaped.
    assert!(
        eventually(Duration::from_secs(10), || state_of(server).is_none()).await,
        "idle server process {server} still exists (state {:?})",
        state_of(server)
    );
    let r = mcp_post(
        &c,
        &url,
        &token,
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/list"}"#,
    )
    .header("mcp-session-id", &sid)
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 404, "a reaped session is gone");
    // A crashed server is reaped too: no <defunct> children left behind.
    let sid = session(&c, &url, &token).await;
    let call = json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"crash","arguments":{}}}).to_string();
    let r = mcp_post(&c, &url, &token, &call)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        eventually(Duration::from_secs(10), || child_pids(berth.pid())
            .iter()
            .all(|p| state_of(*p) != Some('Z')))
        .await,
        "zombie children remain"
    );
    // The server's stderr is in Berth's log.
    assert!(
        eventually(Duration::from_secs(5), || berth
            .log()
            .contains("crashing on purpose"))
        .await
    );
}

#[tokio::test]
async fn a_lost_sse_stream_resumes_with_last_event_id() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    let token = berth.token("alice", "demo", &[]);
    let sid = session(&c, &url, &token).await;
    let call = json!({"jsonrpc":"2.0","id":"p1","method":"tools/call",
        "params":{"name":"test_tool_with_progress","arguments":{},"_meta":{"progressToken":"tok-1"}}})
    .to_string();
    let r = mcp_post(&c, &url, &token, &call)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    // Read until the first event with data, then drop the connection.
    let (text, last_id) = first_event(r).await;
    let last_id = last_id.expect("first event has an id");
    assert!(
        text.contains("\"progress\""),
        "the first event is progress: {text}"
    );
    // Resume on GET: the rest of that stream, ending with the response.
    let r = resume(&c, &url, &token, &sid, &last_id).await;
    assert_eq!(r.status(), 200);
    let rest = tokio::time::timeout(Duration::from_secs(10), r.text())
        .await
        .expect("stream ends after the response")
        .unwrap();
    let msgs = messages("text/event-stream", &rest);
    let last = msgs.last().expect("events after Last-Event-ID");
    assert_eq!(last["id"], "p1", "{rest}");
    assert!(last["result"]["content"].is_array());
    assert!(
        msgs.iter()
            .all(|m| m != &messages("text/event-stream", &text)[0]),
        "no duplicate of the acknowledged event"
    );
    // Another subject cannot replay it.
    let bob = berth.token("bob", "demo", &[]);
    let r = resume(&c, &url, &bob, &sid, &last_id).await;
    assert_eq!(r.status(), 404);
    // A forged Last-Event-ID is refused, not replayed from elsewhere.
    for forged in ["999_1", "garbage"] {
        let r = resume(&c, &url, &token, &sid, forged).await;
        assert!(
            r.status() == 400 || r.status() == 404,
            "{forged}: {}",
            r.status()
        );
    }
}

#[tokio::test]
async fn concurrent_stateless_requests_with_the_same_id_get_their_own_answers() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    let token = berth.token("alice", "demo", &[]);
    let calls = (0..16).map(|i| {
        let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{
            "name":"echo","arguments":{"text":format!("call-{i}")},
            "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}})
        .to_string();
        let req = mcp_post(&c, &url, &token, &body)
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", "echo");
        async move {
            let r = req.send().await.unwrap();
            let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
            let v: Vec<Value> = messages(&ct, &r.text().await.unwrap());
            (i, v.last().cloned().unwrap())
        }
    });
    for (i, reply) in futures::future::join_all(calls).await {
        assert_eq!(reply["id"], 1);
        assert_eq!(reply["result"]["content"][0]["text"], format!("call-{i}"));
        assert_eq!(reply["result"]["resultType"], "complete");
    }
    // All of them ran in one hosting session (one process for this principal).
    assert_eq!(child_pids(berth.pid()).len(), 1);
}

#[tokio::test]
async fn a_cancelled_request_ends_at_once_and_the_session_goes_on() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    let token = berth.token("alice", "demo", &[]);
    let sid = session(&c, &url, &token).await;
    let slow = json!({"jsonrpc":"2.0","id":"slow-1","method":"tools/call","params":{"name":"sleep_ms","arguments":{"ms":60000}}}).to_string();
    let pending = tokio::spawn(
        mcp_post(&c, &url, &token, &slow)
            .header("mcp-session-id", &sid)
            .send(),
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let cancel = json!({"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":"slow-1","reason":"user gave up"}}).to_string();
    let r = mcp_post(&c, &url, &token, &cancel)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let slow_reply = tokio::time::timeout(Duration::from_secs(10), pending)
        .await
        .expect("the cancelled request ends without waiting for the server")
        .unwrap()
        .unwrap();
    assert_eq!(slow_reply.status(), 200);
    let body = slow_reply.text().await.unwrap();
    assert!(
        !body.contains("slept"),
        "no answer after cancellation: {body}"
    );
    let echo = json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"still here"}}}).to_string();
    let r = mcp_post(&c, &url, &token, &echo)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let msgs = messages(&ct, &r.text().await.unwrap());
    assert_eq!(
        msgs.last().unwrap()["result"]["content"][0]["text"],
        "still here"
    );
}
