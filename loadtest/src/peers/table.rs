//! The `peers` report: what was measured per system, era and session
//! count, the Markdown table and its JSON twin.
//!
//! May import: `args`, `report` (the per-run statistics), `peers::systems`,
//! `peers::install`.

use std::fmt::Write as _;

use serde::Serialize;

use super::install::Record;
use super::systems::System;
use crate::args::{Connections, Era};
use crate::report::Row;

/// The whole report.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    pub(crate) setup: Setup,
    /// One entry per system, in table order.
    pub(crate) systems: Vec<SystemResult>,
}

/// How the load was shaped, and on what machine.
#[derive(Debug, Serialize)]
pub(crate) struct Setup {
    pub(crate) tool: &'static str,
    pub(crate) connections: Connections,
    /// Session counts, in column order.
    pub(crate) sessions: Vec<u32>,
    pub(crate) eras: Vec<Era>,
    pub(crate) warmup_s: f64,
    pub(crate) window_s: f64,
    pub(crate) cpus: usize,
    /// `/proc/loadavg` (1, 5, 15 min) before and after the whole run.
    pub(crate) loadavg_before: String,
    pub(crate) loadavg_after: String,
    /// Where the peers are installed.
    pub(crate) cache: String,
}

/// One system.
#[derive(Debug, Serialize)]
pub(crate) struct SystemResult {
    pub(crate) system: System,
    pub(crate) label: &'static str,
    /// What ran (program and version), once it started.
    pub(crate) version: Option<String>,
    /// For peers: their install.
    pub(crate) install: Option<Install>,
    /// Why the system did not start (then `eras` is empty).
    pub(crate) error: Option<String>,
    pub(crate) eras: Vec<EraResult>,
}

/// A peer's install.
#[derive(Debug, Serialize)]
pub(crate) struct Install {
    #[serde(flatten)]
    pub(crate) record: Record,
    /// Installed by this run (false: reused from the cache).
    pub(crate) this_run: bool,
}

/// One system in one protocol era.
#[derive(Debug, Serialize)]
pub(crate) struct EraResult {
    pub(crate) era: Era,
    /// Why nothing was measured in this era (e.g. the system cannot speak it).
    pub(crate) error: Option<String>,
    /// One per session count.
    pub(crate) runs: Vec<RunResult>,
}

/// One load run.
#[derive(Debug, Serialize)]
pub(crate) struct RunResult {
    pub(crate) sessions: u32,
    /// Why this run failed.
    pub(crate) error: Option<String>,
    /// The run's statistics (`berth_cpu_us_per_call` there is the system's
    /// own processes, `server_cpu_us_per_call` the example server's).
    pub(crate) stats: Option<Row>,
    /// CPU of the system's own processes per call.
    pub(crate) own_cpu_us_per_call: Option<f64>,
    /// p50 and p99 minus the direct run's in the same era and session count.
    pub(crate) p50_delta_ms: Option<f64>,
    pub(crate) p99_delta_ms: Option<f64>,
}

// === impl Report ===

impl Report {
    /// Fills in the deltas over `direct` once every run is in.
    pub(crate) fn finish(&mut self) {
        let baseline: Vec<(Era, u32, f64, f64)> = self
            .systems
            .iter()
            .filter(|s| s.system == System::Direct)
            .flat_map(|s| &s.eras)
            .flat_map(|e| e.runs.iter().map(move |r| (e.era, r)))
            .filter_map(|(era, r)| Some((era, r.sessions, r.stats.as_ref()?)))
            .map(|(era, n, st)| (era, n, st.p50_ms, st.p99_ms))
            .collect();
        for system in &mut self.systems {
            if system.system == System::Direct {
                continue;
            }
            for era in &mut system.eras {
                for run in &mut era.runs {
                    let base = baseline
                        .iter()
                        .find(|(e, n, ..)| *e == era.era && *n == run.sessions);
                    if let (Some((.., p50, p99)), Some(st)) = (base, &run.stats) {
                        run.p50_delta_ms = Some(st.p50_ms - p50);
                        run.p99_delta_ms = Some(st.p99_ms - p99);
                    }
                }
            }
        }
    }

