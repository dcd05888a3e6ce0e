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
//! - [`stdio`] and [`http`]: the two transports; [`shutdown`]: the signal both stop on.
//! - [`misbehave`]: deliberately broken stdio servers for Berth's fault tests.
//! - [`server`]: the rmcp handler and its capabilities; routes to [`tools`], [`resources`],
//!   [`prompts`], [`completion`].
//! - [`input`]: asking the client for input, as server→client requests (legacy sessions) or as an
//!   `InputRequiredResult` (2026-07-28); [`era`] tells the two apart.
//! - [`notify`]: log, progress and change notifications; [`listeners`]: the open
//!   `subscriptions/listen` streams changes go to.
//! - [`state`]: per-process [`state::Instance`] and per-connection [`state::Session`].
//! - [`fixtures`]: the payloads the conformance checks look for.
//!
//! # Imports
//!
//! This file holds only module declarations and the entry points [`init_logging`] and [`run`];
//! no module imports it. The layers, lowest first: `fixtures`, `era`, `listeners`,
//! `http::endpoint`, `http::streams`, `shutdown`; `state`; `input`, `notify`,
//! `http::request_headers`; `tools`, `prompts`, `resources`, `completion`; `server`; `stdio`,
//! `http::serve`; `misbehave`; `args`. A module imports only from layers below its own.

// The conformance fixtures exercise logging, sampling and roots on purpose; rmcp marks those
// SEP-2577-deprecated.
#![allow(deprecated)]
#![deny(clippy::disallowed_methods, clippy::disallowed_types)]

use std::io::IsTerminal;
use std::process::ExitCode;

use tracing_subscriber::EnvFilter;

mod args;
mod completion;
mod era;
mod fixtures;
mod http;
mod input;
mod listeners;
mod misbehave;
mod notify;
mod prompts;
mod resources;
mod server;
mod shutdown;
mod state;
mod stdio;
mod tools;

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

/// Whether `args` (without the program name) serve one stdio connection. That needs one
/// thread, so the binaries run it on a current-thread runtime: a message then costs no
/// hand-off between worker threads (with two workers, about one `futex` wake-up and wait per
/// message, as much CPU again as the message itself).
pub fn serves_stdio(args: &[String]) -> bool {
    matches!(
        args::parse(args.iter().cloned()),
        Ok(args::Command::Run(args::Mode::Stdio { .. }))
    )
}

/// Runs the server with command-line `args` (without the program name).
pub async fn run(args: impl IntoIterator<Item = String>) -> ExitCode {
    let mode = match args::parse(args) {
        Ok(args::Command::Run(mode)) => mode,
        Ok(args::Command::Help) => {
            println!("{}", args::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(error) => {
            eprintln!("berth-example-server: {error}\n\n{}", args::USAGE);
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let result = match mode {
        args::Mode::Stdio { sessions_only } => stdio::serve(sessions_only).await,
        args::Mode::Misbehave(m) => misbehave::run(m).await,
        args::Mode::Http { addr, hosts } => http::serve_until_signal(addr, hosts).await,
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}
