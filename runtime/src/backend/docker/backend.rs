//! [`DockerBackend`] as a [`Backend`]: start (from a warm pool or a new
//! container), re-attach after a failover, fill, retire and drain pools.
//!
//! May import: the other `docker` files, `backend` shapes, `config`.

use std::sync::Arc;

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::host::{DockerHost, Slot};
use super::{attach, container, events, sweep};
use crate::backend::pool::Pools;
use crate::backend::{
    Backend, BackendError, InboundSink, Instance, InstanceLabels, LeaseProbe, Pinned, ServerSpec,
};
use crate::config::{DockerConfig, Transport};

/// Runs instances as containers.
#[derive(Clone)]
pub(crate) struct DockerBackend {
    host: DockerHost,
    pools: Arc<Pools<Slot>>,
}

// === impl DockerBackend ===

impl DockerBackend {
    /// Connects to the engine (lazily: an unreachable engine is reported
    /// per start, and Berth recovers when it returns) and starts the
    /// sweeper and the event watcher.
    pub(crate) fn connect(
        config: DockerConfig,
        pod: String,
        lease_probe: Arc<dyn LeaseProbe>,
        shutdown: CancellationToken,
    ) -> Result<Self, BackendError> {
        let host = DockerHost::new(config, pod, lease_probe, shutdown);
        tokio::spawn(sweep::run(host.clone()));
        tokio::spawn(events::watch(host.clone()));
        Ok(DockerBackend {
            host,
            pools: Arc::new(Pools::default()),
        })
    }

    /// Whether container `id` is running (a container the engine cannot
    /// inspect is not); `Err` when the engine is unreachable.
    async fn is_running(&self, id: &str) -> Result<bool, BackendError> {
        let docker = self.host.client()?;
        Ok(match docker.inspect_container(id, None).await {
            Ok(info) => info.state.and_then(|s| s.running).unwrap_or(false),
            Err(_) => false,
        })
    }
}

#[async_trait]
impl Backend for DockerBackend {
    fn name(&self) -> &'static str {
        "docker"
    }

    async fn pin(&self, spec: &ServerSpec) -> Result<Pinned, BackendError> {
        Ok(Pinned {
            image: Some(container::image_digest(&self.host, spec.image()?).await?),
            executable: None,
        })
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
            self.host.remove(resume).await;
            return Ok(None);
        }
        if !self.is_running(resume).await? {
            return Ok(None);
        }
        let slot = self.host.reserve(&spec.tenant)?;
        tracing::info!(container = %resume, "re-attaching to a running container after failover");
        attach::attach(&self.host, resume, spec, labels, sink, slot)
            .await
            .map(Some)
    }

    async fn drain(&self) {
        self.pools.drain(&self.host).await;
    }

    async fn prepare(&self, specs: &[ServerSpec]) {
        for spec in specs.iter().filter(|s| s.warm_pool > 0) {
            self.pools.keep_filled(&self.host, spec.clone());
        }
    }

    async fn retire(&self, spec: &ServerSpec) {
        self.pools.retire(&self.host, spec).await;
    }

    async fn start(
        &self,
        spec: &ServerSpec,
        labels: &InstanceLabels,
        sink: Arc<dyn InboundSink>,
    ) -> Result<Instance, BackendError> {
        while let Some(warm) = self.pools.claim(&self.host, spec) {
            self.pools.note_claim(spec);
            // A warm server may have died while it waited (OOM, a crash):
            // its container still stands, and an attach to a stopped
            // container waits for it to start again, leaving the session
            // talking to nobody until the request timeout.
            let running = self.is_running(&warm.id).await;
            if !matches!(running, Ok(true)) {
                tracing::warn!(container = %warm.id, error = ?running.err(), "warm container is not running (or the engine cannot say); removing it and trying the next");
                self.host.remove(&warm.id).await;
                continue;
            }
            match attach::attach(&self.host, &warm.id, spec, labels, sink.clone(), warm.slot).await
            {
                Ok(instance) => {
                    if let Some(lease) = &labels.lease {
                        self.host.shared.lease_probe.claim(&warm.id, lease).await;
                    }
                    return Ok(instance);
                }
                Err(e) => {
                    tracing::warn!(container = %warm.id, error = %e, "warm container unusable; removing it and trying the next");
                    self.host.remove(&warm.id).await;
                }
            }
        }
        self.pools.note_claim(spec);
        let slot = self.host.reserve(&spec.tenant)?;
        let id =
            container::create(&self.host, spec, &labels.session, labels.lease.as_deref()).await?;
        attach::attach_and_start(&self.host, &id, spec, labels, sink, slot).await
    }
}
