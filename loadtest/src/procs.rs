//! Starting and stopping the processes under test.
//!
//! Berth and the example server print their URL on stdout once they listen;
//! everything else they print goes to a log file in the run's temporary
//! directory (quoted in the error if start-up fails). Other programs (the
//! peers of `peers`, Redis) are started with [`start_serving`] in a process
//! group of their own and are ready once their port answers. Children are
//! stopped with SIGTERM, so Berth stops its backends, then killed if they
//! linger; `kill_on_drop` covers early exits.
//!
//! May import: nothing else in the crate.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use anyhow::Context;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStdout, Command};

/// How long a target may take to print its URL.
const START_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a target may take to exit after SIGTERM.
const STOP_TIMEOUT: Duration = Duration::from_secs(10);

/// A started target: its process and the MCP URL it serves.
pub(crate) struct Target {
    child: Child,
    pid: u32,
    /// The MCP endpoint.
    pub(crate) url: String,
    log: PathBuf,
    /// Its own process group, signalled as a whole ([`start_serving`],
    /// or Berth under a `--berth-wrap` command), or berth-loadtest's.
    group: Group,
}

/// How a program started by [`start_serving`] shows that it is ready.
#[derive(Clone, Debug)]
pub(crate) enum Ready {
    /// A TCP connect to this address succeeds.
    Tcp(SocketAddr),
    /// A GET of this URL answers 2xx.
    Http(String),
}

// === impl Target ===

impl Target {
    /// The process id (for CPU sampling).
    pub(crate) fn pid(&self) -> u32 {
        self.pid
    }

    /// SIGTERM, wait, then SIGKILL (to the process group for [`start_serving`]).
    pub(crate) async fn stop(mut self) {
        self.signal(Signal::SIGTERM);
        if tokio::time::timeout(STOP_TIMEOUT, self.child.wait())
            .await
            .is_err()
        {
            eprintln!(
                "berth-loadtest: pid {} ignored SIGTERM; killing it (log: {})",
                self.pid,
                self.log.display()
            );
            self.signal(Signal::SIGKILL);
            let _ = self.child.kill().await;
        }
        if self.group == Group::Own {
            // Stragglers of the group (workers, a server it spawned).
            self.signal(Signal::SIGKILL);
        }
    }

    /// Its log file.
    pub(crate) fn log(&self) -> &Path {
        &self.log
    }

    fn signal(&self, signal: Signal) {
        if let Ok(pid) = i32::try_from(self.pid) {
            let pid = match self.group {
                Group::Own => -pid,
                Group::Shared => pid,
            };
            let _ = kill(Pid::from_raw(pid), signal);
        }
    }
}

/// A free TCP port on 127.0.0.1 (for programs that cannot be told port 0).
pub(crate) fn free_port() -> anyhow::Result<SocketAddr> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")
        .context("cannot bind a free port on 127.0.0.1")?;
    Ok(listener.local_addr()?)
}

/// Starts `cmd` in a process group of its own with stdout and stderr in
/// `log`, and waits up to `within` until it is `ready`; `url` is what the
/// returned target serves.
pub(crate) async fn start_serving(
    mut cmd: Command,
    log: PathBuf,
    url: String,
    ready: Ready,
    within: Duration,
) -> anyhow::Result<Target> {
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(log_file.try_clone()?)
        .stderr(log_file)
        .process_group(0)
        .kill_on_drop(true);
    let program = cmd.as_std().get_program().to_string_lossy().into_owned();
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    let pid = child.id().context("the process exited at once")?;
    let mut target = Target {
        child,
        pid,
        url,
        log,
        group: Group::Own,
    };
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let up = match &ready {
            Ready::Tcp(addr) => tokio::net::TcpStream::connect(addr).await.is_ok(),
            Ready::Http(url) => http
                .get(url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success()),
        };
        if up {
            return Ok(target);
        }
        let why = if let Ok(Some(status)) = target.child.try_wait() {
            format!("it exited ({status}) before it was ready")
        } else if tokio::time::Instant::now() >= deadline {
            format!("not ready within {within:?} ({ready:?})")
        } else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let tail = tail(&target.log);
        let log = target.log.display().to_string();
        target.stop().await;
        anyhow::bail!("{program}: {why}; its log ({log}):\n{tail}");
    }
}

