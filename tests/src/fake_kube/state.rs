//! What every part of the running fake shares: the store, the docker
//! client, the pods' network, this instance's id, the outage switch and
//! the shutdown token.
//!
//! Imports `store`, `refusal`, `status`.

use bollard::Docker;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use super::refusal::RequestFacts;
use super::status::ApiError;
use super::store::Store;

/// The shared state of one fake API server + kubelet.
#[derive(Debug)]
pub(crate) struct Fake {
    /// Pods, secrets, events, switches.
    pub(crate) store: Store,
    /// The test engine.
    pub(crate) docker: Docker,
    /// The id of the docker network pods join.
    pub(crate) network: String,
    /// This fake's id (the `fake-kube.instance` container label).
    pub(crate) instance: String,
    /// True while the API server is "down" (an outage).
    pub(crate) down: watch::Sender<bool>,
    /// Cancelled at shutdown; pods' tokens are its children.
    pub(crate) closing: CancellationToken,
}

impl Fake {
    /// The refusal a test installed for this request, if any.
    pub(crate) fn check(&self, req: &RequestFacts) -> Result<(), ApiError> {
        match self.store.refused(req) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    /// Resolves when connections must be cut: an outage starts or the
    /// fake shuts down.
    pub(crate) async fn cut(&self) {
        let mut down = self.down.subscribe();
        tokio::select! {
            _ = down.wait_for(|d| *d) => {}
            () = self.closing.cancelled() => {}
        }
    }
}
