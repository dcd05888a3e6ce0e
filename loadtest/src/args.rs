//! Command-line options of `berth-loadtest bench` (and the option types
//! other commands share).
//!
//! May import: nothing else in the crate.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};

/// Options of one benchmark run.
#[derive(Clone, Debug, Args)]
pub(crate) struct BenchArgs {
    /// The `berth` binary (default: `berth` next to this executable, e.g. target/release/berth).
    #[arg(long)]
    pub(crate) berth: Option<PathBuf>,
    /// Concurrent MCP sessions; each keeps one call in flight.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=256))]
    pub(crate) sessions: u32,
    /// Seconds of measured load per target.
    #[arg(long, default_value_t = 10.0)]
    pub(crate) duration: f64,
    /// Seconds of unmeasured load before the window opens.
    #[arg(long, default_value_t = 2.0)]
    pub(crate) warmup: f64,
    /// Which tool each call runs.
    #[arg(long, value_enum, default_value_t = Scenario::Echo)]
    pub(crate) scenario: Scenario,
    /// Protocol era the clients speak.
    #[arg(long, value_enum, default_value_t = Era::Legacy)]
    pub(crate) era: Era,
    /// Which targets to measure.
    #[arg(long, value_enum, default_value_t = Only::Both)]
    pub(crate) only: Only,
    /// How clients use TCP connections.
    #[arg(long, value_enum, default_value_t = Connections::Fresh)]
    pub(crate) connections: Connections,
    /// Also measure Berth with this session store (e.g. `redis://127.0.0.1:6379`),
    /// reported as a third row next to the in-memory store of the same run.
    #[arg(long, value_name = "URL")]
    pub(crate) store: Option<String>,
    /// Print the report as JSON instead of Markdown.
    #[arg(long)]
    pub(crate) json: bool,
    /// Run Berth under this command (for profiling), e.g. "valgrind --tool=callgrind";
    /// the command and Berth are stopped together, as one process group.
    #[arg(long, value_name = "CMD")]
    pub(crate) berth_wrap: Option<String>,
}

/// The tool call each session repeats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Scenario {
    /// `echo` with a short `text` (stateless work in the server).
    Echo,
    /// `counter_increment` (per-instance state in the server).
    Counter,
}

/// Which MCP era the clients use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Era {
    /// 2025-11-25: `initialize`, `Mcp-Session-Id`, one protocol session per client.
    Legacy,
    /// 2026-07-28: no protocol sessions, per-request `_meta`.
    Stateless,
}

/// How the clients' HTTP connections are used.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum Connections {
    /// A new TCP connection per POST: rmcp's default client. The default,
    /// because the example server's HTTP mode leaves Nagle's algorithm on and
    /// a reused connection then waits ~40 ms for a delayed ACK on every call.
    Fresh,
    /// Pooled keep-alive connections, as long-lived agents use them.
    KeepAlive,
}

/// Which targets a run measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum Only {
    /// The example server directly, then through Berth.
    Both,
    /// Only the example server's own HTTP endpoint.
    Direct,
    /// Only through Berth.
    Berth,
}

// === impl BenchArgs ===

impl BenchArgs {
    /// The `berth` binary to run.
    pub(crate) fn berth_path(&self) -> anyhow::Result<PathBuf> {
        if let Some(path) = &self.berth {
            return Ok(path.clone());
        }
        let exe = std::env::current_exe()?;
        let dir = exe
            .parent()
            .ok_or_else(|| anyhow::anyhow!("cannot tell the directory of {}", exe.display()))?;
        Ok(dir.join("berth"))
    }

    /// The measured window.
    pub(crate) fn window(&self) -> anyhow::Result<Duration> {
        seconds("--duration", self.duration, 0.1)
    }

    /// The warm-up before the window.
    pub(crate) fn warmup_time(&self) -> anyhow::Result<Duration> {
        seconds("--warmup", self.warmup, 0.0)
    }
}

/// `value` seconds, checked to lie between `min` and an hour (`flag` names it in the error).
pub(crate) fn seconds(flag: &str, value: f64, min: f64) -> anyhow::Result<Duration> {
    // An hour bounds every run; a benchmark that runs longer is a typo.
    if !(min..=3600.0).contains(&value) {
        anyhow::bail!("{flag} {value}: use a number of seconds from {min} to 3600");
    }
    Ok(Duration::from_secs_f64(value))
}
