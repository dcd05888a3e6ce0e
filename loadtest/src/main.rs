//! `berth-loadtest`: a benchmark of Berth's proxy overhead.
//!
//! `berth-loadtest bench` (the default) drives the same MCP load twice in one
//! run: straight at the example server's own Streamable HTTP endpoint, then
//! through Berth (`berth demo`, which hosts the same server over stdio). It
//! prints a Markdown table with throughput, latency percentiles and the CPU
//! time Berth spends per proxied call. It is a benchmark, not a test: it never
//! fails on a slow result, only on a broken setup.
//!
//! # Layout
//! - [`args`]: command-line options.
//! - [`bench`]: the two runs, start to finish.
//! - [`procs`]: starting and stopping `berth` and the example server.
//! - [`load`]: rmcp client sessions and the timed call loop.
//! - [`cpu`]: process CPU time from `/proc`.
//! - [`report`]: percentiles, the Markdown table and the JSON form.
//! - [`startup`]: `startup`, session start latency per backend (and pool).
//! - [`churn`]: `churn`, open/call/close loops; leaked containers, memory.
//! - [`scale`]: `scale`, thousands of sessions held open; Berth's memory per session.
//! - [`peers`]: `peers`, Berth side by side with the proxies and gateways a
//!   user would pick instead (installed on first use), in one run.

mod args;
mod bench;
mod churn;
mod cpu;
mod load;
mod peers;
mod procs;
mod report;
mod scale;
mod startup;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::args::BenchArgs;

/// Load generator and benchmark report for Berth.
#[derive(Debug, Parser)]
#[command(
    name = "berth-loadtest",
    version,
    about,
    args_conflicts_with_subcommands = true
)]
struct Cli {
    /// What to run (default: `bench`).
    #[command(subcommand)]
    command: Option<Command>,
    /// Options of `bench` when no subcommand is given.
    #[command(flatten)]
    bench: BenchArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Measure the example server directly and through Berth, and print the table.
    Bench(BenchArgs),
    /// Session start latency: process backend, docker cold, docker warm pool, bare `docker run`.
    Startup(startup::StartupArgs),
    /// Sessions opened, used and closed in a loop through the docker backend; leaks and memory.
    Churn(churn::ChurnArgs),
    /// Thousands of sessions (or principals, or containers) held open; Berth's memory per session.
    Scale(scale::ScaleArgs),
    /// The example server directly, Berth (process, Redis, docker) and peer proxies/gateways
    /// (crates.io mcp-proxy, PyPI mcp-proxy, ContextForge) under the same load, one table.
    Peers(peers::PeersArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("error"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let command = cli.command.unwrap_or(Command::Bench(cli.bench));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("berth-loadtest: cannot start the Tokio runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = match command {
        Command::Bench(args) => runtime.block_on(bench::run(args)),
        Command::Startup(args) => runtime.block_on(startup::run(args)),
        Command::Churn(args) => runtime.block_on(churn::run(args)),
        Command::Scale(args) => runtime.block_on(scale::run(args)),
        Command::Peers(args) => runtime.block_on(peers::run(args)),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("berth-loadtest: {e:#}");
            ExitCode::FAILURE
        }
    }
}
