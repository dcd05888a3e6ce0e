//! The Kubernetes side this pod uses: the API client, the sessions
//! namespace, the Pods this pod owns, the per-namespace and per-tenant
//! caps, and how the API's refusals become errors an agent and an
//! operator can act on.
//!
//! May import: `kubernetes::labels`, `backend` shapes, `config`.

use std::sync::Arc;

use dashmap::DashMap;
use k8s_openapi::api::core::v1::{Pod, Secret};
use kube::Api;
use kube::api::{DeleteParams, ListParams};
use tokio_util::sync::CancellationToken;

use super::labels::{LABEL_MANAGED, LABEL_STORE, LABEL_TENANT, label_value};
use crate::backend::{BackendError, ExitNotice, LeaseProbe};
use crate::config::KubernetesConfig;

/// The API connection and what this pod owns; a cheap `Clone` handle.
#[derive(Clone)]
pub(super) struct KubeHost {
    pub(super) shared: Arc<Shared>,
}

pub(super) struct Shared {
    client: kube::Client,
    /// The sessions namespace.
    pub(super) namespace: String,
    /// This runtime pod's name.
    pub(super) pod: String,
    pub(super) config: KubernetesConfig,
    /// Pods this pod owns (sessions and pools), by name.
    pub(super) live: DashMap<String, Arc<ExitNotice>>,
    pub(super) shutdown: CancellationToken,
    /// Client for HTTP-transport servers.
    pub(super) http: reqwest::Client,
    /// Asks whether a session another pod may take over is alive.
    pub(super) lease_probe: Arc<dyn LeaseProbe>,
}

// === impl KubeHost ===

impl KubeHost {
    /// A client for `config`'s API server: `api_url` when set, else the
    /// in-cluster service account or the kubeconfig. Nothing is contacted
    /// yet: an unreachable API server is reported per start.
    pub(super) async fn connect(
        config: KubernetesConfig,
        pod: String,
        lease_probe: Arc<dyn LeaseProbe>,
        shutdown: CancellationToken,
    ) -> Result<Self, BackendError> {
        let namespace = config
            .namespace
            .clone()
            .ok_or_else(|| BackendError::Refused("kubernetes.namespace is not set".to_owned()))?;
        let mut kube_config = match &config.api_url {
            Some(url) => {
                let uri = url.parse().map_err(|e| {
                    BackendError::Refused(format!("kubernetes.api_url `{url}` is not a URL: {e}"))
                })?;
                kube::Config::new(uri)
            }
            None => kube::Config::infer().await.map_err(|e| {
                BackendError::Refused(format!(
                    "cannot find the Kubernetes API ({e}); run Berth in a Pod with a service account, or set kubernetes.api_url"
                ))
            })?,
        };
        kube_config.default_namespace = namespace.clone();
        kube_config.connect_timeout = Some(std::time::Duration::from_secs(5));
        // kube retries 429/503/504 up to 15 times with backoff growing to
        // minutes: an agent would wait that long for a session. Berth
        // answers at once with a retryable error instead.
        kube_config.default_retry = false;
        let client = kube::Client::try_from(kube_config).map_err(|e| {
            BackendError::Refused(format!("cannot set up the Kubernetes client: {e}"))
        })?;
        Ok(KubeHost {
            shared: Arc::new(Shared {
                client,
                namespace,
                pod,
                config,
                live: DashMap::new(),
                shutdown,
                http: crate::backend::http_bridge::client(),
                lease_probe,
            }),
        })
    }

