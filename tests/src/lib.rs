//! Helpers for Berth's black-box tests: start a real `berth` process on a
//! free loopback port, mint tokens with `berth token`, find the external
//! tools `scripts/test` installed (Python MCP SDK, Node, conformance suite).
//!
//! Tests never link Berth's library: they drive the binary over HTTP, as an
//! agent would.

pub mod balancer;
pub mod chart;
pub mod conformance;
pub mod control;
pub mod docker;
pub mod fake_kube;
pub mod kube;
pub mod legacy;
pub mod oidc;
pub mod pki;
pub mod pods;
pub mod redis;
pub mod redis_cluster;
pub mod sdk_servers;
pub mod tenancy;
pub mod vault;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// A running Berth process; killed on drop.
pub struct Berth {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub base: String,
    /// The state dir (dev issuer key, session keys).
    pub state_dir: tempfile::TempDir,
    /// What Berth printed on stdout when it started (the demo banner).
    pub banner: String,
    log: PathBuf,
}

/// Path of the `berth` binary under test (`BERTH_BIN`, default the release build).
pub fn berth_bin() -> PathBuf {
    if let Ok(p) = std::env::var("BERTH_BIN") {
        return PathBuf::from(p);
    }
    workspace_root().join("target/release/berth")
}

/// A `berth` command with the test runner's own `BERTH_*` variables
/// removed (Berth reads every `BERTH_*` variable as a config override).
pub fn berth_command() -> Command {
    let mut cmd = Command::new(berth_bin());
    for (k, _) in std::env::vars() {
        if k.starts_with("BERTH_") {
            cmd.env_remove(k);
        }
    }
    cmd
}

