//! The process backend: one child process per instance, MCP over stdio.
//!
//! Callers write stdin themselves through [`ToServer::pipe`] (one `write`
//! per message; a writer task only for what a full pipe cannot take). Two
//! tasks per instance: a reader (stdout → [`InboundSink`], via
//! [`LineReader`](super::framing::LineReader)) and a supervisor
//! that owns the [`Child`], reaps it (no zombies) and runs the shutdown
//! ladder: close stdin, wait, SIGTERM the process group, wait, SIGKILL.
//! stderr lines go to the log under target `berth::backend::stderr`.
//! Both outputs are read through an [`IdleReader`], so a quiet instance
//! holds no read buffer.
//!
//! May import: `backend` shapes, `backend::{framing, idle_reader, to_server}`.

use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::io::AsyncBufReadExt;
use tokio::process::{Child, Command};
use tokio_util::sync::CancellationToken;

use super::framing::read_lines;
use super::idle_reader::IdleReader;
use super::to_server::ToServer;
use super::{
    Backend, BackendError, InboundSink, Instance, InstanceLabels, Pinned, ServerSpec, StopControl,
};

/// Environment variables passed through to server processes. Everything else
/// in Berth's environment (keys, tokens) stays out of the child.
const INHERITED_ENV: &[&str] = &["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER"];

/// Outbound messages buffered per instance before callers wait.
const OUTBOUND_QUEUE: usize = 256;

/// Longest stderr line logged; the rest is cut.
const MAX_STDERR_LINE: usize = 4096;

/// Starts MCP servers as child processes.
#[derive(Clone, Debug, Default)]
pub(crate) struct ProcessBackend;

// === impl ProcessBackend ===

#[async_trait]
impl Backend for ProcessBackend {
    fn name(&self) -> &'static str {
        "process"
    }

    async fn pin(&self, spec: &ServerSpec) -> Result<Pinned, BackendError> {
        let program = spec
            .command
            .first()
            .ok_or_else(|| BackendError::NoCommand {
                tenant: spec.tenant.clone(),
                server: spec.server.clone(),
            })?;
        let path = super::pin::resolve(program)?;
        let digest = tokio::task::spawn_blocking(move || {
            let digest = super::pin::executable_digest(&path)?;
            Ok::<_, BackendError>((path.display().to_string(), digest))
        })
        .await
        .map_err(|e| BackendError::Executable(format!("hashing the executable failed: {e}")))??;
        Ok(Pinned {
            image: None,
            executable: Some(digest),
        })
    }

    async fn start(
        &self,
        spec: &ServerSpec,
        labels: &InstanceLabels,
        sink: Arc<dyn InboundSink>,
    ) -> Result<Instance, BackendError> {
        let (program, args) =
            spec.command
                .split_first()
                .ok_or_else(|| BackendError::NoCommand {
                    tenant: spec.tenant.clone(),
                    server: spec.server.clone(),
                })?;
        if let Some(expected) = &spec.executable_digest {
            super::pin::check_executable(program, expected)?;
        }
        let mut cmd = Command::new(program);
        cmd.args(args)
            .env_clear()
            .envs(
                INHERITED_ENV
                    .iter()
                    .filter_map(|k| std::env::var(k).ok().map(|v| (*k, v))),
            )
            .envs(&spec.env)
            .envs(spec.secret_env.iter())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        if let Some(dir) = &spec.cwd {
            cmd.current_dir(dir);
        }
        let mut child = cmd.spawn().map_err(|source| spawn_error(program, source))?;
        let pid = child.id().unwrap_or_default();
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let stderr = child.stderr.take().expect("stderr is piped");

        let stop = CancellationToken::new();
        let (done_tx, done_rx) = tokio::sync::watch::channel(false);
        // Callers write stdin themselves (one `write` per message, no task
        // hand-off); see `ToServer::pipe`.
        let stdin = stdin
            .into_owned_fd()
            .and_then(tokio::net::unix::pipe::Sender::from_owned_fd)
            .map_err(|source| BackendError::Spawn {
                program: program.clone(),
                source,
            })?;
        let outbound = ToServer::pipe(stdin, OUTBOUND_QUEUE, stop.clone());
        let reader = tokio::spawn(read_lines(
            IdleReader::new(stdout),
            spec.max_message_bytes,
            sink.clone(),
        ));
        let session = labels.session.clone();
        tokio::spawn(stderr_loop(IdleReader::new(stderr), session.clone()));
        let env_names = passed_env_names(spec);
        tokio::spawn(
            Supervised {
                pid,
                grace: spec.shutdown_grace,
                stop: stop.clone(),
                reader,
                sink,
                done: done_tx,
                session,
                env_names,
            }
            .run(child),
        );
        tracing::debug!(pid, server = %spec.server, "started server process");
        Ok(Instance {
            resume: None,
            id: format!("pid:{pid}"),
            outbound,
            control: Box::new(StopControl {
                stop,
                done: done_rx,
                detach: None,
            }),
        })
    }
}

