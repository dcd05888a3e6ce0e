//! The server table changes while Berth runs: a server added after start
//! serves at once, a replaced one serves new sessions with its new
//! definition (sessions already open keep theirs), a removed one is 404.
//! In-process (`App::run` on 127.0.0.1:0), over real HTTP, with the bundled
//! example server run over stdio by the process backend.

use std::time::Duration;

use berth::cli::TokenArgs;
use berth::{App, Config, ServerConfig};
use tokio::net::TcpListener;

/// One 2026-07-28 `tools/call` of `env_get` for `name`.
async fn env_get(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    name: &str,
) -> (reqwest::StatusCode, serde_json::Value) {
    let body = serde_json::json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {
            "name": "env_get",
            "arguments": {"name": name},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    });
    let resp = client
        .post(url)
        .bearer_auth(token)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "env_get")
        .json(&body)
        .send()
        .await
        .expect("Berth answers");
    let status = resp.status();
    (status, resp.json().await.expect("a JSON answer"))
}

fn token(state_dir: &std::path::Path, subject: &str) -> String {
    TokenArgs {
        subject: subject.into(),
        tenant: "acme".into(),
        scopes: Vec::new(),
        audience: None,
        ttl: "10m".into(),
        state_dir: state_dir.to_owned(),
    }
    .mint()
    .expect("the dev issuer mints")
}

fn example_server(which: &str) -> ServerConfig {
    ServerConfig {
        command: vec![env!("CARGO_BIN_EXE_berth").into(), "example-server".into()],
        env: [("WHICH".to_owned(), which.to_owned())].into(),
        ..ServerConfig::default()
    }
}

fn text(answer: &serde_json::Value) -> &str {
    answer["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_else(|| panic!("a text result: {answer}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_are_added_replaced_and_removed_while_berth_runs() {
    let state = tempfile::tempdir().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = Config {
        listen: listener.local_addr().unwrap(),
        state_dir: state.path().to_owned(),
        ..Config::default()
    };
    let url = format!("http://{}/mcp/acme/tools", config.listen);
    let app = App::build(config).await.expect("Berth builds");
    let servers = app.servers().clone();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.run(listener, async {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::new();
    let alice = token(state.path(), "alice");
    let bob = token(state.path(), "bob");

    let (status, _) = env_get(&client, &url, &alice, "WHICH").await;
    assert_eq!(status, 404, "not hosted yet");

    servers.insert("acme", "tools", example_server("v1"));
    let (status, answer) = env_get(&client, &url, &alice, "WHICH").await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(text(&answer), "v1", "added without a restart");

    servers.insert("acme", "tools", example_server("v2"));
    let (_, answer) = env_get(&client, &url, &bob, "WHICH").await;
    assert_eq!(text(&answer), "v2", "a new session runs the new definition");
    let (_, answer) = env_get(&client, &url, &alice, "WHICH").await;
    assert_eq!(text(&answer), "v1", "an open session keeps its instance");

    assert!(servers.remove("acme", "tools").is_some());
    let (status, answer) = env_get(&client, &url, &alice, "WHICH").await;
    assert_eq!(status, 404, "removed: {answer}");

    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(30), running)
        .await
        .expect("Berth stops")
        .unwrap();
}