/// Process ids of the direct children of `pid` (all its threads).
pub fn child_pids(pid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        for t in tasks.flatten() {
            let text = std::fs::read_to_string(t.path().join("children")).unwrap_or_default();
            out.extend(
                text.split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
    }
    out
}

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// An external tool path from the environment `scripts/test` prepares.
pub fn tool(var: &str) -> PathBuf {
    match std::env::var(var) {
        Ok(p) => PathBuf::from(p),
        Err(_) => {
            panic!("{var} is not set: run the tests through scripts/test, which installs the tools")
        }
    }
}

/// Where tests write result files (`BERTH_RESULTS`, default target/test-results).
pub fn results_dir() -> PathBuf {
    let dir = std::env::var("BERTH_RESULTS")
        .map(PathBuf::from)
        .unwrap_or_else(|_| workspace_root().join("target/test-results"));
    std::fs::create_dir_all(&dir).expect("create results dir");
    dir
}

// === impl Berth ===

impl Berth {
    /// `berth demo --listen 127.0.0.1:0` with extra args (e.g. `["--", "cmd"]`).
    pub async fn demo(args: &[&str]) -> Berth {
        let state_dir = tempfile::tempdir().expect("tempdir");
        let mut all = vec!["demo", "--listen", "127.0.0.1:0", "--state-dir"];
        let sd = state_dir.path().to_str().expect("utf-8 path").to_owned();
        all.push(&sd);
        all.extend_from_slice(args);
        Self::spawn(&all, &[], state_dir, "MCP endpoint : ").await
    }

    /// `berth serve --config FILE` with env overrides. In the config text,
    /// `{state_dir}` becomes a fresh temp dir, `{berth_bin}` the binary under
    /// test and `{fixtures}` the `tests/fixtures` directory.
    pub async fn serve(config: &str, env: &[(&str, &str)]) -> Berth {
        Self::serve_in(tempfile::tempdir().expect("tempdir"), config, env).await
    }

    /// Like [`Berth::serve`], but sharing `peer`'s dev-issuer key and
    /// session keys: another pod of the same deployment (tokens minted by
    /// either work on both; records sealed by either open on both).
    pub async fn serve_like(peer: &Berth, config: &str, env: &[(&str, &str)]) -> Berth {
        let state_dir = tempfile::tempdir().expect("tempdir");
        for file in ["dev-issuer-key.pem", "session-keys.json"] {
            let from = peer.state_dir.path().join(file);
            if from.exists() {
                std::fs::copy(&from, state_dir.path().join(file)).expect("copy a key file");
            }
        }
        Self::serve_in(state_dir, config, env).await
    }

    async fn serve_in(state_dir: tempfile::TempDir, config: &str, env: &[(&str, &str)]) -> Berth {
        let text = config
            .replace("{state_dir}", state_dir.path().to_str().expect("utf-8"))
            .replace("{berth_bin}", berth_bin().to_str().expect("utf-8"))
            .replace(
                "{fixtures}",
                workspace_root()
                    .join("tests/fixtures")
                    .to_str()
                    .expect("utf-8"),
            );
        let file = state_dir.path().join("berth.toml");
        std::fs::write(&file, text).expect("write config");
        let f = file.to_str().expect("utf-8").to_owned();
        Self::spawn(
            &["serve", "--config", &f],
            env,
            state_dir,
            "berth listening on ",
        )
        .await
    }

    async fn spawn(
        args: &[&str],
        env: &[(&str, &str)],
        state_dir: tempfile::TempDir,
        marker: &str,
    ) -> Berth {
        let log = state_dir.path().join("berth.log");
        let log_file = std::fs::File::create(&log).expect("create log");
        let mut child = berth_command()
            .args(args)
            .envs(env.iter().copied())
            .env("BERTH_LOG", "info,berth=debug")
            .stdout(Stdio::piped())
            .stderr(log_file)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {}: {e} (build it first)",
                    berth_bin().display()
                )
            });
        let stdout = child.stdout.take().expect("piped");
        let mut lines = BufReader::new(stdout).lines();
        let mut banner = String::new();
        let found = tokio::time::timeout(Duration::from_secs(30), async {
            let mut url = None;
            while let Ok(Some(line)) = lines.next_line().await {
                banner.push_str(&line);
                banner.push('\n');
                if let Some(pos) = line.find(marker) {
                    url = Some(line[pos + marker.len()..].trim().to_owned());
                }
                // The demo banner ends with this line; `serve` prints one line.
                if url.is_some()
                    && (line.contains("Stop with Ctrl-C") || marker.starts_with("berth listening"))
                {
                    break;
                }
            }
            url
        })
        .await
        .ok()
        .flatten();
        let Some(url) = found else {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            panic!("berth did not start; log:\n{text}");
        };
        // Keep draining stdout so the process never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        let base = match url.find("/mcp/") {
            Some(i) => url[..i].to_owned(),
            None => url,
        };
        Berth {
            child,
            base,
            state_dir,
            banner,
            log,
        }
    }

    /// The MCP endpoint of a server.
    pub fn url(&self, tenant: &str, server: &str) -> String {
        format!("{}/mcp/{tenant}/{server}", self.base)
    }

    /// Mints a dev-issuer token with `berth token`.
    pub fn token(&self, subject: &str, tenant: &str, scopes: &[&str]) -> String {
        let mut cmd = std::process::Command::new(berth_bin());
        cmd.args([
            "token",
            "--subject",
            subject,
            "--tenant",
            tenant,
            "--state-dir",
        ])
        .arg(self.state_dir.path());
        for s in scopes {
            cmd.args(["--scope", s]);
        }
        let out = cmd.output().expect("run berth token");
        assert!(
            out.status.success(),
            "berth token failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// Berth's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The process id (for /proc reads and signals).
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or_default()
    }

    /// Sends SIGTERM and waits for a clean exit; returns the exit status code.
    pub async fn stop(mut self) -> Option<i32> {
        let pid = self.pid();
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
        let status = tokio::time::timeout(Duration::from_secs(20), self.child.wait()).await;
        status.ok().and_then(|s| s.ok()).and_then(|s| s.code())
    }
}

