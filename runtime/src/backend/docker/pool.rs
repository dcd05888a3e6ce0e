//! Warm pools: started, unclaimed containers per server, so a session
//! starts by attaching to one instead of creating a container. Pools are
//! refilled in the background after each claim and emptied when their
//! server sees no traffic for its idle timeout.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use tokio::sync::Notify;
use tokio::time::Instant;

use super::attach::{ExitNotice, remove};
use super::{DockerBackend, Slot, engine, spec};
use crate::backend::ServerSpec;

/// How often a pool checks its size and its server's idleness.
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// Pools of this pod, by (tenant, server).
#[derive(Default)]
pub(super) struct Pools {
    map: DashMap<(String, String), Arc<Pool>>,
}

struct Pool {
    config_hash: String,
    // std Mutex: push/pop only, never across .await.
    ready: std::sync::Mutex<VecDeque<Warm>>,
    last_claim: std::sync::Mutex<Instant>,
    wake: Notify,
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
        if pool.config_hash != spec::config_hash(spec) {
            return None;
        }
        let warm = pool.ready.lock().expect("pool lock poisoned").pop_front();
        pool.wake.notify_one();
        warm
    }

    /// Ids of every pooled container (for draining).
    fn drain_all(&self) -> Vec<Warm> {
        let mut out = Vec::new();
        for p in self.map.iter() {
            out.extend(p.ready.lock().expect("pool lock poisoned").drain(..));
        }
        out
    }
}

fn key(spec: &ServerSpec) -> (String, String) {
    (spec.tenant.clone(), spec.server.clone())
}

/// Records traffic for `spec`'s server (keeps its pool alive).
pub(super) fn note_claim(backend: &DockerBackend, spec: &ServerSpec) {
    if let Some(pool) = backend.shared.pools.map.get(&key(spec)) {
        *pool.last_claim.lock().expect("pool lock poisoned") = Instant::now();
        pool.wake.notify_one();
    }
}

/// Starts the background task that keeps `spec`'s pool at `warm_pool`.
pub(super) fn keep_filled(backend: DockerBackend, spec: ServerSpec) {
    let pool = Arc::new(Pool {
        config_hash: spec::config_hash(&spec),
        ready: std::sync::Mutex::new(VecDeque::new()),
        last_claim: std::sync::Mutex::new(Instant::now()),
        wake: Notify::new(),
    });
    backend.shared.pools.map.insert(key(&spec), pool.clone());
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = tokio::time::sleep(CHECK_EVERY) => {}
                _ = pool.wake.notified() => {}
                _ = backend.shared.shutdown.cancelled() => return,
            }
            let idle = pool
                .last_claim
                .lock()
                .expect("pool lock poisoned")
                .elapsed()
                >= spec.idle_timeout;
            if idle {
                let trimmed: Vec<Warm> = pool
                    .ready
                    .lock()
                    .expect("pool lock poisoned")
                    .drain(..)
                    .collect();
                for w in trimmed {
                    tracing::info!(server = %spec.server, container = %w.id, "trimming idle warm pool");
                    remove(&backend, &w.id).await;
                }
                continue;
            }
            while pool.ready.lock().expect("pool lock poisoned").len() < spec.warm_pool
                && !backend.shared.shutdown.is_cancelled()
            {
                match start_warm(&backend, &spec).await {
                    // Shutting down while it started: it must not outlive the pod.
                    Ok(w) if backend.shared.shutdown.is_cancelled() => {
                        remove(&backend, &w.id).await
                    }
                    Ok(w) => {
                        tracing::info!(server = %spec.server, container = %w.id, "warm container ready");
                        pool.ready.lock().expect("pool lock poisoned").push_back(w);
                    }
                    Err(e) => {
                        tracing::warn!(server = %spec.server, error = %e, "could not refill warm pool");
                        break;
                    }
                }
            }
        }
    });
}

async fn start_warm(
    backend: &DockerBackend,
    spec: &ServerSpec,
) -> Result<Warm, crate::backend::BackendError> {
    let slot = backend.reserve(&spec.tenant)?;
    let id = spec::create(backend, spec, "pool", None).await?;
    backend
        .shared
        .live
        .insert(id.clone(), ExitNotice::new_detached());
    if let Err(e) = backend.client()?.start_container::<String>(&id, None).await {
        remove(backend, &id).await;
        return Err(engine("start a warm container", e));
    }
    Ok(Warm { id, slot })
}

/// Removes every pooled container (pod shutdown).
pub(super) async fn drain(backend: &DockerBackend) {
    // Twice: a refill that was already past its shutdown check lands
    // within moments.
    for _ in 0..2 {
        for w in backend.shared.pools.drain_all() {
            remove(backend, &w.id).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    }
}
