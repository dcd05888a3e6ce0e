//! The official Python MCP SDK (`mcp` 2.x) against `berth demo`, in both
//! eras: legacy sessions (`initialize` + `Mcp-Session-Id`) and 2026-07-28
//! stateless requests. Each check runs one scenario of
//! `tests/python/scenarios.py`, which prints what the SDK observed as JSON;
//! the assertions here are what a user of the SDK would notice.

use std::time::Duration;

use berth_tests::{Berth, run, tool, workspace_root};
use serde_json::{Value, json};
use tokio::process::Command;

const LEGACY: &str = "legacy";
const MODERN: &str = "2026-07-28";
const ERAS: [&str; 2] = [LEGACY, MODERN];
/// What the scenarios' sampling callback answers.
const SAMPLED: &str = "sampled-by-python-callback";

/// Runs one scenario as `subject` and returns its observations.
async fn scenario(berth: &Berth, subject: &str, mode: &str, name: &str) -> Value {
    scenario_with(berth, subject, mode, name, &[]).await
}

async fn scenario_with(
    berth: &Berth,
    subject: &str,
    mode: &str,
    name: &str,
    env: &[(&str, String)],
) -> Value {
    let token = berth.token(subject, "demo", &[]);
    let script = workspace_root().join("tests/python/scenarios.py");
    let mut cmd = Command::new(tool("BERTH_TEST_PYTHON"));
    cmd.arg(&script)
        .arg(berth.url("demo", "everything"))
        .arg(&token)
        .arg(mode)
        .arg(name);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let (status, stdout, stderr) = run(&mut cmd, Duration::from_secs(120)).await;
    assert_eq!(
        status,
        Some(0),
        "scenario {name} ({mode}) failed\nstdout:\n{stdout}\nstderr:\n{stderr}\nberth log (tail):\n{}",
        tail(&berth.log(), 40)
    );
    let line = stdout.lines().last().unwrap_or_default();
    serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("scenario {name} ({mode}) printed no JSON ({e}): {stdout}"))
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("not a string: {s}"))
                .to_owned()
        })
        .collect()
}

#[tokio::test]
async fn basics_work_in_both_eras() {
    let berth = Berth::demo(&[]).await;
    for mode in ERAS {
        // A fresh subject per era, so the 2026 counter starts from nothing.
        let out = scenario(&berth, &format!("basics-{mode}"), mode, "basics").await;
        let expected_version = if mode == LEGACY { "2025-11-25" } else { MODERN };
        assert_eq!(out["protocol_version"], expected_version, "{mode}: {out}");
        let tools = strings(&out["tools"]);
        for name in [
            "echo",
            "counter_increment",
            "counter_get",
            "instance_info",
            "sleep_ms",
            "test_tool_with_progress",
            "test_sampling",
            "test_elicitation",
            "test_tool_with_logging",
            "test_trigger_tool_change",
        ] {
            assert!(
                tools.iter().any(|t| t == name),
                "{mode}: {name} missing from {tools:?}"
            );
        }
        assert_eq!(out["echo"], "hello from python", "{mode}");
        assert_eq!(out["counter"], json!(["1", "2", "3"]), "{mode}");
    }
}

#[tokio::test]
async fn progress_arrives_before_the_result() {
    let berth = Berth::demo(&[]).await;
    for mode in ERAS {
        let out = scenario(&berth, "progress", mode, "progress").await;
        assert_eq!(out["text"], "Progress test completed", "{mode}: {out}");
        assert_eq!(out["progress_count"], 3, "{mode}: {out}");
        assert_eq!(
            out["progress_values"],
            json!([0.0, 50.0, 100.0]),
            "{mode}: {out}"
        );
        assert_eq!(out["progress_before_result"], true, "{mode}: {out}");
    }
}

/// Concurrent calls on one client each get exactly their own progress (2026:
/// Berth gives every call a backend-unique token and maps it back; two calls
/// that raced for one token once got all or none of the notifications).
#[tokio::test]
async fn concurrent_calls_get_their_own_progress() {
    let berth = Berth::demo(&[]).await;
    for mode in ERAS {
        let out = scenario(&berth, "concurrent-progress", mode, "concurrent_progress").await;
        let per_call = out["per_call"].as_array().expect("per_call");
        assert_eq!(per_call.len(), 24, "{mode}: {out}");
        for values in per_call {
            assert_eq!(values, &json!([0.0, 50.0, 100.0]), "{mode}: {out}");
        }
    }
}

