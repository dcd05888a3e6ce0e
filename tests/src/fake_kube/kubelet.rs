//! The fake scheduler + kubelet: one task per pod that binds it (unless
//! the test holds new pods Pending), finds its image on the engine,
//! resolves its environment from Secrets, creates and starts its docker
//! container, reports Running, waits for the container to exit and
//! reports how, and on deletion stops it within the grace period, removes
//! it and removes the pod (DELETED). Waiting states and retries follow the
//! real kubelet: ErrImagePull then ImagePullBackOff (retried every
//! second), CreateContainerConfigError (retried every 200 ms).
//!
//! Imports `state`, `store`, `spec`, `podstatus`, `engine`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bollard::container::{
    CreateContainerOptions, RemoveContainerOptions, StopContainerOptions, WaitContainerOptions,
};
use bollard::models::{ContainerInspectResponse, EndpointSettings};
use bollard::network::ConnectNetworkOptions;
use futures::StreamExt;
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::engine::{NETWORK, find_network};
use super::podstatus::{self, Ended, Started};
use super::spec::{self, ImageFacts, Placement};
use super::state::Fake;

/// Label naming an extra docker network a pod joins (for egress).
pub const EGRESS_LABEL: &str = "berth.dev/egress";

/// Longest grace period the fake waits for a container to stop.
pub(crate) const MAX_GRACE: i64 = 5;

/// Starts the kubelet task for a new pod.
pub(crate) fn spawn(fake: Arc<Fake>, pod: &Value, cancel: CancellationToken) {
    let meta = &pod["metadata"];
    let text = |k: &str| meta[k].as_str().unwrap_or("").to_owned();
    let kubelet = Kubelet {
        fake,
        ns: text("namespace"),
        name: text("name"),
        uid: text("uid"),
        cancel,
        container: None,
    };
    tokio::spawn(kubelet.run());
}

struct Kubelet {
    fake: Arc<Fake>,
    ns: String,
    name: String,
    uid: String,
    /// Cancelled when the pod is deleted (or the fake shuts down).
    cancel: CancellationToken,
    container: Option<String>,
}

/// RFC 3339 with seconds, from docker's nanosecond timestamps.
fn seconds(ts: Option<&str>) -> String {
    match ts {
        Some(t) if t.len() >= 19 && !t.starts_with("0001") => format!("{}Z", &t[..19]),
        _ => super::meta::now(),
    }
}

impl Kubelet {
    async fn run(mut self) {
        self.lifecycle().await;
        self.cancel.cancelled().await;
        if self.fake.closing.is_cancelled() {
            // The fake is shutting down and removes its containers; this
            // one too, in case it was created after that sweep.
            if let Some(id) = &self.container {
                let _ = self
                    .fake
                    .docker
                    .remove_container(
                        id,
                        Some(RemoveContainerOptions {
                            force: true,
                            v: true,
                            ..RemoveContainerOptions::default()
                        }),
                    )
                    .await;
            }
            return;
        }
        self.terminate().await;
    }

    /// The docker container name of this pod incarnation.
    fn container_name(&self) -> String {
        let short: String = self.uid.chars().take(8).collect();
        format!("fake-kube-{}-{}-{short}", self.ns, self.name)
    }

    /// Applies a status change to this pod (false if it is gone).
    fn update(&self, f: impl FnOnce(&mut Value)) -> bool {
        self.fake
            .store
            .modify_pod(&self.ns, &self.name, Some(&self.uid), |p| {
                f(p);
                Ok(())
            })
            .is_ok()
    }

    /// Sleeps, unless the pod is deleted first (then false).
    async fn pause(&self, d: Duration) -> bool {
        tokio::select! {
            () = tokio::time::sleep(d) => true,
            () = self.cancel.cancelled() => false,
        }
    }

    fn pod(&self) -> Option<Value> {
        self.fake
            .store
            .pod(&self.ns, &self.name)
            .filter(|p| p["metadata"]["uid"] == self.uid.as_str())
    }

