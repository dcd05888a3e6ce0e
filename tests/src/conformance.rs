//! The official MCP conformance suites (`@modelcontextprotocol/conformance`,
//! installed by `scripts/test`) run against any MCP endpoint: Berth with
//! authentication on, or an SDK server directly.
//!
//! Two suites:
//! - [`Suite::spec_2025_11_25`]: conformance 0.1.16, `--spec-version
//!   2025-11-25` (every scenario is scored);
//! - [`Suite::requirements_2026_07_28`]: conformance 0.2.0-alpha.12,
//!   `--requirements 2026-07-28` (extension and pending scenarios are run and
//!   reported, but not scored).
//!
//! The CLI cannot send a bearer token; with [`Auth`] a Node preload
//! (`tests/conformance/auth-preload.mjs`) adds it to every request to the
//! endpoint's origin.

use std::collections::BTreeSet;
use std::io::Write;
use std::time::Duration;

use tokio::process::Command;

use crate::{results_dir, run, tool, workspace_root};

/// How long one suite may run.
const SUITE_LIMIT: Duration = Duration::from_secs(900);

/// One scenario line of the CLI's summary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Scenario {
    /// Scenario name, e.g. `tools-call-simple-text`.
    pub name: String,
    /// Whether every check of the scenario passed (`✓`).
    pub passed: bool,
    /// False for the scenarios the CLI lists as "Not scored" (extension,
    /// pending); always true in suites without that list.
    pub scored: bool,
}

/// What a suite run printed, parsed.
#[derive(Debug)]
pub struct Report {
    /// Every scenario of the summary, in the CLI's order.
    pub scenarios: Vec<Scenario>,
    /// The CLI's stdout and stderr.
    pub output: String,
}

/// A bearer token the preload sends to `origin` (scheme, host and port of
/// the endpoint, exactly as in the suite's URL).
#[derive(Clone, Debug)]
pub struct Auth {
    /// The token, without `Bearer `.
    pub token: String,
    /// The origin requests must go to for the token to be added.
    pub origin: String,
}

/// One conformance CLI with its selection arguments.
#[derive(Clone, Debug)]
pub struct Suite {
    cli_var: &'static str,
    version: &'static str,
    args: Vec<&'static str>,
}

// === impl Report ===

impl Report {
    /// Parses `✓ name: N passed, M failed` lines and the "Not scored" list of
    /// the CLI's `=== SUMMARY ===` section.
    pub fn parse(output: &str) -> Report {
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
                    scored: true,
                });
            }
        }
        for scenario in &mut scenarios {
            scenario.scored = !unscored.contains(&scenario.name);
        }
        Report {
            scenarios,
            output: output.to_owned(),
        }
    }

    /// Names of the scenarios that failed, scored or not.
    pub fn failed(&self) -> Vec<&str> {
        names(self.scenarios.iter().collect(), false)
    }

    /// The scored scenarios.
    pub fn scored(&self) -> Vec<&Scenario> {
        self.scenarios.iter().filter(|s| s.scored).collect()
    }

    /// The scenarios the CLI reported but did not score.
    pub fn unscored(&self) -> Vec<&Scenario> {
        self.scenarios.iter().filter(|s| !s.scored).collect()
    }

    /// Names of the scored scenarios that passed.
    pub fn scored_passed(&self) -> Vec<&str> {
        names(self.scored(), true)
    }

    /// Names of the scored scenarios that failed.
    pub fn scored_failed(&self) -> Vec<&str> {
        names(self.scored(), false)
    }

    /// Names of the unscored scenarios that passed.
    pub fn unscored_passed(&self) -> Vec<&str> {
        names(self.unscored(), true)
    }
}

fn names(scenarios: Vec<&Scenario>, passed: bool) -> Vec<&str> {
    scenarios
        .into_iter()
        .filter(|s| s.passed == passed)
        .map(|s| s.name.as_str())
        .collect()
}

// === impl Suite ===

