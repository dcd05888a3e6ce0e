//! The labels on every container Berth creates: what the sweeper, the
//! event watcher and the pools select on.
//!
//! May import: nothing.

/// Marks containers Berth manages (the sweeper only ever touches these).
pub(crate) const LABEL_MANAGED: &str = "berth.managed";
/// Tenant that owns the container.
pub(crate) const LABEL_TENANT: &str = "berth.tenant";
/// Server the container runs.
pub(crate) const LABEL_SERVER: &str = "berth.server";
/// Hosting session (non-secret label) or `pool` for warm containers.
pub(crate) const LABEL_SESSION: &str = "berth.session";
/// Berth pod that owns the container.
pub(crate) const LABEL_POD: &str = "berth.pod";
/// Hash of the container configuration (pools only reuse matching ones).
pub(crate) const LABEL_CONFIG: &str = "berth.config-hash";
/// Store key of the session's ownership lease (sessions that can fail over).
pub(crate) const LABEL_LEASE: &str = "berth.lease";
/// Which store the deployment keeps its sessions in (digest of the store
/// URL): sweepers only judge containers of their own store.
pub(crate) const LABEL_STORE: &str = "berth.store";
