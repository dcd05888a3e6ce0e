//! Installing the peers on first use, into a cache directory, and reusing
//! them on later runs.
//!
//! Each peer has a directory of its own under the cache: the crates.io
//! `mcp-proxy` is a `cargo install --root` there (its build directory is
//! deleted afterwards: it is gigabytes, the binary is megabytes); the PyPI
//! packages get a virtualenv each. A peer counts as installed once its
//! `installed.json` (what was asked for, which version came, how long it
//! took) sits next to its program; a failed or interrupted install leaves
//! none, so the next run starts over. Installer output goes to
//! `install.log` in the peer's directory.
//!
//! May import: `procs` (the log tail for errors).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Instant;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::process::Command;

use crate::procs;

/// A peer program from a package registry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Package {
    /// crates.io `mcp-proxy` 0.6, with the 2026-07-28 protocol feature.
    CratesMcpProxy,
    /// PyPI `mcp-proxy` (sparfenyuk's stdio ↔ Streamable HTTP bridge).
    PypiMcpProxy,
    /// PyPI `mcp-contextforge-gateway` 1.0.7 (IBM's ContextForge).
    ContextForge,
}

/// An installed peer.
#[derive(Clone, Debug)]
pub(crate) struct Installed {
    /// Its directory in the cache.
    pub(crate) dir: PathBuf,
    /// What is known about the install.
    pub(crate) record: Record,
    /// Whether this run installed it (false: reused from the cache).
    pub(crate) fresh: bool,
}

/// `installed.json`: what was installed, and how long that took.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct Record {
    /// The registry and requirement, e.g. `pypi mcp-proxy==0.13.0`.
    pub(crate) spec: String,
    /// The version the registry gave.
    pub(crate) version: String,
    /// Wall-clock seconds of the install.
    pub(crate) install_s: f64,
}

// === impl Package ===

impl Package {
    /// Directory name in the cache.
    fn dir_name(self) -> &'static str {
        match self {
            Package::CratesMcpProxy => "crates-mcp-proxy",
            Package::PypiMcpProxy => "pypi-mcp-proxy",
            Package::ContextForge => "pypi-mcp-contextforge-gateway",
        }
    }

    /// What is asked of the registry (recorded in `installed.json`; a
    /// change here reinstalls).
    fn spec(self) -> &'static str {
        match self {
            Package::CratesMcpProxy => {
                "crates.io mcp-proxy ^0.6 --no-default-features --features protocol-2026-07-28"
            }
            Package::PypiMcpProxy => "pypi mcp-proxy==0.13.0",
            Package::ContextForge => "pypi mcp-contextforge-gateway==1.0.7",
        }
    }

    /// The program to run, inside the peer's directory.
    pub(crate) fn program(self, dir: &Path) -> PathBuf {
        match self {
            Package::CratesMcpProxy => dir.join("bin/mcp-proxy"),
            Package::PypiMcpProxy => dir.join("venv/bin/mcp-proxy"),
            Package::ContextForge => dir.join("venv/bin/mcpgateway"),
        }
    }

    /// The Python of the peer's virtualenv.
    pub(crate) fn python(dir: &Path) -> PathBuf {
        dir.join("venv/bin/python")
    }
}

/// The default cache: `$BERTH_PEERS_CACHE`, else `$XDG_CACHE_HOME/berth/peers`,
/// else `~/.cache/berth/peers`.
pub(crate) fn default_cache() -> anyhow::Result<PathBuf> {
    if let Some(dir) = std::env::var_os("BERTH_PEERS_CACHE").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("berth/peers"));
    }
    let home = std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .context("neither $HOME nor $XDG_CACHE_HOME is set; pass --cache DIR")?;
    Ok(PathBuf::from(home).join(".cache/berth/peers"))
}