impl Drop for Berth {
    /// Stops Berth gracefully (SIGTERM) so it removes its instances, and
    /// kills it if it does not exit within 15 s.
    fn drop(&mut self) {
        let Some(pid) = self.child.id() else { return };
        let _ = std::process::Command::new("kill")
            .arg(pid.to_string())
            .status();
        let deadline = std::time::Instant::now() + Duration::from_secs(15);
        while std::time::Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            // `Drop` cannot await: poll the exiting child synchronously.
            #[allow(clippy::disallowed_methods)]
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.start_kill();
    }
}

/// Polls `cond` until it holds or `limit` passes (for asynchronous effects
/// such as reaping); returns its last value.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if cond() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    cond()
}

/// `berth serve` with the config `text`, expected to refuse to start:
/// its exit status and stderr.
pub async fn serve_refused(text: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("berth.toml");
    std::fs::write(&file, text).expect("write config");
    let (code, _, stderr) = run(
        berth_command().args(["serve", "--config"]).arg(&file),
        Duration::from_secs(30),
    )
    .await;
    assert_ne!(code, Some(0), "berth started with {text}");
    (code, stderr)
}

/// Runs a command to completion with a time limit, returning (status, stdout, stderr).
pub async fn run(cmd: &mut Command, limit: Duration) -> (Option<i32>, String, String) {
    cmd.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let child = cmd.spawn().expect("spawn");
    match tokio::time::timeout(limit, child.wait_with_output()).await {
        Ok(Ok(out)) => (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
        Ok(Err(e)) => panic!("command failed: {e}"),
        Err(_) => (None, String::new(), format!("timed out after {limit:?}")),
    }
}

/// An MCP POST with the usual headers.
pub fn mcp_post(
    client: &reqwest::Client,
    url: &str,
    token: &str,
    body: &str,
) -> reqwest::RequestBuilder {
    client
        .post(url)
        .bearer_auth(token)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .body(body.to_owned())
}

/// Reads an SSE response up to its first event carrying data, then drops
/// the connection (a lost stream); returns what was read and that event's id.
pub async fn first_event(response: reqwest::Response) -> (String, Option<String>) {
    use futures::StreamExt;
    let mut body = response.bytes_stream();
    let mut text = String::new();
    while let Some(chunk) = body.next().await {
        text.push_str(&String::from_utf8_lossy(&chunk.expect("SSE chunk")));
        if let Some(event) = text.split("\n\n").find(|e| e.contains("data: {")) {
            let id = event
                .lines()
                .find_map(|l| l.strip_prefix("id: "))
                .map(str::to_owned);
            return (text, id);
        }
    }
    (text, None)
}

/// A loopback port nothing listens on now, for a server a test starts on
/// it. Drawn at random from below the kernel's ephemeral range: ports there
/// are never handed out by another process's `bind(0)` or outgoing
/// connection between this pick and the server's own bind (which is how a
/// port picked with `bind(0)` and released can be lost).
pub fn free_port() -> u16 {
    use rand::Rng;
    let low = ephemeral_low();
    let mut rng = rand::thread_rng();
    for _ in 0..1_000 {
        let port = rng.gen_range(10_000..low);
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// The first port of the kernel's ephemeral range (32768 when unknown).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|r| r.split_whitespace().next()?.parse().ok())
        .filter(|low: &u16| *low > 12_000)
        .unwrap_or(32_768)
}

/// Parses a JSON body or the `data:` lines of an SSE body into messages.
pub fn messages(content_type: &str, body: &str) -> Vec<serde_json::Value> {
    if content_type.starts_with("text/event-stream") {
        body.lines()
            .filter_map(|l| l.strip_prefix("data:"))
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| serde_json::from_str(d).expect("SSE data is JSON"))
            .collect()
    } else if content_type.starts_with("application/json") && !body.is_empty() {
        vec![serde_json::from_str(body).expect("body is JSON")]
    } else {
        Vec::new()
    }
}
