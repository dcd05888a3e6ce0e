//! The Host check behind proxies (`security.trusted_proxies`): from a
//! trusted TCP peer the host checked is the one the proxy forwarded
//! (`Forwarded: host=`, else `X-Forwarded-Host`), so a DNS-rebound
//! request cannot hide behind a proxy that rewrites `Host`; from any other
//! peer those headers are ignored, so they cannot be used to get past the
//! check; malformed ones from a trusted peer are a 400, never a panic.
//! Pod-to-pod forwarding keeps working without the pods trusting each
//! other (the pod a request reached forwards it with the host it checked
//! in `Host`). Every request comes over a real TCP connection, from
//! 127.0.0.1 or, playing the proxy, 127.0.0.2.

use berth_tests::legacy::{INIT, call, session};
use berth_tests::pods::{config, text};
use berth_tests::redis::RedisServer;
use berth_tests::{Berth, child_pids, mcp_post, messages};
use serde_json::{Value, json};

/// One pod; `trusted` is its `security.trusted_proxies`.
fn pod_config(trusted: &str) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
state_dir = "{{state_dir}}"
[security]
allowed_hosts = ["mcp.example.com"]
trusted_proxies = {trusted}
[servers.demo.everything]
command = ["{{berth_bin}}", "example-server"]
"#
    )
}