/// Why a child could not be started. Running out of open files or
/// processes is this pod's capacity, not the server's fault: a retryable
/// error naming the limit, and not held against the server (a spawn
/// failure otherwise makes its new sessions fail fast for everyone).
fn spawn_error(program: &str, source: std::io::Error) -> BackendError {
    match source.raw_os_error() {
        Some(libc::EMFILE | libc::ENFILE) => BackendError::Capacity(format!(
            "this Berth pod is out of open files ({source}; each process-backend session holds \
             four): raise Berth's open-files limit (LimitNOFILE=, `ulimit -n`) or lower \
             limits.max_sessions"
        )),
        Some(libc::EAGAIN | libc::ENOMEM) => BackendError::Capacity(format!(
            "this Berth pod cannot start another server process ({source}): raise the host's \
             process and memory limits (TasksMax=, the pids cgroup, RLIMIT_NPROC) or lower \
             limits.max_sessions"
        )),
        _ => BackendError::Spawn {
            program: program.to_owned(),
            source,
        },
    }
}

async fn stderr_loop<R>(reader: R, session: String)
where
    R: tokio::io::AsyncBufRead + Unpin,
{
    let mut lines = reader.split(b'\n');
    while let Ok(Some(line)) = lines.next_segment().await {
        let text = String::from_utf8_lossy(&line[..line.len().min(MAX_STDERR_LINE)]);
        tracing::info!(target: "berth::backend::stderr", session = %session, "{}", text.trim_end());
    }
}

/// The environment variables an instance gets, by name (never values):
/// the few inherited from Berth, the deployment's and its secrets'.
fn passed_env_names(spec: &ServerSpec) -> Vec<String> {
    let mut names: Vec<String> = INHERITED_ENV
        .iter()
        .filter(|k| std::env::var_os(k).is_some())
        .map(|k| (*k).to_owned())
        .chain(spec.env.keys().cloned())
        .chain(spec.secret_env.iter().map(|(k, _)| k.to_owned()))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// What the supervisor task of one child process watches.
struct Supervised {
    pid: u32,
    grace: Duration,
    stop: CancellationToken,
    /// The stdout reader; yields how many lines the server wrote.
    reader: tokio::task::JoinHandle<u64>,
    sink: Arc<dyn InboundSink>,
    done: tokio::sync::watch::Sender<bool>,
    session: String,
    /// Names of the environment variables the process got.
    env_names: Vec<String>,
}

// === impl Supervised ===

impl Supervised {
    /// Owns the child until it is gone: reaps it (no zombies), runs the
    /// shutdown ladder when asked, and tells the session why it ended.
    async fn run(self, mut child: Child) {
        let pid = self.pid;
        let status = tokio::select! {
            s = child.wait() => s,
            _ = self.stop.cancelled() => stop_child(&mut child, pid, self.grace).await,
        };
        // The process is reaped; its group may still hold orphans (grandchildren).
        signal_group(pid, nix::sys::signal::Signal::SIGKILL);
        // Let the reader deliver what the server wrote before it exited.
        let lines = tokio::time::timeout(self.grace, self.reader).await;
        let mut reason = match status {
            Ok(s) => match (s.code(), std::os::unix::process::ExitStatusExt::signal(&s)) {
                (Some(code), _) => format!("server process exited with status {code}"),
                (None, Some(sig)) => format!("server process was killed by signal {sig}"),
                _ => "server process exited".to_owned(),
            },
            Err(e) => format!("waiting for the server process failed: {e}"),
        };
        let silent = matches!(lines, Ok(Ok(0)));
        if silent && !self.stop.is_cancelled() {
            // A server that dies before saying anything usually misses
            // something from its environment (a path, a token): say what
            // it had. Names only; values may be secrets.
            reason.push_str(&format!(
                " before writing any MCP message; it ran with only these environment variables: {} (add more with `env` in the server's deployment, or `berth demo --env KEY=VALUE`; its stderr is in Berth's log under berth::backend::stderr)",
                self.env_names.join(", ")
            ));
        }
        tracing::debug!(pid, session = %self.session, %reason, "server process gone");
        self.sink.on_exit(reason);
        let _ = self.done.send(true);
    }
}

async fn stop_child(
    child: &mut Child,
    pid: u32,
    grace: Duration,
) -> std::io::Result<std::process::ExitStatus> {
    // Step 1: stdin was closed by the writer on cancel; wait politely.
    if let Ok(s) = tokio::time::timeout(grace, child.wait()).await {
        return s;
    }
    signal_group(pid, nix::sys::signal::Signal::SIGTERM);
    if let Ok(s) = tokio::time::timeout(grace, child.wait()).await {
        return s;
    }
    signal_group(pid, nix::sys::signal::Signal::SIGKILL);
    child.wait().await
}

fn signal_group(pid: u32, sig: nix::sys::signal::Signal) {
    if let Ok(pid) = i32::try_from(pid)
        && pid > 0
    {
        let _ = nix::sys::signal::killpg(nix::unistd::Pid::from_raw(pid), sig);
    }
}
