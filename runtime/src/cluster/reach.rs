//! Which network another pod's advertised URL reaches *from this pod*.
//!
//! A refused connection at an owner's routable URL proves the owner's
//! death (`Cluster::declare_gone`) only if this pod has reached the
//! owner's network namespace at that URL before: an answer there from the
//! Berth process of an incarnation whose signed pod record names that URL,
//! in the network that incarnation names. Without that, two hosts whose
//! pods advertise the same private address on overlapping networks (each
//! docker bridge's `172.17.0.2`) over one shared store would each see
//! their own host's refusal at the other's URL and take the other's live
//! sessions: two writers on one instance.
//!
//! What a URL reaches is learned two ways, neither on the request path:
//! - every [`REFRESH`], for each pod in the pods index (read anyway to
//!   publish the sessions directory): its record, then its `/healthz`
//!   ([`Cluster::check_peers`]);
//! - at once, in the background, when this pod forwards a request to an
//!   owner whose URL it has not reached in that network
//!   ([`Cluster::learn_reach`]).
//!
//! May import: `cluster::{inner, records, place, liveness}`, external
//! crates.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::time::Instant;

use super::inner::Cluster;
use super::liveness::{INSTANCE_HEADER, tag_of};
use super::place;
use super::records::{Lease, PodRecord};

/// How often each pod in the index is looked at again.
pub(super) const REFRESH: Duration = Duration::from_secs(30);

/// The shortest time between two looks at one URL when a live owner there
/// is not reached yet.
const RETRY: Duration = Duration::from_secs(1);

/// How long a look waits for an answer.
const PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// URLs remembered at most (an index of dead pods cannot grow it forever).
const MAX_URLS: usize = 4096;

// === impl Cluster (reach) ===

impl Cluster {
    /// Whether this pod has reached, at `url`, the network namespace that
    /// `incarnation` ran in.
    pub(crate) fn reached(&self, url: &str, incarnation: &str) -> bool {
        let Some(network) = place::network_of(incarnation) else {
            return false;
        };
        self.inner
            .reach
            .seen
            .lock()
            .get(url)
            .is_some_and(|seen| seen == network)
    }

    /// Looks at the pods named in the pods index (pod → URL) that were not
    /// looked at for [`REFRESH`]: reads each one's record and asks its URL
    /// who answers there.
    pub(crate) async fn check_peers(&self, pods: &BTreeMap<String, String>) {
        let now = Instant::now();
        let due: Vec<&String> = pods
            .iter()
            .filter(|(pod, url)| **pod != self.inner.pod && self.due(url, REFRESH, now))
            .map(|(pod, _)| pod)
            .collect();
        let checks = due.into_iter().map(|pod| async move {
            let Ok(Some(raw)) = self.inner.store.get(&PodRecord::key(pod)).await else {
                return;
            };
            if let Ok(record) = PodRecord::open(&self.inner.keys, pod, &raw) {
                self.check_reach(pod, &record.url, &record.incarnation)
                    .await;
            }
        });
        futures::future::join_all(checks).await;
    }

    /// A request is forwarded to `owner`: if its URL is not known to reach
    /// its network from here, looks (in the background, at most once per
    /// [`RETRY`] per URL).
    pub(crate) fn learn_reach(&self, owner: &Lease) {
        if self.reached(&owner.url, &owner.incarnation)
            || !self.due(&owner.url, RETRY, Instant::now())
        {
            return;
        }
        let (cluster, owner) = (self.clone(), owner.clone());
        tokio::spawn(async move {
            cluster
                .check_reach(&owner.pod, &owner.url, &owner.incarnation)
                .await;
        });
    }

    /// Asks `url` who answers there. The answer of the process of
    /// `incarnation` (which pod `pod`'s signed record or owner record
    /// places at `url`): the URL reaches that process's network. Another
    /// process's answer: it does not (forgotten). No answer: unchanged (a
    /// pod that just died still was reached there).
    async fn check_reach(&self, pod: &str, url: &str, incarnation: &str) {
        let answer = self
            .inner
            .probe
            .get(format!("{url}/healthz"))
            .timeout(PROBE_TIMEOUT)
            .send()
            .await;
        let Ok(answer) = answer else { return };
        // An older Berth's incarnation names no network: nothing to learn.
        let Some(network) = place::network_of(incarnation) else {
            return;
        };
        let theirs = answer
            .headers()
            .get(INSTANCE_HEADER)
            .is_some_and(|tag| tag.as_bytes() == tag_of(incarnation).as_bytes());
        let mut seen = self.inner.reach.seen.lock();
        if theirs {
            if seen.insert(url.to_owned(), network.to_owned()).as_deref() != Some(network) {
                tracing::debug!(%pod, %url, "a pod's advertised URL reaches its pod from here");
            }
        } else if seen.remove(url).is_some() || answer.headers().contains_key(INSTANCE_HEADER) {
            tracing::warn!(%pod, %url, "another process answers at a Berth pod's advertised URL from this pod; a refused connection there will not count as proof of that pod's death (its sessions wait for its liveness record to lapse)");
        }
    }

