//! The scale report: one row per step (memory, descriptors, instances,
//! session start latency), the per-unit slope of Berth's memory against
//! the goal, as Markdown or JSON.
//!
//! May import: `scale::memory`, `startup` (percentiles), external crates.

use std::fmt::Write as _;

use serde::Serialize;

use super::memory::{ChildrenMemory, ProcMemory, slope};
use crate::startup::percentile;

/// One sample of the curve.
#[derive(Debug, Serialize)]
pub(crate) struct Point {
    /// Which open-then-close cycle (from 1).
    pub(crate) round: u32,
    /// Sessions (or principals) open when sampled.
    pub(crate) count: usize,
    /// `true` for the sample taken after every session was closed.
    pub(crate) closed: bool,
    /// Berth itself.
    pub(crate) berth: ProcMemory,
    /// Berth's server processes (process backend).
    pub(crate) children: Option<ChildrenMemory>,
    /// Containers of this pod and their total memory (docker backend).
    pub(crate) containers: Option<(u64, u64)>,
    /// Seconds it took to open the units of this step.
    pub(crate) open_s: f64,
    /// Session start (or principal's first call) latency in this step, ms.
    pub(crate) start_p50_ms: f64,
    /// Its 99th percentile.
    pub(crate) start_p99_ms: f64,
}

/// The whole run.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    /// `sessions`, `containers` or `principals`.
    pub(crate) mode: &'static str,
    /// How the run was shaped, in words.
    pub(crate) setup: String,
    /// The curve.
    pub(crate) points: Vec<Point>,
    /// Least-squares slope of Berth's RSS over the open steps, KiB per unit.
    pub(crate) rss_kib_per_unit_fit: Option<f64>,
    /// (RSS(N) - RSS(first step)) / (N - first step), KiB per unit.
    pub(crate) rss_kib_per_unit_end: Option<f64>,
    /// The goal in KB (1000 bytes) per unit, if the mode has one.
    pub(crate) goal_kb_per_unit: Option<f64>,
    /// Start latency over every unit opened, ms.
    pub(crate) start_p50_ms: f64,
    /// Its 99th percentile.
    pub(crate) start_p99_ms: f64,
    /// Units that failed to open.
    pub(crate) failures: u64,
    /// Containers left once Berth stopped (docker backend; must be 0).
    pub(crate) containers_left: Option<usize>,
}

// === impl Point ===

impl Point {
    /// Summarizes a step's start latencies (ms, any order).
    pub(crate) fn latencies(mut starts: Vec<f64>) -> (f64, f64) {
        starts.sort_by(f64::total_cmp);
        (percentile(&starts, 50.0), percentile(&starts, 99.0))
    }
}

// === impl Report ===

impl Report {
    /// Fills in the slopes from the open (not closed) points.
    pub(crate) fn new(
        mode: &'static str,
        setup: String,
        points: Vec<Point>,
        goal_kb_per_unit: Option<f64>,
        all_starts: Vec<f64>,
        failures: u64,
    ) -> Report {
        let open: Vec<(f64, f64)> = points
            .iter()
            .filter(|p| !p.closed && p.round == 1)
            .map(|p| (p.count as f64, p.berth.rss_kib as f64))
            .collect();
        let end = match (open.first(), open.last()) {
            (Some(a), Some(b)) if b.0 > a.0 => Some((b.1 - a.1) / (b.0 - a.0)),
            _ => None,
        };
        let (p50, p99) = Point::latencies(all_starts);
        Report {
            mode,
            setup,
            points,
            rss_kib_per_unit_fit: slope(&open),
            rss_kib_per_unit_end: end,
            goal_kb_per_unit,
            start_p50_ms: p50,
            start_p99_ms: p99,
            failures,
            containers_left: None,
        }
    }

    /// The report as Markdown.
    pub(crate) fn markdown(&self) -> String {
        let unit = if self.mode == "principals" {
            "principals"
        } else {
            "sessions"
        };
        let mut out = format!("{}\n\n", self.setup);
        let docker = self.points.iter().any(|p| p.containers.is_some());
        let others = if docker {
            "containers | containers' memory MiB"
        } else {
            "server processes | their PSS MiB"
        };
        let _ = writeln!(
            out,
            "| {unit} | Berth RSS MiB | Berth anon MiB | Δ RSS KiB per {} | Berth fds | Berth threads | {others} | start p50 ms | start p99 ms | open s |",
            unit.trim_end_matches('s')
        );
        out.push_str("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        let base = self.points.first().map(|p| (p.count, p.berth.rss_kib));
        for p in &self.points {
            let delta = match base {
                Some((n0, r0)) if p.count > n0 && !p.closed && p.round == 1 => format!(
                    "{:.1}",
                    (p.berth.rss_kib as f64 - r0 as f64) / (p.count - n0) as f64
                ),
                _ => "–".to_owned(),
            };
            let (instances, their) = match (p.containers, p.children) {
                (Some((n, kib)), _) => (n, kib),
                (None, Some(c)) => (c.count, c.pss_kib),
                (None, None) => (0, 0),
            };
            let round = if p.round > 1 {
                format!(", round {}", p.round)
            } else {
                String::new()
            };
            let count = if p.closed {
                format!("0 (all {} closed{round})", p.count)
            } else if p.round > 1 {
                format!("{} (round {})", p.count, p.round)
            } else {
                p.count.to_string()
            };
            let _ = writeln!(
                out,
                "| {count} | {:.1} | {:.1} | {delta} | {} | {} | {instances} | {:.1} | {:.1} | {:.1} | {:.1} |",
                mib(p.berth.rss_kib),
                mib(p.berth.anon_kib),
                p.berth.fds,
                p.berth.threads,
                mib(their),
                p.start_p50_ms,
                p.start_p99_ms,
                p.open_s,
            );
        }
        out.push('\n');
        let fmt = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.1}"));
        let _ = write!(
            out,
            "- Berth memory per {}: **{} KiB** (least-squares slope of RSS), {} KiB ((RSS(N) − RSS(first step)) / N)",
            unit.trim_end_matches('s'),
            fmt(self.rss_kib_per_unit_fit),
            fmt(self.rss_kib_per_unit_end),
        );
        match (self.goal_kb_per_unit, self.rss_kib_per_unit_fit) {
            (Some(goal), Some(fit)) => {
                let kb = |kib: f64| kib * 1024.0 / 1000.0;
                let met = kb(fit) < goal && kb(self.rss_kib_per_unit_end.unwrap_or(fit)) < goal;
                let _ = writeln!(
                    out,
                    "; goal < {goal:.0} KB ({:.1} KiB): {}",
                    goal * 1000.0 / 1024.0,
                    if met { "met" } else { "missed" }
                );
            }
            _ => out.push('\n'),
        }
        let _ = writeln!(
            out,
            "- start latency over all {unit}: p50 {:.1} ms, p99 {:.1} ms; {} failed to open",
            self.start_p50_ms, self.start_p99_ms, self.failures
        );
        if let Some(left) = self.containers_left {
            let _ = writeln!(
                out,
                "- containers left after Berth stopped: {left} (removed by this tool if any)"
            );
        }
        out
    }
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}
