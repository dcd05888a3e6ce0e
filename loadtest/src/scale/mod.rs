//! `berth-loadtest scale`: how much one Berth pod holds, and what each
//! session costs it. Starts its own `berth serve` with a fresh state dir,
//! opens sessions in steps (by default 0, N/8, N/4, N/2, N), holds them
//! open, and samples Berth's memory (`VmRSS`, `smaps_rollup`), open files
//! and threads at each step, with what the instances behind it hold.
//! Reports the curve and Berth's memory per session (the slope).
//!
//! Three shapes, one per flag:
//! - `--sessions N`: legacy (2025-11-25) sessions through the process
//!   backend, each with its own server process (the example server);
//! - `--containers N`: the same through the docker backend, one hardened
//!   container per session (session start p50/p99, containers' memory);
//!   every container is gone afterwards, or removed and reported;
//! - `--principals N`: N distinct 2026-07-28 principals (one token each)
//!   each make one call and go quiet; with `--reap-after`, each step is
//!   sampled once their instances are reaped as idle.
//!
//! May import: `scale::{agent, memory, report, steps}`, `procs`, `startup`
//! (the `berth` path), external crates.

mod agent;
mod memory;
mod report;
mod steps;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::{ArgGroup, Args};

use self::report::Report;
use self::steps::{Mode, Plan};
use crate::procs;
use crate::startup::berth_path;

/// Berth's memory per legacy session, process backend (goal of issue 16).
const SESSION_GOAL_KB: f64 = 50.0;

/// Berth's memory per idle 2026-07-28 principal (goal of issue 16).
const PRINCIPAL_GOAL_KB: f64 = 20.0;

/// File descriptors Berth holds per process-backend instance: stdin,
/// stdout and stderr pipes and a pidfd.
const FDS_PER_PROCESS: u64 = 4;

/// Options of `scale`.
#[derive(Clone, Debug, Args)]
#[command(group(
    ArgGroup::new("shape")
        .required(true)
        .args(["sessions", "containers", "principals"])
))]
pub(crate) struct ScaleArgs {
    /// The `berth` binary (default: next to this executable).
    #[arg(long)]
    pub(crate) berth: Option<PathBuf>,
    /// Legacy sessions through the process backend.
    #[arg(long, value_name = "N")]
    pub(crate) sessions: Option<usize>,
    /// Legacy sessions through the docker backend (one container each).
    #[arg(long, value_name = "N")]
    pub(crate) containers: Option<usize>,
    /// Distinct 2026-07-28 principals, one call each, then quiet.
    #[arg(long, value_name = "N")]
    pub(crate) principals: Option<usize>,
    /// Counts at which to sample, comma-separated (default 0,N/8,N/4,N/2,N).
    #[arg(long, value_delimiter = ',', value_name = "N,N,…")]
    pub(crate) steps: Vec<usize>,
    /// Sessions opened at once.
    #[arg(long, default_value_t = 8)]
    pub(crate) concurrency: usize,
    /// Seconds to let Berth settle at each step before sampling.
    #[arg(long, default_value_t = 3.0)]
    pub(crate) settle: f64,
    /// Each legacy session also holds its standalone GET stream open, as
    /// SDK clients do (one more connection per session).
    #[arg(long)]
    pub(crate) streams: bool,
    /// The stdio server of the process backend, as one string split on
    /// spaces (default: `berth-example-server` next to `berth`, one
    /// worker thread; else `berth example-server`).
    #[arg(long, value_name = "CMD")]
    pub(crate) server: Option<String>,
    /// Image of the docker backend.
    #[arg(long, default_value = "berth/example-server")]
    pub(crate) image: String,
    /// Principals only: the server's idle timeout in seconds; each step is
    /// sampled once every instance has been reaped (what a principal
    /// costs after its instance is gone).
    #[arg(long, value_name = "SECS")]
    pub(crate) reap_after: Option<u64>,
    /// Legacy modes: run the whole open-then-close cycle this many times
    /// against the same Berth (memory a closed session leaves behind shows
    /// as growth from round to round).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub(crate) rounds: u32,
    /// Print the report as JSON instead of Markdown.
    #[arg(long)]
    pub(crate) json: bool,
}

