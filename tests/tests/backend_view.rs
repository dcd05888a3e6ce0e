//! What a backend sees of the agent: never its token. The example server's
//! `request_headers` tool reports the HTTP request Berth sent it (HTTP
//! transport) and `environment` its process environment and arguments
//! (stdio); the agent sends its bearer token, a cookie and a probe header
//! with every request, and none of them may reach the server. The docker
//! test needs the dockerd and images `scripts/test` provides.

use berth_tests::docker::{containers, inspect, pod_of};
use berth_tests::legacy::{INIT, session};
use berth_tests::{Berth, mcp_post, messages};
use serde_json::{Value, json};

/// A cookie every agent request carries (it must not reach a backend).
const COOKIE: &str = "berth_probe=cookie-7c1e-must-not-reach-a-backend";

/// A header every agent request carries (Berth forwards no agent headers).
const PROBE_HEADER: &str = "x-agent-probe";

const DOCKER: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
backend = "docker"
[docker]
internal_network = "berth-test-backend-view"
[servers.acme.web]
image = "berth/example-server-http"
transport = "http"
[servers.acme.stdio]
image = "berth/example-server"
"#;

const PROCESS: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
[servers.acme.stdio]
command = ["{berth_bin}", "example-server"]
"#;

/// An agent request with the extras a backend must never see.
fn agent_post(c: &reqwest::Client, url: &str, token: &str, body: &str) -> reqwest::RequestBuilder {
    mcp_post(c, url, token, body)
        .header("cookie", COOKIE)
        .header(PROBE_HEADER, token)
}

/// Calls `tool` without arguments in legacy session `sid`; the final message.
async fn legacy_call(c: &reqwest::Client, url: &str, token: &str, sid: &str, tool: &str) -> Value {
    let body =
        json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":tool,"arguments":{}}})
            .to_string();
    let r = agent_post(c, url, token, &body)
        .header("mcp-session-id", sid)
        .send()
        .await
        .unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    messages(&ct, &r.text().await.unwrap()).pop().unwrap()
}

/// Calls `tool` without arguments as a 2026-07-28 (sessionless) request.
async fn stateless_call(c: &reqwest::Client, url: &str, token: &str, tool: &str) -> Value {
    let body =
        json!({"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":tool,"arguments":{},
        "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",
                 "io.modelcontextprotocol/clientCapabilities":{}}}})
        .to_string();
    let r = agent_post(c, url, token, &body)
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", tool)
        .send()
        .await
        .unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    messages(&ct, &r.text().await.unwrap()).pop().unwrap()
}

/// A legacy session whose every request carried the agent extras.
async fn agent_session(c: &reqwest::Client, url: &str, token: &str) -> String {
    let r = agent_post(c, url, token, INIT).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let sid = r.headers()["mcp-session-id"].to_str().unwrap().to_owned();
    let note = r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let r = agent_post(c, url, token, note)
        .header("mcp-session-id", &sid)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    sid
}

/// The structured result of a successful tool call.
fn structured(reply: &Value) -> &Value {
    assert_ne!(reply["result"]["isError"], true, "{reply}");
    let v = &reply["result"]["structuredContent"];
    assert!(v.is_object(), "{reply}");
    v
}

/// The `(name, value)` headers `request_headers` reported.
fn headers_seen(reply: &Value) -> Vec<(String, String)> {
    structured(reply)["headers"]
        .as_array()
        .unwrap_or_else(|| panic!("no headers in {reply}"))
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_owned(),
                pair[1].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// Asserts the HTTP request a backend received carried nothing of the agent's.
fn assert_clean_request(headers: &[(String, String)], token: &str, agent_sid: Option<&str>) {
    // The reporting works: Berth's own MCP headers are there.
    let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"content-type"), "{headers:?}");
    for (name, value) in headers {
        assert_ne!(name, "authorization", "{headers:?}");
        assert_ne!(name, "cookie", "{headers:?}");
        assert_ne!(name, PROBE_HEADER, "{headers:?}");
        assert!(
            !value.contains(token) && !name.contains(token),
            "the agent's token reached the backend in `{name}`"
        );
        assert!(!value.contains("must-not-reach-a-backend"), "{name}");
        if let Some(sid) = agent_sid {
            assert!(
                !value.contains(sid),
                "the agent's Mcp-Session-Id reached the backend in `{name}`"
            );
        }
    }
}

