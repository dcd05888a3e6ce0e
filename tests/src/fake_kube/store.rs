//! The fake API server's state behind one mutex: pods (with the docker
//! container the fake kubelet runs for each), secrets, the global
//! resourceVersion counter, the pod event history and broadcast that
//! watches read, the test's refusal rules and switches, and the request
//! log. The lock is never held across an `.await`.
//!
//! Imports `status`, `refusal`.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;

use super::refusal::{Refusal, RequestFacts};
use super::status::ApiError;

/// How many pod events watches can resume from.
const HISTORY: usize = 4096;

/// The type of a watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EventKind {
    /// The object appeared.
    Added,
    /// The object changed.
    Modified,
    /// The object is gone.
    Deleted,
}

impl EventKind {
    /// The wire name (`ADDED` …).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            EventKind::Added => "ADDED",
            EventKind::Modified => "MODIFIED",
            EventKind::Deleted => "DELETED",
        }
    }
}

/// One change to a pod.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    /// The resourceVersion the change made.
    pub(crate) rv: u64,
    /// What happened.
    pub(crate) kind: EventKind,
    /// The pod's namespace.
    pub(crate) namespace: String,
    /// The pod after the change (the last state, for DELETED).
    pub(crate) object: Value,
    /// The pod before a MODIFIED change (watches with a label selector
    /// turn a change into or out of the selection into ADDED/DELETED).
    pub(crate) before: Option<Value>,
}

/// A pod and what the fake kubelet knows of it.
#[derive(Debug)]
struct PodEntry {
    object: Value,
    container: Option<String>,
    /// Cancelled when the pod is deleted: the kubelet then stops it.
    cancel: CancellationToken,
}

#[derive(Debug, Default)]
struct Inner {
    rv: u64,
    pods: BTreeMap<(String, String), PodEntry>,
    secrets: BTreeMap<(String, String), Value>,
    history: VecDeque<Arc<Event>>,
    /// Watches can resume from any resourceVersion at or after this one.
    floor: u64,
    refusals: Vec<Refusal>,
    hold_pending: bool,
    requests: Vec<String>,
}

impl Inner {
    fn bump(&mut self, object: &mut Value) -> u64 {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.rv
    }
}

/// The store.
#[derive(Debug)]
pub(crate) struct Store {
    inner: Mutex<Inner>,
    events: broadcast::Sender<Arc<Event>>,
}

/// Where a watch starts.
pub(crate) struct WatchStart {
    /// Events to send first (synthetic ADDED for a fresh watch, or the
    /// history after the given resourceVersion).
    pub(crate) backlog: Vec<Arc<Event>>,
    /// Live events after those.
    pub(crate) live: broadcast::Receiver<Arc<Event>>,
    /// The resourceVersion the backlog brings the watcher to.
    pub(crate) rv: u64,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            inner: Mutex::new(Inner::default()),
            events: broadcast::channel(HISTORY).0,
        }
    }
}

fn key(ns: &str, name: &str) -> (String, String) {
    (ns.to_owned(), name.to_owned())
}

fn uid_of(object: &Value) -> &str {
    object["metadata"]["uid"].as_str().unwrap_or("")
}

impl Store {
    fn publish(&self, inner: &mut Inner, event: Event) {
        let event = Arc::new(event);
        if inner.history.len() >= HISTORY
            && let Some(old) = inner.history.pop_front()
        {
            inner.floor = old.rv;
        }
        inner.history.push_back(event.clone());
        let _ = self.events.send(event);
    }

    // --- pods ---