/// Returns the installed `package`, installing it first if the cache does
/// not hold it. `python` builds the virtualenvs.
pub(crate) async fn ensure(
    package: Package,
    cache: &Path,
    python: &str,
) -> anyhow::Result<Installed> {
    let dir = cache.join(package.dir_name());
    let marker = dir.join("installed.json");
    if let Some(record) = read_record(&marker)
        && record.spec == package.spec()
        && package.program(&dir).is_file()
    {
        return Ok(Installed {
            dir,
            record,
            fresh: false,
        });
    }
    let _ = std::fs::remove_file(&marker);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let log = dir.join("install.log");
    let started = Instant::now();
    let version = match package {
        Package::CratesMcpProxy => {
            eprintln!(
                "peers: installing crates.io mcp-proxy 0.6 into {} (a release build: about 8 minutes on 2 cores; log: {})",
                dir.display(),
                log.display()
            );
            cargo_install(&dir, cache, &log).await?
        }
        Package::PypiMcpProxy | Package::ContextForge => {
            let requirement = package
                .spec()
                .strip_prefix("pypi ")
                .unwrap_or(package.spec());
            eprintln!(
                "peers: installing PyPI {requirement} into a virtualenv in {} (log: {})",
                dir.display(),
                log.display()
            );
            pip_install(&dir, python, requirement, &log).await?
        }
    };
    let record = Record {
        spec: package.spec().to_owned(),
        version,
        install_s: started.elapsed().as_secs_f64(),
    };
    std::fs::write(&marker, serde_json::to_vec_pretty(&record)?)
        .with_context(|| format!("writing {}", marker.display()))?;
    eprintln!(
        "peers: installed {} {} in {:.0} s",
        package.dir_name(),
        record.version,
        record.install_s
    );
    Ok(Installed {
        dir,
        record,
        fresh: true,
    })
}

fn read_record(marker: &Path) -> Option<Record> {
    serde_json::from_slice(&std::fs::read(marker).ok()?).ok()
}

/// `cargo install mcp-proxy` into `root`, building in `<cache>/target`
/// (deleted afterwards, also when the build fails).
async fn cargo_install(root: &Path, cache: &Path, log: &Path) -> anyhow::Result<String> {
    let target = cache.join("target");
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    cmd.args(["install", "mcp-proxy", "--version", "^0.6", "--locked"])
        .args(["--no-default-features", "--features", "protocol-2026-07-28"])
        .arg("--root")
        .arg(root)
        .env("CARGO_TARGET_DIR", &target);
    let outcome = run_logged(cmd, log).await;
    let _ = std::fs::remove_dir_all(&target);
    outcome.context("cargo install mcp-proxy (is cargo on PATH? it needs crates.io)")?;
    // `.crates.toml` lists `"mcp-proxy 0.6.0 (registry+…)" = ["mcp-proxy"]`.
    let listing = std::fs::read_to_string(root.join(".crates.toml")).unwrap_or_default();
    Ok(listing
        .split('"')
        .find_map(|s| s.strip_prefix("mcp-proxy "))
        .and_then(|s| s.split_whitespace().next())
        .unwrap_or("0.6")
        .to_owned())
}

/// A fresh virtualenv in `<dir>/venv` with `requirement` installed.
async fn pip_install(
    dir: &Path,
    python: &str,
    requirement: &str,
    log: &Path,
) -> anyhow::Result<String> {
    let venv = dir.join("venv");
    let _ = std::fs::remove_dir_all(&venv);
    let mut cmd = Command::new(python);
    cmd.args(["-m", "venv"]).arg(&venv);
    run_logged(cmd, log)
        .await
        .with_context(|| format!("{python} -m venv (pass --python for another Python)"))?;
    let pip = venv.join("bin/pip");
    let mut cmd = Command::new(&pip);
    cmd.args(["install", "--disable-pip-version-check", requirement]);
    run_logged(cmd, log)
        .await
        .with_context(|| format!("pip install {requirement}"))?;
    let name = requirement.split("==").next().unwrap_or(requirement);
    let mut cmd = Command::new(&pip);
    cmd.args(["show", name]);
    let out = cmd.output().await.context("pip show")?;
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("Version: "))
        .unwrap_or("?")
        .trim()
        .to_owned())
}

/// Runs `cmd` to completion with its output appended to `log`.
async fn run_logged(mut cmd: Command, log: &Path) -> anyhow::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .with_context(|| format!("opening {}", log.display()))?;
    cmd.stdin(Stdio::null())
        .stdout(file.try_clone()?)
        .stderr(file)
        .kill_on_drop(true);
    let program = cmd.as_std().get_program().to_string_lossy().into_owned();
    let status = cmd
        .status()
        .await
        .with_context(|| format!("cannot run {program}"))?;
    if !status.success() {
        anyhow::bail!(
            "{program} failed ({status}); the end of {}:\n{}",
            log.display(),
            procs::tail(log)
        );
    }
    Ok(())
}
