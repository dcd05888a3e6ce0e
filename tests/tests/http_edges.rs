//! The Streamable HTTP contract at the edges: status codes, JSON-RPC error
//! codes, session binding, limits, and faulty servers. Drives a real `berth
//! serve` process over HTTP.

use std::time::Duration;

use berth_tests::{Berth, mcp_post, messages};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const CONFIG: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
[limits]
request_timeout = "2s"
max_body_bytes = 65536
max_message_bytes = 1048576
header_read_timeout = "1s"
[servers.demo.everything]
command = ["{berth_bin}", "example-server"]
[servers.demo.bad]
command = ["python3", "{fixtures}/misbehaving_server.py"]
[servers.demo.missing]
command = ["/nonexistent/berth-test-server"]
[servers.demo.exits]
command = ["python3", "{fixtures}/misbehaving_server.py", "exit-now"]
[servers.demo.silent]
command = ["python3", "{fixtures}/misbehaving_server.py", "silent"]
[servers.acme.everything]
command = ["{berth_bin}", "example-server"]
"#;

const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"edge-test","version":"1"}}}"#;

struct Reply {
    status: u16,
    headers: reqwest::header::HeaderMap,
    messages: Vec<Value>,
}

async fn send(req: reqwest::RequestBuilder) -> Reply {
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let ct = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = resp.text().await.unwrap_or_default();
    let messages = if ct.is_empty() {
        Vec::new()
    } else {
        messages(&ct, &body)
    };
    Reply {
        status,
        headers,
        messages,
    }
}

/// Initializes a legacy session and returns its id.
async fn open_session(c: &reqwest::Client, url: &str, token: &str) -> String {
    let r = send(mcp_post(c, url, token, INIT)).await;
    assert_eq!(r.status, 200, "initialize failed: {:?}", r.messages);
    let sid = r
        .headers
        .get("mcp-session-id")
        .expect("session id")
        .to_str()
        .unwrap()
        .to_owned();
    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let n = send(mcp_post(c, url, token, note).header("mcp-session-id", &sid)).await;
    assert_eq!(n.status, 202);
    sid
}

fn call(id: u64, tool: &str, args: Value) -> String {
    json!({"jsonrpc":"2.0","id":id,"method":"tools/call","params":{"name":tool,"arguments":args}})
        .to_string()
}

fn error_code(r: &Reply) -> i64 {
    r.messages
        .iter()
        .find_map(|m| m["error"]["code"].as_i64())
        .unwrap_or_else(|| panic!("no JSON-RPC error in {:?}", r.messages))
}

