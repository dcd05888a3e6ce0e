//! The `berth-example-server` binary: see the library for what it serves.
//!
//! Imports: only the library's public entry points (`serves_stdio`, `init_logging`, `run`).

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut runtime = if berth_example_server::serves_stdio(&args) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    let runtime = runtime
        .enable_all()
        .build()
        .expect("cannot start the Tokio runtime");
    berth_example_server::init_logging();
    let code = runtime.block_on(berth_example_server::run(args));
    // Exit now: a blocking stdin read that never sees EOF (an attached
    // container's stdin stays open) would otherwise hold up the runtime's
    // shutdown until SIGKILL.
    std::process::exit(if code == ExitCode::SUCCESS { 0 } else { 1 })
}
