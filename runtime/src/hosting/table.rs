//! The pod's table of open hosting sessions, keyed by the per-user hashed
//! record key (so the table never holds a session id in the clear), with a
//! cache of derived keys for the hot path.
//!
//! May import: `hosting::session`, external crates.

use std::sync::Arc;
use std::time::Duration;

use berth_session_store::{RecordKey, SessionBinding};
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
    fast_keys: Derived<RecordKey>,
    /// Stateless principals' bindings by (tenant, server, subject, variant).
    principal_bindings: Derived<SessionBinding>,
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
        self.fast_keys.get_or_derive(&parts, derive)
    }

    /// The binding of a stateless principal's hosting session, by
    /// (tenant, server, subject, variant), derived by `derive` on a cache
    /// miss: every 2026-07-28 request needs it, and deriving it costs an
    /// HMAC, a SHA-256 and its hex. (The key ring is fixed for the life of
    /// the process, so a binding never goes stale.)
    pub(super) fn cached_principal_binding(
        &self,
        parts: [&str; 4],
        derive: impl FnOnce() -> SessionBinding,
    ) -> SessionBinding {
        self.principal_bindings.get_or_derive(&parts, derive)
    }
}

/// Values derived from a few strings, kept for the hot path; the cache
/// starts over past [`FAST_KEYS_MAX`] entries.
struct Derived<V> {
    map: DashMap<Box<str>, V>,
}

// === impl Derived ===

impl<V> Default for Derived<V> {
    fn default() -> Self {
        Derived {
            map: DashMap::new(),
        }
    }
}

impl<V: Clone> Derived<V> {
    /// The value of `parts`, derived by `derive` on a miss. Each part is
    /// length-prefixed in the cache key, so no two lists of parts share
    /// an entry.
    fn get_or_derive(&self, parts: &[&str], derive: impl FnOnce() -> V) -> V {
        let mut key = String::with_capacity(parts.iter().map(|p| p.len() + 4).sum());
        for part in parts {
            key.push_str(itoa::Buffer::new().format(part.len()));
            key.push(':');
            key.push_str(part);
        }
        if let Some(v) = self.map.get(key.as_str()) {
            return v.clone();
        }
        let v = derive();
        if self.map.len() >= FAST_KEYS_MAX {
            self.map.clear();
        }
        self.map.insert(key.into_boxed_str(), v.clone());
        v
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
    fn principal_bindings_are_per_principal_and_variant_and_derived_once() {
        let table = SessionTable::default();
        let keys = crate::hosting::testing::keys();
        let mut derivations = 0;
        let mut binding = |subject: &str, variant: &str| {
            table.cached_principal_binding(["acme", "files", subject, variant], || {
                derivations += 1;
                keys.bind("acme", "files", subject, variant)
            })
        };
        let alice = binding("alice", "native");
        assert_eq!(binding("alice", "native").record_key(), alice.record_key());
        // What the cache gives is what deriving gives.
        assert_eq!(
            alice.record_key(),
            keys.bind("acme", "files", "alice", "native").record_key()
        );
        // Another subject, or another variant of alice's: never alice's.
        assert_ne!(binding("bob", "native").record_key(), alice.record_key());
        assert_ne!(binding("alice", "st---").record_key(), alice.record_key());
        assert_eq!(derivations, 3);
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
        // Length prefixes keep ("a", "b:c") apart from ("a:b", "c"), and
        // ("a", "b\0c") from ("a\0b", "c").
        let a = table.cached_key(["t", "s", "a", "1:b"], || RecordKey::new("1"));
        let b = table.cached_key(["t", "s", "a:1", "b"], || RecordKey::new("2"));
        assert_ne!(a.as_str(), b.as_str());
        let a = table.cached_key(["t", "s", "a", "b\0c"], || RecordKey::new("3"));
        let b = table.cached_key(["t", "s", "a\0b", "c"], || RecordKey::new("4"));
        assert_ne!(a.as_str(), b.as_str());
    }
}