/// Starts `berth example-server --http 127.0.0.1:0`.
pub(crate) async fn example_server(berth: &Path, dir: &Path) -> anyhow::Result<Target> {
    let mut cmd = Command::new(berth);
    cmd.args(["example-server", "--http", "127.0.0.1:0"]);
    start(cmd, dir.join("example-server.log"), Group::Shared, |line| {
        line.strip_prefix("listening on ").map(str::to_owned)
    })
    .await
    .context("starting the example server")
}

/// Starts `berth demo` on a free loopback port with `dir` as its state dir
/// (and `store` as its session store, default memory).
pub(crate) async fn berth(
    berth: &Path,
    dir: &Path,
    wrap: Option<&str>,
    store: Option<&str>,
) -> anyhow::Result<Target> {
    let state = dir
        .to_str()
        .context("the temporary directory is not UTF-8")?;
    let mut argv: Vec<String> = wrap
        .unwrap_or("")
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    argv.push(berth.display().to_string());
    argv.extend(["demo", "--listen", "127.0.0.1:0", "--state-dir", state].map(str::to_owned));
    if let Some(url) = store {
        argv.extend(["--store".to_owned(), url.to_owned()]);
    }
    let mut cmd = Command::new(&argv[0]);
    cmd.args(&argv[1..]);
    // A wrapper (perf, valgrind) may exit on SIGTERM without passing it
    // on: Berth and the wrapper are signalled together.
    let group = if wrap.is_some() {
        Group::Own
    } else {
        Group::Shared
    };
    start(cmd, dir.join("berth.log"), group, |line| {
        let (_, url) = line.split_once("MCP endpoint :")?;
        Some(url.trim().to_owned())
    })
    .await
    .context("starting berth demo")
}

/// Starts `berth serve` with `config` (TOML) written into `dir`, which is
/// also its state dir; returns the target with the URL of `demo/everything`.
pub(crate) async fn berth_serve(berth: &Path, dir: &Path, config: &str) -> anyhow::Result<Target> {
    let file = dir.join("berth.toml");
    std::fs::write(&file, config).with_context(|| format!("writing {}", file.display()))?;
    let mut cmd = Command::new(berth);
    cmd.args(["serve", "--config"]).arg(&file);
    start(cmd, dir.join("berth.log"), Group::Shared, |line| {
        let base = line.strip_prefix("berth listening on ")?;
        Some(format!("{}/mcp/demo/everything", base.trim()))
    })
    .await
    .context("starting berth serve")
}

