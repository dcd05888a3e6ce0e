//! The orphan sweeper: deletes session Pods (and env Secrets) whose
//! session or owning runtime pod is gone, at start-up and every
//! `kubernetes.sweep_every`, so a `kill -9` of a runtime pod leaves
//! nothing running once any runtime pod of the deployment runs.
//!
//! A Pod is judged by what it carries: one with a session lease (a
//! session another pod may take over) is an orphan once the lease is
//! neither held nor its record alive; one without (a warm Pod, or a
//! session on a single pod) is an orphan when its owner is this pod and
//! does not know it (a restarted process), or when its owner stopped
//! renewing its heartbeat annotation (every sweep). Only Pods of this
//! deployment's store are judged, and none of this pod's own younger than
//! a minute (they may be starting).
//!
//! May import: `kubernetes::{host, labels, pod}`, `backend` shapes.

use std::collections::HashSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{ListParams, Patch, PatchParams};

use super::host::KubeHost;
use super::labels::{ANNOTATION_LEASE, LABEL_FOR_POD, LABEL_OWNER, label_value};
use crate::backend::BackendError;

/// This pod's own Pods younger than this are never swept (they may be
/// between creation and registration), nor Secrets (their Pod may be
/// being created).
const GRACE: Duration = Duration::from_secs(60);

/// Slack on top of three missed heartbeats before another pod's Pod
/// without a lease counts as orphaned.
const STALE_MARGIN: Duration = Duration::from_secs(10);

/// The annotation a runtime pod renews on its Pods without a lease.
pub(super) const ANNOTATION_HEARTBEAT: &str = "berth.dev/heartbeat";

/// Sweeps now and then every `kubernetes.sweep_every` until shutdown.
pub(super) async fn run(host: KubeHost) {
    loop {
        match sweep_once(&host).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(removed = n, "swept orphaned session Pods"),
            Err(e) => tracing::warn!(error = %e, "session Pod sweep failed; retrying later"),
        }
        tokio::select! {
            _ = tokio::time::sleep(host.shared.config.sweep_every) => {}
            _ = host.shared.shutdown.cancelled() => return,
        }
    }
}

/// One sweep: renews this pod's heartbeats, then deletes orphans; returns
/// how many Pods it deleted.
pub(super) async fn sweep_once(host: &KubeHost) -> Result<usize, BackendError> {
    let pods = host
        .pods()
        .list_metadata(&ListParams::default().labels(&host.selector()))
        .await
        .map_err(|e| host.error("list pods", e))?;
    let me = label_value(&host.shared.pod);
    let now = unix_now();
    // A heartbeat older than three sweeps means its pod is gone.
    let stale = 3 * host.shared.config.sweep_every.as_secs() + STALE_MARGIN.as_secs();
    let mut names = HashSet::new();
    let mut removed = 0;
    for pod in &pods.items {
        let meta = &pod.metadata;
        let Some(name) = meta.name.clone() else {
            continue;
        };
        names.insert(name.clone());
        if meta.deletion_timestamp.is_some() {
            continue;
        }
        let label = |k: &str| meta.labels.as_ref().and_then(|l| l.get(k)).cloned();
        let annotation = |k: &str| meta.annotations.as_ref().and_then(|a| a.get(k)).cloned();
        let ours = label(LABEL_OWNER).as_deref() == Some(me.as_str());
        let live = host.shared.live.contains_key(&name);
        let lease = annotation(ANNOTATION_LEASE);
        if live {
            if lease.is_none() {
                renew(host, &name, now).await;
            }
            continue;
        }
        // A Pod this pod is still creating is not in `live` yet.
        if ours && age(meta, now) < GRACE.as_secs() {
            continue;
        }
        let orphan = match &lease {
            Some(lease) => !host.shared.lease_probe.held(lease).await,
            None if ours => true,
            None => {
                let beat = annotation(ANNOTATION_HEARTBEAT)
                    .and_then(|b| b.parse::<u64>().ok())
                    .unwrap_or_else(|| now.saturating_sub(age(meta, now)));
                now.saturating_sub(beat) > stale
            }
        };
        if orphan {
            tracing::info!(pod = %name, owner = ?label(LABEL_OWNER), "deleting an orphaned session Pod");
            host.delete(&name).await;
            removed += 1;
        }
    }
    sweep_secrets(host, &names, now).await?;
    Ok(removed)
}

/// Deletes env Secrets whose Pod no longer exists.
async fn sweep_secrets(
    host: &KubeHost,
    pods: &HashSet<String>,
    now: u64,
) -> Result<(), BackendError> {
    let secrets = host
        .secrets()
        .list_metadata(&ListParams::default().labels(&host.selector()))
        .await
        .map_err(|e| host.error("list secrets", e))?;
    for secret in secrets.items {
        let meta = &secret.metadata;
        let for_pod = meta.labels.as_ref().and_then(|l| l.get(LABEL_FOR_POD));
        let (Some(name), Some(for_pod)) = (&meta.name, for_pod) else {
            continue;
        };
        if !pods.contains(for_pod) && age(meta, now) >= GRACE.as_secs() {
            tracing::info!(secret = %name, "deleting the env Secret of a session Pod that is gone");
            let _ = host
                .secrets()
                .delete(name, &kube::api::DeleteParams::default())
                .await;
        }
    }
    Ok(())
}

/// Renews this pod's heartbeat on Pod `name`.
async fn renew(host: &KubeHost, name: &str, now: u64) {
    let patch =
        serde_json::json!({"metadata": {"annotations": {ANNOTATION_HEARTBEAT: now.to_string()}}});
    if let Err(e) = host
        .pods()
        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
        .await
    {
        tracing::debug!(pod = %name, error = %e, "could not renew a Pod's heartbeat");
    }
}

/// Seconds since `meta` was created (0 when unknown).
fn age(meta: &ObjectMeta, now: u64) -> u64 {
    meta.creation_timestamp
        .as_ref()
        .map(|t| now.saturating_sub(t.0.as_second().max(0) as u64))
        .unwrap_or(0)
}

/// Seconds since the Unix epoch.
pub(super) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default()
}