    /// Pods of the sessions namespace.
    pub(super) fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.shared.client.clone(), &self.shared.namespace)
    }

    /// Secrets of the sessions namespace.
    pub(super) fn secrets(&self) -> Api<Secret> {
        Api::namespaced(self.shared.client.clone(), &self.shared.namespace)
    }

    /// The label selector of every Pod this deployment (this store) owns.
    pub(super) fn selector(&self) -> String {
        format!(
            "{LABEL_MANAGED}=true,{LABEL_STORE}={}",
            label_value(self.shared.lease_probe.scope())
        )
    }

    /// Refuses a new Pod for `tenant` when the namespace or the tenant is
    /// at its cap (counted over every runtime pod; a `ResourceQuota` on
    /// the namespace is the hard limit, this is the clear error before it).
    pub(super) async fn check_caps(&self, tenant: &str) -> Result<(), BackendError> {
        let cfg = &self.shared.config;
        let pods = self
            .pods()
            .list_metadata(&ListParams::default().labels(&self.selector()))
            .await
            .map_err(|e| self.error("list pods", e))?;
        let running: Vec<_> = pods
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .collect();
        let ns = &self.shared.namespace;
        if running.len() >= cfg.max_pods {
            return Err(BackendError::Capacity(format!(
                "namespace `{ns}` runs its maximum of {} session Pods (kubernetes.max_pods)",
                cfg.max_pods
            )));
        }
        let tenant_label = label_value(tenant);
        let of_tenant = running
            .iter()
            .filter(|p| {
                p.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get(LABEL_TENANT))
                    .is_some_and(|t| *t == tenant_label)
            })
            .count();
        if of_tenant >= cfg.max_pods_per_tenant {
            return Err(BackendError::Capacity(format!(
                "tenant `{tenant}` runs its maximum of {} session Pods in namespace `{ns}` (kubernetes.max_pods_per_tenant)",
                cfg.max_pods_per_tenant
            )));
        }
        Ok(())
    }

    /// Deletes Pod `name` (its env Secret goes with it) and forgets it;
    /// the Pod's own `terminationGracePeriodSeconds` (the server's shutdown
    /// grace) applies.
    pub(super) async fn delete(&self, name: &str) {
        if let Err(e) = self.pods().delete(name, &DeleteParams::default()).await
            && !is_not_found(&e)
        {
            tracing::warn!(pod = %name, error = %e, "could not delete a session Pod; the sweeper will retry");
        }
        // The garbage collector deletes an owned Secret too; this covers a
        // Secret whose owner reference was never set.
        let secret = super::pod::secret_name(name);
        if let Err(e) = self
            .secrets()
            .delete(&secret, &DeleteParams::default())
            .await
            && !is_not_found(&e)
        {
            tracing::warn!(secret = %secret, error = %e, "could not delete a session Pod's env Secret; the sweeper will retry");
        }
        self.shared.live.remove(name);
    }

    /// Maps an API error while trying to `action` (an RBAC verb and
    /// resource, e.g. `create pods`) to a [`BackendError`], logging what
    /// an operator must grant when the API refuses for lack of permission.
    pub(super) fn error(&self, action: &str, e: kube::Error) -> BackendError {
        let ns = &self.shared.namespace;
        match e {
            kube::Error::Api(status) if status.code == 403 && status.message.contains("quota") => {
                BackendError::Capacity(format!(
                    "namespace `{ns}` is at its ResourceQuota ({})",
                    status.message
                ))
            }
            kube::Error::Api(status) if status.code == 403 => {
                tracing::error!(
                    permission = %action,
                    namespace = %ns,
                    message = %status.message,
                    "the Kubernetes API refused: grant the runtime's service account `{action}` in namespace `{ns}` (see the chart's Role)"
                );
                BackendError::Refused(format!(
                    "the Kubernetes API refused to {action} in namespace `{ns}`: the runtime's service account lacks that permission (RBAC); an operator must grant it"
                ))
            }
            kube::Error::Api(status) if status.code == 409 => BackendError::Cluster(format!(
                "reported a conflict trying to {action} ({}); retry",
                status.message
            )),
            kube::Error::Api(status) if status.code >= 500 || status.code == 429 => {
                BackendError::Cluster(format!(
                    "failed to {action} ({} {}: {})",
                    status.code, status.reason, status.message
                ))
            }
            kube::Error::Api(status) => BackendError::Refused(format!(
                "the Kubernetes API refused to {action} in namespace `{ns}` ({} {}: {})",
                status.code, status.reason, status.message
            )),
            other => BackendError::Cluster(format!(
                "is unreachable ({action}: {other}); check kubernetes.api_url and that the API server runs"
            )),
        }
    }
}

/// Whether `e` is the API's 404.
pub(super) fn is_not_found(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404)
}
