//! The systems `peers` compares, and how each is started on loopback in
//! front of the same example server.
//!
//! - `direct`: the example server's own Streamable HTTP endpoint.
//! - `berth`, `berth-redis`: `berth demo` (process backend, one stdio
//!   instance per session) with the memory store, or with a private
//!   `redis-server` started here.
//! - `berth-docker`: `berth serve`, docker backend with a warm pool.
//! - `crates-mcp-proxy`: crates.io `mcp-proxy`, one stdio backend.
//! - `pypi-mcp-proxy`: PyPI `mcp-proxy`, one stdio server.
//! - `contextforge`: see [`super::contextforge`].
//!
//! May import: `procs`, `peers::install`, `peers::contextforge`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use clap::ValueEnum;
use tokio::process::Command;

use super::contextforge;
use super::install::{self, Installed, Package};
use crate::procs::{self, Ready, Target};

/// How long a peer may take to listen.
const PEER_START: Duration = Duration::from_secs(60);

/// One system under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub(crate) enum System {
    /// The example server's own Streamable HTTP endpoint (the baseline).
    Direct,
    /// Berth, process backend, memory store.
    Berth,
    /// Berth, process backend, Redis store (a private redis-server).
    BerthRedis,
    /// Berth, docker backend with a warm pool.
    BerthDocker,
    /// crates.io `mcp-proxy` 0.6 over stdio.
    CratesMcpProxy,
    /// PyPI `mcp-proxy` over stdio.
    PypiMcpProxy,
    /// PyPI `mcp-contextforge-gateway` 1.0.7 in front of the server's HTTP endpoint.
    Contextforge,
}

/// Everything a system needs to start.
#[derive(Clone, Debug)]
pub(crate) struct Env {
    pub(crate) berth: PathBuf,
    /// This run's temporary directory.
    pub(crate) dir: PathBuf,
    pub(crate) cache: PathBuf,
    pub(crate) python: String,
    pub(crate) redis_server: String,
    pub(crate) docker_image: String,
    pub(crate) docker_pool: usize,
    /// Tokens to mint (the most sessions any run opens).
    pub(crate) sessions: usize,
}

/// A started system.
pub(crate) struct Running {
    /// The process whose tree is this system's own (the server for `direct`).
    pub(crate) target: Target,
    /// One bearer token (or none) per session.
    pub(crate) tokens: Vec<Option<String>>,
    /// In front of `echo` (a gateway's namespace).
    pub(crate) tool_prefix: String,
    /// What ran, e.g. `mcp-proxy 0.13.0 (PyPI)`.
    pub(crate) version: String,
    /// The install, for peers.
    pub(crate) installed: Option<Installed>,
    /// Other processes to stop afterwards (an upstream server, Redis).
    pub(crate) extras: Vec<Target>,
}

/// A system that this machine cannot run (e.g. no docker): a row with the
/// reason, not a failure.
#[derive(Debug)]
pub(crate) struct Skipped(pub(crate) String);

impl std::fmt::Display for Skipped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Skipped {}

// === impl System ===

impl System {
    /// Every system, in table order.
    pub(crate) const ALL: [System; 7] = [
        System::Direct,
        System::Berth,
        System::BerthRedis,
        System::BerthDocker,
        System::CratesMcpProxy,
        System::PypiMcpProxy,
        System::Contextforge,
    ];

