//! Tests of `cluster::liveness`: pod records, the write fence, and which
//! refusals prove an owner's death.

use std::sync::Arc;

use berth_session_store::{KeyRing, MemoryStore, RecordKey, SecretKey, SessionStore};

use super::*;

fn keys() -> KeyRing {
    KeyRing::new(
        SecretKey::new("m", [1; 32]).unwrap(),
        SecretKey::new("b", [2; 32]).unwrap(),
    )
}

fn pod(name: &str, store: &Arc<MemoryStore>) -> Cluster {
    pod_at(name, &format!("http://{name}"), store)
}

/// A pod advertising `url` that offers refusals as evidence.
fn pod_at(name: &str, url: &str, store: &Arc<MemoryStore>) -> Cluster {
    let c = Cluster::for_test(name, url, store);
    c.set_evidence(true);
    c
}

/// The owner record `c` would write for a new session.
fn lease_of(c: &Cluster) -> Lease {
    Lease {
        pod: c.pod().to_owned(),
        url: c.url().to_owned(),
        incarnation: c.inner.incarnation.clone(),
        epoch: 1,
    }
}

#[tokio::test]
async fn writes_wait_for_the_first_beat_and_a_gap_is_reported() {
    let store = Arc::new(MemoryStore::new());
    let a = pod("a", &store);
    assert!(!a.writable(), "no record written yet");
    let Beat::Gap(sent) = a.beat().await else {
        panic!("the first beat finds no record")
    };
    assert!(!a.writable(), "a gap keeps writes closed until re-claimed");
    a.resume_writes(sent);
    assert!(a.writable());
    assert_eq!(a.beat().await, Beat::Kept);
    store.delete(&PodRecord::key("a")).await.unwrap();
    assert!(
        matches!(a.beat().await, Beat::Gap(_)),
        "a lapsed record is a gap"
    );
}

#[tokio::test]
async fn a_refused_owner_is_gone_unless_it_is_draining() {
    let store = Arc::new(MemoryStore::new());
    let (a, b) = (pod("a", &store), pod("b", &store));
    a.beat().await;
    let lease = lease_of(&a);
    assert!(matches!(
        b.pod_state(&lease).await,
        Ok(PodState::Alive { .. })
    ));
    a.inner.live.draining.store(true, Ordering::Release);
    a.beat().await; // what the heartbeat does when set_draining asks
    assert!(
        !b.declare_gone(&lease).await,
        "draining: refusal proves nothing"
    );
    let c = pod("c", &store);
    c.beat().await;
    let lease_c = lease_of(&c);
    b.saw(c.url(), &lease_c.incarnation);
    assert!(b.declare_gone(&lease_c).await);
    assert!(matches!(b.pod_state(&lease_c).await, Ok(PodState::Gone)));
    assert!(matches!(c.beat().await, Beat::Gap(_)), "c learns of it");
}

#[tokio::test]
async fn a_loopback_refusal_proves_nothing_across_network_namespaces() {
    let store = Arc::new(MemoryStore::new());
    let at = |name: &str, url: &str| pod_at(name, url, &store);
    // Pods on two hosts that both advertise a loopback address: the
    // refusal one sees there is its own host's.
    let a = at("a", "http://127.0.0.1:8080").in_another_network();
    a.beat().await;
    let b = at("b", "http://127.0.0.1:8081");
    assert!(!b.declare_gone(&lease_of(&a)).await);
    assert!(matches!(
        b.pod_state(&lease_of(&a)).await,
        Ok(PodState::Alive { .. })
    ));
    // The same on one host (one namespace): proof.
    let c = at("c", "http://127.0.0.1:8082");
    c.beat().await;
    assert!(b.declare_gone(&lease_of(&c)).await);
    // A routable address is the same place from every namespace.
    let d = at("d", "http://10.0.3.7:8080").in_another_network();
    d.beat().await;
    b.saw(d.url(), &lease_of(&d).incarnation);
    assert!(b.declare_gone(&lease_of(&d)).await);
}

