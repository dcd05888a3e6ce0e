//! `MemoryStore`: the in-process [`SessionStore`] of embedded mode.
//!
//! Follows mini-redis' `db.rs`: a cheap `Clone` handle around `Arc<Shared>`,
//! one map behind a `parking_lot::Mutex`, a `BTreeSet` of expirations, and a
//! background task that purges expired entries and stops when the last handle
//! drops. Expired entries are invisible to reads even before the purge runs.
//! Time comes from `tokio::time::Instant`, so `tokio::time::pause` drives TTLs
//! in tests.
//!
//! Imports: `store`, `keys`, `error`. Must not import `redis_store`,
//! `sealed_store` or `seal` (it only ever holds sealed bytes).

use std::collections::hash_map::Entry as MapEntry;
use std::collections::{BTreeSet, HashMap, VecDeque};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::error::Error;
use crate::keys::RecordKey;
use crate::store::{SessionStore, ttl_millis};

/// In-memory [`SessionStore`]; clones share the same data.
///
/// [`MemoryStore::new`] should be called inside a Tokio runtime: it spawns the
/// task that purges expired entries (the task ends when the last clone is
/// dropped). Outside a runtime no task is spawned; expired entries are then
/// still invisible, and are purged during writes instead.
#[derive(Clone)]
pub struct MemoryStore {
    shared: Arc<Shared>,
}

struct Shared {
    /// A sync mutex (as in mini-redis): critical sections are short map
    /// operations and the lock is never held across an `.await`, so an async
    /// mutex would only add overhead.
    state: Mutex<State>,
    /// Wakes the purge task when an earlier expiration is scheduled, and when
    /// `Shared` drops (the task then finds its `Weak` dead and exits).
    wake: Arc<Notify>,
    /// No purge task (no runtime at construction): purge during writes.
    purge_on_write: bool,
}

#[derive(Default)]
struct State {
    entries: HashMap<RecordKey, Entry>,
    expirations: BTreeSet<(Instant, RecordKey)>,
}

struct Entry {
    value: Value,
    expires_at: Instant,
}

enum Value {
    Record(Vec<u8>),
    Log(EventLog),
}

#[derive(Default)]
struct EventLog {
    last_seq: u64,
    events: VecDeque<(u64, Vec<u8>)>,
}

const NOT_A_RECORD: Error = Error::Corrupt("key holds an event log, not a record");
const NOT_A_LOG: Error = Error::Corrupt("key holds a record, not an event log");

// === impl MemoryStore ===