impl Suite {
    /// Conformance 0.1.16, `--spec-version 2025-11-25`: the 30 active
    /// scenarios of the session era.
    pub fn spec_2025_11_25() -> Suite {
        Suite {
            cli_var: "BERTH_TEST_CONFORMANCE",
            version: "0.1.16",
            args: vec!["--spec-version", "2025-11-25"],
        }
    }

    /// Conformance 0.2.0-alpha.12, `--requirements 2026-07-28`: the 37
    /// scored scenarios of the stateless era, plus unscored extension and
    /// pending ones.
    pub fn requirements_2026_07_28() -> Suite {
        Suite {
            cli_var: "BERTH_TEST_CONFORMANCE_NEXT",
            version: "0.2.0-alpha.12",
            args: vec!["--requirements", "2026-07-28"],
        }
    }

    /// The same suite with more CLI arguments (e.g. `["--suite", "all"]`).
    pub fn with_args(mut self, args: &[&'static str]) -> Suite {
        self.args.extend_from_slice(args);
        self
    }

    /// `conformance VERSION ARGS…`, the prefix of summary lines.
    pub fn label(&self) -> String {
        format!("conformance {} {}", self.version, self.args.join(" "))
    }

    /// Runs the suite against the MCP endpoint `url` (with `auth`, through
    /// the bearer-token preload) and parses what it printed. The suite's
    /// exit status is not judged: failing scenarios are in the report.
    pub async fn run(&self, url: &str, auth: Option<&Auth>) -> Report {
        let cli = tool(self.cli_var);
        // The CLI writes result files into its working directory.
        let out_dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(tool("BERTH_TEST_NODE"));
        if let Some(auth) = auth {
            cmd.arg("--import")
                .arg(workspace_root().join("tests/conformance/auth-preload.mjs"))
                .env("BERTH_ORIGIN", &auth.origin)
                .env("BERTH_TOKEN", &auth.token)
                .env("BERTH_CONFORMANCE_ENTRY", &cli);
        }
        let results = out_dir.path().join("results");
        cmd.arg(&cli)
            .args(["server", "--url", url])
            .args(&self.args)
            .arg("--output-dir")
            .arg(&results)
            .current_dir(out_dir.path());
        let (_status, stdout, stderr) = run(&mut cmd, SUITE_LIMIT).await;
        let failures = failed_checks(&results);
        Report::parse(&format!(
            "{stdout}\n{stderr}\n=== FAILED CHECKS ===\n{failures}"
        ))
    }
}

/// Every failed check the suite saved under `results` (its
/// `checks.json` files), one per line with its message and details.
fn failed_checks(results: &std::path::Path) -> String {
    let mut out = String::new();
    let Ok(dirs) = std::fs::read_dir(results) else {
        return out;
    };
    let mut dirs: Vec<_> = dirs.filter_map(Result::ok).map(|d| d.path()).collect();
    dirs.sort();
    for dir in dirs {
        let Ok(text) = std::fs::read_to_string(dir.join("checks.json")) else {
            continue;
        };
        let checks: Vec<serde_json::Value> = serde_json::from_str(&text).unwrap_or_default();
        let scenario = dir.file_name().unwrap_or_default().to_string_lossy();
        for check in checks.iter().filter(|c| c["status"] == "FAILURE") {
            out.push_str(&format!(
                "{scenario}: {} — {} {}\n",
                check["id"].as_str().unwrap_or("?"),
                check["errorMessage"].as_str().unwrap_or(""),
                check
                    .get("details")
                    .map(|d| d.to_string())
                    .unwrap_or_default(),
            ));
        }
    }
    out
}

/// Writes a suite's full output to `$BERTH_RESULTS/{name}.log` and appends
/// `line` to `$BERTH_RESULTS/conformance.summary` (read by scripts/test).
pub fn record(name: &str, line: &str, output: &str) {
    let dir = results_dir();
    std::fs::write(dir.join(format!("{name}.log")), output).expect("write the suite's log");
    // One append per line: tests running in parallel never lose each other's.
    let mut summary = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("conformance.summary"))
        .expect("open conformance.summary");
    summary
        .write_all(format!("{line}\n").as_bytes())
        .expect("append to conformance.summary");
}
