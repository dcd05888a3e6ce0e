//! The traits a backend implements ([`Backend`]) and the one it asks the
//! cluster through ([`LeaseProbe`]), so `backend` never imports `cluster`.
//!
//! May import: the other `backend` files.

use std::sync::Arc;

use async_trait::async_trait;

use super::error::BackendError;
use super::instance::{InboundSink, Instance};
use super::pin::Pinned;
use super::spec::{InstanceLabels, ServerSpec};

/// Starts instances.
#[async_trait]
pub(crate) trait Backend: Send + Sync + 'static {
    /// Backend name for logs and metrics (`process`, `docker`).
    fn name(&self) -> &'static str;
    /// Prepares for serving `specs` (e.g. fills warm pools). Default: nothing.
    async fn prepare(&self, _specs: &[ServerSpec]) {}
    /// Releases what the backend holds besides sessions (e.g. warm pools)
    /// at shutdown. Default: nothing.
    async fn drain(&self) {}
    /// Forgets a server that is no longer hosted, or whose definition was
    /// replaced (e.g. empties its warm pool). Sessions already running
    /// keep their instances. Default: nothing.
    async fn retire(&self, _spec: &ServerSpec) {}
    /// Pins what `spec` runs to its content, when a version is deployed
    /// (an image to its digest; an executable to its SHA-256). An error
    /// names what is missing.
    async fn pin(&self, spec: &ServerSpec) -> Result<Pinned, BackendError>;
    /// Starts one instance that reports to `sink`.
    async fn start(
        &self,
        spec: &ServerSpec,
        labels: &InstanceLabels,
        sink: Arc<dyn InboundSink>,
    ) -> Result<Instance, BackendError>;

    /// Re-attaches to an instance another pod started (its
    /// [`Instance::resume`] handle), if it still runs; `Ok(None)` when it
    /// is gone or this backend cannot re-attach (the caller starts anew).
    async fn reattach(
        &self,
        _spec: &ServerSpec,
        _labels: &InstanceLabels,
        _resume: &str,
        _sink: Arc<dyn InboundSink>,
    ) -> Result<Option<Instance>, BackendError> {
        Ok(None)
    }
}

/// Answers whether a session another pod may take over is still alive.
#[async_trait]
pub(crate) trait LeaseProbe: Send + Sync + 'static {
    /// Names the store the leases live in (a digest, not the URL): pods of
    /// another deployment, with another store, never judge these leases.
    fn scope(&self) -> &str;

    /// `true` if its lease is held or its record has not expired, or if
    /// it cannot be known right now.
    async fn held(&self, lease_key: &str) -> bool;

    /// Records that `container` (started unlabelled, e.g. for a warm pool)
    /// now serves the session with `lease_key`: containers cannot be
    /// relabelled, so the sweeper asks [`LeaseProbe::claim_of`].
    async fn claim(&self, container: &str, lease_key: &str);

    /// The lease key a [`LeaseProbe::claim`] recorded for `container`.
    async fn claim_of(&self, container: &str) -> Option<String>;
}
