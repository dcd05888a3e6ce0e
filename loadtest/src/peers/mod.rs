//! `berth-loadtest peers`: Berth side by side with the systems a user would
//! pick instead, in one run on loopback.
//!
//! Every system (see [`systems`]) fronts the same example server and gets the
//! same load as `bench` ([`crate::load`]): N rmcp sessions calling `echo` in
//! a closed loop, for each protocol era and each session count, one system
//! at a time. CPU is read from `/proc` for the system's own process tree,
//! the example server excluded ([`crate::cpu::Probe::tree`]). Peers are
//! installed from their registries on first use into a cache ([`install`]).
//! A system or era that cannot run is a row with the reason, never dropped.
//! A benchmark, not a test: it fails only when nothing could be measured.
//!
//! # Layout
//! - [`systems`]: starting and stopping each system.
//! - [`contextforge`]: ContextForge's setup over its REST API.
//! - [`install`]: the cache and the installers.
//! - [`table`]: the report.
//!
//! May import: `args`, `cpu`, `load`, `report`, `startup` (the `berth` path),
//! and its own files.

mod contextforge;
mod install;
mod systems;
mod table;

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use self::systems::{Env, Running, Skipped, System};
use self::table::{EraResult, Install, Report, RunResult, Setup, SystemResult};
use crate::args::{Connections, Era, Scenario, seconds};
use crate::cpu::Probe;
use crate::load::{self, Plan};
use crate::report::Row;

/// Options of `peers`.
#[derive(Clone, Debug, Args)]
pub(crate) struct PeersArgs {
    /// The `berth` binary (default: `berth` next to this executable).
    #[arg(long)]
    berth: Option<PathBuf>,
    /// Concurrent sessions per run, one column each (comma-separated).
    #[arg(long, value_delimiter = ',', default_value = "1,16",
          value_parser = clap::value_parser!(u32).range(1..=256))]
    sessions: Vec<u32>,
    /// Protocol eras to run (comma-separated).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "legacy,stateless"
    )]
    eras: Vec<Era>,
    /// Systems to run (comma-separated; default: all). `direct` is the baseline of the deltas.
    #[arg(long, value_enum, value_delimiter = ',')]
    systems: Vec<System>,
    /// Seconds of measured load per run.
    #[arg(long, default_value_t = 8.0)]
    duration: f64,
    /// Seconds of unmeasured load before each window.
    #[arg(long, default_value_t = 2.0)]
    warmup: f64,
    /// How clients use TCP connections (agents keep them alive).
    #[arg(long, value_enum, default_value_t = Connections::KeepAlive)]
    connections: Connections,
    /// Where peers are installed and cached [default: $BERTH_PEERS_CACHE, else ~/.cache/berth/peers].
    #[arg(long, value_name = "DIR")]
    cache: Option<PathBuf>,
    /// The Python that builds the peers' virtualenvs (ContextForge needs ≥ 3.11).
    #[arg(long, default_value = "python3")]
    python: String,
    /// The `redis-server` for the Redis store row.
    #[arg(long, default_value = "redis-server")]
    redis_server: String,
    /// Image of the docker backend row.
    #[arg(long, default_value = "berth/example-server")]
    docker_image: String,
    /// Warm pool of the docker backend row.
    #[arg(long, default_value_t = 4)]
    docker_pool: usize,
    /// Also write the report as JSON to this file.
    #[arg(long, value_name = "FILE")]
    json: Option<PathBuf>,
    /// Keep this run's directory (every system's log and state) and print its path.
    #[arg(long)]
    keep: bool,
}

/// Runs every system and prints the table on stdout.
pub(crate) async fn run(args: PeersArgs) -> anyhow::Result<()> {
    let berth = crate::startup::berth_path(args.berth.as_deref())?;
    if !berth.is_file() {
        anyhow::bail!(
            "{} does not exist; build it with `cargo build --release -p berth` or pass --berth PATH",
            berth.display()
        );
    }
    let mut sessions = args.sessions.clone();
    sessions.sort_unstable();
    sessions.dedup();
    let systems = if args.systems.is_empty() {
        System::ALL.to_vec()
    } else {
        args.systems.clone()
    };
    let cache = match &args.cache {
        Some(dir) => dir.clone(),
        None => install::default_cache()?,
    };
    let dir = tempfile::Builder::new()
        .prefix("berth-loadtest-peers-")
        .tempdir()?;
    let env = Env {
        berth,
        dir: dir.path().to_owned(),
        cache: cache.clone(),
        python: args.python.clone(),
        redis_server: args.redis_server.clone(),
        docker_image: args.docker_image.clone(),
        docker_pool: args.docker_pool,
        sessions: sessions.iter().copied().max().unwrap_or(1) as usize,
    };
    let plan = |era| -> anyhow::Result<Plan> {
        Ok(Plan {
            scenario: Scenario::Echo,
            era,
            warmup: seconds("--warmup", args.warmup, 0.0)?,
            window: seconds("--duration", args.duration, 0.1)?,
            connections: args.connections,
        })
    };
    plan(Era::Legacy)?;
    let loadavg_before = loadavg();
    let mut results = Vec::new();
    for system in systems {
        let result = measure_system(system, &env, &args.eras, &sessions, &plan).await;
        results.push(result);
    }
    let mut report = Report {
        setup: Setup {
            tool: "echo",
            connections: args.connections,
            sessions,
            eras: args.eras.clone(),
            warmup_s: args.warmup,
            window_s: args.duration,
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            loadavg_before,
            loadavg_after: loadavg(),
            cache: cache.display().to_string(),
        },
        systems: results,
    };
    report.finish();
    if let Some(path) = &args.json {
        std::fs::write(path, serde_json::to_vec_pretty(&report)?)
            .with_context(|| format!("writing {}", path.display()))?;
    }
    print!("{}", report.markdown());
    if args.keep {
        eprintln!("peers: logs and state kept in {}", dir.keep().display());
    }
    let measured = report
        .systems
        .iter()
        .flat_map(|s| &s.eras)
        .flat_map(|e| &e.runs)
        .any(|r| r.stats.as_ref().is_some_and(|s| s.calls > 0));
    if !measured {
        anyhow::bail!("no system could be measured; the table says why");
    }
    Ok(())
}

