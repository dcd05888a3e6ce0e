//! Turning measurements into the report: percentiles, per-call CPU, the
//! Markdown table and its JSON twin.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::args::{Connections, Era, Scenario};
use crate::load::Outcome;

/// Berth's CPU budget per proxied call (from the issue).
pub(crate) const TARGET_CPU_US: f64 = 50.0;

/// Berth's latency budget: added p50 over calling the server directly.
pub(crate) const TARGET_P50_DELTA_MS: f64 = 0.1;

/// A direct p50 this high on loopback is Linux's delayed ACK (~40 ms), not work.
const STALLED_P50_MS: f64 = 30.0;

/// The whole report.
#[derive(Debug, Serialize)]
pub(crate) struct Report {
    /// How the load was shaped.
    pub(crate) setup: Setup,
    /// One row per target, direct first.
    pub(crate) rows: Vec<Row>,
    /// Berth against direct, when both ran.
    pub(crate) comparison: Option<Comparison>,
}

/// How the load was shaped, and on what machine.
#[derive(Debug, Serialize)]
pub(crate) struct Setup {
    pub(crate) scenario: Scenario,
    pub(crate) era: Era,
    pub(crate) connections: Connections,
    pub(crate) sessions: u32,
    pub(crate) warmup_s: f64,
    pub(crate) window_s: f64,
    pub(crate) cpus: usize,
    /// `/proc/loadavg` before the run (other work on the machine skews results).
    pub(crate) loadavg_before: String,
}

/// One measured target.
#[derive(Debug, Serialize)]
pub(crate) struct Row {
    /// `direct` or `berth`.
    pub(crate) target: &'static str,
    pub(crate) sessions: usize,
    pub(crate) calls: usize,
    pub(crate) errors: u64,
    pub(crate) calls_per_sec: f64,
    pub(crate) mean_ms: f64,
    pub(crate) p50_ms: f64,
    pub(crate) p90_ms: f64,
    pub(crate) p99_ms: f64,
    pub(crate) max_ms: f64,
    /// Berth's own process (all threads); `None` for the direct run.
    pub(crate) berth_cpu_us_per_call: Option<f64>,
    /// The example server (direct) or Berth's backend instances (through Berth).
    pub(crate) server_cpu_us_per_call: f64,
    /// This load generator.
    pub(crate) client_cpu_us_per_call: f64,
    /// Berth's CPU use in cores (1.0 = one core busy); `None` for direct.
    pub(crate) berth_cores: Option<f64>,
}

/// Through Berth relative to direct.
#[derive(Debug, Serialize)]
pub(crate) struct Comparison {
    pub(crate) p50_delta_ms: f64,
    pub(crate) p99_delta_ms: f64,
    pub(crate) throughput_ratio: f64,
    pub(crate) berth_cpu_us_per_call: f64,
    pub(crate) cpu_target_met: bool,
    pub(crate) p50_target_met: bool,
    /// The direct p50 is a delayed-ACK wait, not the server's speed: the
    /// example server leaves Nagle on, which stalls reused connections.
    pub(crate) baseline_stalled: bool,
}

// === impl Row ===

impl Row {
    /// Summarizes one run. `berth`: whether the probed process was Berth
    /// (its children are then the servers) or the server itself.
    pub(crate) fn new(target: &'static str, mut outcome: Outcome, berth: bool) -> Row {
        outcome.latencies.sort_unstable();
        let lat = &outcome.latencies;
        let calls = lat.len();
        let window = outcome.window.as_secs_f64();
        let per_call = |d: Duration| {
            if calls == 0 {
                0.0
            } else {
                d.as_secs_f64() * 1e6 / calls as f64
            }
        };
        let mean = lat
            .iter()
            .sum::<Duration>()
            .checked_div(calls as u32)
            .unwrap_or_default();
        let (berth_cpu, server_cpu) = if berth {
            (Some(outcome.cpu.process), outcome.cpu.children)
        } else {
            (None, outcome.cpu.process)
        };
        Row {
            target,
            sessions: outcome.sessions,
            calls,
            errors: outcome.errors,
            calls_per_sec: calls as f64 / window,
            mean_ms: ms(mean),
            p50_ms: ms(percentile(lat, 50.0)),
            p90_ms: ms(percentile(lat, 90.0)),
            p99_ms: ms(percentile(lat, 99.0)),
            max_ms: ms(lat.last().copied().unwrap_or_default()),
            berth_cpu_us_per_call: berth_cpu.map(per_call),
            server_cpu_us_per_call: per_call(server_cpu),
            client_cpu_us_per_call: per_call(outcome.cpu.client),
            berth_cores: berth_cpu.map(|d| d.as_secs_f64() / window),
        }
    }
}

// === impl Report ===