    /// Stores a new pod (409 if the name is taken); stamps its
    /// resourceVersion and emits ADDED.
    pub(crate) fn create_pod(
        &self,
        ns: &str,
        mut object: Value,
        cancel: CancellationToken,
    ) -> Result<Value, ApiError> {
        let name = object["metadata"]["name"].as_str().unwrap_or("").to_owned();
        let mut inner = self.inner.lock();
        if inner.pods.contains_key(&key(ns, &name)) {
            return Err(ApiError::already_exists("pods", &name));
        }
        let rv = inner.bump(&mut object);
        inner.pods.insert(
            key(ns, &name),
            PodEntry {
                object: object.clone(),
                container: None,
                cancel,
            },
        );
        let event = Event {
            rv,
            kind: EventKind::Added,
            namespace: ns.to_owned(),
            object: object.clone(),
            before: None,
        };
        self.publish(&mut inner, event);
        Ok(object)
    }

    /// A pod.
    pub(crate) fn pod(&self, ns: &str, name: &str) -> Option<Value> {
        self.inner
            .lock()
            .pods
            .get(&key(ns, name))
            .map(|p| p.object.clone())
    }

    /// The pods of a namespace, and the current resourceVersion.
    pub(crate) fn pods(&self, ns: &str) -> (u64, Vec<Value>) {
        let inner = self.inner.lock();
        let pods = inner
            .pods
            .iter()
            .filter(|((n, _), _)| n == ns)
            .map(|(_, p)| p.object.clone())
            .collect();
        (inner.rv, pods)
    }

    /// Changes a pod with `f` (when `uid` is given, only that incarnation
    /// of the name). A change bumps the resourceVersion and emits
    /// MODIFIED; no change leaves both alone.
    pub(crate) fn modify_pod(
        &self,
        ns: &str,
        name: &str,
        uid: Option<&str>,
        f: impl FnOnce(&mut Value) -> Result<(), ApiError>,
    ) -> Result<Value, ApiError> {
        let mut inner = self.inner.lock();
        let Some(entry) = inner.pods.get(&key(ns, name)) else {
            return Err(ApiError::not_found("pods", name));
        };
        if uid.is_some_and(|u| u != uid_of(&entry.object)) {
            return Err(ApiError::not_found("pods", name));
        }
        let before = entry.object.clone();
        let mut object = before.clone();
        f(&mut object)?;
        if object == before {
            return Ok(object);
        }
        let rv = inner.bump(&mut object);
        if let Some(entry) = inner.pods.get_mut(&key(ns, name)) {
            entry.object = object.clone();
        }
        let event = Event {
            rv,
            kind: EventKind::Modified,
            namespace: ns.to_owned(),
            object: object.clone(),
            before: Some(before),
        };
        self.publish(&mut inner, event);
        Ok(object)
    }