#[tokio::test]
async fn a_routable_refusal_proves_death_only_where_the_owners_network_was_reached() {
    let store = Arc::new(MemoryStore::new());
    // Two hosts on overlapping private networks over one store: from
    // b's host, a's address is b's neighbour's, which refuses.
    let a = pod_at("a", "http://172.17.0.2:8080", &store).in_another_network();
    a.beat().await;
    let b = pod_at("b", "http://172.17.0.3:8080", &store);
    let lease = lease_of(&a);
    assert!(
        !b.declare_gone(&lease).await,
        "never reached a there: the refusal may be another network's"
    );
    b.saw(a.url(), &b.inner.incarnation);
    assert!(
        !b.declare_gone(&lease).await,
        "that URL reached b's own network, not a's"
    );
    assert!(matches!(
        b.pod_state(&lease).await,
        Ok(PodState::Alive { .. })
    ));
    b.saw(a.url(), &lease.incarnation);
    assert!(b.declare_gone(&lease).await, "reached a's network there");
}

#[tokio::test]
async fn a_pod_without_evidence_is_waited_for() {
    let store = Arc::new(MemoryStore::new());
    let (a, b) = (pod("a", &store), pod("b", &store));
    a.set_evidence(false);
    a.beat().await;
    let lease = lease_of(&a);
    assert!(!b.declare_gone(&lease).await);
    let restarted = Lease {
        incarnation: "another".into(),
        ..lease
    };
    assert!(matches!(b.pod_state(&restarted).await, Ok(PodState::Gone)));
}

/// A store on which another pod marks every record gone between this
/// pod's read and its compare-and-swap.
struct MarkedMeanwhile(Arc<MemoryStore>);

#[async_trait::async_trait]
impl SessionStore for MarkedMeanwhile {
    async fn put(&self, k: &RecordKey, v: Vec<u8>, ttl: Duration) -> Result<(), StoreError> {
        self.0.put(k, v, ttl).await
    }
    async fn put_new(&self, k: &RecordKey, v: Vec<u8>, ttl: Duration) -> Result<bool, StoreError> {
        self.0.put_new(k, v, ttl).await
    }
    async fn get(&self, k: &RecordKey) -> Result<Option<Vec<u8>>, StoreError> {
        self.0.get(k).await
    }
    async fn touch(&self, k: &RecordKey, ttl: Duration) -> Result<bool, StoreError> {
        self.0.touch(k, ttl).await
    }
    async fn delete(&self, k: &RecordKey) -> Result<bool, StoreError> {
        self.0.delete(k).await
    }
    async fn compare_and_put(
        &self,
        k: &RecordKey,
        expected: &[u8],
        v: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool, StoreError> {
        self.0.put(k, TOMBSTONE.to_vec(), POD_TTL).await?;
        self.0.compare_and_put(k, expected, v, ttl).await
    }
    async fn append_event(
        &self,
        k: &RecordKey,
        e: Vec<u8>,
        cap: usize,
        ttl: Duration,
    ) -> Result<u64, StoreError> {
        self.0.append_event(k, e, cap, ttl).await
    }
    async fn events_after(
        &self,
        k: &RecordKey,
        after: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        self.0.events_after(k, after).await
    }
    async fn ping(&self) -> Result<(), StoreError> {
        self.0.ping().await
    }
}

#[tokio::test]
async fn an_owner_another_pod_marked_gone_first_is_gone() {
    let memory = Arc::new(MemoryStore::new());
    let a = pod("a", &memory);
    a.beat().await;
    let lease = lease_of(&a);
    let b = Cluster::new(
        "b".into(),
        Arc::new(MarkedMeanwhile(memory.clone())) as Arc<dyn SessionStore>,
        "redis://shared",
        Some("http://b".into()),
        keys(),
    );
    b.saw(a.url(), &lease.incarnation);
    assert!(
        b.declare_gone(&lease).await,
        "b lost the race to mark a's record, yet a is gone: no wait for the record to lapse"
    );
}
