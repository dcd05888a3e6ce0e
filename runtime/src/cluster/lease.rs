//! Session ownership: the signed owner record in the shared store that
//! names the pod incarnation running a session's instance
//! ([`Cluster::claim_new`], [`Cluster::acquire`], [`Cluster::reclaim`],
//! [`Cluster::release`]).
//!
//! An owner record lives as long as its session record (its TTL slides
//! with it); nothing renews it per session. Whether its owner is alive is
//! the owner pod's liveness record (`cluster::liveness`).
//!
//! May import: `cluster::{inner, records, liveness, place}`, external
//! crates (the session store).

use std::sync::atomic::Ordering;
use std::time::Duration;

use berth_session_store::{Error as StoreError, RecordKey};

use super::inner::Cluster;
use super::liveness::PodState;
use super::place;
use super::records::{Lease, Unverified};

/// Where a session lives, from this pod's point of view.
#[derive(Debug)]
pub(crate) enum Owner {
    /// Nobody held it, or its owner is gone: this pod just took it.
    Taken,
    /// This pod already holds it.
    Me,
    /// Another live pod holds it.
    Other(Lease),
}

// === impl Cluster (ownership) ===

impl Cluster {
    fn me(&self, epoch: u64) -> Lease {
        Lease {
            pod: self.inner.pod.clone(),
            url: self.url().to_owned(),
            incarnation: self.inner.incarnation.clone(),
            epoch,
        }
    }

    fn is_me(&self, lease: &Lease) -> bool {
        lease.pod == self.inner.pod && lease.incarnation == self.inner.incarnation
    }

    /// Whether the live owner `lease` names was a previous process at this
    /// pod's address: it advertised this pod's URL from this network
    /// namespace, and this process holds that address now (so the owner no
    /// longer can). A URL several pods share proves nothing of the kind.
    fn succeeds(&self, lease: &Lease) -> bool {
        if lease.url != self.url() {
            return false;
        }
        if self.inner.holds_url.load(Ordering::Acquire)
            && place::same_network(&lease.incarnation, &self.inner.incarnation)
        {
            return true;
        }
        if !self.inner.reported_shared_url.swap(true, Ordering::AcqRel) {
            tracing::error!(owner = %lease.pod, url = %lease.url, "another live pod advertises this pod's own URL (cluster.advertise_url); its sessions stay its own and requests for them are forwarded to that URL, which may not reach it. Give each pod a URL that reaches it alone (its own IP, as the Helm chart sets it)");
        }
        false
    }

    /// The owner-record key of the session stored under `record`.
    pub(crate) fn lease_key(record: &RecordKey) -> RecordKey {
        RecordKey::new(format!("{}:lease", record.as_str()))
    }

    /// Takes the owner record of a new session (nobody can hold it yet);
    /// it lives `ttl`, like the session record.
    pub(crate) async fn claim_new(
        &self,
        record: &RecordKey,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        let key = Self::lease_key(record);
        let value = self.me(1).seal(&self.inner.keys, &key);
        self.inner.store.put(&key, value, ttl).await
    }

    /// Finds the owner of `record`'s session, taking it over if nobody
    /// holds it or its owner is gone. `ttl`: the session record's.
    pub(crate) async fn acquire(
        &self,
        record: &RecordKey,
        ttl: Duration,
    ) -> Result<Owner, StoreError> {
        let key = Self::lease_key(record);
        let store = &self.inner.store;
        for _ in 0..3 {
            let Some(current) = store.get(&key).await? else {
                let mine = self.me(1).seal(&self.inner.keys, &key);
                if store.put_new(&key, mine, ttl).await? {
                    return Ok(Owner::Taken);
                }
                continue;
            };
            let lease = match Lease::open(&self.inner.keys, &key, &current) {
                Ok(lease) => lease,
                Err(why) => return Err(unverified(why)),
            };
            if self.is_me(&lease) {
                return Ok(Owner::Me);
            }
            if let PodState::Alive { draining } = self.pod_state(&lease).await? {
                // A live owner keeps it, unless it is a previous process at
                // this pod's own address (killed and replaced by this one),
                // and not still draining there.
                if draining || !self.succeeds(&lease) {
                    return Ok(Owner::Other(lease));
                }
            }
            let mine = self.me(lease.epoch + 1).seal(&self.inner.keys, &key);
            if store
                .compare_and_put(&key, &current, mine, Some(ttl))
                .await?
            {
                return Ok(Owner::Taken);
            }
        }
        Err(StoreError::Unavailable(
            "the session's owner changed hands repeatedly; retry".into(),
        ))
    }

