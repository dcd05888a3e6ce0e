//! Starting a session Pod: its env Secret first (so the Pod never carries
//! a secret value), then the Pod, then the Secret handed to the Pod as its
//! owner (deleted with it); then waiting, with a watch, until the Pod
//! runs. A Pod that cannot run (an image that cannot be pulled, a
//! container that ends) or does not run within `kubernetes.start_timeout`
//! (unschedulable, stuck) fails its session with the reason and is
//! deleted.
//!
//! May import: `kubernetes::{host, pod, labels}`, `backend` shapes.

use futures::StreamExt;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{DeleteParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};

use super::host::KubeHost;
use super::pod::{self, Owner};
use crate::backend::{BackendError, ServerSpec};

/// Waiting reasons after which a Pod will not run without someone acting.
const HOPELESS: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "ErrImageNeverPull",
    "CreateContainerError",
    "RunContainerError",
];

/// Creates a Pod for `spec` (and its env Secret) and waits until it runs;
/// returns its name.
pub(super) async fn create(
    host: &KubeHost,
    spec: &ServerSpec,
    session: &str,
    lease: Option<&str>,
) -> Result<String, BackendError> {
    let image = spec.image()?.to_owned();
    host.check_caps(&spec.tenant).await?;
    let shared = &host.shared;
    let owner = Owner {
        pod: &shared.pod,
        store: shared.lease_probe.scope(),
        session,
        lease,
    };
    let name = pod::pod_name(spec);
    let has_secrets = spec.secret_env.iter().next().is_some();
    if has_secrets {
        let secret = pod::env_secret(spec, &name, &owner, &shared.namespace);
        host.secrets()
            .create(&PostParams::default(), &secret)
            .await
            .map_err(|e| host.error("create secrets", e))?;
    }
    let object = pod::build(spec, &name, &owner, &shared.config, &image);
    let created = match host.pods().create(&PostParams::default(), &object).await {
        Ok(created) => created,
        Err(e) => {
            let err = host.error("create pods", e);
            if has_secrets {
                let secret = pod::secret_name(&name);
                let _ = host
                    .secrets()
                    .delete(&secret, &DeleteParams::default())
                    .await;
            }
            return Err(err);
        }
    };
    if has_secrets && let Some(uid) = created.metadata.uid.as_deref() {
        let patch = Patch::Merge(pod::owned_by(&name, uid));
        if let Err(e) = host
            .secrets()
            .patch(&pod::secret_name(&name), &PatchParams::default(), &patch)
            .await
        {
            tracing::warn!(pod = %name, error = %e, "could not make the Pod own its env Secret; Berth deletes it with the Pod, the sweeper if Berth cannot");
        }
    }
    let version = created
        .metadata
        .resource_version
        .clone()
        .unwrap_or_default();
    match tokio::time::timeout(
        shared.config.start_timeout,
        wait_running(host, &name, version),
    )
    .await
    {
        Ok(Ok(())) => Ok(name),
        Ok(Err(e)) => {
            host.delete(&name).await;
            Err(e)
        }
        Err(_) => {
            let why = match host.pods().get(&name).await {
                Ok(pod) => pending_reason(&pod),
                Err(e) => e.to_string(),
            };
            host.delete(&name).await;
            Err(BackendError::Cluster(format!(
                "did not run Pod `{name}` within {}s (kubernetes.start_timeout): {why}; the Pod was deleted",
                shared.config.start_timeout.as_secs()
            )))
        }
    }
}

