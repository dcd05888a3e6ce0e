//! Helpers for the kubernetes backend's tests: a Berth config pointing at
//! a [`FakeKube`](crate::fake_kube::FakeKube), and reading the Pods it
//! stores.

use serde_json::Value;

use crate::fake_kube::FakeKube;

/// The sessions namespace the tests use.
pub const NS: &str = "berth-sessions";

/// A pod's config for the kubernetes backend against `fake`, with `store`
/// (`memory` or a Redis URL) and extra TOML appended (servers, sections).
/// `demo/everything` runs `berth/example-server` (stdio).
pub fn config(fake: &FakeKube, store: &str, extra: &str) -> String {
    format!(
        r#"
listen = "127.0.0.1:0"
state_dir = "{{state_dir}}"
backend = "kubernetes"
[store]
url = "{store}"
[kubernetes]
namespace = "{NS}"
api_url = "{api}"
sweep_every = "1s"
start_timeout = "20s"
[servers.demo.everything]
image = "berth/example-server"
{extra}"#,
        api = fake.url(),
    )
}

/// The Pods in [`NS`] whose label `key` is `value`.
pub fn pods_labelled(fake: &FakeKube, key: &str, value: &str) -> Vec<Value> {
    fake.pods(NS)
        .into_iter()
        .filter(|p| p["metadata"]["labels"][key] == value)
        .filter(|p| p["metadata"]["deletionTimestamp"].is_null())
        .collect()
}

/// The Pods in [`NS`] serving server `server` (warm Pods included).
pub fn pods_of(fake: &FakeKube, server: &str) -> Vec<Value> {
    pods_labelled(fake, "berth.dev/server", server)
}

/// A Pod's name.
pub fn name(pod: &Value) -> String {
    pod["metadata"]["name"]
        .as_str()
        .unwrap_or_else(|| panic!("a pod without a name: {pod}"))
        .to_owned()
}

/// Whether the fake's kubelet reports Pod `pod` running.
pub fn running(fake: &FakeKube, pod: &str) -> bool {
    fake.pod(NS, pod)
        .is_some_and(|p| p["status"]["phase"] == "Running")
}
