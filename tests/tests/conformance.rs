//! The official MCP conformance suite against Berth hosting the example
//! server, with authentication on (a Node preload adds the bearer token the
//! CLI cannot send). Two runs:
//! - conformance 0.1.16, `--spec-version 2025-11-25`: every scenario passes;
//! - conformance 0.2.0-alpha.12, `--requirements 2026-07-28`: every scored
//!   scenario passes (extension and pending scenarios are reported only).
//!
//! Pass counts go to `$BERTH_RESULTS/conformance.summary` for scripts/test.

use std::collections::BTreeSet;
use std::time::Duration;

use berth_tests::{Berth, results_dir, run, tool, workspace_root};
use tokio::process::Command;

/// One scenario line of the CLI's summary.
#[derive(Debug)]
struct Scenario {
    name: String,
    passed: bool,
}

/// Parses `✓ name: N passed, M failed` lines and the "Not scored" list.
fn parse(output: &str) -> (Vec<Scenario>, BTreeSet<String>) {
    let summary = output.split("=== SUMMARY ===").nth(1).unwrap_or("");
    let mut scenarios = Vec::new();
    let mut unscored = BTreeSet::new();
    let mut in_unscored = false;
    for line in summary.lines() {
        if line.starts_with("Not scored") {
            in_unscored = true;
            continue;
        }
        let trimmed = line.trim_start();
        let (mark, rest) = match trimmed.chars().next() {
            Some('✓') => (true, &trimmed['✓'.len_utf8()..]),
            Some('✗') => (false, &trimmed['✗'.len_utf8()..]),
            _ => continue,
        };
        let rest = rest.trim();
        if in_unscored {
            if let Some(name) = rest.split_whitespace().next() {
                unscored.insert(name.to_owned());
            }
        } else if let Some((name, _)) = rest.split_once(':') {
            scenarios.push(Scenario {
                name: name.trim().to_owned(),
                passed: mark,
            });
        }
    }
    (scenarios, unscored)
}

async fn run_suite(berth: &Berth, cli_var: &str, args: &[&str]) -> String {
    let node = tool("BERTH_TEST_NODE");
    let cli = tool(cli_var);
    let token = berth.token("conformance", "demo", &[]);
    // The DNS-rebinding scenario requires a localhost URL.
    let base = berth.base.replace("127.0.0.1", "localhost");
    let url = format!("{base}/mcp/demo/everything");
    let out_dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(node);
    cmd.arg("--import")
        .arg(workspace_root().join("tests/conformance/auth-preload.mjs"))
        .arg(&cli)
        .args(["server", "--url", &url])
        .args(args)
        .current_dir(out_dir.path())
        .env("BERTH_ORIGIN", &base)
        .env("BERTH_TOKEN", token)
        .env("BERTH_CONFORMANCE_ENTRY", &cli);
    let (_status, stdout, stderr) = run(&mut cmd, Duration::from_secs(900)).await;
    format!("{stdout}\n{stderr}")
}

fn record(name: &str, line: &str, output: &str) {
    let dir = results_dir();
    std::fs::write(dir.join(format!("{name}.log")), output).unwrap();
    let summary = dir.join("conformance.summary");
    let mut text = std::fs::read_to_string(&summary).unwrap_or_default();
    text.push_str(line);
    text.push('\n');
    std::fs::write(summary, text).unwrap();
}

#[tokio::test]
async fn conformance_2025_11_25_all_scenarios_pass() {
    let berth = Berth::demo(&[]).await;
    let output = run_suite(
        &berth,
        "BERTH_TEST_CONFORMANCE",
        &["--spec-version", "2025-11-25"],
    )
    .await;
    let (scenarios, _) = parse(&output);
    let passed = scenarios.iter().filter(|s| s.passed).count();
    let failed: Vec<&str> = scenarios
        .iter()
        .filter(|s| !s.passed)
        .map(|s| s.name.as_str())
        .collect();
    record(
        "conformance-2025-11-25",
        &format!(
            "conformance 0.1.16 --spec-version 2025-11-25: {passed}/{} scenarios passed",
            scenarios.len()
        ),
        &output,
    );
    assert_eq!(
        scenarios.len(),
        30,
        "expected the 30 active scenarios:\n{output}"
    );
    assert!(failed.is_empty(), "failing scenarios: {failed:?}\n{output}");
}

#[tokio::test]
async fn conformance_2026_07_28_all_scored_scenarios_pass() {
    let berth = Berth::demo(&[]).await;
    let output = run_suite(
        &berth,
        "BERTH_TEST_CONFORMANCE_NEXT",
        &["--requirements", "2026-07-28"],
    )
    .await;
    let (scenarios, unscored) = parse(&output);
    let scored: Vec<&Scenario> = scenarios
        .iter()
        .filter(|s| !unscored.contains(&s.name))
        .collect();
    let passed = scored.iter().filter(|s| s.passed).count();
    let failed: Vec<&str> = scored
        .iter()
        .filter(|s| !s.passed)
        .map(|s| s.name.as_str())
        .collect();
    let extra_passed = scenarios
        .iter()
        .filter(|s| unscored.contains(&s.name) && s.passed)
        .count();
    record(
        "conformance-2026-07-28",
        &format!(
            "conformance 0.2.0-alpha.12 --requirements 2026-07-28: {passed}/{} scored scenarios passed (unscored extension/pending: {extra_passed}/{} passed)",
            scored.len(),
            unscored.len()
        ),
        &output,
    );
    assert_eq!(
        scored.len(),
        37,
        "expected the 37 scored scenarios:\n{output}"
    );
    assert!(
        failed.is_empty(),
        "failing scored scenarios: {failed:?}\n{output}"
    );
}

