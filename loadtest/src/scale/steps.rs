//! The run itself: open units (sessions or principals) up to each step,
//! a few at a time, let Berth settle (or wait for the reaper), sample;
//! after the last step close every session and sample once more.
//!
//! May import: `scale::{agent, memory, report}`, `procs`, external crates.

use std::path::Path;
use std::time::{Duration, Instant};

use futures::StreamExt;

use super::agent::{self, Session, Tokens};
use super::memory;
use super::report::Point;
use crate::procs::Target;

/// Units opened (and closed) before the first sample.
const WARM_UP: usize = 4;

/// How long the instances of closed sessions may take to go.
const DRAIN_WAIT: Duration = Duration::from_secs(120);

/// What a run opens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Legacy sessions, process backend.
    Sessions,
    /// Legacy sessions, docker backend.
    Containers,
    /// 2026-07-28 principals, process backend.
    Principals,
}

/// How a run goes.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    pub(crate) mode: Mode,
    pub(crate) steps: Vec<usize>,
    pub(crate) concurrency: usize,
    pub(crate) settle: Duration,
    /// Hold each legacy session's GET stream.
    pub(crate) streams: bool,
    /// Principals: the idle timeout, after which their instances go.
    pub(crate) reap: Option<Duration>,
    /// Times the whole open-then-close cycle runs (legacy modes).
    pub(crate) rounds: u32,
}

/// The curve, every start latency (ms) and how many units failed.
pub(crate) type Outcome = (Vec<Point>, Vec<f64>, u64);

// === impl Mode ===

impl Mode {
    /// The name in reports.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Mode::Sessions => "sessions",
            Mode::Containers => "containers",
            Mode::Principals => "principals",
        }
    }

    /// Berth's `backend` setting.
    pub(crate) fn backend(self) -> &'static str {
        match self {
            Mode::Containers => "docker",
            Mode::Sessions | Mode::Principals => "process",
        }
    }
}

/// Runs the plan against a started Berth (state dir `dir`).
pub(crate) async fn drive(target: &Target, dir: &Path, plan: &Plan) -> anyhow::Result<Outcome> {
    let run = Run {
        http: agent::client()?,
        tokens: Tokens::new(dir)?,
        target,
        pod: memory::pod_label(target.pid()),
        plan,
        log: dir.join("berth.log"),
    };
    warm_up(&run.http, target, &run.tokens, plan).await?;
    let mut outcome: Outcome = (Vec::new(), Vec::new(), 0);
    for round in 1..=plan.rounds {
        let sessions = run.open_steps(round, &mut outcome).await?;
        if plan.mode != Mode::Principals {
            outcome.0.push(run.close_all(round, sessions).await?);
        }
    }
    Ok(outcome)
}

/// What every step of a run shares.
struct Run<'a> {
    http: reqwest::Client,
    tokens: Tokens,
    target: &'a Target,
    pod: String,
    plan: &'a Plan,
    log: std::path::PathBuf,
}

