//! Pods working as one: who owns a session's backend connection, and
//! getting a request to that owner.
//!
//! One pod at a time owns a legacy session's backend instance. Ownership is
//! a lease in the shared `SessionStore` (`SET NX PX`, renewed by a
//! heartbeat); it names the owning pod and the URL other pods reach it at.
//! A request that lands on another pod is forwarded there ([`forward`]); if
//! the lease has lapsed (the owner died), the pod takes the lease over and
//! restores the session (`hosting::restore`).
//!
//! Lease keys derive from the session's record key, so they are as opaque
//! as the record key itself; the value holds only a pod name and its URL.
//!
//! # Layout
//! - [`forward`]: proxying a request to the owning pod.

pub mod forward;

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use berth_session_store::{Error as StoreError, RecordKey, SessionStore};
use serde::{Deserialize, Serialize};

/// How long a lease lives without a heartbeat: the longest a dead pod's
/// sessions wait before another pod takes them over.
pub const LEASE_TTL: Duration = Duration::from_secs(6);

/// How often owned leases are renewed (and session records' TTLs slid).
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);

/// How long a pool container's claim record lives: a bound on garbage;
/// whether the session is alive is decided by its lease and record.
const CLAIM_TTL: Duration = Duration::from_secs(24 * 3600);

/// Store key recording which session claimed a (pool) container.
fn claim_key(scope: &str, container: &str) -> RecordKey {
    RecordKey::new(format!("berth:claims:{scope}:{container}"))
}

/// Header marking a request another pod forwarded (never forwarded again).
pub const FORWARDED_HEADER: &str = "berth-forwarded-by";

/// Who owns a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lease {
    /// The owning pod's name.
    pub pod: String,
    /// Where other pods reach it (`http://10.0.0.5:8080`).
    pub url: String,
}

/// This pod's view of the cluster.
#[derive(Clone)]
pub struct Cluster {
    inner: Arc<Inner>,
}

struct Inner {
    pod: String,
    /// Digest of the store URL (labels containers with their store).
    scope: String,
    store: Arc<dyn SessionStore>,
    /// Set once the listener is bound (the port may be chosen by the OS).
    url: OnceLock<String>,
    client: reqwest::Client,
}

/// Where a session lives, from this pod's point of view.
#[derive(Debug)]
pub enum Owner {
    /// Nobody holds the lease (it was just taken by this pod).
    Taken,
    /// This pod already holds it.
    Me,
    /// Another live pod holds it.
    Other(Lease),
}

// === impl Cluster ===

impl Cluster {
    /// A cluster view for pod `pod` over the shared `store` (reached at
    /// `store_url`); `url` is the configured advertise URL, if any.
    pub fn new(
        pod: String,
        store: Arc<dyn SessionStore>,
        store_url: &str,
        url: Option<String>,
    ) -> Self {
        let cell = OnceLock::new();
        if let Some(u) = url {
            let _ = cell.set(u.trim_end_matches('/').to_owned());
        }
        Cluster {
            inner: Arc::new(Inner {
                pod,
                scope: {
                    use sha2::Digest;
                    hex::encode(&sha2::Sha256::digest(store_url.as_bytes())[..6])
                },
                store,
                url: cell,
                client: crate::backend::http_bridge::client(),
            }),
        }
    }

    /// This pod's name.
    pub fn pod(&self) -> &str {
        &self.inner.pod
    }

    /// Sets the advertise URL from the bound address unless configured.
    pub fn bound(&self, addr: std::net::SocketAddr) {
        let _ = self.inner.url.set(format!("http://{addr}"));
    }

    /// The URL other pods reach this one at.
    pub fn url(&self) -> &str {
        self.inner.url.get().map(String::as_str).unwrap_or("")
    }

    fn me(&self) -> Lease {
        Lease {
            pod: self.inner.pod.clone(),
            url: self.url().to_owned(),
        }
    }

    /// The lease key of the session stored under `record`.
    pub fn lease_key(record: &RecordKey) -> RecordKey {
        RecordKey::new(format!("{}:lease", record.as_str()))
    }

    /// Takes the lease of a new session (nobody can hold it yet).
    pub async fn claim_new(&self, record: &RecordKey) -> Result<(), StoreError> {
        let value = serde_json::to_vec(&self.me()).expect("a lease serializes");
        self.inner
            .store
            .put(&Self::lease_key(record), value, LEASE_TTL)
            .await
    }