/// The status and body of an `initialize` POST with `headers`.
async fn init_with(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    headers: &[(&str, &[u8])],
) -> (u16, String) {
    let mut req = mcp_post(c, url, token, INIT);
    for (name, value) in headers {
        req = req.header(
            *name,
            reqwest::header::HeaderValue::from_bytes(value).unwrap(),
        );
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn a_trusted_proxys_forwarded_host_is_checked() {
    let berth = Berth::serve(&pod_config(r#"["127.0.0.1/32"]"#), &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    let token = berth.token("alice", "demo", &[]);
    // Host is fine (loopback), but the proxy says the agent asked for evil.
    for (header, value) in [
        ("forwarded", "for=198.51.100.7;host=evil.example"),
        (
            "forwarded",
            r#"for="198.51.100.7:4711";host="evil.example:443""#,
        ),
        ("x-forwarded-host", "evil.example"),
        ("x-forwarded-host", "mcp.example.com, evil.example"),
        // What a client sent itself comes first; the proxy's own is last.
        (
            "forwarded",
            "host=mcp.example.com, for=198.51.100.7;host=evil.example",
        ),
    ] {
        let (status, body) = init_with(&c, &url, &token, &[(header, value.as_bytes())]).await;
        assert_eq!(status, 403, "{header}: {value}: {body}");
        assert!(body.contains("DNS-rebinding"), "{body}");
    }
    // A proxy that rewrites Host to its upstream name and forwards an
    // allowed one is served.
    for (header, value) in [
        (
            "forwarded",
            "for=198.51.100.7;host=mcp.example.com;proto=https",
        ),
        ("x-forwarded-host", "mcp.example.com"),
    ] {
        let headers = [
            ("host", b"berth.internal:8080".as_slice()),
            (header, value.as_bytes()),
        ];
        let (status, body) = init_with(&c, &url, &token, &headers).await;
        assert_eq!(status, 200, "{header}: {value}: {body}");
    }
    // Without a forwarding header, Host is checked as ever.
    let headers = [("host", b"berth.internal:8080".as_slice())];
    assert_eq!(init_with(&c, &url, &token, &headers).await.0, 403);
    // Malformed forwarding headers are refused with a reason.
    for (header, value) in [
        ("forwarded", b"host=\"unclosed".as_slice()),
        ("forwarded", b"host=a;host=b"),
        ("forwarded", b"=;;,,host"),
        ("forwarded", b"host=\xff\xfe"),
        ("x-forwarded-host", b"user@evil.example"),
        ("x-forwarded-host", b""),
    ] {
        let (status, body) = init_with(&c, &url, &token, &[(header, value)]).await;
        assert_eq!(status, 400, "{header}: {value:?}: {body}");
        assert!(body.contains("trusted proxy"), "{body}");
    }
    // Berth is unharmed.
    let sid = session(&c, &url, &token).await;
    let echo = call(&c, &url, &token, &sid, "echo", json!({"text": "fine"})).await;
    assert_eq!(text(&echo), "fine");
}

#[tokio::test]
async fn forwarding_headers_from_untrusted_peers_are_ignored() {
    // 127.0.0.1 is not in the trusted block.
    let berth = Berth::serve(&pod_config(r#"["192.0.2.0/24"]"#), &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "everything");
    let token = berth.token("alice", "demo", &[]);
    // They cannot get an evil Host past the check ...
    for (header, value) in [
        ("forwarded", "host=mcp.example.com"),
        ("x-forwarded-host", "mcp.example.com"),
    ] {
        let headers = [
            ("host", b"evil.example".as_slice()),
            (header, value.as_bytes()),
        ];
        let (status, body) = init_with(&c, &url, &token, &headers).await;
        assert_eq!(status, 403, "{header}: {value}: {body}");
    }
    // ... nor get a good Host refused, malformed or not.
    for (header, value) in [
        ("forwarded", b"host=evil.example".as_slice()),
        ("x-forwarded-host", b"evil.example"),
        ("forwarded", b"host=\"unclosed"),
    ] {
        let (status, body) = init_with(&c, &url, &token, &[(header, value)]).await;
        assert_eq!(status, 200, "{header}: {value:?}: {body}");
    }
}

#[tokio::test]
async fn pod_to_pod_forwarding_works_behind_a_trusted_proxy() {
    // The "proxy" is this test, connecting from 127.0.0.2; the pods reach
    // each other from 127.0.0.1, which they do not trust.
    let redis = RedisServer::start();
    let cfg = format!(
        "{}\n[security]\nallowed_hosts = [\"mcp.example.com\"]\ntrusted_proxies = [\"127.0.0.2/32\"]\n",
        config(&redis, "process")
    );
    let a = Berth::serve(&cfg, &[]).await;
    let b = Berth::serve_like(&a, &cfg, &[]).await;
    let c = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let token = a.token("alice", "demo", &[]);
    // What the proxy sends every pod: its upstream name as Host, the
    // agent's host in Forwarded.
    let proxied = |req: reqwest::RequestBuilder| {
        req.header("host", "berth.internal:8080")
            .header("forwarded", "for=198.51.100.7;host=mcp.example.com")
    };
    let r = proxied(mcp_post(&c, &a.url("demo", "everything"), &token, INIT))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let note = json!({"jsonrpc":"2.0","method":"notifications/initialized"});
    let info = json!({"jsonrpc":"2.0","id":2,"method":"tools/call",
        "params":{"name":"instance_info","arguments":{}}});
    // Pod B does not run the session: it forwards to A, which checks the
    // Host B forwarded (the agent's, which B put there).
    let mut answers = Vec::new();
    for body in [note, info] {
        let r = proxied(mcp_post(
            &c,
            &b.url("demo", "everything"),
            &token,
            &body.to_string(),
        ))
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
        let status = r.status().as_u16();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        answers.push((status, messages(&ct, &r.text().await.unwrap())));
    }
    assert_eq!(answers[0].0, 202, "{:?}", answers[0]);
    assert_eq!(answers[1].0, 200, "{:?}", answers[1]);
    let info: Value = serde_json::from_str(&text(answers[1].1.last().unwrap())).unwrap();
    let pid = u32::try_from(info["pid"].as_u64().unwrap()).unwrap();
    assert!(
        child_pids(a.pid()).contains(&pid),
        "the instance that answered through B is pod A's"
    );
    // An evil forwarded host is refused at B, before any forwarding ...
    let r = mcp_post(&c, &b.url("demo", "everything"), &token, INIT)
        .header("host", "berth.internal:8080")
        .header("forwarded", "for=198.51.100.7;host=evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // ... and the same headers straight from an untrusted peer (127.0.0.1)
    // are ignored: the rewritten Host is what is checked, and refused.
    let direct = reqwest::Client::new();
    let r = proxied(mcp_post(
        &direct,
        &b.url("demo", "everything"),
        &token,
        INIT,
    ))
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 403);
}
