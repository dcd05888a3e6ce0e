//! The background work that keeps the session table honest: the sweeper
//! (answers overdue requests, reaps idle and ended sessions) and the
//! heartbeat (renews this pod's leases, slides used records' TTLs, lets go
//! of sessions another pod took over).
//!
//! May import: `hosting::{sessions, session}`, `cluster`.

use std::sync::Arc;
use std::time::Duration;

use berth_session_store::RecordKey;
use tokio_util::sync::CancellationToken;

use super::session::HostingSession;
use super::sessions::Sessions;
use crate::cluster::{HEARTBEAT_EVERY, Owner};

/// How often the sweeper checks deadlines and idleness.
const SWEEP_EVERY: Duration = Duration::from_millis(250);

// === impl Sessions (upkeep) ===

impl Sessions {
    pub(super) async fn sweep(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            self.sweep_once().await;
        }
    }

    async fn sweep_once(&self) {
        let now = tokio::time::Instant::now();
        let mut idle = Vec::new();
        let mut cancels = Vec::new();
        for (key, e) in self.shared.table.snapshot() {
            let s = &e.session;
            let c = s.expire_overdue(now);
            if !c.is_empty() {
                cancels.push((s.clone(), c));
            }
            let dead = s.closed_reason().is_some();
            if dead || (!s.has_pending() && s.idle_for() >= e.idle_timeout) {
                idle.push(key);
            }
        }
        for (s, msgs) in cancels {
            for m in msgs {
                let _ = s.send(m).await;
            }
        }
        for key in idle {
            if let Some(e) = self.shared.table.remove(&key) {
                tracing::info!(session = %e.session.identity().label, "reaping idle or ended session");
                let _ = self.shared.deps.store.store().delete(&key).await;
                if e.leased {
                    self.shared.deps.cluster.release(&key).await;
                }
                tokio::spawn(async move { e.session.shutdown("the session was idle").await });
            }
        }
    }

    /// Renews the leases of this pod's leased sessions and slides the TTL
    /// of the records of those used since the last beat.
    pub(super) async fn heartbeat(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            let owned = self.shared.table.snapshot();
            for (key, e) in owned.into_iter().filter(|(_, e)| e.leased) {
                match self.shared.deps.cluster.renew(&key).await {
                    Ok(true) => {}
                    Ok(false) => {
                        if !self.lease_lost(&key, &e.session).await {
                            continue;
                        }
                    }
                    Err(err) => {
                        tracing::warn!(error = %err, "could not renew a session lease");
                        continue;
                    }
                }
                if e.session.idle_for() < HEARTBEAT_EVERY * 2 {
                    let _ = self
                        .shared
                        .deps
                        .store
                        .store()
                        .touch(&key, e.idle_timeout)
                        .await;
                }
            }
        }
    }

    /// The lease of a session this pod serves lapsed (the pod stalled past
    /// it): take it back if nobody else did; if another pod took the
    /// session over, let go of the instance (a container runs on for its
    /// new owner; a process stops) and drop the local copy. `true` if the
    /// session is still this pod's.
    async fn lease_lost(&self, key: &RecordKey, session: &Arc<HostingSession>) -> bool {
        match self.shared.deps.cluster.acquire(key).await {
            Ok(Owner::Me | Owner::Taken) => {
                tracing::info!(session = %session.identity().label, "a session lease lapsed while this pod held the session; took it back");
                true
            }
            Ok(Owner::Other(lease)) => {
                tracing::warn!(session = %session.identity().label, owner = %lease.pod, "lost a session lease to another pod; letting go of its instance");
                self.shared.table.remove(key);
                session
                    .detach("another Berth pod took this session over")
                    .await;
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not check a lapsed session lease");
                false
            }
        }
    }
}
