//! [`KubernetesBackend`] as a [`Backend`]: start (from a warm Pod or a
//! new one), re-attach the same Pod after a failover, pin images to their
//! digest, fill, retire and drain pools.
//!
//! May import: the other `kubernetes` files, `backend` shapes and pools,
//! `config`.

use std::sync::Arc;

use async_trait::async_trait;
use kube::api::{Patch, PatchParams};
use tokio_util::sync::CancellationToken;

use super::host::{KubeHost, is_not_found};
use super::labels::{ANNOTATION_LEASE, LABEL_OWNER, LABEL_SESSION, label_value};
use super::pod::{self, CONTAINER};
use super::{attach, start, sweep};
use crate::backend::pool::{Pools, Warm, WarmHost};
use crate::backend::{
    Backend, BackendError, ExitNotice, InboundSink, Instance, InstanceLabels, LeaseProbe, Pinned,
    ServerSpec,
};
use crate::config::{KubernetesConfig, Transport};

/// Runs instances as Pods.
#[derive(Clone)]
pub(crate) struct KubernetesBackend {
    host: KubeHost,
    pools: Arc<Pools<()>>,
}

// === impl KubernetesBackend ===

impl KubernetesBackend {
    /// Sets up the API client (nothing is contacted yet) and starts the
    /// sweeper.
    pub(crate) async fn connect(
        config: KubernetesConfig,
        pod: String,
        lease_probe: Arc<dyn LeaseProbe>,
        shutdown: CancellationToken,
    ) -> Result<Self, BackendError> {
        let host = KubeHost::connect(config, pod, lease_probe, shutdown).await?;
        tokio::spawn(sweep::run(host.clone()));
        Ok(KubernetesBackend {
            host,
            pools: Arc::new(Pools::default()),
        })
    }

    /// Makes running Pod `name` this pod's, for the session `labels` name.
    async fn claim(&self, name: &str, labels: &InstanceLabels) -> Result<(), BackendError> {
        let mut patch = serde_json::json!({
            "metadata": {
                "labels": {
                    LABEL_OWNER: label_value(&self.host.shared.pod),
                    LABEL_SESSION: label_value(&labels.session),
                },
            },
        });
        if let Some(lease) = &labels.lease {
            patch["metadata"]["annotations"] = serde_json::json!({ANNOTATION_LEASE: lease});
        }
        self.host
            .pods()
            .patch(name, &PatchParams::default(), &Patch::Merge(patch))
            .await
            .map_err(|e| self.host.error("patch pods", e))?;
        Ok(())
    }
}

