//! What runs beside the server: parked calls whose agent never came back
//! are cancelled, and changes to the server table reach the backend (warm
//! pools filled for added servers, retired for removed or replaced ones).
//!
//! May import: `hosting`, `servers`, `backend`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::hosting::{Continuations, Sessions};
use crate::servers::ServerChange;

/// How often parked calls are checked for expiry.
const CONTINUATION_SWEEP: Duration = Duration::from_secs(5);

/// Cancels parked 2026-07-28 calls whose agent never came back.
pub(super) async fn sweep_continuations(continuations: Continuations, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(CONTINUATION_SWEEP);
    loop {
        tokio::select! {
            _ = tick.tick() => continuations.sweep().await,
            _ = shutdown.cancelled() => return,
        }
    }
}

/// Tells the backend about servers added, replaced or removed while
/// Berth runs; a removed (decommissioned) server's sessions on this pod
/// end at once.
pub(super) async fn follow_server_changes(
    mut changes: broadcast::Receiver<ServerChange>,
    backend: Arc<dyn Backend>,
    sessions: Sessions,
    shutdown: CancellationToken,
) {
    loop {
        let change = tokio::select! {
            c = changes.recv() => c,
            _ = shutdown.cancelled() => return,
        };
        match change {
            Ok(ServerChange::Added(server)) => {
                tracing::info!(tenant = %server.tenant, server = %server.name, "server added or replaced");
                backend.retire(&server.spec).await;
                backend.prepare(std::slice::from_ref(&server.spec)).await;
            }
            Ok(ServerChange::Removed(server)) => {
                backend.retire(&server.spec).await;
                let ended = sessions
                    .end_server(
                        &server.tenant,
                        &server.name,
                        "the server was decommissioned",
                    )
                    .await;
                tracing::info!(tenant = %server.tenant, server = %server.name, sessions_ended = ended, "server removed");
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "fell behind the server table's changes");
            }
            Err(broadcast::error::RecvError::Closed) => return,
        }
    }
}