/// Berth with SEP-1699 polling on: slow answers are primed at once and
/// their POST stream is closed, so the agent resumes with `Last-Event-ID`.
const POLLING: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
[limits]
sse_prime_after = "20ms"
sse_poll_close = "0s"
[servers.demo.everything]
command = ["{berth_bin}", "example-server"]
"#;

#[tokio::test]
async fn conformance_2025_11_25_pending_scenarios_pass_with_sse_polling() {
    let berth = Berth::serve(POLLING, &[]).await;
    let output = run_suite(
        &berth,
        "BERTH_TEST_CONFORMANCE",
        &["--spec-version", "2025-11-25", "--suite", "all"],
    )
    .await;
    let (scenarios, _) = parse(&output);
    let passed = scenarios.iter().filter(|s| s.passed).count();
    let failed: Vec<&str> = scenarios
        .iter()
        .filter(|s| !s.passed)
        .map(|s| s.name.as_str())
        .collect();
    record(
        "conformance-2025-11-25-all",
        &format!(
            "conformance 0.1.16 --spec-version 2025-11-25 --suite all (with limits.sse_poll_close): {passed}/{} scenarios passed",
            scenarios.len()
        ),
        &output,
    );
    assert_eq!(scenarios.len(), 32, "active + pending scenarios:\n{output}");
    assert!(failed.is_empty(), "failing scenarios: {failed:?}\n{output}");
    // Priming event, retry field and the Last-Event-ID resume all succeed
    // (a missing one is a warning, not a failure, in this suite).
    assert!(
        output.contains("server-sse-polling: 3 passed, 0 failed"),
        "server-sse-polling did not pass all three checks:\n{output}"
    );
}

/// The same suites with every session in its own container.
const DOCKER: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
backend = "docker"
[servers.demo.everything]
image = "berth/example-server"
warm_pool = 2
"#;

/// The same with HTTP-transport servers: Berth is the Streamable HTTP
/// client of a server in a container on its internal network.
const DOCKER_HTTP: &str = r#"
listen = "127.0.0.1:0"
state_dir = "{state_dir}"
backend = "docker"
[docker]
internal_network = "berth-test-conformance"
[servers.demo.everything]
image = "berth/example-server-http"
transport = "http"
warm_pool = 2
"#;

#[tokio::test]
async fn conformance_passes_through_containers() {
    both_suites_pass(DOCKER, "docker backend", "conformance-docker").await;
}

#[tokio::test]
async fn conformance_passes_through_http_transport_containers() {
    both_suites_pass(
        DOCKER_HTTP,
        "docker backend, HTTP transport",
        "conformance-docker-http",
    )
    .await;
}

/// Runs the 2025-11-25 and 2026-07-28 suites against a Berth serving
/// `config`; records results under `record_prefix`.
async fn both_suites_pass(config: &str, label: &str, record_prefix: &str) {
    let _ = tool("DOCKER_HOST");
    let berth = Berth::serve(config, &[]).await;
    let output = run_suite(
        &berth,
        "BERTH_TEST_CONFORMANCE",
        &["--spec-version", "2025-11-25"],
    )
    .await;
    let (scenarios, _) = parse(&output);
    let failed: Vec<&str> = scenarios
        .iter()
        .filter(|s| !s.passed)
        .map(|s| s.name.as_str())
        .collect();
    let passed = scenarios.len() - failed.len();
    record(
        &format!("{record_prefix}-2025-11-25"),
        &format!(
            "conformance 0.1.16 --spec-version 2025-11-25, {label}: {passed}/{} scenarios passed",
            scenarios.len()
        ),
        &output,
    );
    assert_eq!(scenarios.len(), 30, "{output}");
    assert!(
        failed.is_empty(),
        "failing scenarios ({label}): {failed:?}\n{output}"
    );
    let output = run_suite(
        &berth,
        "BERTH_TEST_CONFORMANCE_NEXT",
        &["--requirements", "2026-07-28"],
    )
    .await;
    let (scenarios, unscored) = parse(&output);
    let scored: Vec<&Scenario> = scenarios
        .iter()
        .filter(|s| !unscored.contains(&s.name))
        .collect();
    let failed: Vec<&str> = scored
        .iter()
        .filter(|s| !s.passed)
        .map(|s| s.name.as_str())
        .collect();
    record(
        &format!("{record_prefix}-2026-07-28"),
        &format!(
            "conformance 0.2.0-alpha.12 --requirements 2026-07-28, {label}: {}/{} scored scenarios passed",
            scored.len() - failed.len(),
            scored.len()
        ),
        &output,
    );
    assert_eq!(scored.len(), 37, "{output}");
    assert!(
        failed.is_empty(),
        "failing scored scenarios ({label}): {failed:?}\n{output}"
    );
}

#[test]
fn summary_parser_reads_scored_and_unscored() {
    let out = "x\n=== SUMMARY ===\n✓ a: 1 passed, 0 failed\n✗ b: 0 passed, 1 failed\nTotal: 1 passed\nNot scored for 2026-07-28: 1\n  ✗ b (extension)\n";
    let (s, u) = parse(out);
    assert_eq!(s.len(), 2);
    assert!(s[0].passed && !s[1].passed);
    assert!(u.contains("b"));
}
