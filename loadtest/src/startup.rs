//! `berth-loadtest startup`: how long a new session takes to start, for the
//! process backend, the docker backend cold (create + start a container)
//! and warm (claim one from the pool), against a bare `docker run` of the
//! same image doing the same `initialize` in the same run.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

use crate::procs;

/// Options of `startup`.
#[derive(Clone, Debug, Args)]
pub(crate) struct StartupArgs {
    /// The `berth` binary (default: next to this executable).
    #[arg(long)]
    pub(crate) berth: Option<std::path::PathBuf>,
    /// Sessions started per mode.
    #[arg(long, default_value_t = 20)]
    pub(crate) samples: usize,
    /// Image for the docker modes.
    #[arg(long, default_value = "berth/example-server")]
    pub(crate) image: String,
    /// Warm pool size for the warm mode.
    #[arg(long, default_value_t = 4)]
    pub(crate) pool: usize,
}

/// The body of every `initialize` (one per session).
pub(crate) const INIT: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"berth-loadtest","version":"1"}}}"#;

/// Runs every mode and prints the table.
pub(crate) async fn run(args: StartupArgs) -> anyhow::Result<()> {
    let berth = berth_path(args.berth.as_deref())?;
    let mut rows = Vec::new();
    rows.push(("process backend", measure_berth(&berth, None, &args).await?));
    let cold = docker_config(&args.image, 0);
    rows.push((
        "docker, cold start",
        measure_berth(&berth, Some(&cold), &args).await?,
    ));
    let warm = docker_config(&args.image, args.pool);
    rows.push((
        "docker, warm pool",
        measure_berth(&berth, Some(&warm), &args).await?,
    ));
    rows.push((
        "bare `docker run -i` + initialize",
        measure_docker_run(&args).await?,
    ));
    println!("| session start | samples | p50 ms | p99 ms |");
    println!("|---|---:|---:|---:|");
    for (name, mut v) in rows.iter().cloned() {
        v.sort_by(f64::total_cmp);
        println!(
            "| {name} | {} | {:.1} | {:.1} |",
            v.len(),
            percentile(&v, 50.0),
            percentile(&v, 99.0)
        );
    }
    let p50 = |i: usize| {
        let mut v = rows[i].1.clone();
        v.sort_by(f64::total_cmp);
        percentile(&v, 50.0)
    };
    println!();
    println!(
        "cold start p50 / bare docker run p50 = {:.2}x",
        p50(1) / p50(3)
    );
    println!("warm pool p50 = {:.1} ms", p50(2));
    Ok(())
}

fn docker_config(image: &str, pool: usize) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\nbackend = \"docker\"\n[servers.demo.everything]\nimage = \"{image}\"\nwarm_pool = {pool}\n"
    )
}

/// Session start latency through Berth (ms per `initialize`).
async fn measure_berth(
    berth: &Path,
    docker: Option<&str>,
    args: &StartupArgs,
) -> anyhow::Result<Vec<f64>> {
    let dir = tempfile::tempdir()?;
    let target = match docker {
        Some(cfg) => {
            let cfg = format!("state_dir = \"{}\"\n{cfg}", dir.path().display());
            procs::berth_serve(berth, dir.path(), &cfg).await?
        }
        None => procs::berth(berth, dir.path(), None, None).await?,
    };
    let token = procs::token(berth, dir.path(), "startup").await?;
    let client = reqwest::Client::new();
    let pooled = docker.is_some_and(|c| !c.contains("warm_pool = 0"));
    let mut out = Vec::with_capacity(args.samples);
    for i in 0..args.samples + 1 {
        if pooled {
            // Let the pool refill between claims: this measures a claim.
            tokio::time::sleep(Duration::from_millis(1500)).await;
        }
        let started = Instant::now();
        let resp = client
            .post(&target.url)
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(INIT)
            .send()
            .await
            .context("initialize")?;
        let sid = resp
            .headers()
            .get("mcp-session-id")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = resp.text().await?;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        let sid = sid.with_context(|| format!("initialize failed: {body}"))?;
        if i > 0 {
            out.push(elapsed); // the first start warms caches; not counted
        }
        client
            .delete(&target.url)
            .bearer_auth(&token)
            .header("mcp-session-id", sid)
            .send()
            .await?;
    }
    target.stop().await;
    Ok(out)
}

/// The baseline: `docker run -i --rm` with Berth's hardening flags, timed
/// from spawn to the first line of the `initialize` answer.
async fn measure_docker_run(args: &StartupArgs) -> anyhow::Result<Vec<f64>> {
    let mut out = Vec::with_capacity(args.samples);
    for i in 0..args.samples + 1 {
        let started = Instant::now();
        let mut child = tokio::process::Command::new("docker")
            .args([
                "run",
                "-i",
                "--rm",
                "--init",
                "--network",
                "none",
                "--read-only",
                "--cap-drop",
                "ALL",
            ])
            .args([
                "--security-opt",
                "no-new-privileges",
                "-u",
                "65534:65534",
                "--pids-limit",
                "128",
                "-m",
                "256m",
            ])
            .arg(&args.image)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("docker CLI")?;
        let mut stdin = child.stdin.take().context("stdin")?;
        stdin.write_all(INIT.as_bytes()).await?;
        stdin.write_all(b"\n").await?;
        let mut lines = BufReader::new(child.stdout.take().context("stdout")?).lines();
        let line = tokio::time::timeout(Duration::from_secs(30), lines.next_line()).await??;
        let elapsed = started.elapsed().as_secs_f64() * 1000.0;
        line.context("no answer from docker run")?;
        drop(stdin);
        let _ = tokio::time::timeout(Duration::from_secs(10), child.wait()).await;
        if i > 0 {
            out.push(elapsed);
        }
    }
    Ok(out)
}

/// `--berth`, or `berth` next to this executable.
pub(crate) fn berth_path(given: Option<&Path>) -> anyhow::Result<std::path::PathBuf> {
    if let Some(p) = given {
        return Ok(p.to_path_buf());
    }
    let exe = std::env::current_exe()?;
    Ok(exe
        .parent()
        .context("no directory for this executable")?
        .join("berth"))
}

/// Nearest-rank percentile of sorted samples.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}
