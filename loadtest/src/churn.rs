//! `berth-loadtest churn`: N agents each opening a session, calling a tool
//! and closing it, over and over for a while, through the docker backend.
//! Reports sessions completed, failures, Berth's peak memory, and the
//! containers left behind (must be 0) once the sessions are closed and once
//! Berth has stopped.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;

use crate::procs;
use crate::startup::{INIT, berth_path};

/// Options of `churn`.
#[derive(Clone, Debug, Args)]
pub(crate) struct ChurnArgs {
    /// The `berth` binary (default: next to this executable).
    #[arg(long)]
    pub(crate) berth: Option<std::path::PathBuf>,
    /// Concurrent agents.
    #[arg(long, default_value_t = 4)]
    pub(crate) agents: usize,
    /// Seconds of churn.
    #[arg(long, default_value_t = 60.0)]
    pub(crate) seconds: f64,
    /// Image the sessions run.
    #[arg(long, default_value = "berth/example-server")]
    pub(crate) image: String,
    /// Warm pool size.
    #[arg(long, default_value_t = 0)]
    pub(crate) pool: usize,
}

/// Runs the churn and prints the report.
pub(crate) async fn run(args: ChurnArgs) -> anyhow::Result<()> {
    let berth = berth_path(args.berth.as_deref())?;
    let dir = tempfile::tempdir()?;
    let cfg = format!(
        "listen = \"127.0.0.1:0\"\nstate_dir = \"{}\"\nbackend = \"docker\"\n[servers.demo.everything]\nimage = \"{}\"\nwarm_pool = {}\n",
        dir.path().display(),
        args.image,
        args.pool
    );
    let target = procs::berth_serve(&berth, dir.path(), &cfg).await?;
    let pod_pid = target.pid();
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(args.seconds);
    let mut agents = Vec::new();
    for i in 0..args.agents {
        let token = procs::token(&berth, dir.path(), &format!("churn-{i}")).await?;
        let url = target.url.clone();
        let (done, failed) = (done.clone(), failed.clone());
        agents.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            while Instant::now() < deadline {
                match one_session(&client, &url, &token).await {
                    Ok(()) => done.fetch_add(1, Ordering::Relaxed),
                    Err(e) => {
                        tracing::warn!(error = %e, "churn session failed");
                        failed.fetch_add(1, Ordering::Relaxed)
                    }
                };
            }
        }));
    }
    for a in agents {
        a.await?;
    }
    let peak_kib = peak_memory_kib(pod_pid);
    // Sessions were closed with DELETE: their containers go within seconds.
    let mut running_leak = 0;
    for _ in 0..50 {
        running_leak = count_containers("berth.session!=pool", pod_pid)?;
        if running_leak == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    target.stop().await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after_stop = count_containers("", pod_pid)?;
    println!(
        "| agents | seconds | sessions | failed | sessions/s | Berth peak RSS MiB | leaked (running) | leaked (after stop) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|");
    let n = done.load(Ordering::Relaxed);
    println!(
        "| {} | {:.0} | {n} | {} | {:.1} | {:.1} | {running_leak} | {after_stop} |",
        args.agents,
        args.seconds,
        failed.load(Ordering::Relaxed),
        n as f64 / args.seconds,
        peak_kib as f64 / 1024.0
    );
    Ok(())
}

async fn one_session(client: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<()> {
    let post = |body: String, sid: Option<&str>| {
        let mut r = client
            .post(url)
            .bearer_auth(token)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(body);
        if let Some(s) = sid {
            r = r.header("mcp-session-id", s);
        }
        r
    };
    let resp = post(INIT.to_owned(), None).send().await?;
    let sid = resp
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = resp.text().await?;
    let sid = sid.with_context(|| format!("initialize failed: {body}"))?;
    let call = r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"churn"}}}"#;
    let reply = post(call.to_owned(), Some(&sid))
        .send()
        .await?
        .text()
        .await?;
    anyhow::ensure!(reply.contains("churn"), "unexpected answer: {reply}");
    client
        .delete(url)
        .bearer_auth(token)
        .header("mcp-session-id", &sid)
        .send()
        .await?;
    Ok(())
}

/// Containers of the pod whose process is `pid` (label filter optional).
fn count_containers(extra: &str, pid: u32) -> anyhow::Result<usize> {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    let mut cmd = std::process::Command::new("docker");
    cmd.args([
        "ps",
        "-aq",
        "--filter",
        &format!("label=berth.pod={}-{pid}", host.trim()),
    ]);
    if !extra.is_empty() && !extra.contains("!=") {
        cmd.args(["--filter", &format!("label={extra}")]);
    }
    let out = cmd.output().context("docker CLI")?;
    let ids = String::from_utf8_lossy(&out.stdout).lines().count();
    if extra.contains("!=") {
        // Exclude the warm pool: count pool containers and subtract.
        let pool = std::process::Command::new("docker")
            .args([
                "ps",
                "-aq",
                "--filter",
                &format!("label=berth.pod={}-{pid}", host.trim()),
            ])
            .args(["--filter", "label=berth.session=pool"])
            .output()
            .context("docker CLI")?;
        return Ok(ids - String::from_utf8_lossy(&pool.stdout).lines().count());
    }
    Ok(ids)
}

/// VmHWM of a process in KiB.
fn peak_memory_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}
