//! Hostile input at Berth's HTTP front, each attack shown failing over real
//! TCP: request-smuggling shapes, header floods, slow and idle clients,
//! stalled and oversized bodies, deeply nested JSON, path traversal and
//! look-alike tenant/server names. SSRF through the OIDC issuer's documents
//! is in `hostile_ssrf.rs`; hostile *servers* are in `hostile_backend.rs`.
//!
//! Raw `TcpStream`s are used wherever a real client library would tidy the
//! request up (normalise `..`, refuse to send a malformed header).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use berth_tests::legacy::INIT;
use berth_tests::{Berth, child_pids, mcp_post, messages};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const CONFIG: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
[limits]
request_timeout = "3s"
max_body_bytes = 1048576
header_read_timeout = "1s"
[servers.demo.everything]
command = ["{berth_bin}", "example-server"]
[servers.acme.everything]
command = ["{berth_bin}", "example-server"]
"#;

/// Declared in the config above.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(1);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);
const MAX_BODY: usize = 1_048_576;

/// A request smuggled behind another one: acme's metadata document. If it
/// is ever answered, its body names acme's endpoint.
const SMUGGLED: &str = "GET /.well-known/oauth-protected-resource/mcp/acme/everything HTTP/1.1\r\nHost: localhost\r\n\r\n";
const SMUGGLED_ANSWER: &str = "/mcp/acme/everything\"";

const PING: &str = r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#;

fn addr(berth: &Berth) -> String {
    berth.base.trim_start_matches("http://").to_owned()
}

/// Sends `bytes` on a fresh connection and reads until Berth closes it or
/// `limit` passes; returns what was read and whether Berth closed it.
async fn exchange(addr: &str, bytes: &[u8], limit: Duration) -> (String, bool) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    // Berth may answer and close before everything is written.
    let _ = s.write_all(bytes).await;
    read_until_closed(&mut s, limit).await
}

async fn read_until_closed(s: &mut TcpStream, limit: Duration) -> (String, bool) {
    let mut buf = Vec::new();
    let closed = tokio::time::timeout(limit, async {
        let mut chunk = [0u8; 16384];
        loop {
            match s.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    })
    .await
    .is_ok();
    (String::from_utf8_lossy(&buf).into_owned(), closed)
}

/// Status codes of every HTTP response in `text`, in order.
fn statuses(text: &str) -> Vec<u16> {
    text.match_indices("HTTP/1.1 ")
        .filter_map(|(i, m)| text.get(i + m.len()..i + m.len() + 3)?.parse().ok())
        .collect()
}

/// A raw POST to `path` with the MCP headers, a bearer token, `extra`
/// header lines (each ending in CRLF) and `body` after the blank line.
fn raw_post(path: &str, token: &str, extra: &str, body: &str) -> Vec<u8> {
    format!(
        "POST {path} HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer {token}\r\n\
         Content-Type: application/json\r\nAccept: application/json, text/event-stream\r\n\
         {extra}\r\n{body}"
    )
    .into_bytes()
}

/// Berth still answers an ordinary request, promptly.
async fn still_serving(berth: &Berth) {
    let started = Instant::now();
    let r = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource/mcp/demo/everything",
        berth.base
    ))
    .await
    .expect("Berth still accepts connections");
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() < Duration::from_secs(5), "slow to answer");
}

