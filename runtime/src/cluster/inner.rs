//! [`Cluster`]: this pod's name, incarnation, address, keys and store,
//! and its liveness state, shared by the ownership (`lease`) and liveness
//! (`liveness`) halves.
//!
//! May import: `cluster::place`, `backend::http_bridge` (the inter-pod
//! client), external crates (the session store, the key ring).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use berth_session_store::{KeyRing, SessionStore};
use tokio::time::Instant;

use super::place;

/// This pod's view of the cluster.
#[derive(Clone)]
pub(crate) struct Cluster {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) pod: String,
    /// Random per process: a pod restarted under the same name is another
    /// owner. Ends with the process's network identity (`cluster::place`).
    pub(super) incarnation: String,
    /// Digest of the store URL (labels containers with their store).
    pub(super) scope: String,
    pub(super) store: Arc<dyn SessionStore>,
    /// Other pods share the store (otherwise writes are never fenced).
    pub(super) shared: bool,
    /// Signs and verifies owner records, pod records and forwards.
    pub(super) keys: KeyRing,
    /// Set once the listener is bound (the port may be chosen by the OS).
    pub(super) url: OnceLock<String>,
    /// This process holds the advertised URL's address (its listener is
    /// bound there, see [`place::holds`]); cleared when another process
    /// answers at that URL.
    pub(super) holds_url: AtomicBool,
    /// A live owner advertising this pod's URL was already reported.
    pub(super) reported_shared_url: AtomicBool,
    pub(super) client: reqwest::Client,
    /// Opens a new connection per request (see [`Cluster::probe_client`]).
    pub(super) probe: reqwest::Client,
    pub(super) live: Liveness,
    /// What this pod found at other pods' advertised URLs
    /// (`cluster::reach`).
    pub(super) reach: Reach,
}

/// This pod's liveness as it knows it.
pub(super) struct Liveness {
    pub(super) base: Instant,
    /// Writes allowed until `base + until` nanoseconds; 0: not now.
    pub(super) until: AtomicU64,
    pub(super) opened: tokio::sync::Notify,
    pub(super) draining: AtomicBool,
    pub(super) evidence: AtomicBool,
    /// A gap was found and its sessions are not re-claimed yet.
    pub(super) gap: AtomicBool,
    /// The pod is exiting: no more beats.
    pub(super) retired: AtomicBool,
    /// Asks the heartbeat for a beat now (the record changed).
    pub(super) beat_now: tokio::sync::Notify,
    /// Beats that wrote the record so far.
    pub(super) beats: AtomicU64,
    /// What the last beat wrote (what the next one expects to find).
    pub(super) written: parking_lot::Mutex<Option<Vec<u8>>>,
}

/// What this pod found at other pods' advertised URLs: which network
/// each reaches from here.
#[derive(Default)]
pub(super) struct Reach {
    /// URL → the network identity (`cluster::place`) of the Berth process
    /// that answered there with the tag of the incarnation its signed pod
    /// record names.
    pub(super) seen: parking_lot::Mutex<HashMap<String, String>>,
    /// URL → when it was last looked at (checks are spaced out).
    pub(super) tried: parking_lot::Mutex<HashMap<String, Instant>>,
}

// === impl Cluster ===

impl Cluster {
    /// A cluster view for pod `pod` over the shared `store` (reached at
    /// `store_url`; `"memory"`: not shared); `url` is the configured
    /// advertise URL, if any; `keys` sign what this pod writes.
    pub(crate) fn new(
        pod: String,
        store: Arc<dyn SessionStore>,
        store_url: &str,
        url: Option<String>,
        keys: KeyRing,
    ) -> Self {
        let cell = OnceLock::new();
        if let Some(u) = url {
            let _ = cell.set(u.trim_end_matches('/').to_owned());
        }
        Cluster {
            inner: Arc::new(Inner {
                pod,
                incarnation: place::new_incarnation(),
                scope: {
                    use sha2::Digest;
                    hex::encode(&sha2::Sha256::digest(store_url.as_bytes())[..6])
                },
                store,
                shared: store_url != "memory",
                keys,
                url: cell,
                holds_url: AtomicBool::new(false),
                reported_shared_url: AtomicBool::new(false),
                client: crate::backend::http_bridge::client(),
                probe: crate::backend::http_bridge::unpooled_client(),
                live: Liveness::new(),
                reach: Reach::default(),
            }),
        }
    }

    /// This pod's name.
    pub(crate) fn pod(&self) -> &str {
        &self.inner.pod
    }

    /// Sets the advertise URL from the bound address unless configured,
    /// and notes whether this process holds the URL's address.
    pub(crate) fn bound(&self, addr: std::net::SocketAddr) {
        let _ = self.inner.url.set(format!("http://{addr}"));
        let holds = place::holds(self.url(), addr);
        self.inner.holds_url.store(holds, Ordering::Release);
    }

    /// The URL other pods reach this one at.
    pub(crate) fn url(&self) -> &str {
        self.inner.url.get().map(String::as_str).unwrap_or("")
    }

    /// The key set records and forwards are signed with.
    pub(crate) fn keys(&self) -> &KeyRing {
        &self.inner.keys
    }
}

#[cfg(test)]
impl Cluster {
    /// Pod `name` advertising `url`, sharing `store` with the other pods a
    /// test makes (one key set for all).
    pub(super) fn for_test(
        name: &str,
        url: &str,
        store: &Arc<berth_session_store::MemoryStore>,
    ) -> Self {
        use berth_session_store::SecretKey;
        Cluster::new(
            name.into(),
            store.clone() as Arc<dyn SessionStore>,
            "redis://shared",
            Some(url.into()),
            KeyRing::new(
                SecretKey::new("m", [1; 32]).expect("a 32-byte key"),
                SecretKey::new("b", [2; 32]).expect("a 32-byte key"),
            ),
        )
    }

    /// This new view as if its process ran in another network namespace
    /// (another host).
    pub(super) fn in_another_network(mut self) -> Self {
        let inner = Arc::get_mut(&mut self.inner).expect("a view nobody shares yet");
        inner.incarnation = place::elsewhere(&inner.incarnation);
        self
    }
}

// === impl Liveness ===

impl Liveness {
    pub(super) fn new() -> Self {
        Liveness {
            base: Instant::now(),
            until: AtomicU64::new(0),
            opened: tokio::sync::Notify::new(),
            draining: AtomicBool::new(false),
            evidence: AtomicBool::new(false),
            gap: AtomicBool::new(false),
            retired: AtomicBool::new(false),
            beat_now: tokio::sync::Notify::new(),
            beats: AtomicU64::new(0),
            written: parking_lot::Mutex::new(None),
        }
    }

    pub(super) fn nanos(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }
}