    /// The row label.
    pub(crate) fn label(self) -> &'static str {
        match self {
            System::Direct => "example server directly (baseline)",
            System::Berth => "Berth, process backend, memory store",
            System::BerthRedis => "Berth, process backend, Redis store",
            System::BerthDocker => "Berth, docker backend, warm pool",
            System::CratesMcpProxy => "mcp-proxy (crates.io)",
            System::PypiMcpProxy => "mcp-proxy (PyPI)",
            System::Contextforge => "ContextForge gateway (PyPI)",
        }
    }

    /// Starts the system.
    pub(crate) async fn start(self, env: &Env) -> anyhow::Result<Running> {
        match self {
            System::Direct => {
                let target = procs::example_server(&env.berth, &env.dir).await?;
                Ok(Running::plain(target, env, None, "berth example-server"))
            }
            System::Berth => berth_demo(env, "berth-memory", None, Vec::new()).await,
            System::BerthRedis => {
                let redis = redis(env).await?;
                let url = redis.url.clone();
                berth_demo(env, "berth-redis", Some(&url), vec![redis]).await
            }
            System::BerthDocker => berth_docker(env).await,
            System::CratesMcpProxy => crates_mcp_proxy(env).await,
            System::PypiMcpProxy => pypi_mcp_proxy(env).await,
            System::Contextforge => {
                let installed = install::ensure(Package::ContextForge, &env.cache, &env.python)
                    .await
                    .context("installing mcp-contextforge-gateway")?;
                let upstream = procs::example_server(&env.berth, &env.dir).await?;
                match contextforge::start(&installed, &env.dir, &upstream.url).await {
                    Ok(gateway) => Ok(Running {
                        target: gateway.target,
                        tokens: vec![Some(gateway.token); env.sessions],
                        tool_prefix: gateway.tool_prefix,
                        version: format!("mcp-contextforge-gateway {}", installed.record.version),
                        installed: Some(installed),
                        extras: vec![upstream],
                    }),
                    Err(e) => {
                        upstream.stop().await;
                        Err(e)
                    }
                }
            }
        }
    }
}

// === impl Running ===

impl Running {
    fn plain(target: Target, env: &Env, installed: Option<Installed>, version: &str) -> Running {
        Running {
            target,
            tokens: vec![None; env.sessions],
            tool_prefix: String::new(),
            version: version.to_owned(),
            installed,
            extras: Vec::new(),
        }
    }

    /// Stops the system and what it needed.
    pub(crate) async fn stop(self) {
        self.target.stop().await;
        for extra in self.extras {
            extra.stop().await;
        }
    }
}

fn berth_version() -> String {
    format!("berth {}", env!("CARGO_PKG_VERSION"))
}

async fn berth_demo(
    env: &Env,
    name: &str,
    store: Option<&str>,
    extras: Vec<Target>,
) -> anyhow::Result<Running> {
    let state = env.dir.join(name);
    std::fs::create_dir_all(&state)?;
    let target = match procs::berth(&env.berth, &state, None, store).await {
        Ok(t) => t,
        Err(e) => {
            for extra in extras {
                extra.stop().await;
            }
            return Err(e);
        }
    };
    let mut running = Running::plain(target, env, None, &berth_version());
    running.extras = extras;
    match tokens(&env.berth, &state, env.sessions).await {
        Ok(tokens) => {
            running.tokens = tokens;
            Ok(running)
        }
        Err(e) => {
            running.stop().await;
            Err(e)
        }
    }
}

/// One token per session, distinct subjects (as distinct agents have).
async fn tokens(berth: &Path, state: &Path, n: usize) -> anyhow::Result<Vec<Option<String>>> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(Some(
            procs::token(berth, state, &format!("peers-{i}")).await?,
        ));
    }
    Ok(out)
}

/// A private `redis-server` on a free loopback port, nothing persisted.
async fn redis(env: &Env) -> anyhow::Result<Target> {
    let addr = procs::free_port()?;
    let dir = env.dir.join("redis");
    std::fs::create_dir_all(&dir)?;
    let mut cmd = Command::new(&env.redis_server);
    cmd.args(["--bind", "127.0.0.1", "--port", &addr.port().to_string()])
        .args(["--save", "", "--appendonly", "no", "--dir"])
        .arg(&dir);
    procs::start_serving(
        cmd,
        env.dir.join("redis.log"),
        format!("redis://{addr}"),
        Ready::Tcp(addr),
        Duration::from_secs(20),
    )
    .await
    .with_context(|| format!("starting {} (pass --redis-server PATH)", env.redis_server))
}