#[tokio::test]
async fn request_smuggling_shapes_are_refused_or_framed_once() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let addr = addr(&berth);
    let token = berth.token("alice", "demo", &[]);
    let n = PING.len();
    let chunked_ping = format!("{n:x}\r\n{PING}\r\n0\r\n\r\n");
    // Control: a well-framed pipeline gets two answers, so the checks below
    // would see a smuggled request that got through.
    let control = [
        raw_post(
            "/mcp/demo/everything",
            &token,
            &format!("Content-Length: {n}\r\n"),
            PING,
        ),
        SMUGGLED.as_bytes().to_vec(),
    ]
    .concat();
    let (text, _) = exchange(&addr, &control, Duration::from_secs(3)).await;
    assert_eq!(statuses(&text), vec![400, 200], "{text}");
    assert!(text.contains(SMUGGLED_ANSWER), "{text}");

    let cases: Vec<(&str, String, String)> = vec![
        (
            "Content-Length and Transfer-Encoding (CL.TE)",
            "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n".to_owned(),
            chunked_ping.clone(),
        ),
        (
            "Transfer-Encoding and Content-Length (TE.CL)",
            format!(
                "Transfer-Encoding: chunked\r\nContent-Length: {}\r\n",
                5 + SMUGGLED.len()
            ),
            "0\r\n\r\n".to_owned(),
        ),
        (
            "two different Content-Lengths",
            format!("Content-Length: {n}\r\nContent-Length: 5\r\n"),
            PING.to_owned(),
        ),
        (
            "a Content-Length list",
            format!("Content-Length: {n}, {n}\r\n"),
            PING.to_owned(),
        ),
        (
            "a signed Content-Length",
            format!("Content-Length: +{n}\r\n"),
            PING.to_owned(),
        ),
        (
            "a negative Content-Length",
            "Content-Length: -1\r\n".to_owned(),
            PING.to_owned(),
        ),
        (
            "an obs-folded header",
            format!("X-Folded: a\r\n  continued: yes\r\nContent-Length: {n}\r\n"),
            PING.to_owned(),
        ),
        (
            "Transfer-Encoding hidden by obs-fold",
            format!("Transfer-Encoding:\r\n chunked\r\nContent-Length: {n}\r\n"),
            PING.to_owned(),
        ),
        (
            "an unknown Transfer-Encoding",
            format!("Transfer-Encoding: xchunked\r\nContent-Length: {n}\r\n"),
            PING.to_owned(),
        ),
        (
            "chunked not the final coding",
            "Transfer-Encoding: chunked, identity\r\n".to_owned(),
            chunked_ping.clone(),
        ),
        (
            "whitespace before the colon",
            format!("Transfer-Encoding : chunked\r\nContent-Length: {n}\r\n"),
            PING.to_owned(),
        ),
        (
            "a NUL in a header value",
            format!("X-Nul: a\0b\r\nContent-Length: {n}\r\n"),
            PING.to_owned(),
        ),
        (
            "an overflowing chunk size",
            "Transfer-Encoding: chunked\r\n".to_owned(),
            format!("fffffffffffffffffff\r\n{PING}\r\n0\r\n\r\n"),
        ),
        (
            "a Content-Length shorter than the body",
            "Content-Length: 10\r\n".to_owned(),
            PING.to_owned(),
        ),
    ];
    for (name, headers, body) in cases {
        let request = [
            raw_post("/mcp/demo/everything", &token, &headers, &body),
            SMUGGLED.as_bytes().to_vec(),
        ]
        .concat();
        let (text, closed) = exchange(&addr, &request, Duration::from_secs(5)).await;
        let codes = statuses(&text);
        assert!(closed, "{name}: the connection must be closed: {text}");
        assert!(!codes.is_empty(), "{name}: no answer: {text}");
        assert!(
            codes.iter().all(|c| (400..500).contains(c)),
            "{name}: {codes:?}: {text}"
        );
        assert!(
            !text.contains(SMUGGLED_ANSWER),
            "{name}: the smuggled request was answered: {text}"
        );
    }
    // HTTP/1.0 has no chunked coding: a request claiming it is refused.
    let request = format!(
        "POST /mcp/demo/everything HTTP/1.0\r\nHost: localhost\r\nTransfer-Encoding: chunked\r\n\r\n{chunked_ping}"
    );
    let (text, _) = exchange(&addr, request.as_bytes(), Duration::from_secs(5)).await;
    assert_eq!(statuses(&text), vec![400], "{text}");
    still_serving(&berth).await;
}

#[tokio::test]
async fn header_floods_get_431_and_others_are_still_served() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let addr = addr(&berth);
    let token = berth.token("alice", "demo", &[]);
    let many: String = (0..500).map(|i| format!("X-Flood-{i}: v\r\n")).collect();
    let huge = format!("X-Huge: {}\r\n", "h".repeat(200_000));
    let floods = [
        raw_post("/mcp/demo/everything", &token, &many, ""),
        raw_post("/mcp/demo/everything", &token, &huge, ""),
        raw_post(
            &format!("/mcp/demo/everything?{}", "q".repeat(200_000)),
            &token,
            "",
            "",
        ),
    ];
    // Many floods at once, and an ordinary request in the middle of them.
    let attacks = (0..30).map(|i| {
        let addr = addr.clone();
        let flood = floods[i % floods.len()].clone();
        async move { exchange(&addr, &flood, Duration::from_secs(5)).await }
    });
    let (results, ()) = tokio::join!(futures::future::join_all(attacks), still_serving(&berth));
    for (text, closed) in results {
        assert_eq!(statuses(&text), vec![431], "{text}");
        assert!(closed, "a flooding connection must be closed");
    }
    still_serving(&berth).await;
}