/// Runs the chosen shape and prints the report.
pub(crate) async fn run(args: ScaleArgs) -> anyhow::Result<()> {
    let berth = berth_path(args.berth.as_deref())?;
    anyhow::ensure!(
        berth.is_file(),
        "{} does not exist; build it with `cargo build --release -p berth` or pass --berth PATH",
        berth.display()
    );
    let (mode, n) = match (args.sessions, args.containers, args.principals) {
        (Some(n), _, _) => (Mode::Sessions, n),
        (_, Some(n), _) => (Mode::Containers, n),
        (_, _, Some(n)) => (Mode::Principals, n),
        _ => anyhow::bail!("pass --sessions N, --containers N or --principals N"),
    };
    anyhow::ensure!(
        args.reap_after.is_none() || mode == Mode::Principals,
        "--reap-after applies to --principals only"
    );
    let steps = steps_of(&args.steps, n)?;
    let fd_limit = memory::raise_fd_limit()?;
    check_fds(mode, n, args.streams, args.reap_after.is_some(), fd_limit)?;
    let dir = tempfile::Builder::new()
        .prefix("berth-loadtest-scale-")
        .tempdir()?;
    let server = server_command(&berth, args.server.as_deref())?;
    let config = config(mode, n, dir.path(), &server, &args);
    eprintln!("scale: starting berth serve ({} backend)", mode.backend());
    let target = procs::berth_serve(&berth, dir.path(), &config).await?;
    let setup = describe(mode, &steps, &server, &args, fd_limit);
    let plan = Plan {
        mode,
        steps,
        concurrency: args.concurrency.max(1),
        settle: Duration::from_secs_f64(args.settle.clamp(0.0, 600.0)),
        streams: args.streams && mode != Mode::Principals,
        reap: args.reap_after.map(Duration::from_secs),
        rounds: if mode == Mode::Principals {
            1
        } else {
            args.rounds
        },
    };
    let outcome = steps::drive(&target, dir.path(), &plan).await;
    let pod = memory::pod_label(target.pid());
    target.stop().await;
    let left = if mode == Mode::Containers {
        Some(leftover_containers(&pod).await?)
    } else {
        None
    };
    let (points, starts, failures) = outcome?;
    let goal = match mode {
        Mode::Sessions => Some(SESSION_GOAL_KB),
        Mode::Principals => Some(PRINCIPAL_GOAL_KB),
        Mode::Containers => None,
    };
    let mut report = Report::new(mode.name(), setup, points, goal, starts, failures);
    report.containers_left = left;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.markdown());
    }
    Ok(())
}

/// The steps to sample at: given, or 0, N/8, N/4, N/2, N.
fn steps_of(given: &[usize], n: usize) -> anyhow::Result<Vec<usize>> {
    anyhow::ensure!(n > 0, "the count must be at least 1");
    let mut steps = if given.is_empty() {
        vec![0, n / 8, n / 4, n / 2, n]
    } else {
        given.to_vec()
    };
    anyhow::ensure!(
        steps.iter().all(|s| *s <= n),
        "--steps must not exceed the count ({n})"
    );
    steps.sort_unstable();
    steps.dedup();
    if steps.last() != Some(&n) {
        steps.push(n);
    }
    Ok(steps)
}