    /// After a gap in this pod's liveness: keeps `record`'s session if its
    /// owner record still names this pod (bumping the epoch, so that a pod
    /// that saw this one gone and is taking the session over fails its
    /// swap). `Ok(false)`: another pod took it.
    pub(crate) async fn reclaim(
        &self,
        record: &RecordKey,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        let key = Self::lease_key(record);
        let Some(current) = self.inner.store.get(&key).await? else {
            return Ok(false);
        };
        let lease = match Lease::open(&self.inner.keys, &key, &current) {
            Ok(lease) if self.is_me(&lease) => lease,
            _ => return Ok(false),
        };
        let mine = self.me(lease.epoch + 1).seal(&self.inner.keys, &key);
        self.inner
            .store
            .compare_and_put(&key, &current, mine, Some(ttl))
            .await
    }

    /// Slides the owner record's TTL along with its session record's.
    pub(crate) async fn touch(&self, record: &RecordKey, ttl: Duration) {
        let _ = self.inner.store.touch(&Self::lease_key(record), ttl).await;
    }

    /// Gives the session up (closed, or handed over at shutdown).
    pub(crate) async fn release(&self, record: &RecordKey) {
        if let Err(e) = self.inner.store.delete(&Self::lease_key(record)).await {
            tracing::warn!(error = %e, "could not release a session's owner record; it expires with the session");
        }
    }

    /// Whether the session behind `lease_key` may still be resumed: its
    /// owner record or its session record is still there. For the
    /// container sweeper; unknown (store down) counts as alive: never
    /// remove what may be in use.
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

    /// A client that never reuses a connection: a refused connection to a
    /// pod's URL is proof of its death only when it is a new one (a pooled
    /// connection to a process that just died fails some other way).
    pub(crate) fn probe_client(&self) -> &reqwest::Client {
        &self.inner.probe
    }
}

/// An owner record that cannot be trusted: never forwarded to, never
/// taken over (the session waits until the record is released or expires).
fn unverified(why: Unverified) -> StoreError {
    tracing::warn!(
        ?why,
        "a session's owner record does not verify under this pod's keys (forged, or written by pods with other keys or an older Berth)"
    );
    StoreError::Unavailable(
        "the session's owner record does not verify under this pod's keys; if pods with other session keys or an older Berth are still running, retry once they are gone".into(),
    )
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use berth_session_store::MemoryStore;

    use super::*;

    const TTL: Duration = Duration::from_secs(60);

    /// A pod advertising `url`, listening on `listen`, alive in `store`.
    fn pod(name: &str, url: &str, listen: &str, store: &Arc<MemoryStore>) -> Cluster {
        let c = Cluster::for_test(name, url, store);
        c.bound(listen.parse().unwrap());
        c
    }

    /// `a` owns a new session, and is alive.
    async fn owns_one(a: &Cluster) -> RecordKey {
        let record = RecordKey::new("berth:t:s:abc");
        a.beat().await;
        a.claim_new(&record, TTL).await.unwrap();
        record
    }

    #[tokio::test]
    async fn a_live_owner_at_a_shared_advertise_url_keeps_its_sessions() {
        // The listen address left as the advertise URL on two hosts.
        let store = Arc::new(MemoryStore::new());
        let a = pod("a", "http://0.0.0.0:8080", "0.0.0.0:8080", &store);
        let a = a.in_another_network();
        let b = pod("b", "http://0.0.0.0:8080", "0.0.0.0:8080", &store);
        let record = owns_one(&a).await;
        assert!(matches!(b.acquire(&record, TTL).await, Ok(Owner::Other(l)) if l.pod == "a"));
        // A balancer's address written into both pods' configs, on one
        // host: neither listens there.
        let store = Arc::new(MemoryStore::new());
        let a = pod("a", "http://192.0.2.1:8080", "0.0.0.0:8081", &store);
        let b = pod("b", "http://192.0.2.1:8080", "0.0.0.0:8080", &store);
        let record = owns_one(&a).await;
        assert!(matches!(b.acquire(&record, TTL).await, Ok(Owner::Other(l)) if l.pod == "a"));
    }

    #[tokio::test]
    async fn a_process_holding_a_live_owners_address_is_its_successor() {
        // The owner was killed and this process bound its address since:
        // its record still shows it alive.
        let store = Arc::new(MemoryStore::new());
        let a = pod("a", "http://127.0.0.1:8080", "127.0.0.1:8080", &store);
        let b = pod("b", "http://127.0.0.1:8080", "127.0.0.1:8080", &store);
        let record = owns_one(&a).await;
        assert!(matches!(b.acquire(&record, TTL).await, Ok(Owner::Taken)));
        assert!(matches!(b.acquire(&record, TTL).await, Ok(Owner::Me)));
    }
}
