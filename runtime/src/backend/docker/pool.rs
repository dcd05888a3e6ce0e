//! Warm pools: started, unclaimed containers per server, so a session
//! starts by attaching to one instead of creating a container. Pools are
//! refilled in the background after each claim, emptied when their server
//! sees no traffic for its idle timeout, and retired when the server is
//! removed or redefined.
//!
//! May import: `docker::host`, `docker::container`, `docker::exit`,
//! `backend` shapes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::container;
use super::exit::ExitNotice;
use super::host::{DockerHost, Slot, engine};
use crate::backend::{BackendError, ServerSpec};

/// How often a pool checks its size and its server's idleness.
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// Pools of this pod, by (tenant, server).
#[derive(Default)]
pub(super) struct Pools {
    map: DashMap<(String, String), Arc<Pool>>,
}

struct Pool {
    config_hash: String,
    ready: Mutex<VecDeque<Warm>>,
    last_claim: Mutex<Instant>,
    wake: Notify,
    /// Stops this pool's refill task (its server was retired).
    retired: CancellationToken,
}

/// A started container waiting for a session.
pub(super) struct Warm {
    /// Container id.
    pub(super) id: String,
    /// Its capacity slot, handed to the session that claims it.
    pub(super) slot: Slot,
}

// === impl Pools ===

impl Pools {
    /// Takes a ready container matching `spec`, if any.
    pub(super) fn claim(&self, spec: &ServerSpec) -> Option<Warm> {
        let pool = self.map.get(&key(spec))?.clone();
        if pool.config_hash != container::config_hash(spec) {
            return None;
        }
        let warm = pool.ready.lock().pop_front();
        pool.wake.notify_one();
        warm
    }

    /// Records traffic for `spec`'s server (keeps its pool alive).
    pub(super) fn note_claim(&self, spec: &ServerSpec) {
        if let Some(pool) = self.map.get(&key(spec)) {
            *pool.last_claim.lock() = Instant::now();
            pool.wake.notify_one();
        }
    }

    /// Starts the background task that keeps `spec`'s pool at `warm_pool`;
    /// a pool the server had before (an older definition) is retired.
    pub(super) fn keep_filled(&self, host: &DockerHost, spec: ServerSpec) {
        let pool = Arc::new(Pool {
            config_hash: container::config_hash(&spec),
            ready: Mutex::new(VecDeque::new()),
            last_claim: Mutex::new(Instant::now()),
            wake: Notify::new(),
            retired: CancellationToken::new(),
        });
        if let Some(old) = self.map.insert(key(&spec), pool.clone()) {
            old.retired.cancel();
        }
        tokio::spawn(refill(host.clone(), pool, spec));
    }

    /// Stops `spec`'s server's pool and removes its containers.
    pub(super) async fn retire(&self, host: &DockerHost, spec: &ServerSpec) {
        if let Some((_, pool)) = self.map.remove(&key(spec)) {
            pool.retired.cancel();
            let left: Vec<Warm> = pool.ready.lock().drain(..).collect();
            for w in left {
                host.remove(&w.id).await;
            }
        }
    }

    /// Removes every pooled container (pod shutdown).
    pub(super) async fn drain(&self, host: &DockerHost) {
        // Twice: a refill that was already past its shutdown check lands
        // within moments.
        for _ in 0..2 {
            for w in self.drain_all() {
                host.remove(&w.id).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    fn drain_all(&self) -> Vec<Warm> {
        let mut out = Vec::new();
        for p in self.map.iter() {
            out.extend(p.ready.lock().drain(..));
        }
        out
    }
}

fn key(spec: &ServerSpec) -> (String, String) {
    (spec.tenant.clone(), spec.server.clone())
}

/// Keeps `pool` at `spec.warm_pool` until shutdown or retirement;
/// empties it while its server is idle.
async fn refill(host: DockerHost, pool: Arc<Pool>, spec: ServerSpec) {
    let stopped = || host.shared.shutdown.is_cancelled() || pool.retired.is_cancelled();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CHECK_EVERY) => {}
            _ = pool.wake.notified() => {}
            _ = host.shared.shutdown.cancelled() => return,
            _ = pool.retired.cancelled() => {
                let left: Vec<Warm> = pool.ready.lock().drain(..).collect();
                for w in left {
                    host.remove(&w.id).await;
                }
                return;
            }
        }
        let idle = pool.last_claim.lock().elapsed() >= spec.idle_timeout;
        if idle {
            let trimmed: Vec<Warm> = pool.ready.lock().drain(..).collect();
            for w in trimmed {
                tracing::info!(server = %spec.server, container = %w.id, "trimming idle warm pool");
                host.remove(&w.id).await;
            }
            continue;
        }
        while pool.ready.lock().len() < spec.warm_pool && !stopped() {
            match start_warm(&host, &spec).await {
                // Shutting down (or retired) while it started: it must not
                // outlive the pod or its pool.
                Ok(w) if stopped() => host.remove(&w.id).await,
                Ok(w) => {
                    tracing::info!(server = %spec.server, container = %w.id, "warm container ready");
                    pool.ready.lock().push_back(w);
                }
                Err(e) => {
                    tracing::warn!(server = %spec.server, error = %e, "could not refill warm pool");
                    break;
                }
            }
        }
    }
}

async fn start_warm(host: &DockerHost, spec: &ServerSpec) -> Result<Warm, BackendError> {
    let slot = host.reserve(&spec.tenant)?;
    let id = container::create(host, spec, "pool", None).await?;
    host.shared
        .live
        .insert(id.clone(), ExitNotice::new_detached());
    if let Err(e) = host.client()?.start_container::<String>(&id, None).await {
        host.remove(&id).await;
        return Err(engine("start a warm container", e));
    }
    Ok(Warm { id, slot })
}
