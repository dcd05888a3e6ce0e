//! Servers written with the official SDKs pass through Berth exactly what
//! they pass directly: both conformance suites run against each server's
//! own HTTP endpoint and against the same server hosted by Berth — over
//! stdio by the process backend, over stdio in a container and over
//! Streamable HTTP in a container (the docker backend) — and every
//! scenario that passes directly must pass through Berth each way,
//! scenario by scenario, scored or not. Each server runs natively (both
//! eras) and forced to the session era only; forced, every
//! `input_required` scenario must also pass through Berth's translation.
//!
//! Needs the dockerd and the SDK server images `scripts/test` provides
//! (`tests/servers/build-images`). The counts go to
//! `$BERTH_RESULTS/conformance.summary`.

use berth_tests::Berth;
use berth_tests::conformance::{Auth, Report, Suite, record};
use berth_tests::sdk_servers::Sdk;

/// How Berth hosts the server.
#[derive(Clone, Copy, Debug)]
enum Hosting {
    /// Process backend, stdio.
    Process,
    /// Docker backend, stdio.
    Docker,
    /// Docker backend, Streamable HTTP on the container's port 8080.
    DockerHttp,
}

// === impl Hosting ===

impl Hosting {
    fn label(self) -> &'static str {
        match self {
            Hosting::Process => "process (stdio)",
            Hosting::Docker => "docker (stdio)",
            Hosting::DockerHttp => "docker (HTTP)",
        }
    }

    /// Berth's configuration hosting `sdk` as `demo/everything`.
    fn config(self, sdk: Sdk, legacy_only: bool) -> String {
        let mut argv = sdk.stdio_command(legacy_only);
        let command = |argv: &[String]| {
            argv.iter()
                .map(|a| format!("{a:?}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let head = "listen = \"127.0.0.1:0\"\nstate_dir = \"{state_dir}\"\n";
        match self {
            Hosting::Process => format!(
                "{head}[servers.demo.everything]\ncommand = [{}]\n",
                command(&argv)
            ),
            Hosting::Docker | Hosting::DockerHttp => {
                let transport = if matches!(self, Hosting::DockerHttp) {
                    argv.extend(sdk.container_http_args());
                    "transport = \"http\"\nport = 8080\n"
                } else {
                    ""
                };
                format!(
                    "{head}backend = \"docker\"\n[docker]\ninternal_network = \"berth-test-internal\"\n\
                     [servers.demo.everything]\nimage = \"{}\"\ncommand = [{}]\n{transport}\
                     memory = \"512m\"\nwarm_pool = 2\n",
                    sdk.image(),
                    command(&argv)
                )
            }
        }
    }
}

/// Runs `suite` through Berth.
async fn through(suite: &Suite, berth: &Berth) -> Report {
    // The DNS-rebinding scenario needs a localhost URL.
    let base = berth.base.replace("127.0.0.1", "localhost");
    let auth = Auth {
        token: berth.token("conformance", "demo", &[]),
        origin: base.clone(),
    };
    suite
        .run(&format!("{base}/mcp/demo/everything"), Some(&auth))
        .await
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

/// The `input_required` scenario whose checks include the server's own
/// key for its input request (`user_name`): a session-era server's
/// `elicitation/create` has no key, so Berth names it.
const NEEDS_SERVER_KEYS: &str = "input-required-result-basic-elicitation";

/// `input_required` scenarios that fail through Berth's translation (all
/// of them must pass but [`NEEDS_SERVER_KEYS`]: single and multiple input
/// requests, several rounds, tampered and missing state, requests from
/// prompts and resources, capability checks, input validation).
fn untranslated(through: &Report) -> Vec<&str> {
    let scenarios: Vec<_> = through
        .scenarios
        .iter()
        .filter(|s| s.name.starts_with("input-required-result-"))
        .collect();
    assert!(
        scenarios.len() >= 10,
        "the 2026-07-28 suite ran {} input_required scenarios",
        scenarios.len()
    );
    scenarios
        .into_iter()
        .filter(|s| !s.passed && s.name != NEEDS_SERVER_KEYS)
        .map(|s| s.name.as_str())
        .collect()
}

fn passed(r: &Report) -> usize {
    r.scenarios.iter().filter(|s| s.passed).count()
}

async fn compare(sdk: Sdk, legacy_only: bool) {
    let server = sdk.name();
    let mode = if legacy_only {
        "session era only"
    } else {
        "native"
    };
    let direct = sdk.direct(legacy_only).await;
    let suites = [Suite::spec_2025_11_25(), Suite::requirements_2026_07_28()];
    let mut direct_reports = Vec::new();
    for suite in &suites {
        direct_reports.push(suite.run(&direct.url, None).await);
    }
    let mut lost_all = Vec::new();
    for hosting in [Hosting::Process, Hosting::Docker, Hosting::DockerHttp] {
        let berth = Berth::serve(&hosting.config(sdk, legacy_only), &[]).await;
        for (suite, d) in suites.iter().zip(&direct_reports) {
            let t = through(suite, &berth).await;
            let lost = lost(d, &t);
            record(
                &format!(
                    "sdk-{server}-{}-{hosting:?}-{}",
                    if legacy_only { "legacy" } else { "native" },
                    suite.label().replace(' ', "_")
                ),
                &format!(
                    "{server} SDK server ({mode}), {}: {}/{} directly, {}/{} through Berth, {}; lost: {lost:?}",
                    suite.label(),
                    passed(d),
                    d.scenarios.len(),
                    passed(&t),
                    t.scenarios.len(),
                    hosting.label(),
                ),
                &format!(
                    "=== direct ===\n{}\n=== through Berth, {} ===\n{}",
                    d.output,
                    hosting.label(),
                    t.output
                ),
            );
            lost_all.extend(
                lost.iter()
                    .map(|s| format!("{}, {}: {s}", hosting.label(), suite.label())),
            );
            if legacy_only && suite.label().contains("2026-07-28") {
                // Berth's own translation: a session-era server's
                // sampling, elicitation and roots requests become valid
                // input_required results that complete on retry.
                lost_all.extend(
                    untranslated(&t)
                        .iter()
                        .map(|s| format!("{}, translated: {s}", hosting.label())),
                );
            }
        }
        if !lost_all.is_empty() {
            eprintln!("Berth log ({}):\n{}", hosting.label(), berth.log());
        }
    }
    assert!(
        lost_all.is_empty(),
        "{server} ({mode}): passes directly but not through Berth: {lost_all:?}"
    );
}

#[tokio::test]
async fn python_sdk_server_native() {
    compare(Sdk::Python, false).await;
}

#[tokio::test]
async fn python_sdk_server_session_era_only() {
    compare(Sdk::Python, true).await;
}

#[tokio::test]
async fn typescript_sdk_server_native() {
    compare(Sdk::TypeScript, false).await;
}

#[tokio::test]
async fn typescript_sdk_server_session_era_only() {
    compare(Sdk::TypeScript, true).await;
}