fn text_of(r: &Reply) -> String {
    let last = r
        .messages
        .last()
        .unwrap_or_else(|| panic!("no messages (status {})", r.status));
    last["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test]
async fn authentication_and_tenancy_are_enforced() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    // No token: 401 on POST, GET and DELETE, with RFC 9728 metadata.
    for method in [
        reqwest::Method::POST,
        reqwest::Method::GET,
        reqwest::Method::DELETE,
    ] {
        let r = send(
            c.request(method.clone(), &url)
                .header("content-type", "application/json")
                .body(INIT),
        )
        .await;
        assert_eq!(r.status, 401, "{method}");
        let challenge = r
            .headers
            .get("www-authenticate")
            .expect("challenge")
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.contains(&format!(
                "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp/demo/everything\"",
                berth.base
            )),
            "{challenge}"
        );
    }
    // A forged token (valid shape, wrong signature).
    let good = berth.token("alice", "demo", &[]);
    let mut parts: Vec<String> = good.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    let forged = parts.join(".");
    let r = send(mcp_post(&c, &url, &forged, INIT)).await;
    assert_eq!(r.status, 401);
    assert!(
        r.headers["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    // A token from another issuer (another state dir) is rejected.
    let other = Berth::serve(CONFIG, &[]).await;
    let foreign = other.token("alice", "demo", &[]);
    assert_eq!(send(mcp_post(&c, &url, &foreign, INIT)).await.status, 401);
    // Another tenant's token cannot use demo's servers.
    let acme = berth.token("mallory", "acme", &[]);
    assert_eq!(send(mcp_post(&c, &url, &acme, INIT)).await.status, 403);
    // Unknown server: a clear 404.
    let r = send(mcp_post(&c, &berth.url("demo", "nope"), &good, INIT)).await;
    assert_eq!(r.status, 404);
    assert!(
        r.messages[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("no MCP server named `nope`")
    );
    // The metadata document names the canonical resource.
    let meta: Value = c
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp/demo/everything",
            berth.base
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["resource"], url);
}

#[tokio::test]
async fn origin_and_host_are_validated() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    let token = berth.token("alice", "demo", &[]);
    let r = send(mcp_post(&c, &url, &token, INIT).header("origin", "https://evil.example")).await;
    assert_eq!(r.status, 403);
    let r = send(mcp_post(&c, &url, &token, INIT).header("host", "evil.example")).await;
    assert_eq!(r.status, 403);
    let r = send(mcp_post(&c, &url, &token, INIT).header("origin", "http://localhost:3000")).await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn malformed_requests_get_the_spec_errors() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    let token = berth.token("alice", "demo", &[]);
    let cases: &[(&[u8], u16, i64)] = &[
        (b"{not json", 400, -32700),
        (b"\xff\xfe{}", 400, -32700),
        (
            br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
            400,
            -32600,
        ),
        (
            br#"{"jsonrpc":"1.0","id":1,"method":"initialize"}"#,
            400,
            -32600,
        ),
        (
            br#"{"jsonrpc":"2.0","id":null,"method":"initialize"}"#,
            400,
            -32600,
        ),
        (br#""just a string""#, 400, -32600),
    ];
    for (body, status, code) in cases {
        let r = send(
            c.post(&url)
                .bearer_auth(&token)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(body.to_vec()),
        )
        .await;
        assert_eq!(r.status, *status, "{}", String::from_utf8_lossy(body));
        assert_eq!(error_code(&r), *code, "{}", String::from_utf8_lossy(body));
    }
    // Accept must allow both JSON and SSE.
    let plain = |accept: &str, content_type: &str| {
        c.post(&url)
            .bearer_auth(&token)
            .header("accept", accept)
            .header("content-type", content_type)
            .body(INIT)
    };
    let r = send(plain("application/json", "application/json")).await;
    assert_eq!(r.status, 406);
    let r = send(plain("text/event-stream", "application/json")).await;
    assert_eq!(r.status, 406);
    // JSON bodies only.
    let r = send(plain("application/json, text/event-stream", "text/plain")).await;
    assert_eq!(r.status, 415);
    // A body over limits.max_body_bytes.
    let huge = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"x":"{}"}}}}"#,
        "a".repeat(70_000)
    );
    assert_eq!(send(mcp_post(&c, &url, &token, &huge)).await.status, 413);
    // Headers over limits.max_header_bytes.
    let resp = mcp_post(&c, &url, &token, INIT)
        .header("x-filler", "f".repeat(100_000))
        .send()
        .await;
    match resp {
        Ok(r) => assert_eq!(r.status().as_u16(), 431),
        Err(e) => assert!(e.is_request() || e.is_connect() || e.is_body(), "{e}"),
    }
    // No session id on a non-initialize request.
    let r = send(mcp_post(
        &c,
        &url,
        &token,
        &call(2, "echo", json!({"text":"x"})),
    ))
    .await;
    assert_eq!(r.status, 400);
    // Unsupported protocol version header.
    let sid = open_session(&c, &url, &token).await;
    let r = send(
        mcp_post(&c, &url, &token, &call(2, "echo", json!({"text":"x"})))
            .header("mcp-session-id", &sid)
            .header("mcp-protocol-version", "1999-01-01"),
    )
    .await;
    assert_eq!(r.status, 400);
    // GET and DELETE without a session are not allowed.
    let r = send(
        c.get(&url)
            .bearer_auth(&token)
            .header("accept", "text/event-stream"),
    )
    .await;
    assert_eq!(r.status, 405);
    let r = send(c.delete(&url).bearer_auth(&token)).await;
    assert_eq!(r.status, 405);
    // GET with a session but without SSE in Accept.
    let r = send(
        c.get(&url)
            .bearer_auth(&token)
            .header("mcp-session-id", &sid)
            .header("accept", "application/json"),
    )
    .await;
    assert_eq!(r.status, 406);
    // A pretty-printed (multi-line) body still reaches a stdio server as one line.
    let pretty = serde_json::to_string_pretty(&json!({"jsonrpc":"2.0","id":77,"method":"tools/call","params":{"name":"echo","arguments":{"text":"multi\nline"}}})).unwrap();
    assert!(pretty.contains('\n'));
    let r = send(mcp_post(&c, &url, &token, &pretty).header("mcp-session-id", &sid)).await;
    assert_eq!(text_of(&r), "multi\nline");
    // The server still works after all of that.
    let r = send(
        mcp_post(
            &c,
            &url,
            &token,
            &call(3, "echo", json!({"text":"still fine"})),
        )
        .header("mcp-session-id", &sid),
    )
    .await;
    assert_eq!(text_of(&r), "still fine");
}

