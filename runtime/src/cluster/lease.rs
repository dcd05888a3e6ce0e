//! Session ownership: the signed owner record in the shared store that
//! names the pod incarnation running a session's instance
//! ([`Cluster::claim_new`], [`Cluster::acquire`], [`Cluster::reclaim`],
//! [`Cluster::release`]).
//!
//! An owner record lives as long as its session record (its TTL slides
//! with it); nothing renews it per session. Whether its owner is alive is
//! the owner pod's liveness record (`cluster::liveness`).
//!
//! May import: `cluster::{inner, records, liveness}`, external crates (the
//! session store).

use std::time::Duration;

use berth_session_store::{Error as StoreError, RecordKey};

use super::inner::Cluster;
use super::liveness::PodState;
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
                // A live owner keeps it, unless it claims this pod's own
                // address: then it is a previous process at this address
                // (killed and replaced by this one), unless it is still
                // draining there.
                if lease.url != self.url() || draining {
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
