//! The fake kubelet's container engine: the test dockerd (`DOCKER_HOST`),
//! the one internal docker network every pod joins, the labels on pod
//! containers, and removing a fake's containers (async, and blocking for
//! `Drop`).
//!
//! Imports no sibling module.

use std::collections::HashMap;

use bollard::Docker;
use bollard::container::{ListContainersOptions, RemoveContainerOptions};
use bollard::network::{CreateNetworkOptions, ListNetworksOptions};

/// Label on every pod container: `<namespace>/<pod name>`.
pub const LABEL_POD: &str = "fake-kube.pod";
/// Label on every pod container: the id of the `FakeKube` that made it.
pub const LABEL_INSTANCE: &str = "fake-kube.instance";
/// Label on every pod container: the pod's uid.
pub(crate) const LABEL_UID: &str = "fake-kube.uid";
/// The docker network pods join (internal: no route out).
pub const NETWORK: &str = "fake-kube-pods";

/// Serializes network creation within the test process.
static NETWORK_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Connects to the engine `DOCKER_HOST` names (`unix://…`).
pub(crate) fn connect() -> Result<Docker, String> {
    let host = std::env::var("DOCKER_HOST").map_err(|_| {
        "DOCKER_HOST is not set: the fake kubelet needs the test dockerd".to_owned()
    })?;
    let path = host.strip_prefix("unix://").unwrap_or(&host);
    Docker::connect_with_unix(path, 120, bollard::API_DEFAULT_VERSION)
        .map_err(|e| format!("cannot reach dockerd at {host}: {e}"))
}

/// The id of the pods' network, created (`internal: true`) if missing.
/// Docker allows several networks with one name: all users settle on the
/// smallest id.
pub(crate) async fn ensure_network(docker: &Docker) -> Result<String, String> {
    let _guard = NETWORK_LOCK.lock().await;
    if let Some(id) = find_network(docker, NETWORK).await? {
        return Ok(id);
    }
    docker
        .create_network(CreateNetworkOptions {
            name: NETWORK.to_owned(),
            driver: "bridge".to_owned(),
            internal: true,
            labels: HashMap::from([("fake-kube".to_owned(), "true".to_owned())]),
            ..CreateNetworkOptions::default()
        })
        .await
        .map_err(|e| format!("create network {NETWORK}: {e}"))?;
    find_network(docker, NETWORK)
        .await?
        .ok_or_else(|| format!("network {NETWORK} vanished after it was created"))
}

/// The smallest id of the networks called exactly `name`.
pub(crate) async fn find_network(docker: &Docker, name: &str) -> Result<Option<String>, String> {
    let filters = HashMap::from([("name".to_owned(), vec![name.to_owned()])]);
    let networks = docker
        .list_networks(Some(ListNetworksOptions { filters }))
        .await
        .map_err(|e| format!("list networks: {e}"))?;
    let mut ids: Vec<String> = networks
        .into_iter()
        .filter(|n| n.name.as_deref() == Some(name))
        .filter_map(|n| n.id)
        .collect();
    ids.sort();
    Ok(ids.into_iter().next())
}

/// Removes (force, with volumes) every container of fake `instance`.
pub(crate) async fn remove_all(docker: &Docker, instance: &str) {
    let filters = HashMap::from([(
        "label".to_owned(),
        vec![format!("{LABEL_INSTANCE}={instance}")],
    )]);
    let Ok(list) = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters,
            ..ListContainersOptions::default()
        }))
        .await
    else {
        return;
    };
    for c in list {
        if let Some(id) = c.id {
            let _ = docker
                .remove_container(
                    &id,
                    Some(RemoveContainerOptions {
                        force: true,
                        v: true,
                        ..RemoveContainerOptions::default()
                    }),
                )
                .await;
        }
    }
}

/// The same as [`remove_all`] with the docker CLI, blocking (for `Drop`,
/// which cannot await and may run while a test panics).
pub(crate) fn remove_all_blocking(instance: &str) {
    let Ok(out) = std::process::Command::new("docker")
        .args(["ps", "-aq", "--no-trunc", "--filter"])
        .arg(format!("label={LABEL_INSTANCE}={instance}"))
        .output()
    else {
        return;
    };
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect();
    if ids.is_empty() {
        return;
    }
    let _ = std::process::Command::new("docker")
        .args(["rm", "-f", "-v"])
        .args(&ids)
        .output();
}