    /// Finds the owner of `record`'s session, taking the lease if nobody
    /// holds it (or this pod held it in a previous life with the same name).
    pub async fn acquire(&self, record: &RecordKey) -> Result<Owner, StoreError> {
        let key = Self::lease_key(record);
        let mine = serde_json::to_vec(&self.me()).expect("a lease serializes");
        for _ in 0..3 {
            match self.inner.store.get(&key).await? {
                None => {
                    if self
                        .inner
                        .store
                        .put_new(&key, mine.clone(), LEASE_TTL)
                        .await?
                    {
                        return Ok(Owner::Taken);
                    }
                }
                Some(current) => {
                    let Ok(lease) = serde_json::from_slice::<Lease>(&current) else {
                        // Unreadable: treat as lapsed and replace it.
                        if self
                            .inner
                            .store
                            .compare_and_put(&key, &current, mine.clone(), Some(LEASE_TTL))
                            .await?
                        {
                            return Ok(Owner::Taken);
                        }
                        continue;
                    };
                    if lease.pod == self.inner.pod {
                        return Ok(Owner::Me);
                    }
                    // The owner's address is now this pod's: the owner is
                    // dead (this pod replaced it), so its lease is void.
                    if lease.url == self.url()
                        && self
                            .inner
                            .store
                            .compare_and_put(&key, &current, mine.clone(), Some(LEASE_TTL))
                            .await?
                    {
                        return Ok(Owner::Taken);
                    }
                    return Ok(Owner::Other(lease));
                }
            }
        }
        Err(StoreError::Unavailable(
            "the session's lease changed hands repeatedly; retry".into(),
        ))
    }

    /// Renews this pod's lease; `Ok(false)` if it lost it.
    pub async fn renew(&self, record: &RecordKey) -> Result<bool, StoreError> {
        let mine = serde_json::to_vec(&self.me()).expect("a lease serializes");
        self.inner
            .store
            .compare_and_put(
                &Self::lease_key(record),
                &mine,
                mine.clone(),
                Some(LEASE_TTL),
            )
            .await
    }

    /// Resolves once `lease` no longer holds `record`'s session: its owner
    /// stopped renewing it (stalled or dead) or handed it on. Checked every
    /// heartbeat; an unreadable store counts as still held.
    pub async fn lapsed(&self, record: &RecordKey, lease: &Lease) {
        let key = Self::lease_key(record);
        loop {
            tokio::time::sleep(HEARTBEAT_EVERY).await;
            match self.inner.store.get(&key).await {
                Ok(Some(current)) => {
                    if serde_json::from_slice::<Lease>(&current).ok().as_ref() != Some(lease) {
                        return;
                    }
                }
                Ok(None) => return,
                Err(_) => {}
            }
        }
    }

    /// Gives the lease up (session closed).
    pub async fn release(&self, record: &RecordKey) {
        if let Err(e) = self.inner.store.delete(&Self::lease_key(record)).await {
            tracing::warn!(error = %e, "could not release a session lease; it lapses on its own");
        }
    }

    /// Whether the session behind `lease_key` may still be resumed: its
    /// lease is held, or its record has not expired (a pod may take it
    /// over). For the container sweeper; unknown (store down) counts as
    /// alive: never remove what may be in use.
    pub async fn session_alive(&self, lease_key: &str) -> bool {
        if lease_key.is_empty() {
            return true; // the claim lookup itself failed: keep it
        }
        let store = &self.inner.store;
        if !matches!(store.get(&RecordKey::new(lease_key)).await, Ok(None)) {
            return true;
        }
        let Some(record) = lease_key.strip_suffix(":lease") else {
            return false;
        };
        !matches!(store.get(&RecordKey::new(record)).await, Ok(None))
    }

    /// The HTTP client used to forward requests.
    pub(crate) fn client(&self) -> &reqwest::Client {
        &self.inner.client
    }
}

#[async_trait::async_trait]
impl crate::backend::LeaseProbe for Cluster {
    fn scope(&self) -> &str {
        &self.inner.scope
    }

    async fn held(&self, lease_key: &str) -> bool {
        self.session_alive(lease_key).await
    }

    async fn claim(&self, container: &str, lease_key: &str) {
        let key = claim_key(&self.inner.scope, container);
        let put = self
            .inner
            .store
            .put(&key, lease_key.as_bytes().to_vec(), CLAIM_TTL)
            .await;
        if let Err(e) = put {
            tracing::warn!(error = %e, "could not record a pool container's claim; it may be swept if its pod dies");
        }
    }

    async fn claim_of(&self, container: &str) -> Option<String> {
        let key = claim_key(&self.inner.scope, container);
        match self.inner.store.get(&key).await {
            Ok(Some(v)) => String::from_utf8(v).ok(),
            // Unknown: say "claimed" by a key that always counts as held.
            Err(_) => Some(String::new()),
            Ok(None) => None,
        }
    }
}