/// Mints a bearer token for `subject` from the demo's dev issuer.
pub(crate) async fn token(berth: &Path, dir: &Path, subject: &str) -> anyhow::Result<String> {
    let mut cmd = Command::new(berth);
    cmd.args(["token", "--subject", subject, "--state-dir"])
        .arg(dir);
    cmd.kill_on_drop(true).stdin(Stdio::null());
    let out = tokio::time::timeout(START_TIMEOUT, cmd.output())
        .await
        .context("berth token timed out")?
        .context("running berth token")?;
    if !out.status.success() {
        anyhow::bail!(
            "berth token failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8(out.stdout)?.trim().to_owned())
}

/// Whether a target has a process group of its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Group {
    /// It stays in berth-loadtest's group (a Ctrl-C reaches it too) and is
    /// signalled alone.
    Shared,
    /// It leads a group of its own, signalled as a whole.
    Own,
}

async fn start(
    mut cmd: Command,
    log: PathBuf,
    group: Group,
    find_url: impl Fn(&str) -> Option<String>,
) -> anyhow::Result<Target> {
    let log_file =
        std::fs::File::create(&log).with_context(|| format!("creating {}", log.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file)
        .kill_on_drop(true);
    if group == Group::Own {
        cmd.process_group(0);
    }
    let program = cmd.as_std().get_program().to_string_lossy().into_owned();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {program}"))?;
    let pid = child.id().context("the process exited at once")?;
    let stdout = child.stdout.take().context("stdout is piped")?;
    let mut lines = BufReader::new(stdout).lines();
    let wait = async {
        while let Some(line) = lines.next_line().await? {
            if let Some(url) = find_url(&line) {
                return Ok(Some(url));
            }
        }
        Ok::<_, std::io::Error>(None)
    };
    let url = match tokio::time::timeout(START_TIMEOUT, wait).await {
        Ok(Ok(Some(url))) => url,
        outcome => {
            let why = match outcome {
                Err(_) => format!("no URL within {START_TIMEOUT:?}"),
                Ok(Err(e)) => format!("reading its stdout: {e}"),
                Ok(Ok(_)) => "it exited before printing its URL".to_owned(),
            };
            anyhow::bail!(
                "{program}: {why}; its log ({}):\n{}",
                log.display(),
                tail(&log)
            );
        }
    };
    tokio::spawn(drain(lines.into_inner()));
    Ok(Target {
        child,
        pid,
        url,
        log,
        group,
    })
}

/// Keeps reading stdout so the child never blocks on a full pipe.
async fn drain(mut stdout: BufReader<ChildStdout>) {
    let _ = tokio::io::copy(&mut stdout, &mut tokio::io::sink()).await;
}

/// The last 20 lines of a log file.
pub(crate) fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether process `pid` still runs (a zombie does not).
    fn runs(pid: i32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            !stat
                .rsplit_once(") ")
                .is_some_and(|(_, s)| s.starts_with('Z'))
        })
    }

    /// Starts, as a wrapped target, a shell that (like `perf stat`) dies of
    /// SIGTERM without passing it on to the `sleep` it runs; returns the
    /// target and the sleep's pid.
    async fn wrapper(dir: &Path, group: Group) -> (Target, i32) {
        let pidfile = dir.join("inner.pid");
        let script = format!(
            "sleep 600 & echo $! > {}; echo 'MCP endpoint : http://127.0.0.1:9/mcp'; wait",
            pidfile.display()
        );
        let mut cmd = Command::new("sh");
        cmd.args(["-c", &script]);
        let target = start(cmd, dir.join("log"), group, |line| {
            line.split_once("MCP endpoint :")
                .map(|(_, u)| u.trim().to_owned())
        })
        .await
        .expect("the wrapper starts");
        let inner = std::fs::read_to_string(&pidfile)
            .expect("the wrapper wrote the pid before its URL")
            .trim()
            .parse()
            .expect("a pid");
        (target, inner)
    }

    async fn gone_within(pid: i32, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while runs(pid) {
            if tokio::time::Instant::now() >= deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        true
    }

    #[tokio::test]
    async fn stopping_a_wrapped_target_stops_what_it_wraps() {
        let dir = tempfile::tempdir().unwrap();
        let (target, inner) = wrapper(dir.path(), Group::Own).await;
        assert!(runs(inner));
        target.stop().await;
        assert!(
            gone_within(inner, Duration::from_secs(5)).await,
            "the wrapped process {inner} outlived its stopped wrapper"
        );
    }

    #[tokio::test]
    async fn a_target_in_the_shared_group_is_signalled_alone() {
        // What the wrapped case guards against: signalled alone, the
        // wrapper leaves what it runs behind.
        let dir = tempfile::tempdir().unwrap();
        let (target, inner) = wrapper(dir.path(), Group::Shared).await;
        target.stop().await;
        assert!(runs(inner), "the shared-group target was signalled alone");
        let _ = kill(Pid::from_raw(inner), Signal::SIGKILL);
    }
}
