//! What runs beside the server: parked calls whose agent never came back
//! are cancelled, changes to the server table reach the backend (warm
//! pools filled for added servers, retired for removed or replaced ones),
//! and drift sessions saw is recorded in the registry.
//!
//! May import: `hosting`, `registry`, `servers`, `backend`.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use crate::backend::Backend;
use crate::hosting::{Continuations, Sessions};
use crate::registry::{Change, DriftRecord, Registry};
use crate::servers::{DriftReport, ServerChange};

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

/// Records in the registry each drift a session reported (once per
/// capability and live fingerprint; the registry drops repeats).
pub(super) async fn record_drift(
    mut reports: tokio::sync::mpsc::UnboundedReceiver<DriftReport>,
    registry: Registry,
    shutdown: CancellationToken,
) {
    loop {
        let report = tokio::select! {
            r = reports.recv() => r,
            _ = shutdown.cancelled() => return,
        };
        let Some(r) = report else { return };
        let drift = DriftRecord {
            kind: r.drift.kind,
            name: r.drift.name.clone(),
            approved: r.drift.approved.clone(),
            live: r.drift.live.clone(),
            seen_at: humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string(),
        };
        let change = Change::RecordDrift(r.version, drift);
        if let Err(e) = registry
            .change(&r.tenant, &r.server, "berth", None, change)
            .await
        {
            tracing::warn!(tenant = %r.tenant, server = %r.server, error = %e, "could not record a capability drift");
        }
    }
}

/// Publishes this pod's sessions directory for the other pods' control
/// planes (shared store only).
pub(super) async fn publish_directory(sessions: Sessions, shutdown: CancellationToken) {
    let mut tick = tokio::time::interval(crate::hosting::PUBLISH_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.cancelled() => return,
        }
        match sessions.publish_directory().await {
            Ok(()) => failing = false,
            Err(e) if !failing => {
                failing = true;
                tracing::warn!(error = %e, "cannot publish this pod's sessions directory");
            }
            Err(_) => {}
        }
    }
}