impl Run<'_> {
    /// Opens units up to each step, sampling at each; returns the
    /// sessions (legacy modes) to close.
    async fn open_steps(&self, round: u32, outcome: &mut Outcome) -> anyhow::Result<Vec<Session>> {
        let (points, all_starts, failures) = outcome;
        let plan = self.plan;
        let mut sessions = Vec::new();
        let mut opened = 0usize;
        for &step in &plan.steps {
            if round > 1 && step == 0 {
                continue; // the previous round's last sample
            }
            let began = Instant::now();
            let mut starts = Vec::new();
            let mut units = futures::stream::iter(opened..step)
                .map(|i| async move {
                    let subject = format!("scale-{i}");
                    open_one(&self.http, &self.target.url, &self.tokens, plan, &subject).await
                })
                .buffer_unordered(plan.concurrency);
            while let Some(result) = units.next().await {
                match result {
                    Ok((session, start)) => {
                        starts.push(start.as_secs_f64() * 1e3);
                        sessions.extend(session);
                    }
                    Err(e) => {
                        *failures += 1;
                        if *failures <= 5 {
                            eprintln!("scale: opening failed: {e:#}");
                        }
                    }
                }
            }
            drop(units);
            let open_s = began.elapsed().as_secs_f64();
            opened = step;
            anyhow::ensure!(
                *failures * 20 <= opened as u64 || opened == 0,
                "{failures} of {opened} failed to open; stopping (Berth's log: {})",
                self.log.display()
            );
            tokio::time::sleep(plan.settle).await;
            if let Some(idle) = plan.reap {
                self.wait_instances(idle + DRAIN_WAIT).await?;
            }
            let latencies = Point::latencies(starts.clone());
            all_starts.extend(starts);
            let point = self.sample(round, step, false, open_s, latencies)?;
            eprintln!(
                "scale: round {round}, {step} {}: Berth RSS {:.1} MiB, {} fds ({:.1} s to open)",
                plan.mode.name(),
                point.berth.rss_kib as f64 / 1024.0,
                point.berth.fds,
                open_s
            );
            points.push(point);
        }
        Ok(sessions)
    }

    /// Closes every session, waits for their instances to go, samples.
    async fn close_all(&self, round: u32, sessions: Vec<Session>) -> anyhow::Result<Point> {
        let began = Instant::now();
        let count = sessions.len();
        let closing: Vec<_> = sessions
            .into_iter()
            .map(|s| agent::close_session(&self.http, &self.target.url, s))
            .collect();
        let closed = futures::stream::iter(closing)
            .buffer_unordered(self.plan.concurrency)
            .collect::<Vec<_>>()
            .await;
        let failed = closed.iter().filter(|r| r.is_err()).count();
        if failed > 0 {
            eprintln!("scale: {failed} sessions failed to close");
        }
        self.wait_instances(DRAIN_WAIT).await?;
        tokio::time::sleep(self.plan.settle).await;
        let took = began.elapsed().as_secs_f64();
        self.sample(round, count, true, took, (0.0, 0.0))
    }

    /// Samples Berth and what runs behind it.
    fn sample(
        &self,
        round: u32,
        count: usize,
        closed: bool,
        open_s: f64,
        (p50, p99): (f64, f64),
    ) -> anyhow::Result<Point> {
        let pid = self.target.pid();
        let berth = memory::of_process(pid)?;
        let (children, containers) = match self.plan.mode {
            Mode::Containers => (None, Some(memory::of_containers(&self.pod)?)),
            Mode::Sessions | Mode::Principals => (Some(memory::of_children(pid)), None),
        };
        Ok(Point {
            round,
            count,
            closed,
            berth,
            children,
            containers,
            open_s,
            start_p50_ms: p50,
            start_p99_ms: p99,
        })
    }

    async fn wait_instances(&self, patience: Duration) -> anyhow::Result<()> {
        wait_instances(self.target.pid(), &self.pod, self.plan.mode, 0, patience).await
    }
}

/// Opens and closes a few units before the first sample, so the baseline
/// already has the code paths paged in and the first-use allocations made
/// (a principal's instance stays until reaped, part of the baseline).
async fn warm_up(
    http: &reqwest::Client,
    target: &Target,
    tokens: &Tokens,
    plan: &Plan,
) -> anyhow::Result<()> {
    for i in 0..WARM_UP {
        let (session, _) = open_one(http, &target.url, tokens, plan, &format!("warm-up-{i}"))
            .await
            .map_err(|e| e.context("warming up"))?;
        if let Some(s) = session {
            agent::close_session(http, &target.url, s).await?;
        }
    }
    if plan.mode != Mode::Principals || plan.reap.is_some() {
        let pod = memory::pod_label(target.pid());
        let patience = plan.reap.unwrap_or_default() + DRAIN_WAIT;
        wait_instances(target.pid(), &pod, plan.mode, 0, patience).await?;
    }
    Ok(())
}

/// Opens a unit as `subject`: a legacy session (returned) or a
/// principal's call.
async fn open_one(
    http: &reqwest::Client,
    url: &str,
    tokens: &Tokens,
    plan: &Plan,
    subject: &str,
) -> anyhow::Result<(Option<Session>, Duration)> {
    let token = tokens.mint(subject)?;
    if plan.mode == Mode::Principals {
        let took = agent::stateless_call(http, url, &token).await?;
        return Ok((None, took));
    }
    let (mut session, start) = agent::open_session(http, url, token).await?;
    if plan.streams {
        agent::hold_stream(http, url, &mut session).await?;
    }
    Ok((Some(session), start))
}

/// Waits until at most `max` instances run behind Berth.
async fn wait_instances(
    pid: u32,
    pod: &str,
    mode: Mode,
    max: u64,
    patience: Duration,
) -> anyhow::Result<()> {
    let deadline = Instant::now() + patience;
    loop {
        let n = match mode {
            Mode::Containers => memory::container_ids(pod)?.len() as u64,
            Mode::Sessions | Mode::Principals => memory::of_children(pid).count,
        };
        if n <= max {
            return Ok(());
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "{n} instances still run after {patience:?}"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}
