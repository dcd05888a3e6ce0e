//! The README's first command: `berth demo` prints a URL, a token and a
//! command that calls a tool, and that command works as printed. Also the
//! demo's options and the config errors a newcomer would hit.

use std::time::Duration;

use tokio::process::Command;

use berth_tests::{Berth, berth_command, child_pids, eventually, mcp_post, run, workspace_root};

#[tokio::test]
async fn the_printed_command_calls_a_tool() {
    let berth = Berth::demo(&[]).await;
    let banner = &berth.banner;
    let start = banner.find("TOKEN=").expect("banner shows TOKEN=");
    let end = banner.find("More tokens").expect("banner continues");
    let script = banner[start..end]
        .lines()
        .map(str::trim_start)
        .collect::<Vec<_>>()
        .join("\n");
    let (status, stdout, stderr) = run(
        Command::new("bash").arg("-c").arg(&script),
        Duration::from_secs(30),
    )
    .await;
    assert_eq!(status, Some(0), "{stderr}");
    let reply: serde_json::Value =
        serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(
        reply["result"]["content"][0]["text"], "hello from Berth",
        "{stdout}"
    );
}

#[tokio::test]
async fn hosts_any_stdio_command_after_double_dash() {
    let fixture = workspace_root().join("tests/fixtures/misbehaving_server.py");
    let berth = Berth::demo(&["--", "python3", fixture.to_str().unwrap()]).await;
    let c = reqwest::Client::new();
    let token = berth.token("alice", "demo", &[]);
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let r = mcp_post(&c, &berth.url("demo", "everything"), &token, init)
        .send()
        .await
        .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["result"]["serverInfo"]["name"], "misbehaving");
}

#[tokio::test]
async fn tokens_from_another_state_dir_are_refused() {
    let a = Berth::demo(&[]).await;
    let b = Berth::demo(&[]).await;
    let c = reqwest::Client::new();
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let ok = mcp_post(
        &c,
        &a.url("demo", "everything"),
        &a.token("alice", "demo", &[]),
        body,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(ok.status(), 200);
    let foreign = mcp_post(
        &c,
        &a.url("demo", "everything"),
        &b.token("alice", "demo", &[]),
        body,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(foreign.status(), 401);
}

#[tokio::test]
async fn bad_config_names_the_key_and_exits_64() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("berth.toml");
    std::fs::write(&file, "[limits]\nrequest_timeout = \"soon\"\n").unwrap();
    let mut cmd = berth_command();
    cmd.args(["serve", "--config"]).arg(&file);
    let (status, _, stderr) = run(&mut cmd, Duration::from_secs(20)).await;
    assert_eq!(status, Some(64));
    assert!(stderr.contains("limits.request_timeout"), "{stderr}");

    let mut cmd = berth_command();
    cmd.args(["serve"])
        .env("BERTH_LIMITS__MAX_BODY_BYTES", "tiny");
    let (status, _, stderr) = run(&mut cmd, Duration::from_secs(20)).await;
    assert_eq!(status, Some(64));
    assert!(stderr.contains("limits.max_body_bytes"), "{stderr}");
}

#[tokio::test]
async fn sigterm_stops_berth_and_its_servers() {
    let berth = Berth::demo(&[]).await;
    let c = reqwest::Client::new();
    let token = berth.token("alice", "demo", &[]);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let r = mcp_post(&c, &berth.url("demo", "everything"), &token, body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let pid = berth.pid();
    let child = child_pids(pid);
    assert!(!child.is_empty(), "the session has a server process");
    assert_eq!(berth.stop().await, Some(0));
    for p in child {
        assert!(
            !std::path::Path::new(&format!("/proc/{p}")).exists(),
            "server process {p} outlived Berth"
        );
    }
}

/// Berth verifies outbound TLS against roots compiled into it, so it starts
/// and serves where there is no system CA store (the `FROM scratch` runtime
/// image). With reqwest's default (the system store) it panicked at start.
#[tokio::test]
async fn starts_and_serves_without_a_system_ca_store() {
    let config = r#"
state_dir = "{state_dir}"
listen = "127.0.0.1:0"
[servers.demo.everything]
command = ["{berth_bin}", "example-server"]
"#;
    let nowhere = [
        ("SSL_CERT_FILE", "/nonexistent/ca-certificates.crt"),
        ("SSL_CERT_DIR", "/nonexistent/certs"),
    ];
    let berth = Berth::serve(config, &nowhere).await;
    let token = berth.token("alice", "demo", &[]);
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let r = mcp_post(
        &reqwest::Client::new(),
        &berth.url("demo", "everything"),
        &token,
        body,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(r.status(), 200);
    assert!(!berth.log().contains("CA root"), "{}", berth.log());
}

/// `berth demo --env KEY=VALUE` reaches the hosted server (which otherwise
/// gets a minimal environment).
#[tokio::test]
async fn env_flags_reach_the_hosted_server() {
    let berth = Berth::demo(&["--env", "GREETING=hello from --env"]).await;
    let token = berth.token("alice", "demo", &[]);
    let call = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"env_get","arguments":{"name":"GREETING"},"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{}}}}"#;
    let r = mcp_post(
        &reqwest::Client::new(),
        &berth.url("demo", "everything"),
        &token,
        call,
    )
    .header("mcp-protocol-version", "2026-07-28")
    .header("mcp-method", "tools/call")
    .header("mcp-name", "env_get")
    .send()
    .await
    .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["result"]["content"][0]["text"], "hello from --env", "{v}");
}

/// A server that dies before it says anything gets an error naming the
/// environment it had (names only, never values), so a missing variable is
/// easy to spot.
#[tokio::test]
async fn a_server_that_dies_silently_is_told_apart_with_its_environment() {
    let berth = Berth::demo(&[
        "--env",
        "APP_TOKEN=s3cr3t-value",
        "--",
        "sh",
        "-c",
        "echo 'ModuleNotFoundError: no module named app' >&2; exit 3",
    ])
    .await;
    let token = berth.token("alice", "demo", &[]);
    let init = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#;
    let r = mcp_post(
        &reqwest::Client::new(),
        &berth.url("demo", "everything"),
        &token,
        init,
    )
    .send()
    .await
    .unwrap();
    let v: serde_json::Value = r.json().await.unwrap();
    let message = v["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("{v}"));
    assert!(message.contains("exited with status 3"), "{message}");
    assert!(
        message.contains("before writing any MCP message"),
        "{message}"
    );
    assert!(
        message.contains("APP_TOKEN") && message.contains("PATH"),
        "{message}"
    );
    assert!(
        !message.contains("s3cr3t-value"),
        "never a value: {message}"
    );
    let logged = eventually(Duration::from_secs(5), || {
        berth.log().contains("no module named app")
    })
    .await;
    assert!(logged, "the server's stderr is in Berth's log");
}
