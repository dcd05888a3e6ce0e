//! The `berth-example-server` binary: see the library for what it serves.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    berth_example_server::init_logging();
    berth_example_server::run(std::env::args().skip(1)).await
}