/// Starts `system`, runs every era and session count against it, stops it.
async fn measure_system(
    system: System,
    env: &Env,
    eras: &[Era],
    sessions: &[u32],
    plan: &impl Fn(Era) -> anyhow::Result<Plan>,
) -> SystemResult {
    let mut result = SystemResult {
        system,
        label: system.label(),
        version: None,
        install: None,
        error: None,
        eras: Vec::new(),
    };
    eprintln!("peers: {}: starting", system.label());
    let running = match system.start(env).await {
        Ok(running) => running,
        Err(e) => {
            let reason = match e.downcast_ref::<Skipped>() {
                Some(skipped) => skipped.to_string(),
                None => format!("did not start: {e:#}"),
            };
            eprintln!("peers: {}: {reason}", system.label());
            result.error = Some(reason);
            return result;
        }
    };
    result.version = Some(running.version.clone());
    result.install = running.installed.as_ref().map(|i| Install {
        record: i.record.clone(),
        this_run: i.fresh,
    });
    for era in eras {
        let mut era_result = EraResult {
            era: *era,
            error: None,
            runs: Vec::new(),
        };
        for n in sessions {
            eprintln!(
                "peers: {}: {n} session(s), era {era:?}, {}",
                system.label(),
                running.target.url
            );
            let outcome = match plan(*era) {
                Ok(plan) => one_run(system, &running, *n, &plan).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(run) => era_result.runs.push(run),
                Err(e) if era_result.runs.is_empty() && is_connect_failure(&e) => {
                    // Nothing in this era could even start a session.
                    era_result.error = Some(match era {
                        Era::Stateless => format!(
                            "cannot speak 2026-07-28: a 2026-07-28 client's start (server/discover) failed: {}",
                            e.root_cause()
                        ),
                        Era::Legacy => format!("cannot start a session: {}", e.root_cause()),
                    });
                    break;
                }
                Err(e) => era_result.runs.push(RunResult {
                    sessions: *n,
                    error: Some(format!("{e:#}")),
                    stats: None,
                    own_cpu_us_per_call: None,
                    p50_delta_ms: None,
                    p99_delta_ms: None,
                }),
            }
        }
        if let Some(e) = &era_result.error {
            eprintln!("peers: {}: {e}", system.label());
        }
        result.eras.push(era_result);
    }
    running.stop().await;
    result
}

/// One load run of `n` sessions against a running system.
async fn one_run(
    system: System,
    running: &Running,
    n: u32,
    plan: &Plan,
) -> anyhow::Result<RunResult> {
    let pid = running.target.pid();
    // Direct: the server is the probed process itself, not "its own" overhead.
    let probe = if system == System::Direct {
        Probe::new(pid)?
    } else {
        Probe::tree(pid)?
    };
    let tokens = running
        .tokens
        .get(..n as usize)
        .context("fewer tokens than sessions")?;
    let outcome = load::run_prefixed(
        &running.target.url,
        tokens,
        plan,
        &probe,
        &running.tool_prefix,
    )
    .await?;
    let row = Row::new(system.label(), outcome, system != System::Direct);
    Ok(RunResult {
        sessions: n,
        error: None,
        own_cpu_us_per_call: row.berth_cpu_us_per_call,
        stats: Some(row),
        p50_delta_ms: None,
        p99_delta_ms: None,
    })
}

/// Whether `e` is `load::run` failing to open a session.
fn is_connect_failure(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        let c = c.to_string();
        c.contains("cannot connect to") || c.contains("connecting timed out")
    })
}

/// `/proc/loadavg`'s first three fields.
fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}