#[tokio::test]
async fn sessions_are_bound_to_their_user_and_end_on_delete() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    let alice = berth.token("alice", "demo", &[]);
    let bob = berth.token("bob", "demo", &[]);
    let sid = open_session(&c, &url, &alice).await;
    // >= 128 bits, visible ASCII.
    assert!(
        sid.len() >= 22 && sid.bytes().all(|b| (0x21..=0x7e).contains(&b)),
        "{sid}"
    );
    let r = send(
        mcp_post(&c, &url, &alice, &call(2, "counter_increment", json!({})))
            .header("mcp-session-id", &sid),
    )
    .await;
    assert_eq!(text_of(&r), "1");
    // Bob presents Alice's session id: exactly like an unknown session.
    let r = send(
        mcp_post(&c, &url, &bob, &call(2, "counter_increment", json!({})))
            .header("mcp-session-id", &sid),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = send(
        c.get(&url)
            .bearer_auth(&bob)
            .header("mcp-session-id", &sid)
            .header("accept", "text/event-stream"),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = send(
        c.delete(&url)
            .bearer_auth(&bob)
            .header("mcp-session-id", &sid),
    )
    .await;
    assert_eq!(r.status, 404);
    // Alice's session is untouched by Bob's attempts.
    let r = send(
        mcp_post(&c, &url, &alice, &call(3, "counter_increment", json!({})))
            .header("mcp-session-id", &sid),
    )
    .await;
    assert_eq!(text_of(&r), "2");
    // DELETE ends it; afterwards it is unknown.
    let r = send(
        c.delete(&url)
            .bearer_auth(&alice)
            .header("mcp-session-id", &sid),
    )
    .await;
    assert!(r.status == 200 || r.status == 204, "{}", r.status);
    let r = send(
        mcp_post(&c, &url, &alice, &call(4, "echo", json!({"text":"x"})))
            .header("mcp-session-id", &sid),
    )
    .await;
    assert_eq!(r.status, 404);
    let r = send(
        mcp_post(&c, &url, &alice, &call(4, "echo", json!({"text":"x"})))
            .header("mcp-session-id", "made-up-session"),
    )
    .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn two_agents_get_two_instances() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "bad");
    let alice = berth.token("alice", "demo", &[]);
    let a = open_session(&c, &url, &alice).await;
    let b = open_session(&c, &url, &alice).await;
    let pa = text_of(
        &send(mcp_post(&c, &url, &alice, &call(7, "pid", json!({}))).header("mcp-session-id", &a))
            .await,
    );
    let pb = text_of(
        &send(mcp_post(&c, &url, &alice, &call(7, "pid", json!({}))).header("mcp-session-id", &b))
            .await,
    );
    assert_ne!(pa, pb, "two sessions must not share a process");
}

