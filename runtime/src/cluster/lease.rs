//! Session ownership: the lease in the shared store that names the pod
//! running a session's instance ([`Cluster::acquire`], [`Cluster::renew`],
//! [`Cluster::release`]), and this pod's name and address.
//!
//! May import: `backend::http_bridge` (the inter-pod client), external
//! crates (the session store).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use berth_session_store::{Error as StoreError, RecordKey, SessionStore};
use serde::{Deserialize, Serialize};

/// How long a lease lives without a heartbeat: the longest a dead pod's
/// sessions wait before another pod takes them over.
pub(crate) const LEASE_TTL: Duration = Duration::from_secs(6);

/// How often owned leases are renewed (and session records' TTLs slid).
pub(crate) const HEARTBEAT_EVERY: Duration = Duration::from_secs(2);

/// Who owns a session.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Lease {
    /// The owning pod's name.
    pub pod: String,
    /// Where other pods reach it (`http://10.0.0.5:8080`).
    pub url: String,
}

/// This pod's view of the cluster.
#[derive(Clone)]
pub(crate) struct Cluster {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) pod: String,
    /// Digest of the store URL (labels containers with their store).
    pub(super) scope: String,
    pub(super) store: Arc<dyn SessionStore>,
    /// Set once the listener is bound (the port may be chosen by the OS).
    pub(super) url: OnceLock<String>,
    pub(super) client: reqwest::Client,
}

/// Where a session lives, from this pod's point of view.
#[derive(Debug)]
pub(crate) enum Owner {
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
    pub(crate) fn new(
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
    pub(crate) fn pod(&self) -> &str {
        &self.inner.pod
    }

    /// Sets the advertise URL from the bound address unless configured.
    pub(crate) fn bound(&self, addr: std::net::SocketAddr) {
        let _ = self.inner.url.set(format!("http://{addr}"));
    }

    /// The URL other pods reach this one at.
    pub(crate) fn url(&self) -> &str {
        self.inner.url.get().map(String::as_str).unwrap_or("")
    }

    fn me(&self) -> Lease {
        Lease {
            pod: self.inner.pod.clone(),
            url: self.url().to_owned(),
        }
    }

    /// The lease key of the session stored under `record`.
    pub(crate) fn lease_key(record: &RecordKey) -> RecordKey {
        RecordKey::new(format!("{}:lease", record.as_str()))
    }

    /// Takes the lease of a new session (nobody can hold it yet).
    pub(crate) async fn claim_new(&self, record: &RecordKey) -> Result<(), StoreError> {
        let value = serde_json::to_vec(&self.me()).expect("a lease serializes");
        self.inner
            .store
            .put(&Self::lease_key(record), value, LEASE_TTL)
            .await
    }

    /// Finds the owner of `record`'s session, taking the lease if nobody
    /// holds it (or this pod held it in a previous life with the same name).
    pub(crate) async fn acquire(&self, record: &RecordKey) -> Result<Owner, StoreError> {
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
    pub(crate) async fn renew(&self, record: &RecordKey) -> Result<bool, StoreError> {
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
    pub(crate) async fn lapsed(&self, record: &RecordKey, lease: &Lease) {
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
    pub(crate) async fn release(&self, record: &RecordKey) {
        if let Err(e) = self.inner.store.delete(&Self::lease_key(record)).await {
            tracing::warn!(error = %e, "could not release a session lease; it lapses on its own");
        }
    }

    /// Whether the session behind `lease_key` may still be resumed: its
    /// lease is held, or its record has not expired (a pod may take it
    /// over). For the container sweeper; unknown (store down) counts as
    /// alive: never remove what may be in use.
    pub(crate) async fn session_alive(&self, lease_key: &str) -> bool {
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
