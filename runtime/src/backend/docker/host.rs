//! The Docker host this pod uses: the engine client (connected lazily, so
//! Berth starts and recovers while the engine is down), the containers
//! this pod owns, and the per-pod and per-tenant capacity slots.
//!
//! May import: `backend` shapes, `backend::http_bridge`
//! (its client), `config`.

use std::sync::Arc;

use bollard::Docker;
use bollard::container::RemoveContainerOptions;
use dashmap::DashMap;
use parking_lot::RwLock;
use tokio_util::sync::CancellationToken;

use crate::backend::ExitNotice;
use crate::backend::{BackendError, LeaseProbe};
use crate::config::DockerConfig;

/// The engine connection and what this pod owns on the host; a cheap
/// `Clone` handle.
#[derive(Clone)]
pub(super) struct DockerHost {
    pub(super) shared: Arc<Shared>,
}

pub(super) struct Shared {
    /// The engine client, created on first use (and again after a failed
    /// attempt), so Berth starts and recovers while the engine is down.
    docker: RwLock<Option<Docker>>,
    pub(super) pod: String,
    pub(super) config: DockerConfig,
    /// Containers this pod owns (sessions and pools), by id.
    pub(super) live: DashMap<String, Arc<ExitNotice>>,
    /// Running containers per tenant (pools included).
    pub(super) per_tenant: DashMap<String, usize>,
    pub(super) shutdown: CancellationToken,
    /// Client for HTTP-transport servers.
    pub(super) http: reqwest::Client,
    /// Asks whether a session another pod may take over is alive (the
    /// sweeper spares its container).
    pub(super) lease_probe: Arc<dyn LeaseProbe>,
    /// Id of the internal network, once it exists.
    pub(super) internal_network: tokio::sync::Mutex<Option<String>>,
}

/// A reserved container slot; released when dropped.
pub(super) struct Slot {
    shared: Arc<Shared>,
    tenant: String,
}

// === impl DockerHost ===

impl DockerHost {
    /// A backend for the engine `config` names; nothing is contacted yet.
    pub(super) fn new(
        config: DockerConfig,
        pod: String,
        lease_probe: Arc<dyn LeaseProbe>,
        shutdown: CancellationToken,
    ) -> Self {
        DockerHost {
            shared: Arc::new(Shared {
                docker: RwLock::new(None),
                pod,
                config,
                live: DashMap::new(),
                per_tenant: DashMap::new(),
                shutdown,
                http: crate::backend::http_bridge::client(),
                internal_network: tokio::sync::Mutex::new(None),
                lease_probe,
            }),
        }
    }

    /// The engine client; connects on first use.
    pub(super) fn client(&self) -> Result<Docker, BackendError> {
        if let Some(d) = self.shared.docker.read().as_ref() {
            return Ok(d.clone());
        }
        let connected = match &self.shared.config.host {
            Some(h) => {
                let path = h.strip_prefix("unix://").unwrap_or(h);
                Docker::connect_with_unix(path, 120, bollard::API_DEFAULT_VERSION)
            }
            None => Docker::connect_with_local_defaults(),
        }
        .map_err(|e| {
            BackendError::Engine(format!(
                "is unreachable ({e}); check that dockerd runs and docker.host points at it"
            ))
        })?;
        *self.shared.docker.write() = Some(connected.clone());
        Ok(connected)
    }

    pub(super) fn reserve(&self, tenant: &str) -> Result<Slot, BackendError> {
        let cfg = &self.shared.config;
        let total: usize = self.shared.per_tenant.iter().map(|e| *e.value()).sum();
        if total >= cfg.max_containers {
            return Err(BackendError::Capacity(format!(
                "this Berth pod runs its maximum of {} containers (docker.max_containers)",
                cfg.max_containers
            )));
        }
        let mut n = self.shared.per_tenant.entry(tenant.to_owned()).or_insert(0);
        if *n >= cfg.max_containers_per_tenant {
            return Err(BackendError::Capacity(format!(
                "tenant `{tenant}` runs its maximum of {} containers on this pod (docker.max_containers_per_tenant)",
                cfg.max_containers_per_tenant
            )));
        }
        *n += 1;
        Ok(Slot {
            shared: self.shared.clone(),
            tenant: tenant.to_owned(),
        })
    }
}

// === impl Slot ===

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(mut n) = self.shared.per_tenant.get_mut(&self.tenant) {
            *n = n.saturating_sub(1);
        }
    }
}

/// Maps an engine error to a [`BackendError`].
pub(super) fn engine(context: &str, e: bollard::errors::Error) -> BackendError {
    match e {
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            message,
        } => BackendError::Engine(format!("{context}: not found ({message})")),
        bollard::errors::Error::DockerResponseServerError { message, .. } => {
            BackendError::Engine(format!("refused to {context}: {message}"))
        }
        other => BackendError::Engine(format!(
            "is unreachable ({context}: {other}); check that dockerd runs and docker.host points at it"
        )),
    }
}

// === impl DockerHost (removal) ===

impl DockerHost {
    /// Force-removes a container and forgets it.
    pub(super) async fn remove(&self, id: &str) {
        let opts = RemoveContainerOptions {
            force: true,
            v: true,
            ..RemoveContainerOptions::default()
        };
        let outcome = match self.client() {
            Ok(docker) => docker.remove_container(id, Some(opts)).await,
            Err(e) => {
                tracing::warn!(container = %id, error = %e, "could not remove container; the sweeper will retry");
                self.shared.live.remove(id);
                return;
            }
        };
        if let Err(e) = outcome {
            let gone = matches!(
                &e,
                bollard::errors::Error::DockerResponseServerError {
                    status_code: 404,
                    ..
                }
            );
            if !gone {
                tracing::warn!(container = %id, error = %e, "could not remove container; the sweeper will retry");
            }
        }
        self.shared.live.remove(id);
    }
}
