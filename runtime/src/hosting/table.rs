//! The pod's table of open hosting sessions, keyed by the per-user hashed
//! record key (so the table never holds a session id in the clear), with a
//! cache of derived keys for the hot path.
//!
//! May import: `hosting::session`, external crates.

use std::sync::Arc;
use std::time::Duration;

use berth_session_store::RecordKey;
use dashmap::DashMap;

use super::session::HostingSession;

/// Cached derived keys before the cache starts over.
const FAST_KEYS_MAX: usize = 100_000;

/// One open session and the settings of its server when it started.
#[derive(Clone)]
pub(super) struct Entry {
    pub(super) session: Arc<HostingSession>,
    pub(super) idle_timeout: Duration,
    pub(super) request_timeout: Duration,
    /// Legacy and shared-store principal sessions hold an ownership lease
    /// (renewed by the heartbeat) and a record whose TTL slides with use.
    pub(super) leased: bool,
}

/// Open sessions by record key.
#[derive(Default)]
pub(super) struct SessionTable {
    map: DashMap<RecordKey, Entry>,
    /// Derived record keys by (tenant, server, subject, session id).
    fast_keys: DashMap<Box<str>, RecordKey>,
}

// === impl SessionTable ===

impl SessionTable {
    /// Number of open sessions.
    pub(super) fn len(&self) -> usize {
        self.map.len()
    }

    /// Adds (or replaces) the session under `key`.
    pub(super) fn insert(&self, key: RecordKey, entry: Entry) {
        self.map.insert(key, entry);
    }

    /// The session under `key` and its request timeout.
    pub(super) fn get(&self, key: &RecordKey) -> Option<(Arc<HostingSession>, Duration)> {
        let entry = self.map.get(key)?;
        Some((entry.session.clone(), entry.request_timeout))
    }

    /// The request timeout of the session under `key`, if open.
    pub(super) fn request_timeout(&self, key: &RecordKey) -> Option<Duration> {
        self.map.get(key).map(|e| e.request_timeout)
    }

    /// Takes the session under `key` out of the table.
    pub(super) fn remove(&self, key: &RecordKey) -> Option<Entry> {
        self.map.remove(key).map(|(_, e)| e)
    }

    /// A copy of every (key, entry), for sweeps that must not hold the
    /// table while they await.
    pub(super) fn snapshot(&self) -> Vec<(RecordKey, Entry)> {
        self.map
            .iter()
            .map(|e| (e.key().clone(), e.value().clone()))
            .collect()
    }

    /// Takes every session out (pod shutdown).
    pub(super) fn drain(&self) -> Vec<(RecordKey, Entry)> {
        let all = self.snapshot();
        self.map.clear();
        all
    }

    /// The record key of (tenant, server, subject, session id), derived by
    /// `derive` on a cache miss. Another subject presenting the same
    /// session id has another cache entry and derives its own key.
    pub(super) fn cached_key(
        &self,
        parts: [&str; 4],
        derive: impl FnOnce() -> RecordKey,
    ) -> RecordKey {
        let mut fast = String::with_capacity(parts.iter().map(|p| p.len() + 1).sum());
        for (i, part) in parts.into_iter().enumerate() {
            if i > 0 {
                fast.push('\0');
            }
            fast.push_str(part);
        }
        if let Some(k) = self.fast_keys.get(fast.as_str()) {
            return k.clone();
        }
        let k = derive();
        if self.fast_keys.len() >= FAST_KEYS_MAX {
            self.fast_keys.clear();
        }
        self.fast_keys.insert(fast.into_boxed_str(), k.clone());
        k
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosting::session::SessionIdentity;

    fn entry(label: &str) -> Entry {
        let identity = SessionIdentity {
            tenant: "t".into(),
            server: "s".into(),
            subject: "alice".into(),
            label: label.into(),
            notice: Default::default(),
            version: None,
            held: None,
        };
        Entry {
            session: HostingSession::new(identity, 8),
            idle_timeout: Duration::from_secs(600),
            request_timeout: Duration::from_secs(7),
            leased: false,
        }
    }

    #[tokio::test]
    async fn sessions_are_found_by_key_until_removed() {
        let table = SessionTable::default();
        let key = RecordKey::new("berth:t:s:abc");
        table.insert(key.clone(), entry("abc"));
        let (found, timeout) = table.get(&key).expect("inserted");
        assert_eq!(found.identity().label, "abc");
        assert_eq!(timeout, Duration::from_secs(7));
        assert_eq!(table.len(), 1);
        assert!(table.get(&RecordKey::new("berth:t:s:other")).is_none());
        assert!(table.remove(&key).is_some());
        assert!(table.get(&key).is_none());
        assert!(table.remove(&key).is_none());
    }

    #[tokio::test]
    async fn drain_empties_the_table() {
        let table = SessionTable::default();
        table.insert(RecordKey::new("a"), entry("a"));
        table.insert(RecordKey::new("b"), entry("b"));
        assert_eq!(table.snapshot().len(), 2);
        assert_eq!(table.drain().len(), 2);
        assert_eq!(table.len(), 0);
    }

    #[test]
    fn cached_keys_are_per_caller_and_derived_once() {
        let table = SessionTable::default();
        let mut derivations = 0;
        let mut key = |subject: &str| {
            table.cached_key(["t", "s", subject, "sid"], || {
                derivations += 1;
                RecordKey::new(format!("k-{subject}"))
            })
        };
        assert_eq!(key("alice").as_str(), "k-alice");
        assert_eq!(key("alice").as_str(), "k-alice");
        // Same session id, another subject: its own key, never alice's.
        assert_eq!(key("bob").as_str(), "k-bob");
        assert_eq!(derivations, 2);
        // Separators keep ("a", "b\0c") apart from ("a\0b", "c").
        let a = table.cached_key(["t", "s", "a", "b"], || RecordKey::new("1"));
        let b = table.cached_key(["t", "s\0a", "", "b"], || RecordKey::new("2"));
        assert_ne!(a.as_str(), b.as_str());
    }
}
