//! [`DockerHost`] as a [`WarmHost`]: a warm container is created with the
//! session label `pool`, started, and waits with its capacity slot.
//!
//! May import: `docker::{host, container}`, `backend` shapes and pools.

use async_trait::async_trait;
use tokio_util::sync::CancellationToken;

use super::container;
use super::host::{DockerHost, Slot, engine};
use crate::backend::pool::{Warm, WarmHost};
use crate::backend::{BackendError, ExitNotice, ServerSpec};

#[async_trait]
impl WarmHost for DockerHost {
    type Slot = Slot;

    async fn start_warm(&self, spec: &ServerSpec) -> Result<Warm<Slot>, BackendError> {
        let slot = self.reserve(&spec.tenant)?;
        let id = container::create(self, spec, "pool", None).await?;
        self.shared
            .live
            .insert(id.clone(), ExitNotice::new_detached());
        if let Err(e) = self.client()?.start_container::<String>(&id, None).await {
            self.remove(&id).await;
            return Err(engine("start a warm container", e));
        }
        Ok(Warm { id, slot })
    }

    async fn remove_warm(&self, id: &str) {
        self.remove(id).await;
    }

    fn shutdown(&self) -> &CancellationToken {
        &self.shared.shutdown
    }

    fn config_hash(&self, spec: &ServerSpec) -> String {
        container::config_hash(spec)
    }
}
