//! `bench`: the example server directly, then through Berth, in one run.
//!
//! Direct: `berth example-server --http 127.0.0.1:0`, one process serving all
//! sessions over rmcp's Streamable HTTP server. Through Berth: `berth demo`
//! with a fresh state dir, one token per session (distinct subjects, as
//! distinct agents would have), one stdio backend process per session.

use std::path::Path;

use anyhow::Context;

use crate::args::{BenchArgs, Only};
use crate::cpu::Probe;
use crate::load::{self, Plan};
use crate::procs;
use crate::report::{Report, Row, Setup};

/// Runs the benchmark and prints the report on stdout.
pub(crate) async fn run(args: BenchArgs) -> anyhow::Result<()> {
    let berth = args.berth_path()?;
    if !berth.is_file() {
        anyhow::bail!(
            "{} does not exist; build it with `cargo build --release -p berth` or pass --berth PATH",
            berth.display()
        );
    }
    let plan = Plan {
        scenario: args.scenario,
        era: args.era,
        warmup: args.warmup_time()?,
        window: args.window()?,
        connections: args.connections,
    };
    let dir = tempfile::Builder::new()
        .prefix("berth-loadtest-")
        .tempdir()?;
    let setup = Setup {
        scenario: plan.scenario,
        era: plan.era,
        connections: plan.connections,
        sessions: args.sessions,
        warmup_s: plan.warmup.as_secs_f64(),
        window_s: plan.window.as_secs_f64(),
        cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
        loadavg_before: std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
    };
    let sessions = args.sessions as usize;
    let mut rows = Vec::new();
    if args.only != Only::Berth {
        rows.push(direct(&berth, dir.path(), sessions, &plan).await?);
    }
    if args.only != Only::Direct {
        rows.push(
            through_berth(
                &berth,
                dir.path(),
                sessions,
                &plan,
                args.berth_wrap.as_deref(),
                None,
            )
            .await?,
        );
        if let Some(url) = args.store.as_deref() {
            rows.push(
                through_berth(
                    &berth,
                    dir.path(),
                    sessions,
                    &plan,
                    args.berth_wrap.as_deref(),
                    Some(url),
                )
                .await?,
            );
        }
    }
    let errors: u64 = rows.iter().map(|r| r.errors).sum();
    let report = Report::new(setup, rows);
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.markdown());
    }
    if errors > 0 {
        eprintln!(
            "berth-loadtest: {errors} calls failed; the numbers above are suspect (RUST_LOG=warn shows why)"
        );
    }
    Ok(())
}

async fn direct(berth: &Path, dir: &Path, sessions: usize, plan: &Plan) -> anyhow::Result<Row> {
    eprintln!("direct: starting the example server over HTTP");
    let target = procs::example_server(berth, dir).await?;
    eprintln!("direct: {sessions} sessions against {}", target.url);
    let outcome = measure(&target, &vec![None; sessions], plan).await;
    target.stop().await;
    Ok(Row::new("direct", outcome.context("direct run")?, false))
}

async fn through_berth(
    berth: &Path,
    dir: &Path,
    sessions: usize,
    plan: &Plan,
    wrap: Option<&str>,
    store: Option<&str>,
) -> anyhow::Result<Row> {
    let name = if store.is_some() {
        "berth+redis"
    } else {
        "berth"
    };
    eprintln!("{name}: starting berth demo");
    let state = dir.join(name);
    std::fs::create_dir_all(&state)?;
    let target = procs::berth(berth, &state, wrap, store).await?;
    let mut tokens = Vec::with_capacity(sessions);
    for i in 0..sessions {
        match procs::token(berth, &state, &format!("loadtest-{i}")).await {
            Ok(t) => tokens.push(Some(t)),
            Err(e) => {
                target.stop().await;
                return Err(e);
            }
        }
    }
    eprintln!("{name}: {sessions} sessions against {}", target.url);
    let outcome = measure(&target, &tokens, plan).await;
    target.stop().await;
    Ok(Row::new(name, outcome.context("run through Berth")?, true))
}

async fn measure(
    target: &procs::Target,
    tokens: &[Option<String>],
    plan: &Plan,
) -> anyhow::Result<load::Outcome> {
    let probe = Probe::new(target.pid())?;
    load::run(&target.url, tokens, plan, &probe).await
}
