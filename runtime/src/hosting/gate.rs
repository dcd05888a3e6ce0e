//! The start gate: concurrent first requests for one session (a legacy
//! session being taken over, a principal's first calls) do the slow path
//! once; the others wait and then find the result.
//!
//! May import: external crates.

use std::future::Future;
use std::sync::Arc;

use berth_session_store::RecordKey;
use dashmap::DashMap;

/// One async lock per session key being started.
#[derive(Default)]
pub(super) struct StartGate {
    starting: DashMap<RecordKey, Arc<tokio::sync::Mutex<()>>>,
}

// === impl StartGate ===

impl StartGate {
    /// Runs `work` holding the gate of `key`.
    pub(super) async fn run<T>(&self, key: &RecordKey, work: impl Future<Output = T>) -> T {
        let gate = self.starting.entry(key.clone()).or_default().clone();
        let _guard = gate.lock().await;
        let out = work.await;
        self.starting.remove(key);
        out
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn work_for_one_key_runs_one_at_a_time() {
        let gate = Arc::new(StartGate::default());
        let inside = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let key = RecordKey::new("k");
        let tasks: Vec<_> = (0..4)
            .map(|_| {
                let (gate, inside, most, key) =
                    (gate.clone(), inside.clone(), most.clone(), key.clone());
                tokio::spawn(async move {
                    gate.run(&key, async {
                        let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        inside.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(most.load(Ordering::SeqCst), 1);
    }
}