#[tokio::test]
async fn slow_header_drips_are_cut_off_while_others_are_served() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let addr = addr(&berth);
    let cut_off = Arc::new(AtomicUsize::new(0));
    let drips = (0..25).map(|_| {
        let (addr, cut_off) = (addr.clone(), cut_off.clone());
        tokio::spawn(async move {
            let mut s = TcpStream::connect(&addr).await.unwrap();
            s.write_all(b"POST /mcp/demo/everything HTTP/1.1\r\nHost: localhost\r\n")
                .await
                .unwrap();
            let started = Instant::now();
            // One byte every 200 ms: each write is progress, but the
            // headers never finish within header_read_timeout.
            for b in b"X-Slow: ".iter().chain([b'a'; 100].iter()) {
                if s.write_all(&[*b]).await.is_err() {
                    break;
                }
                let mut probe = [0u8; 1024];
                let read = tokio::time::timeout(Duration::from_millis(200), s.read(&mut probe));
                if let Ok(Ok(0) | Err(_)) = read.await {
                    break;
                }
            }
            if started.elapsed() < HEADER_READ_TIMEOUT * 8 {
                cut_off.fetch_add(1, Ordering::SeqCst);
            }
        })
    });
    let drips: Vec<_> = drips.collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    still_serving(&berth).await;
    for d in drips {
        d.await.unwrap();
    }
    assert_eq!(
        cut_off.load(Ordering::SeqCst),
        25,
        "every dripping client is cut off within a few header_read_timeouts"
    );
    still_serving(&berth).await;
}

#[tokio::test]
async fn connections_that_never_send_a_request_are_closed() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let addr = addr(&berth);
    // Nothing at all; one byte; the first 23 bytes of the HTTP/2 preface
    // (which keeps protocol detection waiting for the 24th).
    let openings: [&[u8]; 3] = [b"", b"P", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r"];
    let idle = openings.iter().map(|opening| {
        let addr = addr.clone();
        async move {
            let started = Instant::now();
            let (text, closed) = exchange(&addr, opening, HEADER_READ_TIMEOUT * 5).await;
            (
                String::from_utf8_lossy(opening).into_owned(),
                text,
                closed,
                started.elapsed(),
            )
        }
    });
    for (opening, text, closed, took) in futures::future::join_all(idle).await {
        assert!(
            closed,
            "a connection that sent {opening:?} and then nothing stays open ({took:?}): {text}"
        );
        assert!(
            took >= HEADER_READ_TIMEOUT / 2,
            "closed too early: {took:?}"
        );
    }
    still_serving(&berth).await;
}

#[tokio::test]
async fn stalled_and_oversized_bodies_are_refused() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let addr = addr(&berth);
    let token = berth.token("alice", "demo", &[]);
    // Headers promise a body that stops half-way: 408 once
    // limits.request_timeout passes, and the connection is closed.
    for (headers, partial) in [
        (format!("Content-Length: {}\r\n", INIT.len()), &INIT[..10]),
        (
            "Transfer-Encoding: chunked\r\n".to_owned(),
            "40\r\n{\"jsonrpc\"",
        ),
    ] {
        let started = Instant::now();
        let request = raw_post("/mcp/demo/everything", &token, &headers, partial);
        let (text, closed) = exchange(&addr, &request, REQUEST_TIMEOUT * 3).await;
        assert_eq!(statuses(&text), vec![408], "{headers}: {text}");
        assert!(closed, "{headers}: the connection must be closed");
        assert!(text.contains("\"code\":-32600"), "{text}");
        let took = started.elapsed();
        assert!(
            took >= REQUEST_TIMEOUT / 2 && took < REQUEST_TIMEOUT * 2,
            "{took:?}"
        );
    }
    // A Content-Length over limits.max_body_bytes: 413 at once, without
    // waiting for (or reading) the body.
    let started = Instant::now();
    let request = raw_post(
        "/mcp/demo/everything",
        &token,
        "Content-Length: 99999999999\r\n",
        "{",
    );
    let (text, closed) = exchange(&addr, &request, Duration::from_secs(5)).await;
    assert_eq!(statuses(&text), vec![413], "{text}");
    assert!(
        closed && started.elapsed() < Duration::from_secs(2),
        "{text}"
    );
    // A chunked body (no Content-Length) that grows past the limit: 413.
    let chunk = "a".repeat(64 * 1024);
    let mut body = String::new();
    for _ in 0..(MAX_BODY / chunk.len() + 2) {
        body.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
    }
    body.push_str("0\r\n\r\n");
    let request = raw_post(
        "/mcp/demo/everything",
        &token,
        "Transfer-Encoding: chunked\r\n",
        &body,
    );
    let (text, _) = exchange(&addr, &request, Duration::from_secs(5)).await;
    assert_eq!(
        statuses(&text),
        vec![413],
        "{}",
        &text[..text.len().min(300)]
    );
    still_serving(&berth).await;
}

