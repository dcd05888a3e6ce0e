//! The orphan sweeper: removes Berth-labelled containers whose session or
//! owning pod is gone, at start-up and periodically, so a `kill -9` of a
//! pod leaves nothing behind once a pod runs again on that host. A dead
//! pod's running container is spared while another pod holds its session
//! lease (it was, or may be, taken over); an exited one never is.
//!
//! May import: `docker::{host, labels}`, `backend` shapes.

use std::collections::HashMap;

use bollard::container::ListContainersOptions;

use super::host::{DockerHost, engine};
use super::labels::{LABEL_LEASE, LABEL_MANAGED, LABEL_POD, LABEL_STORE};
use crate::backend::BackendError;

/// Containers younger than this are never swept (they may be between
/// creation and registration).
const GRACE_SECS: i64 = 60;

/// Sweeps now and then every `docker.sweep_every` until shutdown.
pub(super) async fn run(host: DockerHost) {
    loop {
        if let Err(e) = sweep_once(&host).await {
            tracing::warn!(error = %e, "container sweep failed; retrying later");
        }
        tokio::select! {
            _ = tokio::time::sleep(host.shared.config.sweep_every) => {}
            _ = host.shared.shutdown.cancelled() => return,
        }
    }
}

/// One sweep; returns how many containers were removed.
pub(super) async fn sweep_once(host: &DockerHost) -> Result<usize, BackendError> {
    let filters = HashMap::from([("label".to_owned(), vec![format!("{LABEL_MANAGED}=true")])]);
    let list = host
        .client()?
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters,
            ..ListContainersOptions::default()
        }))
        .await
        .map_err(|e| engine("list containers", e))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default();
    let mut removed = 0;
    for c in list {
        let Some(id) = c.id else { continue };
        let pod = c
            .labels
            .as_ref()
            .and_then(|l| l.get(LABEL_POD))
            .cloned()
            .unwrap_or_default();
        let young = c.created.is_some_and(|t| now - t < GRACE_SECS);
        let orphan = if host.shared.live.contains_key(&id) {
            false // ours, possibly taken over from a dead pod
        } else if pod == host.shared.pod {
            !young
        } else {
            pod_is_gone(&pod)
        };
        // A session another pod took over, or may still take over (its
        // record has not expired), keeps its container.
        // Another deployment's container (another store) is not this
        // pod's to judge.
        let label = |k: &str| c.labels.as_ref().and_then(|l| l.get(k));
        let probe = &host.shared.lease_probe;
        let foreign = label(LABEL_STORE).is_some_and(|s| s != probe.scope());
        // An exited container serves nobody: a pod killed between
        // stopping one and removing it (a throwaway instance, a closed
        // session) leaves it behind with a lease another pod now holds.
        let ended = matches!(c.state.as_deref(), Some("exited" | "dead"));
        let taken_over = match (orphan, label(LABEL_LEASE)) {
            (false, _) => false,
            (true, _) if foreign => true,
            (true, _) if ended => false,
            (true, Some(lease)) => probe.held(lease).await,
            // A pool container a session claimed carries no lease label.
            (true, None) => match probe.claim_of(&id).await {
                Some(lease) => probe.held(&lease).await,
                None => false,
            },
        };
        if orphan && !taken_over {
            tracing::info!(container = %id, %pod, "removing orphaned container");
            host.remove(&id).await;
            removed += 1;
        }
    }
    Ok(removed)
}

/// A pod named `{hostname}-{pid}` on this host is gone when its process
/// is. Pods on other hosts are judged by their own host's sweeper; a
/// container whose session lease is held elsewhere is spared either way.
fn pod_is_gone(pod: &str) -> bool {
    let Some((host, pid)) = pod.rsplit_once('-') else {
        return false;
    };
    let Ok(pid) = pid.parse::<u32>() else {
        return false;
    };
    let ours = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    if host != ours.trim() {
        return false;
    }
    match std::fs::read_to_string(format!("/proc/{pid}/cmdline")) {
        Ok(cmd) => !cmd.contains("berth"),
        Err(_) => true,
    }
}