#[tokio::test]
async fn faulty_servers_fail_only_their_own_requests() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "bad");
    let token = berth.token("alice", "demo", &[]);
    let healthy = open_session(&c, &url, &token).await;

    // Garbage output is skipped; the request is still answered.
    let sid = open_session(&c, &url, &token).await;
    let r = send(
        mcp_post(&c, &url, &token, &call(5, "garbage", json!({}))).header("mcp-session-id", &sid),
    )
    .await;
    assert_eq!(text_of(&r), "after garbage");
    // Forged ids never reach the agent; the genuine answer does.
    let r = send(
        mcp_post(&c, &url, &token, &call(6, "forge", json!({}))).header("mcp-session-id", &sid),
    )
    .await;
    assert_eq!(r.messages.len(), 1, "{:?}", r.messages);
    assert_eq!(r.messages[0]["id"], 6);
    assert_eq!(text_of(&r), "genuine");
    // A line over limits.max_message_bytes is dropped, the session goes on.
    let r = send(
        mcp_post(&c, &url, &token, &call(8, "huge", json!({}))).header("mcp-session-id", &sid),
    )
    .await;
    assert_eq!(text_of(&r), "after huge");
    // A hung request times out with -32001 and says it may be retried.
    let r = send(
        mcp_post(&c, &url, &token, &call(9, "hang", json!({}))).header("mcp-session-id", &sid),
    )
    .await;
    assert_eq!(error_code(&r), -32001);
    assert_eq!(r.messages[0]["id"], 9);
    // A crash answers the in-flight request with an error, and ends the session.
    let r = send(
        mcp_post(&c, &url, &token, &call(10, "crash", json!({}))).header("mcp-session-id", &sid),
    )
    .await;
    assert_eq!(error_code(&r), -32002);
    assert!(
        r.messages[0]["error"]["message"]
            .as_str()
            .unwrap()
            .contains("exited with status 3"),
        "{:?}",
        r.messages
    );
    let r = send(
        mcp_post(&c, &url, &token, &call(11, "echo", json!({"text":"x"})))
            .header("mcp-session-id", &sid),
    )
    .await;
    assert_eq!(r.status, 404);
    // The other session of the same server never noticed.
    let r = send(
        mcp_post(&c, &url, &token, &call(12, "echo", json!({"text":"ok"})))
            .header("mcp-session-id", &healthy),
    )
    .await;
    assert_eq!(text_of(&r), "ok");
}

#[tokio::test]
async fn servers_that_cannot_start_give_clear_errors() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let token = berth.token("alice", "demo", &[]);
    let r = send(mcp_post(&c, &berth.url("demo", "missing"), &token, INIT)).await;
    let msg = r.messages[0]["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        msg.contains("could not start server command")
            && msg.contains("/nonexistent/berth-test-server"),
        "{msg}"
    );
    assert!(r.headers.get("mcp-session-id").is_none());
    let r = send(mcp_post(&c, &berth.url("demo", "exits"), &token, INIT)).await;
    let msg = r.messages[0]["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(msg.contains("exited with status 7"), "{msg}");
    assert!(r.headers.get("mcp-session-id").is_none());
    let r = send(mcp_post(&c, &berth.url("demo", "silent"), &token, INIT)).await;
    assert_eq!(error_code(&r), -32001);
    assert!(r.headers.get("mcp-session-id").is_none());
}

#[tokio::test]
async fn slow_clients_are_cut_off() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let addr = berth.base.trim_start_matches("http://").to_owned();
    let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
    s.write_all(b"POST /mcp/demo/everything HTTP/1.1\r\nHost: localhost\r\n")
        .await
        .unwrap();
    // Trickle a header byte at a time, slower than header_read_timeout allows.
    let mut buf = Vec::new();
    let outcome = tokio::time::timeout(Duration::from_secs(10), async {
        for b in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" {
            if s.write_all(&[*b]).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    })
    .await;
    assert!(outcome.is_ok(), "writing should end");
    let n = tokio::time::timeout(Duration::from_secs(5), s.read_to_end(&mut buf)).await;
    assert!(
        n.is_ok(),
        "Berth must close a connection that never finishes its headers"
    );
    let text = String::from_utf8_lossy(&buf);
    assert!(buf.is_empty() || text.starts_with("HTTP/1.1 408"), "{text}");
}

#[tokio::test]
async fn a_primed_stream_tells_agents_the_configured_resume_delay() {
    let cfg = CONFIG.replace(
        "[limits]\n",
        "[limits]\nsse_prime_after = \"20ms\"\nsse_retry = \"150ms\"\n",
    );
    let berth = Berth::serve(&cfg, &[]).await;
    let c = reqwest::Client::new();
    let token = berth.token("alice", "demo", &[]);
    let url = berth.url("demo", "everything");
    let sid = open_session(&c, &url, &token).await;
    let r = mcp_post(&c, &url, &token, &call(2, "sleep_ms", json!({"ms": 300})))
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let body = r.text().await.unwrap();
    let priming = body.split("\n\n").next().unwrap_or_default();
    assert!(
        priming.lines().any(|l| l == "retry: 150"),
        "the priming event carries limits.sse_retry: {body}"
    );
    assert_eq!(
        messages("text/event-stream", &body).last().unwrap()["id"],
        2
    );
}
