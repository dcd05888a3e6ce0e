//! The background work that keeps the session table honest: the sweeper
//! (answers overdue requests, reaps idle and ended sessions) and the
//! heartbeat (beats this pod's liveness record, re-claims its sessions
//! after a gap and lets go of those another pod took over, slides used
//! records' TTLs).
//!
//! May import: `hosting::{sessions, session}`, `cluster`.

use std::sync::Arc;
use std::time::Duration;

use berth_session_store::RecordKey;
use tokio_util::sync::CancellationToken;

use super::session::HostingSession;
use super::sessions::Sessions;
use crate::cluster::{Beat, POD_BEAT};

/// How often (at most) the records of sessions in use have their TTL
/// slid; sooner for servers with short idle timeouts.
const SLIDE_EVERY: Duration = Duration::from_secs(60);

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

    /// Beats this pod's liveness record (every [`POD_BEAT`]); after a gap
    /// re-claims every owned session before writes resume, letting go of
    /// those another pod took meanwhile. Every [`SLIDE_EVERY`], slides the
    /// records (and owner records) of sessions used since the last slide.
    /// With a store no other pod shares, only the slide runs. Ends when
    /// the pod retires (shared store) or shuts down.
    pub(super) async fn heartbeat(self, shutdown: CancellationToken) {
        let cluster = self.shared.deps.cluster.clone();
        let shared = self.shared.settings.shared_store;
        let mut tick = tokio::time::interval(POD_BEAT);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_slide = tokio::time::Instant::now();
        let mut slide_every = POD_BEAT * 4;
        loop {
            // With a shared store, beats go on while the pod drains (its
            // last requests may still write) until it retires.
            tokio::select! {
                _ = tick.tick() => {}
                () = cluster.beat_asked(), if shared => {}
                _ = shutdown.cancelled(), if !shared => return,
            }
            if cluster.retired() {
                return;
            }
            // Beats start once the listener is bound (the record names
            // the URL); this task is the only one that beats.
            if shared
                && !cluster.url().is_empty()
                && let Beat::Gap(sent) = cluster.beat().await
            {
                self.reclaim_all().await;
                cluster.resume_writes(sent);
            }
            if last_slide.elapsed() >= slide_every {
                let since = last_slide.elapsed();
                last_slide = tokio::time::Instant::now();
                slide_every = self.slide_used(since).await;
            }
        }
    }

    /// Slides the TTLs of the records of leased sessions used within
    /// `since`: an idle session costs the store nothing. Returns when to
    /// slide next: often enough for the shortest idle timeout.
    async fn slide_used(&self, since: Duration) -> Duration {
        let owned = self.shared.table.snapshot();
        let next = owned
            .iter()
            .map(|(_, e)| e.idle_timeout / 4)
            .min()
            .unwrap_or(SLIDE_EVERY)
            .clamp(POD_BEAT, SLIDE_EVERY);
        for (key, e) in owned.into_iter().filter(|(_, e)| e.leased) {
            if e.session.idle_for() < since {
                let store = self.shared.deps.store.store();
                let _ = store.touch(&key, e.idle_timeout).await;
                self.shared.deps.cluster.touch(&key, e.idle_timeout).await;
            }
        }
        next
    }

    /// This pod's liveness record lapsed (it stalled, or lost the store):
    /// keeps each session whose owner record still names this pod; lets go
    /// of the instance of each one another pod took over (a container runs
    /// on for its new owner; a process stops) and drops the local copy.
    async fn reclaim_all(&self) {
        let owned = self.shared.table.snapshot();
        let cluster = &self.shared.deps.cluster;
        for (key, e) in owned.into_iter().filter(|(_, e)| e.leased) {
            match cluster.reclaim(&key, e.idle_timeout).await {
                Ok(true) => {}
                Ok(false) => self.let_go(&key, &e.session).await,
                Err(err) => {
                    tracing::warn!(error = %err, session = %e.session.identity().label, "could not re-claim a session after a gap in this pod's liveness; letting it go");
                    self.let_go(&key, &e.session).await;
                }
            }
        }
    }

    async fn let_go(&self, key: &RecordKey, session: &Arc<HostingSession>) {
        tracing::warn!(session = %session.identity().label, "this pod's liveness lapsed and another pod took the session over; letting go of its instance");
        self.shared.table.remove(key);
        session
            .detach("another Berth pod took this session over")
            .await;
    }
}