/// Follows Pod `name` from resource version `version` until it runs;
/// fails when it cannot.
async fn wait_running(
    host: &KubeHost,
    name: &str,
    mut version: String,
) -> Result<(), BackendError> {
    let pods = host.pods();
    let params = WatchParams::default()
        .fields(&format!("metadata.name={name}"))
        .timeout(60);
    loop {
        let mut events = match pods.watch(&params, &version).await {
            Ok(events) => events.boxed(),
            Err(e) => {
                // The API may be briefly away: look again shortly (the
                // start timeout bounds the wait).
                tracing::debug!(pod = %name, error = %e, "watching a starting Pod failed; retrying");
                tokio::time::sleep(std::time::Duration::from_millis(250)).await;
                if let Ok(pod) = pods.get(name).await {
                    if let Some(done) = verdict(&pod) {
                        return done;
                    }
                    version = pod.metadata.resource_version.unwrap_or_default();
                }
                continue;
            }
        };
        while let Some(event) = events.next().await {
            match event {
                Ok(WatchEvent::Added(pod) | WatchEvent::Modified(pod)) => {
                    if let Some(done) = verdict(&pod) {
                        return done;
                    }
                    if let Some(v) = pod.metadata.resource_version {
                        version = v;
                    }
                }
                Ok(WatchEvent::Deleted(_)) => {
                    return Err(BackendError::Cluster(format!(
                        "deleted Pod `{name}` while it started"
                    )));
                }
                Ok(WatchEvent::Bookmark(b)) => version = b.metadata.resource_version,
                // Too old a version (410) or another watch error: start
                // again from the Pod as it is now.
                Ok(WatchEvent::Error(_)) | Err(_) => {
                    version = match pods.get(name).await {
                        Ok(pod) => {
                            if let Some(done) = verdict(&pod) {
                                return done;
                            }
                            pod.metadata.resource_version.unwrap_or_default()
                        }
                        Err(_) => String::new(),
                    };
                    break;
                }
            }
        }
    }
}

/// `Some(Ok)` once `pod` runs, `Some(Err)` once it cannot, `None` while
/// it may still.
fn verdict(pod: &Pod) -> Option<Result<(), BackendError>> {
    let name = pod.metadata.name.as_deref().unwrap_or("?");
    let status = pod.status.as_ref()?;
    match status.phase.as_deref() {
        Some("Running") => return Some(Ok(())),
        Some("Failed" | "Succeeded") => {
            return Some(Err(BackendError::Cluster(format!(
                "ran Pod `{name}` but its server ended at once: {}",
                ended_reason(pod)
            ))));
        }
        _ => {}
    }
    let waiting = status
        .container_statuses
        .iter()
        .flatten()
        .filter_map(|c| c.state.as_ref()?.waiting.as_ref())
        .find(|w| HOPELESS.contains(&w.reason.as_deref().unwrap_or_default()))?;
    Some(Err(BackendError::Refused(format!(
        "Pod `{name}` cannot start its server: {} ({}); check the deployment's image and the namespace's pull secrets",
        waiting.reason.as_deref().unwrap_or_default(),
        waiting.message.as_deref().unwrap_or("no message")
    ))))
}

/// Why a Pod is still pending: its unscheduled condition or its
/// container's waiting reason.
fn pending_reason(pod: &Pod) -> String {
    let Some(status) = &pod.status else {
        return "no status yet".to_owned();
    };
    if let Some(c) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled" && c.status == "False")
    {
        return format!(
            "not scheduled ({}: {})",
            c.reason.as_deref().unwrap_or("Unschedulable"),
            c.message.as_deref().unwrap_or("no node fits")
        );
    }
    if let Some(w) = status
        .container_statuses
        .iter()
        .flatten()
        .find_map(|c| c.state.as_ref()?.waiting.as_ref())
    {
        return format!(
            "waiting ({}: {})",
            w.reason.as_deref().unwrap_or_default(),
            w.message.as_deref().unwrap_or_default()
        );
    }
    format!("phase {}", status.phase.as_deref().unwrap_or("unknown"))
}

/// How a Pod's server ended: exit code, OOM kill, or the phase.
pub(super) fn ended_reason(pod: &Pod) -> String {
    let terminated = pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|c| c.first())
        .and_then(|c| c.state.as_ref()?.terminated.as_ref());
    match terminated {
        Some(t) if t.reason.as_deref() == Some("OOMKilled") => format!(
            "server Pod exited with status {}; it was killed for exceeding its memory limit",
            t.exit_code
        ),
        Some(t) => format!("server Pod exited with status {}", t.exit_code),
        None => format!(
            "server Pod is {}",
            pod.status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .unwrap_or("gone")
        ),
    }
}