/// Refuses a run the descriptor limit cannot hold, naming the fix.
fn check_fds(mode: Mode, n: usize, streams: bool, reaped: bool, limit: u64) -> anyhow::Result<()> {
    let n = n as u64;
    let per = match mode {
        Mode::Sessions | Mode::Principals => FDS_PER_PROCESS,
        Mode::Containers => 1,
    } + u64::from(streams);
    let need = per * n + 256;
    if !reaped && need > limit {
        anyhow::bail!(
            "holding {n} {} needs about {need} open files in Berth ({per} each); the hard limit \
             here is {limit} (`ulimit -Hn`). Raise it (LimitNOFILE= in systemd, `ulimit -n` as \
             root, --ulimit nofile= for a container), pass a smaller count{}",
            mode.name(),
            if mode == Mode::Principals {
                ", or --reap-after SECS to measure principals whose instances were reaped"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// The server command of the process backend.
fn server_command(berth: &Path, given: Option<&str>) -> anyhow::Result<Vec<String>> {
    if let Some(cmd) = given {
        let argv: Vec<String> = cmd.split_whitespace().map(str::to_owned).collect();
        anyhow::ensure!(!argv.is_empty(), "--server is empty");
        return Ok(argv);
    }
    let sibling = berth.with_file_name("berth-example-server");
    Ok(if sibling.is_file() {
        vec![sibling.display().to_string()]
    } else {
        vec![berth.display().to_string(), "example-server".to_owned()]
    })
}

/// `berth serve`'s configuration for the run.
fn config(mode: Mode, n: usize, dir: &Path, server: &[String], args: &ScaleArgs) -> String {
    let room = n + 64;
    let idle = args.reap_after.unwrap_or(24 * 3600);
    let mut cfg = format!(
        "listen = \"127.0.0.1:0\"\nstate_dir = \"{}\"\nbackend = \"{}\"\n\n[limits]\nmax_sessions = {room}\n\n",
        dir.display(),
        mode.backend()
    );
    if mode == Mode::Containers {
        cfg.push_str(&format!(
            "[docker]\nmax_containers = {room}\nmax_containers_per_tenant = {room}\n\n"
        ));
    }
    cfg.push_str(&format!(
        "[servers.demo.everything]\nidle_timeout = \"{idle}s\"\n"
    ));
    if mode == Mode::Containers {
        cfg.push_str(&format!("image = {}\n", toml_string(&args.image)));
    } else {
        let argv: Vec<String> = server.iter().map(|a| toml_string(a)).collect();
        cfg.push_str(&format!("command = [{}]\n", argv.join(", ")));
        if args.server.is_none() {
            // The example server is a Tokio program: one worker thread is
            // plenty for one agent, and keeps thousands of them light.
            cfg.push_str("env = { TOKIO_WORKER_THREADS = \"1\" }\n");
        }
    }
    cfg
}

fn toml_string(s: &str) -> String {
    serde_json::Value::from(s).to_string()
}

/// One paragraph saying how the numbers were obtained.
fn describe(mode: Mode, steps: &[usize], server: &[String], args: &ScaleArgs, fds: u64) -> String {
    let what = match mode {
        Mode::Sessions => format!(
            "Legacy (2025-11-25) sessions through the process backend (`{}`), each opened with \
             `initialize`, `notifications/initialized` and one `echo`, then held open",
            server.join(" ")
        ),
        Mode::Containers => format!(
            "Legacy (2025-11-25) sessions through the docker backend (image `{}`, one container \
             per session), each opened with `initialize`, `notifications/initialized` and one \
             `echo`, then held open",
            args.image
        ),
        Mode::Principals => format!(
            "Distinct 2026-07-28 principals (one token each) through the process backend (`{}`), \
             each making one `echo` call and then staying quiet{}",
            server.join(" "),
            match args.reap_after {
                Some(s) => format!(
                    "; idle timeout {s} s, each step sampled once every instance was reaped"
                ),
                None => "; their instances held (idle timeout 24 h)".to_owned(),
            }
        ),
    };
    format!(
        "{what}{}. Steps {steps:?}, {} opened at once, {} s settle before each sample; one \
         token (principal) per session; open-files limit {fds}; {} CPUs, load average before the \
         run: {}. RSS = Berth's VmRSS; Δ = (RSS − RSS at the first step) / sessions added.",
        if args.streams && mode != Mode::Principals {
            ", each also holding its standalone GET stream"
        } else {
            ""
        },
        args.concurrency,
        args.settle,
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        std::fs::read_to_string("/proc/loadavg")
            .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
            .unwrap_or_default(),
    )
}

/// Containers of the stopped pod: counted, then removed if any are left.
async fn leftover_containers(pod: &str) -> anyhow::Result<usize> {
    let mut ids = Vec::new();
    // Berth removes its containers as it stops; give the engine a moment.
    for _ in 0..40 {
        ids = memory::container_ids(pod)?;
        if ids.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    if !ids.is_empty() {
        eprintln!(
            "scale: {} containers of pod {pod} left; removing them",
            ids.len()
        );
        let status = std::process::Command::new("docker")
            .args(["rm", "-f"])
            .args(&ids)
            .stdout(std::process::Stdio::null())
            .status()
            .context("docker rm")?;
        if !status.success() {
            eprintln!("scale: docker rm -f failed; remove label berth.pod={pod} by hand");
        }
    }
    Ok(ids.len())
}