    /// Removes a pod (when `uid` is given, only that incarnation), emits
    /// DELETED, and deletes the Secrets it owns (the garbage collector's
    /// job in a real cluster). Returns the removed pod.
    pub(crate) fn remove_pod(&self, ns: &str, name: &str, uid: Option<&str>) -> Option<Value> {
        let mut inner = self.inner.lock();
        let entry = inner.pods.get(&key(ns, name))?;
        if uid.is_some_and(|u| u != uid_of(&entry.object)) {
            return None;
        }
        let mut object = inner.pods.remove(&key(ns, name))?.object;
        let rv = inner.bump(&mut object);
        let event = Event {
            rv,
            kind: EventKind::Deleted,
            namespace: ns.to_owned(),
            object: object.clone(),
            before: None,
        };
        self.publish(&mut inner, event);
        let pod_uid = uid_of(&object).to_owned();
        inner.secrets.retain(|_, secret| {
            let owned = secret["metadata"]["ownerReferences"]
                .as_array()
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == pod_uid.as_str()));
            !owned
        });
        Some(object)
    }

    /// The token cancelled when the pod is deleted.
    pub(crate) fn cancel_of(&self, ns: &str, name: &str) -> Option<CancellationToken> {
        self.inner
            .lock()
            .pods
            .get(&key(ns, name))
            .map(|p| p.cancel.clone())
    }

    /// Every pod's token (to stop every kubelet at shutdown).
    pub(crate) fn all_cancels(&self) -> Vec<CancellationToken> {
        self.inner
            .lock()
            .pods
            .values()
            .map(|p| p.cancel.clone())
            .collect()
    }

    /// Records the docker container running a pod.
    pub(crate) fn set_container(&self, ns: &str, name: &str, uid: &str, id: &str) {
        let mut inner = self.inner.lock();
        if let Some(p) = inner.pods.get_mut(&key(ns, name))
            && uid_of(&p.object) == uid
        {
            p.container = Some(id.to_owned());
        }
    }

    /// The docker container running a pod.
    pub(crate) fn container_of(&self, ns: &str, name: &str) -> Option<String> {
        self.inner
            .lock()
            .pods
            .get(&key(ns, name))
            .and_then(|p| p.container.clone())
    }

    /// Where a watch of namespace `ns` starts: from `from` (replaying the
    /// history after it; 410 Expired if that is gone), or with `None` from
    /// now, with a synthetic ADDED for every current pod.
    pub(crate) fn watch(&self, ns: &str, from: Option<u64>) -> Result<WatchStart, ApiError> {
        let inner = self.inner.lock();
        let live = self.events.subscribe();
        let backlog = match from {
            None => inner
                .pods
                .iter()
                .filter(|((n, _), _)| n == ns)
                .map(|(_, p)| {
                    Arc::new(Event {
                        rv: p.object["metadata"]["resourceVersion"]
                            .as_str()
                            .and_then(|v| v.parse().ok())
                            .unwrap_or(0),
                        kind: EventKind::Added,
                        namespace: ns.to_owned(),
                        object: p.object.clone(),
                        before: None,
                    })
                })
                .collect(),
            Some(rv) if rv < inner.floor => {
                return Err(ApiError::new(
                    410,
                    "Expired",
                    format!("too old resource version: {rv} ({})", inner.floor + 1),
                ));
            }
            Some(rv) => inner
                .history
                .iter()
                .filter(|e| e.rv > rv && e.namespace == ns)
                .cloned()
                .collect(),
        };
        Ok(WatchStart {
            backlog,
            live,
            rv: inner.rv,
        })
    }

    // --- secrets ---

    /// Stores a new secret (409 if the name is taken).
    pub(crate) fn create_secret(&self, ns: &str, mut object: Value) -> Result<Value, ApiError> {
        let name = object["metadata"]["name"].as_str().unwrap_or("").to_owned();
        let mut inner = self.inner.lock();
        if inner.secrets.contains_key(&key(ns, &name)) {
            return Err(ApiError::already_exists("secrets", &name));
        }
        inner.bump(&mut object);
        inner.secrets.insert(key(ns, &name), object.clone());
        Ok(object)
    }

    /// A secret.
    pub(crate) fn secret(&self, ns: &str, name: &str) -> Option<Value> {
        self.inner.lock().secrets.get(&key(ns, name)).cloned()
    }

    /// The secrets of a namespace, and the current resourceVersion.
    pub(crate) fn secrets(&self, ns: &str) -> (u64, Vec<Value>) {
        let inner = self.inner.lock();
        let secrets = inner
            .secrets
            .iter()
            .filter(|((n, _), _)| n == ns)
            .map(|(_, s)| s.clone())
            .collect();
        (inner.rv, secrets)
    }

    /// Changes a secret with `f`; a change bumps its resourceVersion.
    pub(crate) fn modify_secret(
        &self,
        ns: &str,
        name: &str,
        f: impl FnOnce(&mut Value) -> Result<(), ApiError>,
    ) -> Result<Value, ApiError> {
        let mut inner = self.inner.lock();
        let Some(before) = inner.secrets.get(&key(ns, name)).cloned() else {
            return Err(ApiError::not_found("secrets", name));
        };
        let mut object = before.clone();
        f(&mut object)?;
        if object != before {
            inner.bump(&mut object);
            inner.secrets.insert(key(ns, name), object.clone());
        }
        Ok(object)
    }

    /// Removes a secret.
    pub(crate) fn remove_secret(&self, ns: &str, name: &str) -> Option<Value> {
        let mut inner = self.inner.lock();
        let object = inner.secrets.remove(&key(ns, name))?;
        inner.rv += 1;
        Some(object)
    }

    // --- test controls ---

    /// Adds a refusal rule (checked in the order added).
    pub(crate) fn refuse(&self, rule: Refusal) {
        self.inner.lock().refusals.push(rule);
    }

    /// Removes every refusal rule.
    pub(crate) fn clear_refusals(&self) {
        self.inner.lock().refusals.clear();
    }

    /// The failure a refusal rule makes of `req`, counting the use.
    pub(crate) fn refused(&self, req: &RequestFacts) -> Option<ApiError> {
        let mut inner = self.inner.lock();
        let i = inner.refusals.iter().position(|r| r.matches(req))?;
        let err = inner.refusals[i].error(req);
        if inner.refusals[i].consume() {
            inner.refusals.remove(i);
        }
        Some(err)
    }

    /// Whether new pods stay unscheduled.
    pub(crate) fn hold_pending(&self) -> bool {
        self.inner.lock().hold_pending
    }

    /// Holds new pods unscheduled (or releases them).
    pub(crate) fn set_hold_pending(&self, hold: bool) {
        self.inner.lock().hold_pending = hold;
    }

    /// Logs a request line.
    pub(crate) fn log_request(&self, line: String) {
        self.inner.lock().requests.push(line);
    }

    /// The request log.
    pub(crate) fn requests(&self) -> Vec<String> {
        self.inner.lock().requests.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::{EventKind, Store};
    use serde_json::json;
    use tokio_util::sync::CancellationToken;

    fn pod(name: &str, uid: &str) -> serde_json::Value {
        json!({"metadata": {"name": name, "namespace": "ns", "uid": uid}})
    }

    #[test]
    fn history_replay_and_garbage_collection() {
        let store = Store::default();
        let p = store
            .create_pod("ns", pod("a", "u1"), CancellationToken::new())
            .unwrap();
        assert_eq!(p["metadata"]["resourceVersion"], "1");
        assert_eq!(
            store
                .create_pod("ns", pod("a", "u2"), CancellationToken::new())
                .unwrap_err()
                .code,
            409
        );
        store
            .create_secret(
                "ns",
                json!({"metadata": {"name": "s", "ownerReferences": [{"uid": "u1"}]}}),
            )
            .unwrap();
        store
            .create_secret("ns", json!({"metadata": {"name": "keep"}}))
            .unwrap();
        // No change, no new version.
        let same = store.modify_pod("ns", "a", None, |_| Ok(())).unwrap();
        assert_eq!(same["metadata"]["resourceVersion"], "1");
        store
            .modify_pod("ns", "a", Some("u1"), |p| {
                p["status"]["phase"] = json!("Running");
                Ok(())
            })
            .unwrap();
        assert!(
            store
                .modify_pod("ns", "a", Some("other"), |_| Ok(()))
                .is_err()
        );
        store.remove_pod("ns", "a", Some("u1")).unwrap();
        assert!(store.secret("ns", "s").is_none(), "owned secret collected");
        assert!(store.secret("ns", "keep").is_some());

        let from_one = store.watch("ns", Some(1)).unwrap();
        let kinds: Vec<EventKind> = from_one.backlog.iter().map(|e| e.kind).collect();
        assert_eq!(kinds, [EventKind::Modified, EventKind::Deleted]);
        assert_eq!(
            from_one.backlog[0].before.as_ref().unwrap()["status"],
            json!(null)
        );
        let fresh = store.watch("ns", None).unwrap();
        assert!(fresh.backlog.is_empty());
        assert!(store.watch("other", Some(0)).unwrap().backlog.is_empty());
    }
}