/// Legacy: a server→client request over SSE; 2026: Berth turns it into an
/// `input_required` result and the SDK retries with the callback's answer.
#[tokio::test]
async fn sampling_goes_through_the_callback() {
    let berth = Berth::demo(&[]).await;
    for mode in ERAS {
        let out = scenario(&berth, "sampling", mode, "sampling").await;
        assert_eq!(
            out["text"],
            format!("LLM response: {SAMPLED}"),
            "{mode}: {out}"
        );
        assert_eq!(out["callback_calls"], 1, "{mode}: {out}");
        assert_eq!(out["asked"], json!(["What is 2+2?"]), "{mode}: {out}");
    }
}

#[tokio::test]
async fn elicitation_goes_through_the_callback() {
    let berth = Berth::demo(&[]).await;
    for mode in ERAS {
        let out = scenario(&berth, "elicitation", mode, "elicitation").await;
        let text = out["text"].as_str().unwrap_or_default();
        assert!(
            text.starts_with("User response: action=accept"),
            "{mode}: {out}"
        );
        assert!(text.contains(r#""username":"py-user""#), "{mode}: {out}");
        assert!(
            text.contains(r#""email":"py@example.com""#),
            "{mode}: {out}"
        );
        assert_eq!(out["callback_calls"], 1, "{mode}: {out}");
        assert_eq!(out["messages"], json!(["Who are you?"]), "{mode}: {out}");
    }
}

/// Ten concurrent calls on one client: every answer reaches its own call
/// (Berth remaps request ids per backend).
#[tokio::test]
async fn concurrent_calls_are_matched_to_their_answers() {
    let berth = Berth::demo(&[]).await;
    for mode in ERAS {
        let out = scenario(&berth, "concurrent", mode, "concurrent").await;
        assert_eq!(out["answers"], out["sent"], "{mode}: {out}");
        assert_eq!(out["matched"], 10, "{mode}: {out}");
    }
}

/// 2026: `subscriptions/listen` delivers the tool-list change another client
/// of the same principal causes, and not another principal's.
#[tokio::test]
async fn listen_sees_the_principals_tool_list_changes() {
    let berth = Berth::demo(&[]).await;
    let other = berth.token("listen-other", "demo", &[]);
    let out = scenario_with(
        &berth,
        "listen",
        MODERN,
        "listen",
        &[("BERTH_OTHER_TOKEN", other)],
    )
    .await;
    assert_eq!(out["honored"]["toolsListChanged"], true, "{out}");
    assert_eq!(
        out["other_triggers"],
        json!([
            "test_dynamic_tool listed: true",
            "test_dynamic_tool listed: false"
        ]),
        "{out}"
    );
    assert_eq!(
        out["events_before_own_trigger"],
        json!([]),
        "another principal's change leaked: {out}"
    );
    assert_eq!(out["toggled"], "test_dynamic_tool listed: true", "{out}");
    assert_eq!(out["events"], json!(["ToolsListChanged"]), "{out}");
    // The notification arrives, but the tool the server added at run time
    // was not in the version's approval (the demo's server is a registry
    // version): Berth keeps it out of the listing.
    assert!(
        !strings(&out["tools_after"])
            .iter()
            .any(|t| t == "test_dynamic_tool"),
        "{out}"
    );
    assert!(
        strings(&out["tools_after"]).iter().any(|t| t == "echo"),
        "{out}"
    );
    assert_eq!(out["restored"], "test_dynamic_tool listed: false", "{out}");
}

/// Legacy: logging/setLevel governs; 2026: nothing without a per-request
/// log level, and only messages at or above it.
#[tokio::test]
async fn logging_follows_each_eras_rules() {
    let berth = Berth::demo(&[]).await;
    for mode in ERAS {
        let out = scenario(&berth, "logging", mode, "logging").await;
        for run in ["default", "debug", "error"] {
            assert_eq!(
                out[run]["text"], "Logging test completed",
                "{mode}/{run}: {out}"
            );
        }
        let debug = &out["debug"]["logs"];
        assert_eq!(out["debug"]["count"], 3, "{mode}: {out}");
        assert_eq!(
            debug
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["data"].clone())
                .collect::<Vec<_>>(),
            vec![
                json!("Tool execution started"),
                json!("Tool processing data"),
                json!("Tool execution completed")
            ],
            "{mode}: {out}"
        );
        assert!(
            debug
                .as_array()
                .unwrap()
                .iter()
                .all(|l| l["level"] == "info"),
            "{mode}: {out}"
        );
        assert_eq!(
            out["error"]["count"], 0,
            "{mode}: info messages passed an error filter: {out}"
        );
        if mode == MODERN {
            assert_eq!(
                out["default"]["count"], 0,
                "2026 logs without a logLevel: {out}"
            );
        }
    }
}

/// Legacy: the counter continues within a session; a new session is a new
/// instance and starts again at 1.
#[tokio::test]
async fn legacy_sessions_each_have_their_own_instance() {
    let berth = Berth::demo(&[]).await;
    let first = scenario(&berth, "erin", LEGACY, "basics").await;
    assert_eq!(first["counter"], json!(["1", "2", "3"]), "{first}");
    let second = scenario(&berth, "erin", LEGACY, "counter").await;
    assert_eq!(
        second["counter"], "1",
        "a new legacy session reused an instance: {second}"
    );
    let a = scenario(&berth, "erin", LEGACY, "instance").await;
    let b = scenario(&berth, "erin", LEGACY, "instance").await;
    assert_ne!(
        a["instance"]["instanceId"], b["instance"]["instanceId"],
        "{a} {b}"
    );
    assert_eq!(a["instance"]["counter"], 0, "{a}");
}

/// 2026: separate client runs of one subject share one hosting session (the
/// counter continues, same instance); another subject is isolated.
#[tokio::test]
async fn stateless_requests_of_a_principal_share_an_instance() {
    let berth = Berth::demo(&[]).await;
    let first = scenario(&berth, "carol", MODERN, "basics").await;
    assert_eq!(first["counter"], json!(["1", "2", "3"]), "{first}");
    let second = scenario(&berth, "carol", MODERN, "counter").await;
    assert_eq!(
        second["counter"], "4",
        "the counter did not continue: {second}"
    );
    let carol_a = scenario(&berth, "carol", MODERN, "instance").await;
    let carol_b = scenario(&berth, "carol", MODERN, "instance").await;
    assert_eq!(
        carol_a["instance"]["instanceId"], carol_b["instance"]["instanceId"],
        "{carol_a} {carol_b}"
    );
    assert_eq!(carol_b["instance"]["counter"], 4, "{carol_b}");
    let dave = scenario(&berth, "dave", MODERN, "counter").await;
    assert_eq!(
        dave["counter"], "1",
        "another subject saw carol's counter: {dave}"
    );
}

#[tokio::test]
async fn principals_get_different_instances() {
    let berth = Berth::demo(&[]).await;
    for mode in ERAS {
        let (a, b) = tokio::join!(
            scenario(&berth, "frank", mode, "instance"),
            scenario(&berth, "grace", mode, "instance"),
        );
        let (a, b) = (&a["instance"], &b["instance"]);
        assert!(
            a["instanceId"].as_str().is_some_and(|s| !s.is_empty()),
            "{mode}: {a}"
        );
        assert_ne!(a["instanceId"], b["instanceId"], "{mode}: {a} {b}");
        assert_ne!(a["pid"], b["pid"], "{mode}: {a} {b}");
    }
}

/// Two clients of one principal share a 2026 hosting session: a question the
/// server asks during X's call must reach X, not Y's concurrently running
/// call. Stdio carries no correlation, so Berth attributes a server message
/// to the most recently *active* call (started or resumed): X resumes after
/// Y started, so X's step-2 question goes to X.
#[tokio::test]
async fn input_requests_reach_the_call_that_caused_them() {
    let berth = Berth::demo(&[]).await;
    for mode in ERAS {
        let out = scenario(&berth, "shared-input", mode, "shared_input").await;
        assert_eq!(out["x"], "Ann likes blue", "{mode}: {out}");
        assert_eq!(out["y"], "slept", "{mode}: {out}");
    }
}
