//! Applying registry records to the pod's [`ServerTable`]: a server with
//! an active version is hosted with that version's deployment; one
//! without (proposed only, or decommissioned) is taken out of the table
//! and agents are told why. Sessions already running keep the instance
//! (and so the version) they started with.
//!
//! May import: `registry::{model, deployment}`, `servers`, `backend` (pins),
//! `protocol` (approved capability sets).

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use parking_lot::Mutex;

use super::deployment;
use super::model::{ServerRecord, ServerState, VersionRecord};
use crate::backend::Pinned;
use crate::protocol::ApprovedSet;
use crate::servers::{ServerTable, VersionDefinition, VersionSource};

/// What a pod applied for one server: (revision, (active version, has
/// an approved capability set)).
pub(super) type Applied = (u64, Option<(u32, bool)>);

/// Applies `record` to `table` unless it is managed by the config file or
/// this pod applied that revision already.
pub(super) fn apply(
    table: &ServerTable,
    applied: &Mutex<BTreeMap<String, Applied>>,
    record: &ServerRecord,
    managed: &HashSet<String>,
) {
    let key = format!("{}/{}", record.tenant, record.name);
    if managed.contains(&key) {
        return;
    }
    let mut applied = applied.lock();
    let before = applied.get(&key).copied();
    if before.is_some_and(|(revision, _)| revision >= record.revision) {
        return;
    }
    table.set_notice(&record.tenant, &record.name, notice(record));
    let active = record.active().filter(|_| !record.is_decommissioned());
    let active_version = active.map(|v| (v.version, v.capabilities.is_some()));
    applied.insert(key, (record.revision, active_version));
    let (tenant, name) = (record.tenant.as_str(), record.name.as_str());
    match active {
        Some(version) => {
            if before.and_then(|(_, v)| v) == active_version && table.get(tenant, name).is_some() {
                return;
            }
            match deployment::parse(&version.deployment) {
                Ok(config) => {
                    let pinned = pinned(version);
                    let approved = approved(version);
                    table.insert_version(tenant, name, config, version.version, &pinned, approved);
                    tracing::info!(
                        tenant,
                        server = name,
                        version = version.version,
                        "serving a new version"
                    );
                }
                Err(e) => tracing::error!(
                    tenant,
                    server = name,
                    version = version.version,
                    error = %e,
                    "cannot read the active version's deployment; the server stays as it was"
                ),
            }
        }
        None => {
            table.remove(tenant, name);
            table.set_unavailable(tenant, name, Some(reason(record)));
        }
    }
}

/// What `version` was pinned to when it was deployed.
pub(super) fn pinned(version: &VersionRecord) -> Pinned {
    Pinned {
        image: version.image_digest.clone(),
        executable: version
            .executable
            .as_ref()
            .map(|e| (e.path.clone(), e.sha256.clone())),
    }
}

/// What was approved for `version`, as the data plane holds sessions to it.
fn approved(version: &VersionRecord) -> Option<Arc<ApprovedSet>> {
    version
        .capabilities
        .as_deref()
        .map(|caps| Arc::new(ApprovedSet::new(caps)))
}

/// Finds versions for the server table from the records (a session taken
/// over after a rollout goes on with the version it started on).
pub(super) struct VersionLookup<F>(pub(super) F);

#[async_trait::async_trait]
impl<F, Fut> VersionSource for VersionLookup<F>
where
    F: Fn(String, String) -> Fut + Send + Sync,
    Fut: std::future::Future<Output = Option<ServerRecord>> + Send,
{
    async fn version(&self, tenant: &str, name: &str, v: u32) -> Option<VersionDefinition> {
        let record = (self.0)(tenant.to_owned(), name.to_owned()).await?;
        let version = record.version(v)?;
        let config = deployment::parse(&version.deployment)
            .inspect_err(|e| tracing::error!(tenant, server = name, version = v, error = %e, "cannot read a version's deployment"))
            .ok()?;
        Some(VersionDefinition {
            config,
            pinned: pinned(version),
            approved: approved(version),
        })
    }
}

/// The `_meta` notice a deprecated server's answers carry.
fn notice(record: &ServerRecord) -> Option<serde_json::Value> {
    let ServerState::Deprecated { sunset, at } = &record.state else {
        return None;
    };
    let name = format!("{}/{}", record.tenant, record.name);
    let message = match sunset {
        Some(date) => {
            format!("{name} is deprecated and goes away on {date}; move to its replacement")
        }
        None => format!("{name} is deprecated; move to its replacement"),
    };
    Some(serde_json::json!({"deprecated": true, "since": at, "sunset": sunset, "message": message}))
}

/// Why agents cannot call a server without an active version.
fn reason(record: &ServerRecord) -> String {
    let name = format!("{}/{}", record.tenant, record.name);
    if let ServerState::Decommissioned { at } = &record.state {
        return format!("{name} was decommissioned at {at}");
    }
    let states: Vec<String> = record
        .versions
        .iter()
        .map(|v| format!("version {} is {}", v.version, v.state.as_str()))
        .collect();
    format!(
        "{name} has no active version ({}); an admin of the tenant activates an approved one",
        states.join(", ")
    )
}
