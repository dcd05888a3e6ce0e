//! FAKE Kubernetes: a test double standing in for kube-apiserver +
//! kubelet, which cannot be installed on these machines. It is not
//! Kubernetes and proves nothing about a real cluster; it lets the Berth
//! kubernetes backend be driven end to end by the real `kube` client in
//! tests.
//!
//! [`FakeKube::start`] serves, over plain HTTP/1.1 without auth on
//! `127.0.0.1:PORT`, the subset of the core v1 API the backend uses —
//! pods (create with `name` / `generateName`, get, get status, list and
//! watch with label and field selectors, merge patch of metadata, delete
//! with a grace period), `pods/attach` over WebSocket (`v5`/`v4`
//! `channel.k8s.io`) and secrets (create, get, list, merge patch, delete,
//! garbage-collected with their owner pod) — in any namespace, with
//! kube-apiserver's Status errors. A fake kubelet runs each pod's single
//! container on the test dockerd (`DOCKER_HOST`) with the pod's security
//! context, limits, environment (Secrets resolved) and memory-backed
//! emptyDirs, on one internal docker network (`fake-kube-pods`), and
//! reports its phase and container status as a kubelet does.
//!
//! Simplifications, on purpose: one container per pod, emptyDir volumes
//! only, no restarts (every pod behaves as restartPolicy Never), grace
//! periods capped at 5 s, images never pulled (`name@sha256:HEX` means the
//! local image whose ID is `sha256:HEX`: locally built test images have no
//! registry digest), no watches of secrets, strategic merge patches applied
//! as JSON merge patches, no bookmarks, lists never paginated.
//! `runtimeClassName`, `nodeSelector`, `tolerations`,
//! `automountServiceAccountToken`, `imagePullPolicy` and
//! `imagePullSecrets` are stored and otherwise ignored.
//!
//! Test controls on [`FakeKube`]: refusal rules ([`Refusal`]), an
//! API-server outage ([`FakeKube::set_down`]), unschedulable pods
//! ([`FakeKube::hold_pending`]), and inspection of the stored objects,
//! containers and requests. Dropping it removes every container it
//! started.
//!
//! Module layout (imports go one way, top to bottom, no cycles):
//! `status`, `merge`, `quantity`, `meta`, `env`, `engine` (leaves);
//! `selector` (status); `refusal` (status); `store` (status, refusal);
//! `request` (meta, refusal, status); `podstatus` (meta);
//! `spec` (env, quantity, engine); `state` (store, refusal, status);
//! `kubelet` (state, spec, podstatus, engine, meta); `watch` (state,
//! store, request, selector, status); `pods` (state, request, selector,
//! merge, spec, kubelet, watch, meta, status); `secrets` (state, request,
//! selector, merge, status); `attach` (state, request, status); `server`
//! (state, pods, secrets, attach, status); this file (all).

mod attach;
mod engine;
mod env;
mod kubelet;
mod merge;
mod meta;
mod pods;
mod podstatus;
mod quantity;
mod refusal;
mod request;
mod secrets;
mod selector;
mod server;
mod spec;
mod state;
mod status;
mod store;
mod watch;

use std::net::SocketAddr;
use std::sync::Arc;

use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::watch as switch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use engine::{LABEL_INSTANCE, LABEL_POD, NETWORK};
pub use kubelet::EGRESS_LABEL;
pub use podstatus::NODE;
pub use refusal::Refusal;

use state::Fake;
use store::Store;

/// A running fake API server + kubelet. Dropping it stops the server and
/// removes (`docker rm -f`) every container it started.
pub struct FakeKube {
    fake: Arc<Fake>,
    addr: SocketAddr,
    server: JoinHandle<()>,
    cleaned: bool,
}

impl FakeKube {
    /// Starts a fake on `127.0.0.1:0` with the engine `DOCKER_HOST` names;
    /// panics if the engine cannot be reached.
    pub async fn start() -> FakeKube {
        let docker = engine::connect().unwrap_or_else(|e| panic!("fake kube: {e}"));
        let network = engine::ensure_network(&docker)
            .await
            .unwrap_or_else(|e| panic!("fake kube: {e}"));
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("fake kube: bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("fake kube: local address");
        let fake = Arc::new(Fake {
            store: Store::default(),
            docker,
            network,
            instance: meta::uid(),
            down: switch::channel(false).0,
            closing: CancellationToken::new(),
        });
        let router = server::router(fake.clone());
        let server = tokio::spawn(server::serve(listener, fake.clone(), router));
        FakeKube {
            fake,
            addr,
            server,
            cleaned: false,
        }
    }

    /// The API server's base URL, e.g. `http://127.0.0.1:41234`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Makes matching requests fail (see [`Refusal`]); rules are checked
    /// in the order added.
    pub fn refuse(&self, rule: Refusal) {
        self.fake.store.refuse(rule);
    }

    /// Removes every refusal rule.
    pub fn clear_refusals(&self) {
        self.fake.store.clear_refusals();
    }

    /// An API-server outage: while down, new connections are accepted and
    /// dropped at once, and open connections (watches, attach sockets) are
    /// cut; the kubelet keeps containers running. `false` brings the API
    /// back on the same port.
    pub fn set_down(&self, down: bool) {
        self.fake.down.send_replace(down);
    }

    /// While true, new pods are not scheduled: they stay Pending with
    /// condition PodScheduled False, reason Unschedulable (and are
    /// scheduled once released).
    pub fn hold_pending(&self, hold: bool) {
        self.fake.store.set_hold_pending(hold);
    }

    /// The stored pods of a namespace.
    pub fn pods(&self, ns: &str) -> Vec<Value> {
        self.fake.store.pods(ns).1
    }

    /// A stored pod.
    pub fn pod(&self, ns: &str, name: &str) -> Option<Value> {
        self.fake.store.pod(ns, name)
    }

    /// The stored secrets of a namespace.
    pub fn secrets(&self, ns: &str) -> Vec<Value> {
        self.fake.store.secrets(ns).1
    }

    /// The docker container id running a pod (once created).
    pub fn container_of(&self, ns: &str, name: &str) -> Option<String> {
        self.fake.store.container_of(ns, name)
    }

    /// Every request so far, as "METHOD path?query".
    pub fn requests(&self) -> Vec<String> {
        self.fake.store.requests()
    }

    /// This fake's id: the `fake-kube.instance` label of its containers.
    pub fn instance(&self) -> &str {
        &self.fake.instance
    }

    /// Stops the server and removes every container the fake started.
    pub async fn shutdown(mut self) {
        self.stop();
        engine::remove_all(&self.fake.docker, &self.fake.instance).await;
        self.cleaned = true;
    }

    fn stop(&self) {
        self.fake.closing.cancel();
        for token in self.fake.store.all_cancels() {
            token.cancel();
        }
        self.server.abort();
    }
}

impl Drop for FakeKube {
    /// Stops the server and removes the containers with the docker CLI
    /// (blocking: `Drop` cannot await, and a panicking test must leave
    /// nothing running).
    fn drop(&mut self) {
        self.stop();
        if !self.cleaned {
            engine::remove_all_blocking(&self.fake.instance);
        }
    }
}
