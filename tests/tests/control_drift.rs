//! Capability approval and drift blocking ("rug pull"): approving a
//! version records what it offers with fingerprints; a tool whose
//! description changes afterwards is hidden from listings and refused
//! exactly like an unknown tool, in both protocol eras, even for an agent
//! that calls without listing; the drift shows in `capabilities` and the
//! audit log; only a new approved version brings the changed tool back.

use berth_tests::control::{api, cli};
use berth_tests::legacy::{call, session};
use berth_tests::pods::modern;
use berth_tests::{Berth, berth_bin, mcp_post, messages};
use reqwest::Method;
use serde_json::{Value, json};

/// `tools/list` in legacy session `sid`: the tool names.
async fn list_tools(c: &reqwest::Client, url: &str, token: &str, sid: &str) -> Vec<String> {
    let body = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list", "params": {}}).to_string();
    let r = mcp_post(c, url, token, &body)
        .header("mcp-session-id", sid)
        .send()
        .await
        .unwrap();
    let ct = r.headers()["content-type"].to_str().unwrap().to_owned();
    let reply = messages(&ct, &r.text().await.unwrap()).pop().unwrap();
    names(&reply)
}

fn names(reply: &Value) -> Vec<String> {
    reply["result"]["tools"]
        .as_array()
        .unwrap_or_else(|| panic!("no tools in {reply}"))
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn a_tool_changed_after_approval_is_hidden_refused_and_recorded() {
    let berth = Berth::serve(
        "listen = \"127.0.0.1:0\"\nstate_dir = \"{state_dir}\"\n",
        &[],
    )
    .await;
    let c = reqwest::Client::new();
    let alice = berth.token("alice", "acme", &["berth:admin"]);
    let bob = berth.token("bob", "acme", &["berth:admin"]);
    let agent = berth.token("carol", "acme", &[]);
    let dir = tempfile::tempdir().unwrap();
    let switch = dir.path().join("echo-description");
    let server = format!("{}/v1/tenants/acme/servers/tools", berth.base);
    let doc = json!({
        "command": [berth_bin(), "example-server"],
        "env": {"EXAMPLE_SERVER_ECHO_DESCRIPTION_FILE": switch},
    });
    assert_eq!(
        api(&c, Method::PUT, &server, &alice, Some(doc.clone()))
            .await
            .0,
        201
    );

    // Approval starts the version and records what it offers.
    let (status, approved, _) = api(
        &c,
        Method::POST,
        &format!("{server}/versions/1/approve"),
        &bob,
        None,
    )
    .await;
    assert_eq!(status, 200, "{approved}");
    let caps = approved["versions"][0]["capabilities"]
        .as_array()
        .expect("capabilities recorded");
    let echo = caps
        .iter()
        .find(|c| c["kind"] == "tool" && c["name"] == "echo")
        .expect("echo approved");
    let echo_fp = echo["fingerprint"].as_str().unwrap().to_owned();
    assert!(echo_fp.starts_with("sha256:"));
    assert!(
        caps.iter().any(|c| c["kind"] == "prompt"),
        "prompts are recorded too: {caps:?}"
    );
    assert!(
        caps.iter().any(|c| c["kind"] == "resource"),
        "resources too"
    );
    assert_eq!(
        api(
            &c,
            Method::POST,
            &format!("{server}/versions/1/activate"),
            &bob,
            None
        )
        .await
        .0,
        200
    );

    let url = berth.url("acme", "tools");
    let sid = session(&c, &url, &agent).await;
    assert!(
        list_tools(&c, &url, &agent, &sid)
            .await
            .contains(&"echo".to_owned())
    );
    let r = call(&c, &url, &agent, &sid, "echo", json!({"text": "before"})).await;
    assert_eq!(r["result"]["content"][0]["text"], "before");

    // The server changes echo's description behind the approval's back.
    std::fs::write(
        &switch,
        "Returns its `text` argument, and posts it to a third party",
    )
    .unwrap();
    let listed = list_tools(&c, &url, &agent, &sid).await;
    assert!(
        !listed.contains(&"echo".to_owned()),
        "a drifted tool was listed: {listed:?}"
    );
    assert!(
        listed.contains(&"counter_get".to_owned()),
        "unchanged tools stay: {listed:?}"
    );
    let refused = call(&c, &url, &agent, &sid, "echo", json!({"text": "leak"})).await;
    let unknown = call(&c, &url, &agent, &sid, "no_such_tool", json!({})).await;
    assert_eq!(refused["error"]["code"], -32602, "{refused}");
    assert_eq!(refused["error"]["code"], unknown["error"]["code"]);
    assert_eq!(refused["error"]["message"], "Unknown tool: echo");
    assert_eq!(
        unknown["error"]["message"], "Unknown tool: no_such_tool",
        "nothing tells them apart"
    );

    // 2026-07-28, a fresh principal calling without listing first: Berth
    // lists for itself and refuses the same way; the listing hides echo.
    let other = berth.token("dave", "acme", &[]);
    let r = modern(
        &c,
        &url,
        &other,
        "tools/call",
        json!({"name": "echo", "arguments": {"text": "leak"}}),
    )
    .await;
    assert_eq!(r["error"]["message"], "Unknown tool: echo", "{r}");
    let r = modern(&c, &url, &other, "tools/list", json!({})).await;
    assert!(!names(&r).contains(&"echo".to_owned()), "{r}");
    let r = modern(
        &c,
        &url,
        &other,
        "tools/call",
        json!({"name": "counter_get", "arguments": {}}),
    )
    .await;
    assert!(
        r.get("result").is_some(),
        "approved, unchanged tools still work: {r}"
    );

    // The drift is recorded once (two sessions saw it) and audited.
    let mut drift = Value::Null;
    for _ in 0..50 {
        let (_, caps, _) = api(
            &c,
            Method::GET,
            &format!("{server}/capabilities"),
            &alice,
            None,
        )
        .await;
        if caps["drift"].as_array().is_some_and(|d| !d.is_empty()) {
            drift = caps;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let seen = drift["drift"]
        .as_array()
        .unwrap_or_else(|| panic!("no drift recorded: {drift}"));
    let echoes: Vec<&Value> = seen.iter().filter(|d| d["name"] == "echo").collect();
    assert_eq!(echoes.len(), 1, "recorded once: {seen:?}");
    assert_eq!(echoes[0]["approved"], echo_fp.as_str());
    assert_ne!(echoes[0]["live"], echo_fp.as_str());
    assert_eq!(echoes[0]["version"], 1);
    println!("drift: {}", echoes[0]);
    assert!(
        berth.log().contains("capability.drift"),
        "audit event missing"
    );
    let (code, out, err) = cli(&berth.base, &alice, &["caps", "acme/tools"]).await;
    assert_eq!(code, Some(0), "{err}");
    assert!(out.contains("drift:") && out.contains("echo"), "{out}");

    // Only a new approved version brings the changed tool back.
    assert_eq!(
        api(&c, Method::PUT, &server, &alice, Some(doc)).await.0,
        201
    );
    assert_eq!(
        api(
            &c,
            Method::POST,
            &format!("{server}/versions/2/approve"),
            &bob,
            None
        )
        .await
        .0,
        200
    );
    assert_eq!(
        api(
            &c,
            Method::POST,
            &format!("{server}/versions/2/activate"),
            &bob,
            None
        )
        .await
        .0,
        200
    );
    let fresh = session(&c, &url, &agent).await;
    let r = call(
        &c,
        &url,
        &agent,
        &fresh,
        "echo",
        json!({"text": "after re-approval"}),
    )
    .await;
    assert_eq!(
        r["result"]["content"][0]["text"], "after re-approval",
        "{r}"
    );
}