    async fn lifecycle(&mut self) {
        let mut held = false;
        while self.fake.store.hold_pending() {
            if !held {
                held = self.update(podstatus::unschedulable);
            }
            if !self.pause(Duration::from_millis(200)).await {
                return;
            }
        }
        if self.cancel.is_cancelled() || !self.update(podstatus::scheduled) {
            return;
        }
        let Some(image) = self.image().await else {
            return;
        };
        let Some(config) = self.config(&image).await else {
            return;
        };
        let Some(id) = self.create(config).await else {
            return;
        };
        self.start(&id, &image).await;
    }

    /// Finds the pod's image on the engine, waiting in ErrImagePull /
    /// ImagePullBackOff while it is missing (the fake never pulls).
    async fn image(&self) -> Option<ImageFacts> {
        let pod = self.pod()?;
        let image = pod["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or("")
            .to_owned();
        let local = spec::engine_ref(&image);
        let mut failures = 0;
        loop {
            match self.fake.docker.inspect_image(&local).await {
                Ok(info) => {
                    return Some(ImageFacts {
                        id: info.id.unwrap_or(local),
                        user: info.config.and_then(|c| c.user).unwrap_or_default(),
                    });
                }
                Err(e) => {
                    let (reason, message) = if failures == 0 {
                        (
                            "ErrImagePull",
                            format!(
                                "Failed to pull image \"{image}\": the fake kubelet never pulls, and the engine has no image \"{local}\" ({e})"
                            ),
                        )
                    } else {
                        (
                            "ImagePullBackOff",
                            format!("Back-off pulling image \"{image}\""),
                        )
                    };
                    failures += 1;
                    self.update(|p| podstatus::waiting(p, reason, &message));
                    if !self.pause(Duration::from_secs(1)).await {
                        return None;
                    }
                }
            }
        }
    }

    /// The container config, waiting in CreateContainerConfigError while a
    /// Secret or key it needs is missing.
    async fn config(&self, image: &ImageFacts) -> Option<bollard::container::Config<String>> {
        loop {
            let pod = self.pod()?;
            let secrets: BTreeMap<String, Value> = self
                .fake
                .store
                .secrets(&self.ns)
                .1
                .into_iter()
                .map(|s| (s["metadata"]["name"].as_str().unwrap_or("").to_owned(), s))
                .collect();
            let at = Placement {
                image,
                network: &self.fake.network,
                instance: &self.fake.instance,
                secrets: &secrets,
            };
            match spec::container_config(&pod, &at) {
                Ok(config) => return Some(config),
                Err(message) => {
                    self.update(|p| podstatus::waiting(p, "CreateContainerConfigError", &message));
                    if !self.pause(Duration::from_millis(200)).await {
                        return None;
                    }
                }
            }
        }
    }

    /// Creates the container (and joins the egress network the pod's
    /// label names, if that exists).
    async fn create(&mut self, config: bollard::container::Config<String>) -> Option<String> {
        let docker = &self.fake.docker;
        let name = self.container_name();
        loop {
            if self.cancel.is_cancelled() {
                return None;
            }
            let _ = docker
                .remove_container(
                    &name,
                    Some(RemoveContainerOptions {
                        force: true,
                        ..RemoveContainerOptions::default()
                    }),
                )
                .await;
            let created = docker
                .create_container(
                    Some(CreateContainerOptions {
                        name: name.clone(),
                        platform: None,
                    }),
                    config.clone(),
                )
                .await;
            match created {
                Ok(r) => {
                    self.container = Some(r.id.clone());
                    self.fake
                        .store
                        .set_container(&self.ns, &self.name, &self.uid, &r.id);
                    if self.cancel.is_cancelled() {
                        return None;
                    }
                    self.join_egress(&r.id).await;
                    return Some(r.id);
                }
                Err(e) => {
                    let message = format!("fake kubelet: docker create failed: {e}");
                    self.update(|p| podstatus::waiting(p, "CreateContainerError", &message));
                    if !self.pause(Duration::from_secs(1)).await {
                        return None;
                    }
                }
            }
        }
    }

    async fn join_egress(&self, id: &str) {
        let Some(pod) = self.pod() else { return };
        let Some(net) = pod["metadata"]["labels"][EGRESS_LABEL].as_str() else {
            return;
        };
        if let Ok(Some(net_id)) = find_network(&self.fake.docker, net).await {
            let _ = self
                .fake
                .docker
                .connect_network(
                    &net_id,
                    ConnectNetworkOptions {
                        container: id.to_owned(),
                        endpoint_config: EndpointSettings::default(),
                    },
                )
                .await;
        }
    }

    async fn inspect(&self, id: &str) -> Option<ContainerInspectResponse> {
        self.fake.docker.inspect_container(id, None).await.ok()
    }

    /// Starts the container, reports Running, waits for its exit and
    /// reports it.
    async fn start(&self, id: &str, image: &ImageFacts) {
        let docker = &self.fake.docker;
        if let Err(e) = docker.start_container::<String>(id, None).await {
            let now = super::meta::now();
            let message = e.to_string();
            self.update(|p| {
                podstatus::terminated(
                    p,
                    &Ended {
                        exit_code: 128,
                        oom_killed: false,
                        started_at: &now,
                        finished_at: &now,
                        start_error: Some(&message),
                    },
                )
            });
            return;
        }
        let info = self.inspect(id).await;
        let ip = info
            .as_ref()
            .and_then(|i| i.network_settings.as_ref())
            .and_then(|n| n.networks.as_ref())
            .and_then(|n| n.get(NETWORK))
            .and_then(|e| e.ip_address.clone())
            .unwrap_or_default();
        let state = info.and_then(|i| i.state);
        let started_at = seconds(state.as_ref().and_then(|s| s.started_at.as_deref()));
        self.update(|p| {
            podstatus::running(
                p,
                &Started {
                    container: id,
                    image_id: &image.id,
                    ip: &ip,
                    started_at: &started_at,
                },
            )
        });
        let mut wait = docker.wait_container(
            id,
            Some(WaitContainerOptions {
                condition: "not-running",
            }),
        );
        tokio::select! {
            _ = wait.next() => {}
            () = self.cancel.cancelled() => return,
        }
        let state = self.inspect(id).await.and_then(|i| i.state);
        let Some(state) = state else { return };
        if self.cancel.is_cancelled() {
            return;
        }
        let finished_at = seconds(state.finished_at.as_deref());
        self.update(|p| {
            podstatus::terminated(
                p,
                &Ended {
                    exit_code: state.exit_code.unwrap_or(-1),
                    oom_killed: state.oom_killed.unwrap_or(false),
                    started_at: &started_at,
                    finished_at: &finished_at,
                    start_error: None,
                },
            )
        });
    }

    /// The pod was deleted: stop the container within the grace period
    /// (capped at [`MAX_GRACE`]), remove it, then remove the pod.
    async fn terminate(&self) {
        let grace = self
            .pod()
            .and_then(|p| p["metadata"]["deletionGracePeriodSeconds"].as_i64())
            .unwrap_or(0)
            .clamp(0, MAX_GRACE);
        let docker = &self.fake.docker;
        let target = self
            .container
            .clone()
            .unwrap_or_else(|| self.container_name());
        if grace > 0 {
            let _ = docker
                .stop_container(&target, Some(StopContainerOptions { t: grace }))
                .await;
        }
        let _ = docker
            .remove_container(
                &target,
                Some(RemoveContainerOptions {
                    force: true,
                    v: true,
                    ..RemoveContainerOptions::default()
                }),
            )
            .await;
        self.fake
            .store
            .remove_pod(&self.ns, &self.name, Some(&self.uid));
    }
}
