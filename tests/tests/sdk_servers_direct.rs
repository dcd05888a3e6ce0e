//! The official conformance suites run directly against the servers written
//! with the official SDKs (`tests/servers/`): no Berth, no authentication.
//! What each server passes here is the baseline Berth hosting it is held to
//! (Berth must pass through exactly what the server passes directly).
//!
//! Python (`mcp` 2.3.0), over Streamable HTTP:
//! - native (2025 sessions and 2026-07-28): all 30 scenarios of the
//!   2025-11-25 suite, all 37 scored scenarios of the 2026-07-28 one; of the
//!   13 unscored, the 3 pending ones and `tasks-status-notifications` (which
//!   checks nothing without a task) pass, the 9 other tasks-extension ones
//!   fail: the SDK ships no tasks implementation;
//! - `--legacy-only` (2025 sessions only): all 30 of the 2025-11-25 suite;
//!   of the 2026-07-28 suite only `input-required-result-validate-input`
//!   passes (it accepts any error, and every 2026 request is refused with
//!   400) and, unscored, `tasks-status-notifications`.
//!
//! Pass counts go to `$BERTH_RESULTS/conformance.summary` for scripts/test.

use berth_tests::conformance::{Report, Suite, record};
use berth_tests::sdk_servers::{ServerProcess, python_server};

/// The 2026-07-28 scenarios the SDK's `--legacy-only` server still passes.
const LEGACY_ONLY_2026_SCORED_PASSING: [&str; 1] = ["input-required-result-validate-input"];

/// The unscored 2026-07-28 scenarios the native server passes.
const NATIVE_2026_UNSCORED_PASSING: [&str; 4] = [
    "tasks-status-notifications",
    "json-schema-2020-12",
    "http-header-validation",
    "http-custom-header-server-validation",
];

/// Runs `suite` against `server`, records its output as `{name}` and its
/// summary line (labelled `label`), and returns the report.
async fn run(server: &ServerProcess, suite: Suite, name: &str, label: &str) -> Report {
    let report = suite.run(&server.url, None).await;
    let scored = report.scored();
    let unscored = report.unscored();
    let mut line = format!(
        "{}, {label}: {}/{} scored scenarios passed",
        suite.label(),
        report.scored_passed().len(),
        scored.len()
    );
    if !unscored.is_empty() {
        line.push_str(&format!(
            " (unscored extension/pending: {}/{} passed)",
            report.unscored_passed().len(),
            unscored.len()
        ));
    }
    record(name, &line, &report.output);
    report
}

/// `report` has `total` scored scenarios, of which exactly `passing` passed
/// (`None`: all of them).
fn assert_scored(report: &Report, total: usize, passing: Option<&[&str]>, server: &ServerProcess) {
    let output = &report.output;
    assert_eq!(
        report.scored().len(),
        total,
        "scored scenarios:\n{output}\nserver log:\n{}",
        server.log()
    );
    match passing {
        None => {
            let failed = report.scored_failed();
            assert!(
                failed.is_empty(),
                "failing scored scenarios: {failed:?}\n{output}\nserver log:\n{}",
                server.log()
            );
        }
        Some(passing) => assert_eq!(
            report.scored_passed(),
            passing,
            "passing scored scenarios:\n{output}\nserver log:\n{}",
            server.log()
        ),
    }
}

#[tokio::test]
async fn python_sdk_native_passes_both_suites() {
    let server = python_server(false).await;
    let label = "Python SDK mcp 2.3.0 direct (native)";
    let report = run(
        &server,
        Suite::spec_2025_11_25(),
        "conformance-python-native-2025-11-25",
        label,
    )
    .await;
    assert_scored(&report, 30, None, &server);

    let report = run(
        &server,
        Suite::requirements_2026_07_28(),
        "conformance-python-native-2026-07-28",
        label,
    )
    .await;
    assert_scored(&report, 37, None, &server);
    assert_eq!(
        report.unscored().len(),
        13,
        "unscored scenarios:\n{}",
        report.output
    );
    assert_eq!(
        report.unscored_passed(),
        NATIVE_2026_UNSCORED_PASSING,
        "passing unscored scenarios:\n{}",
        report.output
    );
}

#[tokio::test]
async fn python_sdk_legacy_only_passes_the_2025_suite_only() {
    let server = python_server(true).await;
    let label = "Python SDK mcp 2.3.0 direct (--legacy-only)";
    let report = run(
        &server,
        Suite::spec_2025_11_25(),
        "conformance-python-legacy-only-2025-11-25",
        label,
    )
    .await;
    assert_scored(&report, 30, None, &server);

    let report = run(
        &server,
        Suite::requirements_2026_07_28(),
        "conformance-python-legacy-only-2026-07-28",
        label,
    )
    .await;
    assert_scored(&report, 37, Some(&LEGACY_ONLY_2026_SCORED_PASSING), &server);
    assert_eq!(
        report.unscored_passed(),
        ["tasks-status-notifications"],
        "passing unscored scenarios:\n{}",
        report.output
    );
}