async fn berth_docker(env: &Env) -> anyhow::Result<Running> {
    let version = Command::new("docker")
        .args(["version", "--format", "{{.Server.Version}}"])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(Duration::from_secs(15), version).await {
        Ok(Ok(out)) if out.status.success() => {}
        Ok(Ok(out)) => {
            let why = String::from_utf8_lossy(&out.stderr);
            return Err(Skipped(format!("skipped: no docker ({})", first_line(&why))).into());
        }
        Ok(Err(e)) => return Err(Skipped(format!("skipped: no docker ({e})")).into()),
        Err(_) => return Err(Skipped("skipped: no docker (no answer in 15 s)".into()).into()),
    }
    let image = Command::new("docker")
        .args(["image", "inspect", "--format", "{{.Id}}", &env.docker_image])
        .stdin(std::process::Stdio::null())
        .output()
        .await?;
    if !image.status.success() {
        return Err(Skipped(format!(
            "skipped: image {} is missing (build it with images/build)",
            env.docker_image
        ))
        .into());
    }
    let state = env.dir.join("berth-docker");
    std::fs::create_dir_all(&state)?;
    let config = format!(
        "listen = \"127.0.0.1:0\"\nstate_dir = \"{}\"\nbackend = \"docker\"\n[servers.demo.everything]\nimage = \"{}\"\nwarm_pool = {}\n",
        state.display(),
        env.docker_image,
        env.docker_pool
    );
    let target = procs::berth_serve(&env.berth, &state, &config).await?;
    let mut running = Running::plain(target, env, None, &berth_version());
    match tokens(&env.berth, &state, env.sessions).await {
        Ok(tokens) => running.tokens = tokens,
        Err(e) => {
            running.stop().await;
            return Err(e);
        }
    }
    // Let the pool fill before the first session claims from it.
    tokio::time::sleep(Duration::from_secs(3)).await;
    Ok(running)
}

async fn crates_mcp_proxy(env: &Env) -> anyhow::Result<Running> {
    let installed = install::ensure(Package::CratesMcpProxy, &env.cache, &env.python)
        .await
        .context("installing crates.io mcp-proxy")?;
    let addr = procs::free_port()?;
    let config = env.dir.join("mcp-proxy.toml");
    // Logs at warn, as for every system here; everything else is its default.
    let toml = format!(
        "[proxy]\nname = \"berth-loadtest\"\nseparator = \"/\"\n[proxy.listen]\nhost = \"127.0.0.1\"\nport = {}\n[observability]\nlog_level = \"warn\"\n[[backends]]\nname = \"example\"\ntransport = \"stdio\"\ncommand = {}\nargs = [\"example-server\"]\n",
        addr.port(),
        serde_json::to_string(&env.berth.display().to_string())?,
    );
    std::fs::write(&config, toml)?;
    let mut cmd = Command::new(Package::CratesMcpProxy.program(&installed.dir));
    cmd.arg("--config").arg(&config);
    let target = procs::start_serving(
        cmd,
        env.dir.join("crates-mcp-proxy.log"),
        format!("http://{addr}/"),
        Ready::Tcp(addr),
        PEER_START,
    )
    .await?;
    let version = format!("mcp-proxy {} (crates.io)", installed.record.version);
    let mut running = Running::plain(target, env, Some(installed), &version);
    running.tool_prefix = "example/".to_owned();
    Ok(running)
}

async fn pypi_mcp_proxy(env: &Env) -> anyhow::Result<Running> {
    let installed = install::ensure(Package::PypiMcpProxy, &env.cache, &env.python)
        .await
        .context("installing PyPI mcp-proxy")?;
    let addr = procs::free_port()?;
    let mut cmd = Command::new(Package::PypiMcpProxy.program(&installed.dir));
    cmd.args(["--host", "127.0.0.1", "--port", &addr.port().to_string()])
        .args(["--log-level", "WARNING", "--"])
        .arg(&env.berth)
        .arg("example-server");
    let target = procs::start_serving(
        cmd,
        env.dir.join("pypi-mcp-proxy.log"),
        format!("http://{addr}/mcp"),
        Ready::Tcp(addr),
        PEER_START,
    )
    .await?;
    let version = format!("mcp-proxy {} (PyPI)", installed.record.version);
    Ok(Running::plain(target, env, Some(installed), &version))
}

fn first_line(text: &str) -> &str {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
}
