//! Servers written with the official SDKs pass through Berth exactly what
//! they pass directly: both conformance suites run against each server's
//! own HTTP endpoint and against the same server hosted by Berth over
//! stdio (process backend), and every scenario that passes directly must
//! pass through Berth, scenario by scenario, scored or not. Each server
//! runs natively (both eras) and forced to the session era only.
//!
//! The counts go to `$BERTH_RESULTS/conformance.summary`.

use berth_tests::Berth;
use berth_tests::conformance::{Auth, Report, Suite, record};
use berth_tests::sdk_servers::{
    ServerProcess, python_server, python_stdio_command, typescript_server, typescript_stdio_command,
};

/// Berth hosting `argv` (a stdio server) as `demo/everything`.
async fn berth_hosting(argv: &[String]) -> Berth {
    let command = argv
        .iter()
        .map(|a| format!("{a:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let config = format!(
        r#"
listen = "127.0.0.1:0"
state_dir = "{{state_dir}}"
[servers.demo.everything]
command = [{command}]
"#
    );
    Berth::serve(&config, &[]).await
}

/// Runs `suite` directly and through Berth; returns both reports.
async fn both(suite: &Suite, direct: &ServerProcess, berth: &Berth) -> (Report, Report) {
    let direct_report = suite.run(&direct.url, None).await;
    // The DNS-rebinding scenario needs a localhost URL.
    let base = berth.base.replace("127.0.0.1", "localhost");
    let auth = Auth {
        token: berth.token("conformance", "demo", &[]),
        origin: base.clone(),
    };
    let through = suite
        .run(&format!("{base}/mcp/demo/everything"), Some(&auth))
        .await;
    (direct_report, through)
}

/// Scenarios that pass directly but not through Berth.
fn lost<'a>(direct: &'a Report, through: &Report) -> Vec<&'a str> {
    direct
        .scenarios
        .iter()
        .filter(|d| d.passed)
        .filter(|d| {
            !through
                .scenarios
                .iter()
                .any(|t| t.name == d.name && t.passed)
        })
        .map(|d| d.name.as_str())
        .collect()
}

fn passed(r: &Report) -> usize {
    r.scenarios.iter().filter(|s| s.passed).count()
}

async fn compare(server: &str, legacy_only: bool, argv: Vec<String>, direct: ServerProcess) {
    let berth = berth_hosting(&argv).await;
    let mode = if legacy_only {
        "session era only"
    } else {
        "native"
    };
    let mut lost_all = Vec::new();
    for suite in [Suite::spec_2025_11_25(), Suite::requirements_2026_07_28()] {
        let (d, t) = both(&suite, &direct, &berth).await;
        let lost = lost(&d, &t);
        record(
            &format!(
                "sdk-{server}-{}-{}",
                if legacy_only { "legacy" } else { "native" },
                suite.label().replace(' ', "_")
            ),
            &format!(
                "{server} SDK server ({mode}), {}: {}/{} directly, {}/{} through Berth (stdio); lost: {lost:?}",
                suite.label(),
                passed(&d),
                d.scenarios.len(),
                passed(&t),
                t.scenarios.len(),
            ),
            &format!(
                "=== direct ===\n{}\n=== through Berth ===\n{}",
                d.output, t.output
            ),
        );
        lost_all.extend(lost.iter().map(|s| format!("{}: {s}", suite.label())));
    }
    assert!(
        lost_all.is_empty(),
        "{server} ({mode}): passes directly but not through Berth: {lost_all:?}\nBerth log:\n{}",
        berth.log()
    );
}

#[tokio::test]
async fn python_sdk_server_native() {
    compare(
        "python",
        false,
        python_stdio_command(false),
        python_server(false).await,
    )
    .await;
}

#[tokio::test]
async fn python_sdk_server_session_era_only() {
    compare(
        "python",
        true,
        python_stdio_command(true),
        python_server(true).await,
    )
    .await;
}

#[tokio::test]
async fn typescript_sdk_server_native() {
    compare(
        "typescript",
        false,
        typescript_stdio_command(false),
        typescript_server(false).await,
    )
    .await;
}

#[tokio::test]
async fn typescript_sdk_server_session_era_only() {
    compare(
        "typescript",
        true,
        typescript_stdio_command(true),
        typescript_server(true).await,
    )
    .await;
}
