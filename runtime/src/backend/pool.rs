//! Warm pools: started, unclaimed containers per server, so a session
//! starts by attaching to one instead of creating a container. Pools are
//! refilled in the background after each claim, emptied when their server
//! sees no traffic for its idle timeout, and retired when the server is
//! removed or redefined.
//!
//! May import: `docker::host`, `docker::container`, ,
//! `backend` shapes.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use dashmap::DashMap;
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use async_trait::async_trait;

use super::error::BackendError;
use super::spec::ServerSpec;

/// What a backend gives the pools: starting, removing and matching warm
/// instances.
#[async_trait]
pub(crate) trait WarmHost: Clone + Send + Sync + 'static {
    /// What a warm instance holds while it waits (a capacity slot).
    type Slot: Send + 'static;
    /// Starts one warm instance of `spec`: its id and slot.
    async fn start_warm(&self, spec: &ServerSpec) -> Result<Warm<Self::Slot>, BackendError>;
    /// Removes a warm instance.
    async fn remove_warm(&self, id: &str);
    /// Fires when the pod shuts down.
    fn shutdown(&self) -> &CancellationToken;
    /// Identifies `spec`'s instance configuration: only matches are reused.
    fn config_hash(&self, spec: &ServerSpec) -> String;
}

/// How often a pool checks its size and its server's idleness.
const CHECK_EVERY: Duration = Duration::from_millis(500);

/// Pools of this pod, by (tenant, server).
pub(crate) struct Pools<S> {
    map: DashMap<(String, String), Arc<Pool<S>>>,
}

struct Pool<S> {
    config_hash: String,
    ready: Mutex<VecDeque<Warm<S>>>,
    last_claim: Mutex<Instant>,
    wake: Notify,
    /// Stops this pool's refill task (its server was retired).
    retired: CancellationToken,
}

/// A started instance waiting for a session.
pub(crate) struct Warm<S> {
    /// Container id or Pod name.
    pub(crate) id: String,
    /// Its capacity slot, handed to the session that claims it.
    pub(crate) slot: S,
}

// === impl Pools ===

impl<S> Default for Pools<S> {
    fn default() -> Self {
        Pools {
            map: DashMap::new(),
        }
    }
}

impl<S: Send + 'static> Pools<S> {
    /// Takes a ready instance matching `spec`, if any.
    pub(crate) fn claim<H: WarmHost<Slot = S>>(
        &self,
        host: &H,
        spec: &ServerSpec,
    ) -> Option<Warm<S>> {
        let pool = self.map.get(&key(spec))?.clone();
        if pool.config_hash != host.config_hash(spec) {
            return None;
        }
        let warm = pool.ready.lock().pop_front();
        pool.wake.notify_one();
        warm
    }

    /// Records traffic for `spec`'s server (keeps its pool alive).
    pub(crate) fn note_claim(&self, spec: &ServerSpec) {
        if let Some(pool) = self.map.get(&key(spec)) {
            *pool.last_claim.lock() = Instant::now();
            pool.wake.notify_one();
        }
    }

    /// Starts the background task that keeps `spec`'s pool at `warm_pool`;
    /// a pool the server had before (an older definition) is retired.
    pub(crate) fn keep_filled<H: WarmHost<Slot = S>>(&self, host: &H, spec: ServerSpec) {
        let pool = Arc::new(Pool {
            config_hash: host.config_hash(&spec),
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

    /// Stops `spec`'s server's pool and removes its instances.
    pub(crate) async fn retire<H: WarmHost<Slot = S>>(&self, host: &H, spec: &ServerSpec) {
        if let Some((_, pool)) = self.map.remove(&key(spec)) {
            pool.retired.cancel();
            let left: Vec<Warm<S>> = pool.ready.lock().drain(..).collect();
            for w in left {
                host.remove_warm(&w.id).await;
            }
        }
    }

    /// Removes every pooled instance (pod shutdown).
    pub(crate) async fn drain<H: WarmHost<Slot = S>>(&self, host: &H) {
        // Twice: a refill that was already past its shutdown check lands
        // within moments.
        for _ in 0..2 {
            for w in self.drain_all() {
                host.remove_warm(&w.id).await;
            }
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }

    fn drain_all(&self) -> Vec<Warm<S>> {
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
async fn refill<H: WarmHost>(host: H, pool: Arc<Pool<H::Slot>>, spec: ServerSpec) {
    let stopped = || host.shutdown().is_cancelled() || pool.retired.is_cancelled();
    loop {
        tokio::select! {
            _ = tokio::time::sleep(CHECK_EVERY) => {}
            _ = pool.wake.notified() => {}
            _ = host.shutdown().cancelled() => return,
            _ = pool.retired.cancelled() => {
                let left: Vec<Warm<H::Slot>> = pool.ready.lock().drain(..).collect();
                for w in left {
                    host.remove_warm(&w.id).await;
                }
                return;
            }
        }
        let idle = pool.last_claim.lock().elapsed() >= spec.idle_timeout;
        if idle {
            let trimmed: Vec<Warm<H::Slot>> = pool.ready.lock().drain(..).collect();
            for w in trimmed {
                tracing::info!(server = %spec.server, instance = %w.id, "trimming idle warm pool");
                host.remove_warm(&w.id).await;
            }
            continue;
        }
        while pool.ready.lock().len() < spec.warm_pool && !stopped() {
            match host.start_warm(&spec).await {
                // Shutting down (or retired) while it started: it must not
                // outlive the pod or its pool.
                Ok(w) if stopped() => host.remove_warm(&w.id).await,
                Ok(w) => {
                    tracing::info!(server = %spec.server, instance = %w.id, "warm instance ready");
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