    /// Whether `url` was not looked at within `every` (and if so, notes a
    /// look now).
    fn due(&self, url: &str, every: Duration, now: Instant) -> bool {
        let mut tried = self.inner.reach.tried.lock();
        if tried
            .get(url)
            .is_some_and(|at| now.duration_since(*at) < every)
        {
            return false;
        }
        if tried.len() >= MAX_URLS && !tried.contains_key(url) {
            tried.retain(|_, at| now.duration_since(*at) < REFRESH * 2);
            self.inner
                .reach
                .seen
                .lock()
                .retain(|u, _| tried.contains_key(u));
            if tried.len() >= MAX_URLS {
                return false;
            }
        }
        tried.insert(url.to_owned(), now);
        true
    }
}

#[cfg(test)]
impl Cluster {
    /// Notes that `url` reached the network of `incarnation` from here.
    pub(super) fn saw(&self, url: &str, incarnation: &str) {
        let network = place::network_of(incarnation).expect("a current incarnation");
        let seen = &self.inner.reach.seen;
        seen.lock().insert(url.to_owned(), network.to_owned());
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use berth_session_store::MemoryStore;
    use tokio::net::TcpListener;

    use super::*;

    /// A listener on loopback and the URL it is reached at.
    async fn listener() -> (TcpListener, String) {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", l.local_addr().unwrap());
        (l, url)
    }

    /// Answers `/healthz` on `l` as the process tagged `tag` would.
    fn answer_as(l: TcpListener, tag: String) {
        let app = axum::Router::new().route(
            "/healthz",
            axum::routing::get(move || {
                let tag = tag.clone();
                async move { ([(INSTANCE_HEADER, tag)], "ok") }
            }),
        );
        tokio::spawn(async move { axum::serve(l, app).await });
    }

    /// A pod advertising `url` whose record is in `store`.
    async fn pod_at(name: &str, url: &str, store: &Arc<MemoryStore>) -> Cluster {
        let c = Cluster::for_test(name, url, store);
        c.beat().await;
        c
    }

    fn index(pods: &[&Cluster]) -> BTreeMap<String, String> {
        pods.iter()
            .map(|c| (c.pod().to_owned(), c.url().to_owned()))
            .collect()
    }

    fn incarnation(c: &Cluster) -> &str {
        &c.inner.incarnation
    }

    #[tokio::test]
    async fn the_index_check_learns_which_network_each_pods_url_reaches() {
        let store = Arc::new(MemoryStore::new());
        let b = pod_at("b", "http://127.0.0.1:9", &store).await;
        // a answers at its URL.
        let (l, url) = listener().await;
        let a = pod_at("a", &url, &store).await;
        answer_as(l, a.instance_tag());
        // At c's URL another Berth process answers (a host of another
        // network at the same private address).
        let (l, url) = listener().await;
        let c = pod_at("c", &url, &store).await;
        answer_as(l, "0123456789abcdef".into());
        b.saw(c.url(), incarnation(&c)); // believed before: forgotten
        // d is gone: nothing answers at its URL any more.
        let (l, url) = listener().await;
        let d = pod_at("d", &url, &store).await;
        drop(l);
        b.saw(d.url(), incarnation(&d));

        b.check_peers(&index(&[&a, &b, &c, &d])).await;
        assert!(b.reached(a.url(), incarnation(&a)));
        assert!(
            !b.reached(c.url(), incarnation(&c)),
            "another process answered there"
        );
        assert!(
            b.reached(d.url(), incarnation(&d)),
            "a pod that just died was still reached at its URL"
        );
        assert!(
            !b.reached(a.url(), &place::elsewhere(incarnation(&a))),
            "a's URL reaches a's network, not another one"
        );
    }

    #[tokio::test]
    async fn a_url_is_looked_at_again_only_after_a_while() {
        let store = Arc::new(MemoryStore::new());
        let b = pod_at("b", "http://127.0.0.1:9", &store).await;
        let (l, url) = listener().await;
        let a = pod_at("a", &url, &store).await;
        b.check_peers(&index(&[&a])).await; // refused: nothing learned
        assert!(!b.reached(a.url(), incarnation(&a)));
        answer_as(l, a.instance_tag());
        b.check_peers(&index(&[&a])).await;
        assert!(
            !b.reached(a.url(), incarnation(&a)),
            "looked at within REFRESH: not again"
        );
    }

    #[tokio::test]
    async fn forwarding_to_an_owner_not_reached_yet_looks_at_its_url() {
        let store = Arc::new(MemoryStore::new());
        let b = pod_at("b", "http://127.0.0.1:9", &store).await;
        let (l, url) = listener().await;
        let a = pod_at("a", &url, &store).await;
        answer_as(l, a.instance_tag());
        let lease = Lease {
            pod: "a".into(),
            url: a.url().to_owned(),
            incarnation: incarnation(&a).to_owned(),
            epoch: 1,
        };
        b.learn_reach(&lease);
        for _ in 0..100 {
            if b.reached(a.url(), incarnation(&a)) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the forward's background look did not learn a's URL");
    }
}
