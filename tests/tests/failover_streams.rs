//! Streams across pods: a stream lost on one pod resumes on another, while
//! its owner lives (forwarded) and after it died (replayed from the journal
//! in Redis), and a call in flight when its pod died gets a retryable error.

use std::time::Duration;

use berth_tests::legacy::{resume, session};
use berth_tests::pods::{TwoPods, counter, echo, kill_9, sse_events};
use berth_tests::{first_event, mcp_post, messages, tool};
use serde_json::json;

#[tokio::test]
async fn a_stream_lost_on_one_pod_resumes_on_another() {
    let TwoPods {
        redis: _redis,
        a,
        b,
        c,
        token,
    } = TwoPods::start("process").await;
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
    let r = resume(&c, &b.url("demo", "everything"), &token, &sid, &last_id).await;
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
    let r = resume(&c, &b.url("demo", "everything"), &bob, &sid, &last_id).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn a_stream_is_replayed_by_another_pod_after_its_pod_died() {
    let TwoPods {
        redis: _redis,
        a,
        b,
        c,
        token,
    } = TwoPods::start("process").await;
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
    let TwoPods {
        redis: _redis,
        a,
        b,
        c,
        token,
    } = TwoPods::start("docker").await;
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
