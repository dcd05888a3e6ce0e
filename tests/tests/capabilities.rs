//! A 2026-07-28 agent's declared client capabilities, as Berth relays them
//! to a session-era server: the server is told exactly what the agents of
//! its hosting session declared — never a capability an agent lacks — and
//! agents that declared different sets never share an instance. A server
//! that speaks 2026-07-28 gets each request's own capabilities instead.

use berth_tests::{Berth, berth_bin, mcp_post, workspace_root};
use serde_json::{Value, json};

/// One 2026-07-28 `tools/call` of `name` as `berth`'s user `subject`,
/// declaring `caps`; `extra` adds params (e.g. `inputResponses`).
async fn call(berth: &Berth, subject: &str, name: &str, caps: Value, extra: Value) -> Value {
    let mut params = json!({
        "name": name,
        "arguments": {},
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": caps,
        },
    });
    if let (Some(p), Some(e)) = (params.as_object_mut(), extra.as_object()) {
        p.extend(e.clone());
    }
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": params});
    let token = berth.token(subject, "demo", &[]);
    let response = mcp_post(
        &reqwest::Client::new(),
        &berth.url("demo", "everything"),
        &token,
        &body.to_string(),
    )
    .header("mcp-protocol-version", "2026-07-28")
    .header("mcp-method", "tools/call")
    .header("mcp-name", name)
    .send()
    .await
    .expect("Berth answers");
    response.json().await.expect("a JSON answer")
}

/// `berth demo` hosting the example server limited to the session era
/// (`--sessions-only`: it answers `server/discover` with -32601).
async fn demo_of_a_session_era_server() -> Berth {
    let bin = berth_bin();
    Berth::demo(&[
        "--",
        bin.to_str().unwrap(),
        "example-server",
        "--sessions-only",
    ])
    .await
}

fn instance_id(answer: &Value) -> String {
    answer["result"]["structuredContent"]["instanceId"]
        .as_str()
        .unwrap_or_else(|| panic!("an instance id: {answer}"))
        .to_owned()
}

/// A session-era server learns its client's capabilities once, from
/// `initialize` (the fixture reports what it was told). Before, Berth
/// declared sampling, elicitation and roots for every agent.
#[tokio::test]
async fn a_session_era_server_is_told_exactly_what_the_agent_declared() {
    let fixture = workspace_root().join("tests/fixtures/misbehaving_server.py");
    let berth = Berth::demo(&["--", "python3", fixture.to_str().unwrap()]).await;
    let told = |caps: Value| {
        let berth = &berth;
        async move {
            let answer = call(berth, "alice", "declared", caps, json!({})).await;
            let text = answer["result"]["content"][0]["text"]
                .as_str()
                .unwrap_or_else(|| panic!("{answer}"))
                .to_owned();
            serde_json::from_str::<Value>(&text).unwrap()
        }
    };
    assert_eq!(told(json!({})).await, json!({}), "nothing claimed");
    assert_eq!(told(json!({"sampling": {}})).await, json!({"sampling": {}}));
    assert_eq!(
        told(json!({"elicitation": {}, "roots": {"listChanged": true}})).await,
        json!({"elicitation": {"form": {}}, "roots": {}})
    );
    // Another agent of the same user, still without sampling, is still
    // served by the instance told nothing.
    assert_eq!(told(json!({})).await, json!({}));
}

/// A dual-era server (the example) reads each request's declared
/// capabilities, and asks only through them.
#[tokio::test]
async fn a_server_asks_only_through_the_capabilities_its_agent_declared() {
    let berth = demo_of_a_session_era_server().await;
    let only_elicitation = json!({"elicitation": {}});
    let first = call(
        &berth,
        "alice",
        "test_input_required_result_capabilities",
        only_elicitation.clone(),
        json!({}),
    )
    .await;
    let result = &first["result"];
    assert_eq!(result["resultType"], "input_required", "{first}");
    let requests = result["inputRequests"].as_object().expect("input requests");
    let methods: Vec<&str> = requests
        .values()
        .map(|r| r["method"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(methods, ["elicitation/create"], "{first}");
    let key = requests.keys().next().unwrap().clone();
    let answers = json!({
        "inputResponses": {key: {"action": "accept", "content": {"name": "Alice"}}},
        "requestState": result["requestState"],
    });
    let done = call(
        &berth,
        "alice",
        "test_input_required_result_capabilities",
        only_elicitation,
        answers,
    )
    .await;
    assert_eq!(done["result"]["resultType"], "complete", "{done}");
    let text = done["result"]["content"][0]["text"]
        .as_str()
        .unwrap_or_default();
    assert!(
        text.contains("user_name") && !text.contains("summary"),
        "{done}"
    );
}

#[tokio::test]
async fn agents_that_declared_different_capabilities_never_share_an_instance() {
    let berth = demo_of_a_session_era_server().await;
    let bare = instance_id(&call(&berth, "alice", "instance_info", json!({}), json!({})).await);
    let again = instance_id(&call(&berth, "alice", "instance_info", json!({}), json!({})).await);
    assert_eq!(bare, again, "one principal, one set: one instance");
    let sampling = json!({"sampling": {}});
    let with_sampling = instance_id(
        &call(
            &berth,
            "alice",
            "instance_info",
            sampling.clone(),
            json!({}),
        )
        .await,
    );
    assert_ne!(bare, with_sampling, "another set: another instance");
    let again = instance_id(&call(&berth, "alice", "instance_info", sampling, json!({})).await);
    assert_eq!(with_sampling, again);
}

#[tokio::test]
async fn a_server_that_needs_a_capability_the_agent_lacks_refuses_with_32021() {
    let berth = demo_of_a_session_era_server().await;
    let answer = call(
        &berth,
        "alice",
        "test_missing_capability",
        json!({}),
        json!({}),
    )
    .await;
    assert_eq!(answer["error"]["code"], -32021, "{answer}");
    let required = &answer["error"]["data"]["requiredCapabilities"];
    assert!(required.get("sampling").is_some(), "{answer}");
}

/// A server that speaks 2026-07-28 reads each request's capabilities from
/// its `_meta`: Berth speaks to it natively, so one instance serves a
/// principal whatever each request declares, and the server itself checks
/// what each request declared.
#[tokio::test]
async fn a_native_server_reads_each_requests_capabilities_from_one_instance() {
    let berth = Berth::demo(&[]).await;
    let bare = instance_id(&call(&berth, "alice", "instance_info", json!({}), json!({})).await);
    let with_sampling = instance_id(
        &call(
            &berth,
            "alice",
            "instance_info",
            json!({"sampling": {}}),
            json!({}),
        )
        .await,
    );
    assert_eq!(bare, with_sampling, "one principal: one instance");
    let refused = call(
        &berth,
        "alice",
        "test_missing_capability",
        json!({}),
        json!({}),
    )
    .await;
    assert_eq!(refused["error"]["code"], -32021, "{refused}");
    let allowed = call(
        &berth,
        "alice",
        "test_missing_capability",
        json!({"sampling": {}}),
        json!({}),
    )
    .await;
    assert!(allowed.get("error").is_none(), "{allowed}");
}