#[tokio::test]
async fn deeply_nested_json_is_refused_without_harm() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    let token = berth.token("alice", "demo", &[]);
    let depth = 100_000;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{}1{}", "{\"a\":".repeat(depth), "}".repeat(depth));
    let unclosed = "[".repeat(depth);
    for body in [&arrays, &objects, &unclosed] {
        let r = mcp_post(&c, &url, &token, body).send().await.unwrap();
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await.unwrap();
        let code = v["error"]["code"].as_i64().unwrap();
        assert!(code == -32700 || code == -32600, "{v}");
    }
    // Deep nesting inside an otherwise valid request: an answer for that
    // request (whatever the server makes of it), never a crash.
    let sid = berth_tests::legacy::session(&c, &url, &token).await;
    let deep = format!(
        r#"{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"echo","arguments":{{"text":{objects}}}}}}}"#
    );
    let r = mcp_post(&c, &url, &token, &deep)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let status = r.status().as_u16();
    let answer = messages(&ct, &r.text().await.unwrap());
    assert!(
        status >= 400 || answer.last().is_some_and(|m| m["id"] == 2),
        "{status} {answer:?}"
    );
    // Berth and other agents' sessions are unharmed.
    let bob = berth.token("bob", "demo", &[]);
    let sid = berth_tests::legacy::session(&c, &url, &bob).await;
    let reply =
        berth_tests::legacy::call(&c, &url, &bob, &sid, "echo", json!({"text": "fine"})).await;
    assert_eq!(reply["result"]["content"][0]["text"], "fine");
}

#[tokio::test]
async fn path_traversal_and_look_alike_names_never_reach_another_tenant() {
    let berth = Berth::serve(CONFIG, &[]).await;
    let addr = addr(&berth);
    let demo = berth.token("alice", "demo", &[]);
    let paths = [
        "/mcp/../acme/everything",
        "/mcp/demo/../acme/everything",
        "/mcp/demo/../../mcp/acme/everything",
        "/mcp/%2e%2e/acme/everything",
        "/mcp/demo%2F..%2Facme/everything",
        "/mcp/demo/%2e%2e%2facme%2feverything",
        "/mcp/demo/everything%2F..%2F..%2Facme%2Feverything",
        "/mcp/demo/everything/../../acme/everything",
        "/mcp/demo/everything\\..\\..\\acme\\everything",
        "/mcp//acme/everything",
        "/mcp/demo//everything",
        "/mcp/demo/everything/",
        "/mcp/acme/everything",
        "/mcp/ACME/everything",
        "/mcp/DEMO/everything",
        "/mcp/demo/EVERYTHING",
        "/mcp/dem%C3%B8/everything",
        "/mcp/d%D0%B5mo/everything",
        "/mcp/%EF%BD%84%EF%BD%85%EF%BD%8D%EF%BD%8F/everything",
        "/mcp/demo%00/everything",
        "/mcp/demo/everything%00",
        "/mcp/%ff/everything",
        "/mcp/demo/%C0%AE%C0%AE",
        "/MCP/demo/everything",
    ];
    let mut tried: Vec<(String, &str)> = paths.iter().map(|p| (demo.clone(), *p)).collect();
    // Tokens whose tenant claim is itself the traversal or a look-alike.
    for (tenant, path) in [
        ("demo/../acme", "/mcp/demo%2F..%2Facme/everything"),
        ("../acme", "/mcp/..%2Facme/everything"),
        ("ACME", "/mcp/ACME/everything"),
        ("acme ", "/mcp/acme%20/everything"),
    ] {
        tried.push((berth.token("mallory", tenant, &[]), path));
    }
    for (token, path) in tried {
        let request = raw_post(
            path,
            &token,
            &format!("Connection: close\r\nContent-Length: {}\r\n", INIT.len()),
            INIT,
        );
        let (text, _) = exchange(&addr, &request, Duration::from_secs(5)).await;
        let codes = statuses(&text);
        assert!(
            matches!(codes.as_slice(), [400 | 403 | 404]),
            "{path}: {codes:?}: {text}"
        );
        assert!(
            !text.to_ascii_lowercase().contains("mcp-session-id"),
            "{path}: {text}"
        );
        let body = text.split("\r\n\r\n").nth(1).unwrap_or_default();
        let v: Value = serde_json::from_str(body)
            .unwrap_or_else(|e| panic!("{path}: not a JSON-RPC error ({e}): {text}"));
        assert!(v["error"]["code"].is_i64(), "{path}: {v}");
    }
    // None of that started a server instance, for any tenant.
    assert!(
        child_pids(berth.pid()).is_empty(),
        "{:?}",
        child_pids(berth.pid())
    );
}
