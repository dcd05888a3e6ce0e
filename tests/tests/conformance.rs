//! The official MCP conformance suite against Berth hosting the example
//! server, with authentication on (a Node preload adds the bearer token the
//! CLI cannot send). Two runs:
//! - conformance 0.1.16, `--spec-version 2025-11-25`: every scenario passes;
//! - conformance 0.2.0-alpha.12, `--requirements 2026-07-28`: every scored
//!   scenario passes (extension and pending scenarios are reported only).
//!
//! Pass counts go to `$BERTH_RESULTS/conformance.summary` for scripts/test.

use berth_tests::conformance::{Auth, Report, Suite, record};
use berth_tests::{Berth, tool};

/// Runs `suite` against Berth's `demo/everything`, as the subject
/// `conformance` (the preload sends its token).
async fn run_suite(berth: &Berth, suite: Suite) -> Report {
    // The DNS-rebinding scenario requires a localhost URL.
    let base = berth.base.replace("127.0.0.1", "localhost");
    let auth = Auth {
        token: berth.token("conformance", "demo", &[]),
        origin: base.clone(),
    };
    suite
        .run(&format!("{base}/mcp/demo/everything"), Some(&auth))
        .await
}

#[tokio::test]
async fn conformance_2025_11_25_all_scenarios_pass() {
    let berth = Berth::demo(&[]).await;
    let report = run_suite(&berth, Suite::spec_2025_11_25()).await;
    let output = &report.output;
    let total = report.scenarios.len();
    let failed = report.failed();
    record(
        "conformance-2025-11-25",
        &format!(
            "conformance 0.1.16 --spec-version 2025-11-25: {}/{total} scenarios passed",
            total - failed.len()
        ),
        output,
    );
    assert_eq!(total, 30, "expected the 30 active scenarios:\n{output}");
    assert!(failed.is_empty(), "failing scenarios: {failed:?}\n{output}");
}

#[tokio::test]
async fn conformance_2026_07_28_all_scored_scenarios_pass() {
    let berth = Berth::demo(&[]).await;
    let report = run_suite(&berth, Suite::requirements_2026_07_28()).await;
    let output = &report.output;
    let scored = report.scored().len();
    let passed = report.scored_passed().len();
    let failed = report.scored_failed();
    record(
        "conformance-2026-07-28",
        &format!(
            "conformance 0.2.0-alpha.12 --requirements 2026-07-28: {passed}/{scored} scored scenarios passed (unscored extension/pending: {}/{} passed)",
            report.unscored_passed().len(),
            report.unscored().len()
        ),
        output,
    );
    assert_eq!(scored, 37, "expected the 37 scored scenarios:\n{output}");
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
    let suite = Suite::spec_2025_11_25().with_args(&["--suite", "all"]);
    let report = run_suite(&berth, suite).await;
    let output = &report.output;
    let total = report.scenarios.len();
    let failed = report.failed();
    record(
        "conformance-2025-11-25-all",
        &format!(
            "conformance 0.1.16 --spec-version 2025-11-25 --suite all (with limits.sse_poll_close): {}/{total} scenarios passed",
            total - failed.len()
        ),
        output,
    );
    assert_eq!(total, 32, "active + pending scenarios:\n{output}");
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
    let report = run_suite(&berth, Suite::spec_2025_11_25()).await;
    let output = &report.output;
    let total = report.scenarios.len();
    let failed = report.failed();
    record(
        &format!("{record_prefix}-2025-11-25"),
        &format!(
            "conformance 0.1.16 --spec-version 2025-11-25, {label}: {}/{total} scenarios passed",
            total - failed.len()
        ),
        output,
    );
    assert_eq!(total, 30, "{output}");
    assert!(
        failed.is_empty(),
        "failing scenarios ({label}): {failed:?}\n{output}"
    );
    let report = run_suite(&berth, Suite::requirements_2026_07_28()).await;
    let output = &report.output;
    let scored = report.scored().len();
    let failed = report.scored_failed();
    record(
        &format!("{record_prefix}-2026-07-28"),
        &format!(
            "conformance 0.2.0-alpha.12 --requirements 2026-07-28, {label}: {}/{scored} scored scenarios passed",
            scored - failed.len()
        ),
        output,
    );
    assert_eq!(scored, 37, "{output}");
    assert!(
        failed.is_empty(),
        "failing scored scenarios ({label}): {failed:?}\n{output}"
    );
}

#[test]
fn summary_parser_reads_scored_and_unscored() {
    let out = "x\n=== SUMMARY ===\n✓ a: 1 passed, 0 failed\n✗ b: 0 passed, 1 failed\nTotal: 1 passed\nNot scored for 2026-07-28: 1\n  ✗ b (extension)\n";
    let report = Report::parse(out);
    let s = &report.scenarios;
    assert_eq!(s.len(), 2);
    assert!(s[0].passed && !s[1].passed);
    assert!(!s[1].scored);
}
