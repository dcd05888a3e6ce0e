//! The internal network HTTP-transport servers listen on.
//!
//! Berth creates one Docker bridge network (`docker.internal_network`,
//! default `berth-internal`) marked `internal` (no route out of the host)
//! with inter-container traffic off, so a server can be reached by Berth
//! and by nothing else: not the internet, not other sessions' containers.
//! An HTTP-transport container joins it instead of `--network none`;
//! [`endpoint`] finds the container's address there and waits until the
//! server accepts connections.
//!
//! May import: `docker::{host, labels}`, `backend` shapes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use bollard::network::{CreateNetworkOptions, ListNetworksOptions};

use super::host::{DockerHost, engine};
use super::labels::LABEL_MANAGED;
use crate::backend::ExitNotice;
use crate::backend::{BackendError, ServerSpec};

/// Docker bridge option that stops containers on the network from
/// reaching each other.
const ICC_OPTION: &str = "com.docker.network.bridge.enable_icc";

/// How long a started container has to accept connections on its port.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a pod that created the internal network waits for others
/// that raced it, before settling on one.
const SETTLE: Duration = Duration::from_millis(300);

/// Pause between readiness probes.
const PROBE_EVERY: Duration = Duration::from_millis(20);

/// Creates the internal network unless it exists; returns its id.
///
/// Docker allows several networks with one name, and pods start
/// concurrently: a pod that created the network waits briefly, then every
/// racer settles on the managed network with that name and the smallest
/// id and removes the others (still unused), because Docker will not
/// start a container whose network name is ambiguous.
pub(super) async fn ensure_internal(host: &DockerHost) -> Result<String, BackendError> {
    let name = &host.shared.config.internal_network;
    let mut known = host.shared.internal_network.lock().await;
    if let Some(id) = known.as_ref() {
        return Ok(id.clone());
    }
    let id = match find(host, name).await? {
        Some(id) => id,
        None => {
            let docker = host.client()?;
            docker
                .create_network(CreateNetworkOptions {
                    name: name.clone(),
                    driver: "bridge".to_owned(),
                    internal: true,
                    options: HashMap::from([(ICC_OPTION.to_owned(), "false".to_owned())]),
                    labels: HashMap::from([(LABEL_MANAGED.to_owned(), "true".to_owned())]),
                    ..CreateNetworkOptions::default()
                })
                .await
                .map_err(|e| engine("create the internal network", e))?;
            // Let concurrent creators finish, then all settle on the
            // smallest id and drop the rest before anyone uses them:
            // Docker refuses to start a container while its network's
            // name is ambiguous.
            tokio::time::sleep(SETTLE).await;
            let all = find_all(host, name).await?;
            let chosen = all.first().cloned().ok_or_else(|| {
                BackendError::Engine(format!(
                    "lost the internal network `{name}` it just created"
                ))
            })?;
            for extra in all.iter().skip(1) {
                let _ = docker.remove_network(extra).await;
            }
            chosen
        }
    };
    *known = Some(id.clone());
    Ok(id)
}

/// Forgets the internal network's id (someone removed it; the next
/// container start finds or creates it again).
pub(super) async fn forget_internal(host: &DockerHost) {
    *host.shared.internal_network.lock().await = None;
}

/// The smallest id among managed networks called exactly `name`.
async fn find(host: &DockerHost, name: &str) -> Result<Option<String>, BackendError> {
    Ok(find_all(host, name).await?.into_iter().next())
}

/// Ids of the managed networks called exactly `name`, smallest first.
async fn find_all(host: &DockerHost, name: &str) -> Result<Vec<String>, BackendError> {
    let filters = HashMap::from([
        ("name".to_owned(), vec![name.to_owned()]),
        ("label".to_owned(), vec![format!("{LABEL_MANAGED}=true")]),
    ]);
    let networks = host
        .client()?
        .list_networks(Some(ListNetworksOptions { filters }))
        .await
        .map_err(|e| engine("list networks", e))?;
    // The name filter matches substrings.
    let mut ids: Vec<String> = networks
        .into_iter()
        .filter(|n| n.name.as_deref() == Some(name))
        .filter_map(|n| n.id)
        .collect();
    ids.sort();
    Ok(ids)
}

/// The server's MCP endpoint on the internal network, once it accepts
/// connections; fails if the container ends or never listens.
pub(super) async fn endpoint(
    host: DockerHost,
    id: String,
    spec: ServerSpec,
    notice: Arc<ExitNotice>,
) -> Result<url::Url, String> {
    let network = host.shared.config.internal_network.clone();
    let deadline = tokio::time::Instant::now() + LISTEN_TIMEOUT;
    let mut address: Option<String> = None;
    loop {
        if notice.has_fired() {
            return Err("the server container ended before it listened on its port".into());
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "the server did not accept connections on port {} within {}s; check the deployment's `port` and that the server listens on 0.0.0.0",
                spec.port,
                LISTEN_TIMEOUT.as_secs()
            ));
        }
        if address.is_none() {
            address = container_address(&host, &id, &network).await;
        }
        if let Some(ip) = &address {
            let target = format!("{ip}:{}", spec.port);
            if tokio::net::TcpStream::connect(&target).await.is_ok() {
                let url = format!("http://{target}{}", spec.path);
                return url::Url::parse(&url)
                    .map_err(|e| format!("`{url}` is not a usable endpoint URL: {e}"));
            }
        }
        tokio::time::sleep(PROBE_EVERY).await;
    }
}

/// The container's IP on `network`, once it has one.
async fn container_address(host: &DockerHost, id: &str, network: &str) -> Option<String> {
    let info = host.client().ok()?.inspect_container(id, None).await.ok()?;
    let networks = info.network_settings?.networks?;
    networks
        .get(network)?
        .ip_address
        .clone()
        .filter(|ip| !ip.is_empty())
}