impl Report {
    /// Builds the report and, when both targets ran, the comparison.
    pub(crate) fn new(setup: Setup, rows: Vec<Row>) -> Report {
        let direct = rows.iter().find(|r| r.target == "direct");
        let berth = rows.iter().find(|r| r.target == "berth");
        let comparison = match (direct, berth) {
            (Some(d), Some(b)) => {
                let cpu = b.berth_cpu_us_per_call.unwrap_or_default();
                let p50_delta = b.p50_ms - d.p50_ms;
                Some(Comparison {
                    p50_delta_ms: p50_delta,
                    p99_delta_ms: b.p99_ms - d.p99_ms,
                    throughput_ratio: if d.calls_per_sec > 0.0 {
                        b.calls_per_sec / d.calls_per_sec
                    } else {
                        0.0
                    },
                    berth_cpu_us_per_call: cpu,
                    cpu_target_met: cpu <= TARGET_CPU_US,
                    p50_target_met: p50_delta <= TARGET_P50_DELTA_MS,
                    baseline_stalled: d.p50_ms >= STALLED_P50_MS,
                })
            }
            _ => None,
        };
        Report {
            setup,
            rows,
            comparison,
        }
    }

    /// The report as Markdown.
    pub(crate) fn markdown(&self) -> String {
        let mut out = self.setup.describe();
        out.push_str("\n| target | sessions | calls | calls/s | p50 ms | p99 ms | Berth CPU µs/call | server CPU µs/call | client CPU µs/call | errors |\n");
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for r in &self.rows {
            let name = match r.target {
                "berth" => "through Berth",
                "berth+redis" => "through Berth, Redis store",
                _ => "direct",
            };
            let berth = r
                .berth_cpu_us_per_call
                .map_or("–".to_owned(), |v| format!("{v:.1}"));
            let _ = writeln!(
                out,
                "| {name} | {} | {} | {:.0} | {:.3} | {:.3} | {berth} | {:.1} | {:.1} | {} |",
                r.sessions,
                r.calls,
                r.calls_per_sec,
                r.p50_ms,
                r.p99_ms,
                r.server_cpu_us_per_call,
                r.client_cpu_us_per_call,
                r.errors,
            );
        }
        out.push('\n');
        let memory = self.rows.iter().find(|r| r.target == "berth");
        let redis = self.rows.iter().find(|r| r.target == "berth+redis");
        if let (Some(m), Some(r)) = (memory, redis) {
            let _ = writeln!(
                out,
                "- Redis store vs memory store (same run): p50 {:+.3} ms, throughput {:.2}×, Berth CPU {:+.1} µs/call",
                r.p50_ms - m.p50_ms,
                if m.calls_per_sec > 0.0 {
                    r.calls_per_sec / m.calls_per_sec
                } else {
                    0.0
                },
                r.berth_cpu_us_per_call.unwrap_or_default()
                    - m.berth_cpu_us_per_call.unwrap_or_default(),
            );
        }
        if let Some(c) = &self.comparison {
            let _ = writeln!(
                out,
                "- p50 delta: {:+.3} ms (target ≤ +{TARGET_P50_DELTA_MS} ms: {}); p99 delta: {:+.3} ms",
                c.p50_delta_ms,
                if c.baseline_stalled {
                    "not comparable"
                } else {
                    verdict(c.p50_target_met)
                },
                c.p99_delta_ms,
            );
            if c.baseline_stalled {
                out.push_str(
                    "- the direct p50 is a ~40 ms delayed-ACK wait: the example server's HTTP mode \
                     leaves Nagle's algorithm on, which stalls reused connections; compare \
                     latency with `--connections fresh`\n",
                );
            }
            let _ = writeln!(
                out,
                "- throughput through Berth / direct: {:.2}×",
                c.throughput_ratio
            );
            let _ = writeln!(
                out,
                "- Berth CPU per call: {:.1} µs (target ≤ {TARGET_CPU_US} µs: {})",
                c.berth_cpu_us_per_call,
                verdict(c.cpu_target_met),
            );
        }
        if let Some(cores) = self.rows.iter().find_map(|r| r.berth_cores) {
            let _ = writeln!(
                out,
                "- Berth kept {cores:.2} cores busy on average during the window"
            );
        }
        out
    }
}

// === impl Setup ===

impl Setup {
    /// One sentence saying how the numbers were obtained.
    fn describe(&self) -> String {
        let connections = match self.connections {
            Connections::Fresh => "a new TCP connection per request (rmcp's default client)",
            Connections::KeepAlive => "keep-alive connections",
        };
        let scenario = match self.scenario {
            Scenario::Echo => "`echo`",
            Scenario::Counter => "`counter_increment`",
        };
        let era = match self.era {
            Era::Legacy => "legacy sessions (2025-11-25)",
            Era::Stateless => "stateless requests (2026-07-28)",
        };
        format!(
            "{} session{} calling {scenario} in a closed loop, {era}, {connections}; {} s measured after {} s warm-up; {} CPUs, load average before the run: {}.\n",
            self.sessions,
            if self.sessions == 1 { "" } else { "s" },
            self.window_s,
            self.warmup_s,
            self.cpus,
            self.loadavg_before,
        )
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "missed" }
}

/// Nearest-rank percentile of sorted samples.
fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<Duration> = (1..=100).map(Duration::from_millis).collect();
        assert_eq!(percentile(&v, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&v, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&v, 100.0), Duration::from_millis(100));
        assert_eq!(percentile(&v[..1], 99.0), Duration::from_millis(1));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
