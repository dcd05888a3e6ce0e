//! The JSON shapes `/v1` answers with, built from registry records.
//!
//! May import: `registry` (its records), external crates.

use serde_json::{Value, json};

use crate::registry::{ServerRecord, ServerState, VersionRecord};

/// One line of a server listing.
pub(crate) fn summary(record: &ServerRecord) -> Value {
    let active = record.active();
    let meta = active.or(record.versions.last()).map(|v| &v.metadata);
    json!({
        "name": record.name,
        "state": record.summary_state(),
        "active_version": active.map(|v| v.version),
        "latest_version": record.versions.last().map(|v| v.version),
        "owner": meta.and_then(|m| m.owner.clone()),
        "risk_tier": meta.map(|m| m.risk_tier),
        "managed_by": "registry",
    })
}

/// A config-file server in a listing.
pub(crate) fn managed_summary(name: &str) -> Value {
    json!({
        "name": name,
        "state": "active",
        "active_version": null,
        "latest_version": null,
        "owner": null,
        "risk_tier": null,
        "managed_by": "config",
    })
}

/// One server with its versions.
pub(crate) fn server(record: &ServerRecord) -> Value {
    let mut out = summary(record);
    out["tenant"] = json!(record.tenant);
    out["revision"] = json!(record.revision);
    match &record.state {
        ServerState::Deprecated { sunset, at } => {
            out["deprecated_at"] = json!(at);
            out["sunset"] = json!(sunset);
        }
        ServerState::Decommissioned { at } => out["decommissioned_at"] = json!(at),
        ServerState::Live => {}
    }
    out["versions"] = record.versions.iter().map(version).collect();
    out
}

/// One version.
pub(crate) fn version(v: &VersionRecord) -> Value {
    json!({
        "version": v.version,
        "state": v.state.as_str(),
        "digest": v.digest,
        "deployment": v.deployment,
        "metadata": v.metadata,
        "deployed_by": v.deployed_by,
        "deployed_at": v.deployed_at,
        "approved_by": v.approved_by,
        "approved_at": v.approved_at,
        "activated_at": v.activated_at,
    })
}
