//! Berth's example MCP server.
//!
//! It carries every fixture the official MCP conformance suite calls on a server (the `test_*`
//! tools, `test://` resources and templates, `test_*` prompts, completion, logging), in both
//! protocol eras, plus the tools Berth's own tests rely on (`counter_increment`, `counter_get`,
//! `echo`, `instance_info`, `sleep_ms`, `env_get`, and the fixtures `environment` and
//! `request_headers` that show what an instance was given).
//!
//! Default transport is stdio; `--http ADDR` serves Streamable HTTP at `/mcp` and prints
//! `listening on http://ADDR/mcp` once bound. Logs always go to stderr.
//!
//! # Layout
//! - [`args`]: command line.
//! - [`server`]: the rmcp handler and its capabilities; routes to [`tools`], [`resources`],
//!   [`prompts`], [`completion`].
//! - [`input`]: asking the client for input, as server→client requests (legacy sessions) or as an
//!   `InputRequiredResult` (2026-07-28); [`era`] tells the two apart.
//! - [`notify`]: log, progress and change notifications.
//! - [`state`]: per-process [`state::Instance`] and per-connection [`state::Session`].
//! - [`http`]: the HTTP mode, with a session manager that can close a request's SSE stream.
//! - [`fixtures`]: the payloads the conformance checks look for.

// The conformance fixtures exercise logging, sampling and roots on purpose; rmcp marks those
// SEP-2577-deprecated.
#![allow(deprecated)]

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rmcp::ServiceExt;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::EnvFilter;

use crate::args::{Command, Mode};
use crate::server::ExampleServer;
use crate::state::Instance;

mod args;
mod completion;
mod era;
mod fixtures;
mod http;
mod input;
mod misbehave;
mod notify;
mod prompts;
mod resources;
mod server;
mod state;
mod tools;

/// How long open HTTP streams get to finish after SIGTERM/SIGINT.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// `EX_USAGE` from sysexits.h.
const EXIT_USAGE: u8 = 64;

/// Installs the stderr log subscriber the server expects (stdout may be the
/// MCP stream). Call once, before [`run`], unless the host process already
/// installed one.
pub fn init_logging() {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| "info,rmcp=warn".into()),
        )
        .init();
}

/// Runs the server with command-line `args` (without the program name).
pub async fn run(args: impl IntoIterator<Item = String>) -> ExitCode {
    let mode = match args::parse(args) {
        Ok(Command::Run(mode)) => mode,
        Ok(Command::Help) => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("berth-example-server: {error}\n\n{}", args::USAGE);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let result = match mode {
        Mode::Stdio => serve_stdio().await,
        Mode::Misbehave(m) => misbehave::run(m).await,
        Mode::Http { addr, hosts } => serve_http(addr, hosts).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Serves one connection on stdin/stdout until the client closes it or a signal arrives.
pub(crate) async fn serve_stdio() -> anyhow::Result<()> {
    let instance = Arc::new(Instance::new(None)?);
    let running = ExampleServer::new(instance)
        .serve(rmcp::transport::stdio())
        .await?;
    tokio::select! {
        quit = running.waiting() => {
            tracing::info!(reason = ?quit?, "stdio connection closed");
        }
        () = shutdown_signal() => tracing::info!("signal received, exiting"),
    }
    Ok(())
}

/// Serves Streamable HTTP until a signal arrives, then drains for at most [`SHUTDOWN_GRACE`].
async fn serve_http(addr: std::net::SocketAddr, hosts: http::HostPolicy) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr).await?;
    let bound = listener.local_addr()?;
    println!("listening on http://{bound}{}", http::MCP_PATH);
    std::io::stdout().flush()?;

    let stop = CancellationToken::new();
    tokio::spawn({
        let stop = stop.clone();
        async move {
            shutdown_signal().await;
            tracing::info!("signal received, draining");
            stop.cancel();
        }
    });
    let deadline = async {
        stop.cancelled().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        served = http::serve(listener, hosts, stop.clone().cancelled_owned()) => served,
        () = deadline => {
            tracing::warn!("drain did not finish in {SHUTDOWN_GRACE:?}; exiting");
            Ok(())
        }
    }
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => tokio::select! {
                _ = interrupt => {}
                _ = terminate.recv() => {}
            },
            Err(_) => {
                let _ = interrupt.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = interrupt.await;
    }
}
