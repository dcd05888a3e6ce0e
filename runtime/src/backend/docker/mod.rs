//! The docker backend: one hardened container per hosting session, created
//! on demand through the Docker Engine API (bollard).
//!
//! Containers run the deployment's image pinned to its digest, as a
//! non-root user, read-only root with a small `/tmp` tmpfs, all
//! capabilities dropped, `no-new-privileges`, an init process, memory/CPU/
//! pids limits and no network unless the deployment grants one
//! ([`spec`]). Berth attaches to the container's stdio and speaks
//! newline-delimited JSON-RPC, or, for `transport = "http"`, speaks
//! Streamable HTTP to the server's port on an internal network with no
//! route out ([`attach`], [`network`]). Caps per tenant and per pod turn
//! excess starts into clear 503s; warm pools keep started containers ready
//! ([`pool`]); a sweeper removes containers whose owner is gone ([`sweep`]);
//! the engine's event stream reports exits and OOM kills ([`events`]).

mod attach;
mod events;
mod network;
mod pool;
mod spec;
mod sweep;

pub use self::spec::{
    LABEL_CONFIG, LABEL_LEASE, LABEL_MANAGED, LABEL_POD, LABEL_SERVER, LABEL_SESSION, LABEL_STORE,
    LABEL_TENANT,
};
pub use self::sweep::sweep_once;

use std::sync::Arc;

use async_trait::async_trait;
use bollard::Docker;
use dashmap::DashMap;
use tokio_util::sync::CancellationToken;

use super::{Backend, BackendError, InboundSink, Instance, InstanceLabels, LeaseProbe, ServerSpec};
use crate::config::{DockerConfig, Transport};

/// Runs instances as containers.
#[derive(Clone)]
pub struct DockerBackend {
    shared: Arc<Shared>,
}

struct Shared {
    /// The engine client, created on first use (and again after a failed
    /// attempt), so Berth starts and recovers while the engine is down.
    docker: std::sync::RwLock<Option<Docker>>,
    pod: String,
    config: DockerConfig,
    /// Containers this pod owns (sessions and pools), by id.
    live: DashMap<String, Arc<attach::ExitNotice>>,
    /// Running containers per tenant (pools included).
    per_tenant: DashMap<String, usize>,
    pools: pool::Pools,
    shutdown: CancellationToken,
    /// Client for HTTP-transport servers.
    http: reqwest::Client,
    /// Asks whether a session another pod may take over is alive (the
    /// sweeper spares its container).
    lease_probe: Arc<dyn LeaseProbe>,
    /// Id of the internal network, once it exists.
    internal_network: tokio::sync::Mutex<Option<String>>,
}

/// A reserved container slot; released when dropped.
struct Slot {
    shared: Arc<Shared>,
    tenant: String,
}

// === impl DockerBackend ===

impl DockerBackend {
    /// Connects to the engine (lazily: an unreachable engine is reported
    /// per start, and Berth recovers when it returns) and starts the
    /// sweeper and the event watcher.
    pub fn connect(
        config: DockerConfig,
        pod: String,
        lease_probe: Arc<dyn LeaseProbe>,
        shutdown: CancellationToken,
    ) -> Result<Self, BackendError> {
        let backend = DockerBackend {
            shared: Arc::new(Shared {
                docker: std::sync::RwLock::new(None),
                pod,
                config,
                live: DashMap::new(),
                per_tenant: DashMap::new(),
                pools: pool::Pools::default(),
                shutdown,
                http: crate::backend::http_bridge::client(),
                internal_network: tokio::sync::Mutex::new(None),
                lease_probe,
            }),
        };
        tokio::spawn(sweep::run(backend.clone()));
        tokio::spawn(events::watch(backend.clone()));
        Ok(backend)
    }

    /// The engine client; connects on first use.
    fn client(&self) -> Result<Docker, BackendError> {
        if let Some(d) = self
            .shared
            .docker
            .read()
            .expect("engine lock poisoned")
            .as_ref()
        {
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
        *self.shared.docker.write().expect("engine lock poisoned") = Some(connected.clone());
        Ok(connected)
    }

    fn reserve(&self, tenant: &str) -> Result<Slot, BackendError> {
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

#[async_trait]
impl Backend for DockerBackend {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn reattach(
        &self,
        spec: &ServerSpec,
        labels: &InstanceLabels,
        resume: &str,
        sink: Arc<dyn InboundSink>,
    ) -> Result<Option<Instance>, BackendError> {
        if spec.transport == Transport::Http {
            // The server's own protocol session lived in the dead pod's
            // bridge; a fresh container and a replayed `initialize` it is.
            attach::remove(self, resume).await;
            return Ok(None);
        }
        let docker = self.client()?;
        let running = match docker.inspect_container(resume, None).await {
            Ok(info) => info.state.and_then(|s| s.running).unwrap_or(false),
            Err(_) => false,
        };
        if !running {
            return Ok(None);
        }
        let slot = self.reserve(&spec.tenant)?;
        tracing::info!(container = %resume, "re-attaching to a running container after failover");
        attach::attach(self, resume, spec, labels, sink, slot)
            .await
            .map(Some)
    }

    async fn drain(&self) {
        pool::drain(self).await;
    }

    async fn prepare(&self, specs: &[ServerSpec]) {
        for spec in specs.iter().filter(|s| s.warm_pool > 0) {
            pool::keep_filled(self.clone(), spec.clone());
        }
    }

    async fn start(
        &self,
        spec: &ServerSpec,
        labels: &InstanceLabels,
        sink: Arc<dyn InboundSink>,
    ) -> Result<Instance, BackendError> {
        if let Some(warm) = self.shared.pools.claim(spec) {
            pool::note_claim(self, spec);
            match attach::attach(self, &warm.id, spec, labels, sink.clone(), warm.slot).await {
                Ok(instance) => {
                    if let Some(lease) = &labels.lease {
                        self.shared.lease_probe.claim(&warm.id, lease).await;
                    }
                    return Ok(instance);
                }
                Err(e) => {
                    tracing::warn!(container = %warm.id, error = %e, "warm container unusable; starting a fresh one")
                }
            }
        }
        pool::note_claim(self, spec);
        let slot = self.reserve(&spec.tenant)?;
        let id = spec::create(self, spec, &labels.session, labels.lease.as_deref()).await?;
        attach::attach_and_start(self, &id, spec, labels, sink, slot).await
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
fn engine(context: &str, e: bollard::errors::Error) -> BackendError {
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