#[async_trait]
impl Backend for KubernetesBackend {
    fn name(&self) -> &'static str {
        "kubernetes"
    }

    /// A reference with a digest is pinned as it is; a tag is resolved by
    /// the cluster itself: a short-lived Pod runs it and the digest the
    /// kubelet pulled (`imageID`) becomes the version's image.
    async fn pin(&self, spec: &ServerSpec) -> Result<Pinned, BackendError> {
        let image = spec.image()?;
        if image.contains("@sha256:") {
            return Ok(Pinned {
                image: Some(image.to_owned()),
                executable: None,
            });
        }
        let mut probe = spec.clone();
        probe.secret_env = Default::default();
        let name = start::create(&self.host, &probe, "pin", None).await?;
        let pod = self.host.pods().get(&name).await;
        self.host.delete(&name).await;
        let pod = pod.map_err(|e| self.host.error("get pods", e))?;
        let image_id = pod
            .status
            .and_then(|s| s.container_statuses)
            .and_then(|c| c.into_iter().find(|c| c.name == CONTAINER))
            .map(|c| c.image_id)
            .filter(|id| !id.is_empty())
            .ok_or_else(|| {
                BackendError::Cluster(format!(
                    "ran `{image}` but did not report the digest it pulled (imageID)"
                ))
            })?;
        Ok(Pinned {
            image: Some(pinned_reference(image, &image_id)),
            executable: None,
        })
    }

    async fn start(
        &self,
        spec: &ServerSpec,
        labels: &InstanceLabels,
        sink: Arc<dyn InboundSink>,
    ) -> Result<Instance, BackendError> {
        if let Some(warm) = self.pools.claim(&self.host, spec) {
            self.pools.note_claim(spec);
            let claimed = match self.claim(&warm.id, labels).await {
                Ok(()) => attach::attach(&self.host, &warm.id, spec, labels, sink.clone()).await,
                Err(e) => Err(e),
            };
            match claimed {
                Ok(instance) => return Ok(instance),
                Err(e) => {
                    tracing::warn!(pod = %warm.id, error = %e, "warm Pod unusable; starting a fresh one");
                    self.host.delete(&warm.id).await;
                }
            }
        }
        self.pools.note_claim(spec);
        let name =
            start::create(&self.host, spec, &labels.session, labels.lease.as_deref()).await?;
        match attach::attach(&self.host, &name, spec, labels, sink).await {
            Ok(instance) => Ok(instance),
            Err(e) => {
                self.host.delete(&name).await;
                Err(e)
            }
        }
    }

    async fn reattach(
        &self,
        spec: &ServerSpec,
        labels: &InstanceLabels,
        resume: &str,
        sink: Arc<dyn InboundSink>,
    ) -> Result<Option<Instance>, BackendError> {
        if spec.transport == Transport::Http {
            // The server's protocol session lived in the dead pod's
            // bridge: a fresh Pod and a replayed `initialize` it is.
            self.host.delete(resume).await;
            return Ok(None);
        }
        let pod = match self.host.pods().get(resume).await {
            Ok(pod) => pod,
            Err(e) if is_not_found(&e) => return Ok(None),
            Err(e) => return Err(self.host.error("get pods", e)),
        };
        let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running")
            && pod.metadata.deletion_timestamp.is_none();
        if !running {
            self.host.delete(resume).await;
            return Ok(None);
        }
        tracing::info!(pod = %resume, "re-attaching to a running Pod after failover");
        self.claim(resume, labels).await?;
        attach::attach(&self.host, resume, spec, labels, sink)
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
}

#[async_trait]
impl WarmHost for KubeHost {
    type Slot = ();

    async fn start_warm(&self, spec: &ServerSpec) -> Result<Warm<()>, BackendError> {
        let id = start::create(self, spec, "pool", None).await?;
        self.shared
            .live
            .insert(id.clone(), ExitNotice::new_detached());
        Ok(Warm { id, slot: () })
    }

    async fn remove_warm(&self, id: &str) {
        self.delete(id).await;
    }

    fn shutdown(&self) -> &CancellationToken {
        &self.shared.shutdown
    }

    fn config_hash(&self, spec: &ServerSpec) -> String {
        pod::config_hash(spec)
    }
}

/// `image` pinned to the digest in a container status's `imageID`
/// (`docker-pullable://repo@sha256:…`, `repo@sha256:…` or a bare
/// `sha256:…`).
fn pinned_reference(image: &str, image_id: &str) -> String {
    let digest = match image_id.rsplit_once('@') {
        Some((_, digest)) => digest,
        None => image_id.rsplit("://").next().unwrap_or(image_id),
    };
    // The repository without its tag (a `:` after the last `/`).
    let slash = image.rfind('/').map_or(0, |i| i + 1);
    let repository = match image[slash..].find(':') {
        Some(colon) => &image[..slash + colon],
        None => image,
    };
    format!("{repository}@{digest}")
}

#[cfg(test)]
mod tests {
    use super::pinned_reference;

    #[test]
    fn a_tag_is_replaced_by_the_digest_the_kubelet_pulled() {
        let d = "sha256:0a1b";
        assert_eq!(
            pinned_reference("berth/example-server", d),
            "berth/example-server@sha256:0a1b"
        );
        assert_eq!(
            pinned_reference(
                "registry:5000/team/echo:v2",
                "docker-pullable://registry:5000/team/echo@sha256:0a1b"
            ),
            "registry:5000/team/echo@sha256:0a1b"
        );
        assert_eq!(
            pinned_reference("ghcr.io/x/y:latest", "ghcr.io/x/y@sha256:0a1b"),
            "ghcr.io/x/y@sha256:0a1b"
        );
    }
}
