//! The "failed to start" breaker cannot be turned against other agents: an
//! instance that ends while it is being initialized holds back only the
//! principal it was initialized for (its `initialize` may be what ended
//! it), while a server that cannot be started at all (no agent input
//! reaches a missing command) still fails fast for everyone.
//! `hostile-server` exits with status 9 when `initialize` names a client
//! called `crash`: Mallory crashes it over and over, in both eras, and
//! Alice, Bob and Carol are served at once each time.

use berth_tests::legacy::{call, init_reply, session};
use berth_tests::pods::text;
use berth_tests::{Berth, berth_bin, mcp_post, messages};
use serde_json::{Value, json};

const CONFIG: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
[limits]
request_timeout = "10s"
[servers.demo.hostile]
command = ["{hostile}"]
[servers.demo.exits]
command = ["/bin/sh", "-c", "exit 7"]
[servers.demo.missing]
command = ["/nonexistent/berth-test-mcp-server"]
"#;

/// Held: the answer of a start the breaker refused.
const HELD: &str = "not retried for another";

async fn start() -> Berth {
    let hostile = berth_bin().with_file_name("hostile-server");
    Berth::serve(&CONFIG.replace("{hostile}", hostile.to_str().unwrap()), &[]).await
}

/// A legacy `initialize` naming the client `name`; the answer's message
/// and whether a session was handed out.
async fn init_as(c: &reqwest::Client, url: &str, token: &str, name: &str) -> (Value, bool) {
    let body = json!({"jsonrpc":"2.0","id":1,"method":"initialize","params":{
        "protocolVersion":"2025-11-25","capabilities":{},
        "clientInfo":{"name":name,"version":"1"}}});
    let r = mcp_post(c, url, token, &body.to_string())
        .send()
        .await
        .unwrap();
    let session = r.headers().contains_key("mcp-session-id");
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let reply = messages(&ct, &r.text().await.unwrap()).pop().unwrap();
    (reply, session)
}

/// A 2026-07-28 `tools/call` of `echo` from a client named `name`.
async fn stateless_echo(
    c: &reqwest::Client,
    url: &str,
    token: &str,
    name: &str,
    said: &str,
) -> Value {
    let body = json!({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{
        "name":"echo","arguments":{"text":said},
        "_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",
                 "io.modelcontextprotocol/clientCapabilities":{},
                 "io.modelcontextprotocol/clientInfo":{"name":name,"version":"1"}}}});
    let r = mcp_post(c, url, token, &body.to_string())
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "echo")
        .send()
        .await
        .unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    messages(&ct, &r.text().await.unwrap()).pop().unwrap()
}

fn error_message(reply: &Value) -> String {
    reply["error"]["message"]
        .as_str()
        .unwrap_or_else(|| panic!("not an error: {reply}"))
        .to_owned()
}

#[tokio::test]
async fn a_principal_that_crashes_a_server_at_start_holds_back_only_itself() {
    let berth = start().await;
    let c = reqwest::Client::new();
    let url = berth.url("demo", "hostile");
    let mallory = berth.token("mallory", "demo", &[]);
    // Mallory's initialize crashes the server; her next try, whatever it
    // sends, is refused without a start ...
    let (reply, opened) = init_as(&c, &url, &mallory, "crash").await;
    assert!(!opened);
    let said = error_message(&reply);
    assert!(said.contains("exited with status 9"), "{said}");
    let (reply, opened) = init_as(&c, &url, &mallory, "polite").await;
    assert!(!opened);
    assert!(error_message(&reply).contains(HELD), "{reply}");
    for round in 0..3 {
        // ... and whether she is held or crashes it again ...
        if round > 0 {
            let (reply, opened) = init_as(&c, &url, &mallory, "crash").await;
            assert!(!opened);
            let said = error_message(&reply);
            assert!(
                said.contains(HELD) || said.contains("exited with status 9"),
                "round {round}: {said}"
            );
        }
        // ... everyone else, right after, is served at once.
        for who in ["alice", "bob"] {
            let token = berth.token(who, "demo", &[]);
            let sid = session(&c, &url, &token).await;
            let echo = call(&c, &url, &token, &sid, "echo", json!({"text": who})).await;
            assert_eq!(text(&echo), who, "round {round}: {who} was locked out");
        }
    }

    // 2026-07-28: Berth initializes the session-era server with the
    // agent's clientInfo, so Trudy can crash it the same way.
    let trudy = berth.token("trudy", "demo", &[]);
    let reply = stateless_echo(&c, &url, &trudy, "crash", "x").await;
    assert!(
        error_message(&reply).contains("exited with status 9"),
        "{reply}"
    );
    let reply = stateless_echo(&c, &url, &trudy, "crash", "x").await;
    assert!(error_message(&reply).contains(HELD), "{reply}");
    let carol = berth.token("carol", "demo", &[]);
    let reply = stateless_echo(&c, &url, &carol, "carol", "carol is served").await;
    assert_eq!(text(&reply), "carol is served", "Carol was locked out");
}

#[tokio::test]
async fn a_server_that_cannot_start_still_fails_fast() {
    let berth = start().await;
    let c = reqwest::Client::new();
    let (alice, bob) = (
        berth.token("alice", "demo", &[]),
        berth.token("bob", "demo", &[]),
    );
    // A missing command: nothing an agent sent is involved, so it is held
    // for everyone.
    let missing = berth.url("demo", "missing");
    let said = error_message(&init_reply(&c, &missing, &alice).await);
    assert!(said.contains("could not start server command"), "{said}");
    let said = error_message(&init_reply(&c, &missing, &bob).await);
    assert!(said.contains(HELD), "held for Bob too: {said}");
    // A server that exits at once: it ended during someone's initialize,
    // so each principal is held after its own failure only.
    let exits = berth.url("demo", "exits");
    let said = error_message(&init_reply(&c, &exits, &alice).await);
    assert!(said.contains("exited with status 7"), "{said}");
    let said = error_message(&init_reply(&c, &exits, &alice).await);
    assert!(said.contains(HELD), "Alice's retry is held: {said}");
    let said = error_message(&init_reply(&c, &exits, &bob).await);
    assert!(
        said.contains("exited with status 7"),
        "Bob is tried: {said}"
    );
    let said = error_message(&init_reply(&c, &exits, &bob).await);
    assert!(said.contains(HELD), "then held too: {said}");
}
