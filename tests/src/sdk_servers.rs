//! MCP servers written with the official SDKs (`tests/servers/`), started
//! directly over Streamable HTTP (to run the conformance suites against them
//! without Berth), or described as the stdio command line Berth hosts.
//!
//! - Python: `tests/servers/python/everything.py`, on PyPI `mcp` 2.3.0
//!   (`BERTH_TEST_PYTHON`). Native it speaks the 2025 session era and
//!   2026-07-28; `--legacy-only` only the session era.
//! - TypeScript: `tests/servers/typescript/everything.mjs`, on npm
//!   `@modelcontextprotocol/server` 2.4.0 (`BERTH_TEST_TS_SERVER`, run with
//!   `BERTH_TEST_NODE`, SDK modules in `BERTH_TS_SDK_MODULES`). The same two
//!   modes.
//!
//! `tests/servers/build-images` (run by `scripts/test`) puts each into an
//! image with every file at its host path, so the same command lines run
//! in containers: [`Sdk::image`], [`Sdk::container_http_args`].

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::process::{Child, Command};

use crate::{free_port, tool, workspace_root};

/// How long a server may take to start listening.
const START_LIMIT: Duration = Duration::from_secs(30);

/// An SDK server listening on a loopback port; killed on drop.
pub struct ServerProcess {
    child: Child,
    /// The MCP endpoint, `http://localhost:{port}/mcp`. `localhost`, not
    /// `127.0.0.1`: the suites' DNS-rebinding scenario needs a localhost URL.
    pub url: String,
    /// The origin of [`ServerProcess::url`] (for [`crate::conformance::Auth`]).
    pub origin: String,
    log: tempfile::NamedTempFile,
}

/// The Python SDK server's script.
pub fn python_script() -> PathBuf {
    workspace_root().join("tests/servers/python/everything.py")
}

/// The command line that serves the Python SDK server over stdio (for Berth
/// to host): `[python, everything.py]`, plus `--legacy-only` if asked.
pub fn python_stdio_command(legacy_only: bool) -> Vec<String> {
    let mut argv = vec![
        tool("BERTH_TEST_PYTHON").display().to_string(),
        python_script().display().to_string(),
    ];
    if legacy_only {
        argv.push("--legacy-only".to_owned());
    }
    argv
}

/// Starts the Python SDK server over Streamable HTTP on a free loopback
/// port (`--legacy-only` if asked) and waits until it listens.
pub async fn python_server(legacy_only: bool) -> ServerProcess {
    let mut argv = python_stdio_command(legacy_only);
    let program = argv.remove(0);
    ServerProcess::start(&program, &argv, "--http").await
}

/// The command line that serves the TypeScript SDK server over stdio (for
/// Berth to host, which passes it a minimal environment, hence
/// `--modules`): `[node, everything.mjs, --modules DIR]`, plus
/// `--legacy-only` if asked.
pub fn typescript_stdio_command(legacy_only: bool) -> Vec<String> {
    let mut argv = vec![
        tool("BERTH_TEST_NODE").display().to_string(),
        tool("BERTH_TEST_TS_SERVER").display().to_string(),
        "--modules".to_owned(),
        tool("BERTH_TS_SDK_MODULES").display().to_string(),
    ];
    if legacy_only {
        argv.push("--legacy-only".to_owned());
    }
    argv
}

/// Starts the TypeScript SDK server over Streamable HTTP on a free
/// loopback port (`--legacy-only` if asked) and waits until it listens.
pub async fn typescript_server(legacy_only: bool) -> ServerProcess {
    let mut argv = typescript_stdio_command(legacy_only);
    let program = argv.remove(0);
    ServerProcess::start(&program, &argv, "--http").await
}

/// An SDK server, by language.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sdk {
    /// `tests/servers/python` on PyPI `mcp`.
    Python,
    /// `tests/servers/typescript` on npm `@modelcontextprotocol/server`.
    TypeScript,
}

// === impl Sdk ===

impl Sdk {
    /// Its name in reports: `python` or `typescript`.
    pub fn name(self) -> &'static str {
        match self {
            Sdk::Python => "python",
            Sdk::TypeScript => "typescript",
        }
    }

    /// The command line serving it over stdio (`--legacy-only` if asked).
    pub fn stdio_command(self, legacy_only: bool) -> Vec<String> {
        match self {
            Sdk::Python => python_stdio_command(legacy_only),
            Sdk::TypeScript => typescript_stdio_command(legacy_only),
        }
    }

    /// Starts it directly over Streamable HTTP on a loopback port.
    pub async fn direct(self, legacy_only: bool) -> ServerProcess {
        match self {
            Sdk::Python => python_server(legacy_only).await,
            Sdk::TypeScript => typescript_server(legacy_only).await,
        }
    }

    /// The test image holding it (built by `tests/servers/build-images`).
    pub fn image(self) -> &'static str {
        match self {
            Sdk::Python => "berth-test/python-sdk-server",
            Sdk::TypeScript => "berth-test/typescript-sdk-server",
        }
    }

    /// What to add to [`Sdk::stdio_command`] to serve Streamable HTTP on
    /// port 8080 of a container (reached by its address, so no Host
    /// checks).
    pub fn container_http_args(self) -> Vec<String> {
        let mut args = vec!["--http".to_owned(), "0.0.0.0:8080".to_owned()];
        if self == Sdk::TypeScript {
            args.push("--any-host".to_owned());
        }
        args
    }
}

// === impl ServerProcess ===

impl ServerProcess {
    /// Runs `program args… {http_flag} 127.0.0.1:{port}` on a free port and
    /// waits until the port accepts connections; panics (with the server's
    /// output) if it exits or does not listen in time.
    pub async fn start(program: &str, args: &[String], http_flag: &str) -> ServerProcess {
        let port = free_port();
        let log = tempfile::NamedTempFile::new().expect("log file");
        // One open file for both streams, so they share its offset.
        let out = log.reopen().expect("log file");
        let err = out.try_clone().expect("log file");
        let child = Command::new(program)
            .args(args)
            .arg(http_flag)
            .arg(format!("127.0.0.1:{port}"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {program}: {e}"));
        let mut server = ServerProcess {
            child,
            url: format!("http://localhost:{port}/mcp"),
            origin: format!("http://localhost:{port}"),
            log,
        };
        server.wait_listening(port).await;
        server
    }

    async fn wait_listening(&mut self, port: u16) {
        let deadline = tokio::time::Instant::now() + START_LIMIT;
        loop {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("server exited ({status}) before listening:\n{}", self.log());
            }
            if tokio::time::Instant::now() > deadline {
                panic!(
                    "server did not listen on port {port} within {START_LIMIT:?}:\n{}",
                    self.log()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// What the server printed so far (stdout and stderr).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log.path()).unwrap_or_default()
    }
}