impl MemoryStore {
    /// An empty store. Call inside a Tokio runtime so expired entries are
    /// purged in the background (see the type docs).
    pub fn new() -> Self {
        let wake = Arc::new(Notify::new());
        let runtime = tokio::runtime::Handle::try_current().ok();
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: wake.clone(),
            purge_on_write: runtime.is_none(),
        });
        match runtime {
            Some(rt) => {
                rt.spawn(purge_expired_entries(Arc::downgrade(&shared), wake));
            }
            None => {
                tracing::debug!("MemoryStore created outside a Tokio runtime; purging on write")
            }
        }
        MemoryStore { shared }
    }

    /// Number of stored entries, expired-but-unpurged ones included.
    #[cfg(test)]
    fn stored_entries(&self) -> usize {
        self.shared.lock().entries.len()
    }

    /// Runs `f` on the locked state (after a lazy purge when there is no
    /// purge task) and wakes the purge task if `f` scheduled the earliest
    /// expiration.
    fn write<R>(&self, f: impl FnOnce(&mut State, Instant) -> R) -> R {
        let now = Instant::now();
        let (out, wake) = {
            let mut state = self.shared.lock();
            if self.shared.purge_on_write {
                state.purge(now);
            }
            let first = state.next_expiration();
            let out = f(&mut state, now);
            let wake = match (first, state.next_expiration()) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(first), Some(next)) => next < first,
            };
            (out, wake)
        };
        if wake {
            self.shared.wake.notify_one();
        }
        out
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl std::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl SessionStore for MemoryStore {
    async fn put(&self, key: &RecordKey, sealed: Vec<u8>, ttl: Duration) -> Result<(), Error> {
        self.write(|state, now| state.insert(key, Value::Record(sealed), deadline(now, ttl)));
        Ok(())
    }

    async fn put_new(
        &self,
        key: &RecordKey,
        sealed: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, Error> {
        Ok(self.write(|state, now| {
            if state.live(key, now).is_some() {
                return false;
            }
            state.insert(key, Value::Record(sealed), deadline(now, ttl));
            true
        }))
    }

    async fn get(&self, key: &RecordKey) -> Result<Option<Vec<u8>>, Error> {
        let now = Instant::now();
        let mut state = self.shared.lock();
        match state.live(key, now) {
            None => Ok(None),
            Some(Entry {
                value: Value::Record(v),
                ..
            }) => Ok(Some(v.clone())),
            Some(_) => Err(NOT_A_RECORD),
        }
    }

    async fn touch(&self, key: &RecordKey, ttl: Duration) -> Result<bool, Error> {
        Ok(self.write(|state, now| state.set_expiry(key, now, deadline(now, ttl))))
    }

    async fn delete(&self, key: &RecordKey) -> Result<bool, Error> {
        let now = Instant::now();
        let mut state = self.shared.lock();
        let live = state.live(key, now).is_some();
        if live {
            state.remove(key);
        }
        Ok(live)
    }

    async fn compare_and_put(
        &self,
        key: &RecordKey,
        expected: &[u8],
        sealed: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool, Error> {
        self.write(|state, now| {
            let expires_at = match state.live(key, now) {
                None => return Ok(false),
                Some(Entry {
                    value: Value::Record(current),
                    expires_at,
                }) => {
                    if current.as_slice() != expected {
                        return Ok(false);
                    }
                    *expires_at
                }
                Some(_) => return Err(NOT_A_RECORD),
            };
            let expires_at = ttl.map_or(expires_at, |ttl| deadline(now, ttl));
            state.insert(key, Value::Record(sealed), expires_at);
            Ok(true)
        })
    }

    async fn append_event(
        &self,
        log: &RecordKey,
        sealed_event: Vec<u8>,
        cap: usize,
        ttl: Duration,
    ) -> Result<u64, Error> {
        self.write(|state, now| {
            let expires_at = deadline(now, ttl);
            if state.live(log, now).is_none() {
                state.insert(log, Value::Log(EventLog::default()), expires_at);
            }
            let seq = match state.entries.get_mut(log) {
                Some(Entry {
                    value: Value::Log(events),
                    ..
                }) => events.push(sealed_event, cap),
                _ => return Err(NOT_A_LOG),
            };
            state.set_expiry(log, now, expires_at);
            Ok(seq)
        })
    }

    async fn events_after(
        &self,
        log: &RecordKey,
        after: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, Error> {
        let now = Instant::now();
        let mut state = self.shared.lock();
        match state.live(log, now) {
            None => Ok(Vec::new()),
            Some(Entry {
                value: Value::Log(events),
                ..
            }) => Ok(events.after(after)),
            Some(_) => Err(NOT_A_LOG),
        }
    }

    async fn ping(&self) -> Result<(), Error> {
        Ok(())
    }
}

// === impl Shared ===

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Removes expired entries; returns the next expiration, if any.
    fn purge_expired(&self) -> Option<Instant> {
        let mut state = self.lock();
        state.purge(Instant::now());
        state.next_expiration()
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // Stores a permit if the task is busy, so the wake-up is not lost.
        self.wake.notify_one();
    }
}

// === impl State ===

impl State {
    /// The entry under `key` if it has not expired; an expired one is removed.
    fn live(&mut self, key: &RecordKey, now: Instant) -> Option<&mut Entry> {
        let expired = self.entries.get(key)?.expires_at <= now;
        if expired {
            self.remove(key);
            return None;
        }
        self.entries.get_mut(key)
    }

    fn insert(&mut self, key: &RecordKey, value: Value, expires_at: Instant) {
        match self.entries.entry(key.clone()) {
            MapEntry::Occupied(mut slot) => {
                let old = std::mem::replace(slot.get_mut(), Entry { value, expires_at });
                self.expirations.remove(&(old.expires_at, key.clone()));
            }
            MapEntry::Vacant(slot) => {
                slot.insert(Entry { value, expires_at });
            }
        }
        self.expirations.insert((expires_at, key.clone()));
    }

    /// Moves the expiration of a live entry; `false` if there is none.
    fn set_expiry(&mut self, key: &RecordKey, now: Instant, expires_at: Instant) -> bool {
        let Some(entry) = self.live(key, now) else {
            return false;
        };
        let old = std::mem::replace(&mut entry.expires_at, expires_at);
        self.expirations.remove(&(old, key.clone()));
        self.expirations.insert((expires_at, key.clone()));
        true
    }

    fn remove(&mut self, key: &RecordKey) {
        if let Some(old) = self.entries.remove(key) {
            self.expirations.remove(&(old.expires_at, key.clone()));
        }
    }

    fn purge(&mut self, now: Instant) {
        while let Some((when, _)) = self.expirations.first() {
            if *when > now {
                break;
            }
            if let Some((_, key)) = self.expirations.pop_first() {
                self.entries.remove(&key);
            }
        }
    }

    fn next_expiration(&self) -> Option<Instant> {
        self.expirations.first().map(|(when, _)| *when)
    }
}

// === impl EventLog ===

impl EventLog {
    fn push(&mut self, event: Vec<u8>, cap: usize) -> u64 {
        self.last_seq += 1;
        self.events.push_back((self.last_seq, event));
        while self.events.len() > cap.max(1) {
            self.events.pop_front();
        }
        self.last_seq
    }

    fn after(&self, after: u64) -> Vec<(u64, Vec<u8>)> {
        let start = self.events.partition_point(|(seq, _)| *seq <= after);
        self.events.range(start..).cloned().collect()
    }
}

// === helpers ===

/// `now + ttl`, with the TTL rounded like Redis' `PX` and far-future TTLs
/// clamped instead of overflowing.
fn deadline(now: Instant, ttl: Duration) -> Instant {
    const FAR: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    let ttl = Duration::from_millis(ttl_millis(ttl)).min(FAR);
    now.checked_add(ttl)
        .or_else(|| now.checked_add(Duration::from_secs(24 * 3600)))
        .unwrap_or(now)
}

/// The purge task: runs until the last `MemoryStore` handle is dropped.
async fn purge_expired_entries(shared: Weak<Shared>, wake: Arc<Notify>) {
    loop {
        // Hold the strong reference only while purging, never across `.await`.
        let next = match shared.upgrade() {
            Some(shared) => shared.purge_expired(),
            None => return,
        };
        match next {
            Some(when) => {
                tokio::select! {
                    _ = tokio::time::sleep_until(when) => {}
                    _ = wake.notified() => {}
                }
            }
            None => wake.notified().await,
        }
    }
}

#[cfg(test)]
mod tests;