/// Asserts a process environment and arguments hold nothing of the agent's.
fn assert_clean_process(reply: &Value, token: &str, argv0: &str) {
    let v = structured(reply);
    let env = v["env"].as_object().unwrap_or_else(|| panic!("{reply}"));
    let args = v["args"].as_array().unwrap_or_else(|| panic!("{reply}"));
    // The reporting works: the program's own name is there.
    assert!(
        args[0].as_str().unwrap().ends_with(argv0),
        "{argv0}: {args:?}"
    );
    for (name, value) in env {
        assert!(
            !name.contains(token) && !value.as_str().unwrap().contains(token),
            "the agent's token is in the backend's environment as `{name}`"
        );
    }
    for arg in args {
        assert!(!arg.as_str().unwrap().contains(token), "token in {args:?}");
    }
    assert!(!v.to_string().contains("must-not-reach-a-backend"), "{v}");
}

#[tokio::test]
async fn an_http_backend_never_receives_the_agents_token_cookie_or_session() {
    let berth = Berth::serve(DOCKER, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("acme", "web");
    let token = berth.token("alice", "acme", &[]);

    // Legacy session: every request of the session carried the extras.
    let sid = agent_session(&c, &url, &token).await;
    let reply = legacy_call(&c, &url, &token, &sid, "request_headers").await;
    let seen = headers_seen(&reply);
    assert_clean_request(&seen, &token, Some(&sid));
    // The server's own session id is what Berth sends: not the agent's.
    let backend_sid = seen
        .iter()
        .find(|(n, _)| n == "mcp-session-id")
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("Berth keeps the server's own session: {seen:?}"));
    assert_ne!(backend_sid, sid);

    // 2026-07-28 (sessionless) requests reach the server the same way.
    let reply = stateless_call(&c, &url, &token, "request_headers").await;
    assert_clean_request(&headers_seen(&reply), &token, None);

    // Neither the container's environment nor its command holds the token.
    let reply = legacy_call(&c, &url, &token, &sid, "environment").await;
    assert_clean_process(&reply, &token, "berth-example-server");
    let pod = pod_of(&berth);
    for id in containers(&[&format!("berth.pod={pod}"), "berth.tenant=acme"]) {
        let config = inspect(&id)["Config"].to_string();
        assert!(!config.contains(&token), "docker inspect {id}: {config}");
    }
}

#[tokio::test]
async fn a_stdio_container_never_receives_the_agents_token() {
    let berth = Berth::serve(DOCKER, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("acme", "stdio");
    let token = berth.token("alice", "acme", &[]);
    let sid = agent_session(&c, &url, &token).await;
    let reply = legacy_call(&c, &url, &token, &sid, "environment").await;
    assert_clean_process(&reply, &token, "berth-example-server");
    let reply = stateless_call(&c, &url, &token, "environment").await;
    assert_clean_process(&reply, &token, "berth-example-server");
    // A stdio server has no HTTP request to show.
    let reply = legacy_call(&c, &url, &token, &sid, "request_headers").await;
    assert_eq!(reply["result"]["isError"], true, "{reply}");
    let pod = pod_of(&berth);
    let ids = containers(&[&format!("berth.pod={pod}"), "berth.server=stdio"]);
    assert!(!ids.is_empty());
    for id in ids {
        let config = inspect(&id)["Config"].to_string();
        assert!(!config.contains(&token), "docker inspect {id}: {config}");
    }
}

#[tokio::test]
async fn a_stdio_process_never_receives_the_agents_token() {
    let berth = Berth::serve(PROCESS, &[]).await;
    let c = reqwest::Client::new();
    let url = berth.url("acme", "stdio");
    let token = berth.token("alice", "acme", &[]);
    let sid = session(&c, &url, &token).await;
    let reply = legacy_call(&c, &url, &token, &sid, "environment").await;
    assert_clean_process(&reply, &token, "berth");
    let reply = stateless_call(&c, &url, &token, "environment").await;
    assert_clean_process(&reply, &token, "berth");
}