    /// The report as Markdown: a sentence on the setup, the table, the installs.
    pub(crate) fn markdown(&self) -> String {
        let s = &self.setup;
        let mut out = self.setup.describe();
        out.push('\n');
        let cols = |name: &str| -> String {
            s.sessions
                .iter()
                .map(|n| format!(" {name} @{n} |"))
                .collect()
        };
        let _ = writeln!(
            out,
            "| system | era |{}{}{}{} notes |",
            cols("req/s"),
            cols("Δp50 ms"),
            cols("Δp99 ms"),
            cols("own CPU µs/call"),
        );
        let _ = writeln!(out, "|---|---|{}---|", "---:|".repeat(4 * s.sessions.len()));
        for system in &self.systems {
            if let Some(error) = &system.error {
                let dashes = " – |".repeat(4 * s.sessions.len());
                let _ = writeln!(
                    out,
                    "| {} | – |{dashes} {} |",
                    system.name(),
                    one_line(error)
                );
                continue;
            }
            for era in &system.eras {
                let _ = writeln!(
                    out,
                    "| {} | {} |{} {} |",
                    system.name(),
                    era_name(era.era),
                    era.cells(&s.sessions),
                    era.notes(system.system),
                );
            }
        }
        let installs: Vec<_> = self
            .systems
            .iter()
            .filter_map(|sys| Some((sys, sys.install.as_ref()?)))
            .collect();
        if !installs.is_empty() {
            out.push_str(
                "\n| peer | installed from | version | install time |\n|---|---|---|---:|\n",
            );
            for (sys, i) in installs {
                let _ = writeln!(
                    out,
                    "| {} | `{}` | {} | {:.0} s{} |",
                    sys.label,
                    i.record.spec,
                    i.record.version,
                    i.record.install_s,
                    if i.this_run {
                        " (this run)"
                    } else {
                        " (cached)"
                    },
                );
            }
        }
        out
    }
}

// === impl Setup ===

impl Setup {
    fn describe(&self) -> String {
        let connections = match self.connections {
            Connections::KeepAlive => {
                "keep-alive connections (one pooled HTTP/1.1 connection per session, as agents connect)"
            }
            Connections::Fresh => "a new TCP connection per request",
        };
        let sessions: Vec<String> = self.sessions.iter().map(u32::to_string).collect();
        format!(
            "`tools/call` `{}` in a closed loop by {} concurrent sessions (@N in the columns), each with one call in flight, {connections}; {} s measured after {} s warm-up per cell; on loopback, {} CPUs, load average before {} and after {}. Δ is over the example server called directly in the same era and session count; own CPU is the system's own processes (not the example server).\n",
            self.tool,
            sessions.join(" and "),
            self.window_s,
            self.warmup_s,
            self.cpus,
            self.loadavg_before,
            self.loadavg_after,
        )
    }
}

// === impl SystemResult ===

impl SystemResult {
    fn name(&self) -> String {
        match &self.version {
            Some(v) => format!("{} — {v}", self.label),
            None => self.label.to_owned(),
        }
    }
}

/// One column group's text for a run (`None`: not measured).
type Cell = dyn Fn(&RunResult) -> Option<String>;

// === impl EraResult ===

impl EraResult {
    /// The numeric cells, column group by column group.
    fn cells(&self, sessions: &[u32]) -> String {
        let run = |n: u32| self.runs.iter().find(|r| r.sessions == n);
        let mut out = String::new();
        let groups: [&Cell; 4] = [
            &|r| Some(format!("{:.0}", r.stats.as_ref()?.calls_per_sec)),
            &|r| Some(format!("{:+.3}", r.p50_delta_ms?)),
            &|r| Some(format!("{:+.3}", r.p99_delta_ms?)),
            &|r| Some(format!("{:.0}", r.own_cpu_us_per_call?)),
        ];
        for cell in groups {
            for n in sessions {
                let text = run(*n).and_then(cell).unwrap_or_else(|| "–".to_owned());
                let _ = write!(out, " {text} |");
            }
        }
        out
    }

    fn notes(&self, system: System) -> String {
        if let Some(error) = &self.error {
            return one_line(error);
        }
        let mut notes = Vec::new();
        for r in &self.runs {
            match (&r.error, &r.stats) {
                (Some(e), _) => notes.push(format!("@{}: {}", r.sessions, one_line(e))),
                (None, Some(st)) => {
                    if st.errors > 0 {
                        notes.push(format!("@{}: {} calls failed", r.sessions, st.errors));
                    }
                    if system == System::Direct {
                        notes.push(format!(
                            "@{}: p50 {:.3} ms, p99 {:.3} ms",
                            r.sessions, st.p50_ms, st.p99_ms
                        ));
                    }
                }
                (None, None) => {}
            }
        }
        notes.join("; ")
    }
}

fn era_name(era: Era) -> &'static str {
    match era {
        Era::Legacy => "2025-11-25",
        Era::Stateless => "2026-07-28",
    }
}

/// An error on one table line: no newlines or pipes, at most ~200 characters.
fn one_line(text: &str) -> String {
    let flat: String = text
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .replace('|', "/");
    match flat.char_indices().nth(200) {
        Some((i, _)) => format!("{}…", &flat[..i]),
        None => flat,
    }
}
