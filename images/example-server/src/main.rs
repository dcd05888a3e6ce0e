//! The `berth-example-server` binary: see the library for what it serves.
//!
//! Imports: only the library's public entry points (`init_logging`, `run`).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    berth_example_server::init_logging();
    let code = berth_example_server::run(std::env::args().skip(1)).await;
    // Exit now: a blocking stdin read that never sees EOF (an attached
    // container's stdin stays open) would otherwise hold up the runtime's
    // shutdown until SIGKILL.
    std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 })
}
