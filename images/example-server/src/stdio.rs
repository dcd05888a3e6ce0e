//! The default transport: one MCP connection on stdin/stdout.
//!
//! Imports: `server`, `state`, `shutdown`. Must not import `lib.rs`, `args` or `misbehave` (the
//! fork-bomb mode ends by calling [`serve`]).

use std::sync::Arc;

use rmcp::ServiceExt;

use crate::server::ExampleServer;
use crate::shutdown::shutdown_signal;
use crate::state::Instance;

/// Serves one connection on stdin/stdout until the client closes it or a signal arrives.
pub(crate) async fn serve() -> anyhow::Result<()> {
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
