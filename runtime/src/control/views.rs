//! The JSON shapes `/v1` answers with (and the OpenAPI document's
//! schemas), built from registry records.
//!
//! May import: `registry` (its records), `config` (the deployment's
//! schema), `protocol` (capabilities), `hosting` (session entries),
//! external crates.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::config::ServerConfig;
use crate::hosting::SessionEntry;
use crate::protocol::Approved;
use crate::registry::{
    DataClassification, DriftRecord, Metadata, RiskTier, ServerRecord, ServerState, VersionRecord,
};

/// One line of a server listing.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ServerSummary {
    /// Server name.
    pub name: String,
    /// `active` (has an active version), `inactive`, `deprecated` or
    /// `decommissioned`.
    pub state: String,
    /// The version new sessions use.
    pub active_version: Option<u32>,
    /// The newest version.
    pub latest_version: Option<u32>,
    /// Owner, as deployed.
    pub owner: Option<String>,
    /// Risk tier, as deployed.
    #[schema(value_type = Option<String>, example = "medium")]
    pub risk_tier: Option<serde_json::Value>,
    /// `registry` (deployed through `/v1`) or `config` (written in
    /// `berth.toml`, read-only here).
    pub managed_by: String,
}

/// A tenant's servers.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ServerList {
    /// The tenant.
    pub tenant: String,
    /// Its servers, by name.
    pub servers: Vec<ServerSummary>,
}

/// One server with every version.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ServerView {
    /// Tenant.
    pub tenant: String,
    /// The listing's fields.
    #[serde(flatten)]
    pub summary: ServerSummary,
    /// Bumped by every change; also the `ETag`.
    pub revision: Option<u64>,
    /// When it was deprecated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub deprecated_at: Option<String>,
    /// The announced end date.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sunset: Option<String>,
    /// When it was decommissioned.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decommissioned_at: Option<String>,
    /// Every version, oldest first.
    pub versions: Vec<VersionView>,
}

/// One immutable version.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VersionView {
    /// 1, 2, …
    pub version: u32,
    /// `proposed`, `approved`, `active` or `retired`.
    pub state: String,
    /// What the version runs, by content: the image's digest or the
    /// executable's SHA-256.
    pub digest: String,
    /// SHA-256 of the deployment document.
    pub deployment_digest: String,
    /// The deployment document, as deployed.
    #[schema(value_type = Object)]
    pub deployment: serde_json::Value,
    /// Owner, contact, description, risk tier, data classification.
    pub metadata: Metadata,
    /// Who deployed it.
    pub deployed_by: String,
    /// When.
    pub deployed_at: String,
    /// Who approved it.
    pub approved_by: Option<String>,
    /// When.
    pub approved_at: Option<String>,
    /// When it was last activated.
    pub activated_at: Option<String>,
    /// What it offered when approved, each with its fingerprint.
    pub capabilities: Option<Vec<CapabilityView>>,
    /// Drift seen at run time.
    pub drift: Vec<DriftRecord>,
}

/// A tenant's hosting sessions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SessionList {
    /// The tenant.
    pub tenant: String,
    /// Its sessions on every pod.
    pub sessions: Vec<SessionEntry>,
}

/// One approved capability.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CapabilityView {
    /// `tool`, `prompt`, `resource` or `resource_template`.
    pub kind: String,
    /// Its name (URI for resources).
    pub name: String,
    /// SHA-256 of its canonical definition.
    pub fingerprint: String,
}

/// A server's approved capabilities and drift.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct CapabilitiesView {
    /// The active version, if any.
    pub version: Option<u32>,
    /// What was approved for it.
    pub approved: Vec<CapabilityView>,
    /// Every drift seen, on any version, oldest first.
    pub drift: Vec<DriftView>,
}

/// A drift, with the version it was seen on.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct DriftView {
    /// The version.
    pub version: u32,
    /// What was seen.
    #[serde(flatten)]
    pub drift: DriftRecord,
}

/// A server's versions.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct VersionList {
    /// Oldest first.
    pub versions: Vec<VersionView>,
}

/// The body of a deploy: a `[servers.TENANT.SERVER]` entry of
/// `berth.toml`, as JSON, plus metadata. (An official MCP Registry
/// `server.json` with an `oci` package is accepted too.) Only its schema
/// is used: the handler reads the body field by field to list every
/// problem at once.
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub(crate) struct DeployRequest {
    /// The deployment.
    #[serde(flatten)]
    pub deployment: ServerConfig,
    /// Owning team or person.
    pub owner: Option<String>,
    /// How to reach the owner.
    pub contact: Option<String>,
    /// What the server is for.
    pub description: Option<String>,
    /// `low`, `medium` (default), `high` or `critical`.
    pub risk_tier: Option<RiskTier>,
    /// `public`, `internal` (default), `confidential` or `restricted`.
    pub data_classification: Option<DataClassification>,
}

/// The answer to a deploy.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Deployed {
    /// Server name.
    pub server: String,
    /// The new version's number.
    pub version: u32,
    /// What it runs, by content.
    pub digest: Option<String>,
    /// Always `proposed`.
    pub state: String,
}

/// The body of a deprecation (optional).
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct DeprecateRequest {
    /// The announced end date, `YYYY-MM-DD`.
    #[schema(example = "2027-01-31")]
    pub sunset: Option<String>,
}

/// An error answer.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorBody {
    /// What went wrong.
    pub error: ErrorDetail,
}

/// What went wrong, and what to do.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ErrorDetail {
    /// A stable name: `not_found`, `conflict`, `forbidden`,
    /// `insufficient_scope`, `precondition_failed`, `invalid_deployment`,
    /// `payload_too_large`, `bad_request`, `unavailable`.
    pub code: String,
    /// What went wrong and what to do.
    pub message: String,
    /// Every problem of an invalid deployment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub problems: Option<Vec<ProblemView>>,
}

/// One problem of an invalid deployment.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ProblemView {
    /// JSON pointer into the deployment (RFC 6901).
    pub pointer: String,
    /// What is wrong and what to do.
    pub message: String,
}

/// One line of a server listing.
pub(crate) fn summary(record: &ServerRecord) -> ServerSummary {
    let active = record.active();
    let meta = active.or(record.versions.last()).map(|v| &v.metadata);
    ServerSummary {
        name: record.name.clone(),
        state: record.summary_state().to_owned(),
        active_version: active.map(|v| v.version),
        latest_version: record.versions.last().map(|v| v.version),
        owner: meta.and_then(|m| m.owner.clone()),
        risk_tier: meta.and_then(|m| serde_json::to_value(m.risk_tier).ok()),
        managed_by: "registry".into(),
    }
}

/// A config-file server in a listing.
pub(crate) fn managed_summary(name: &str) -> ServerSummary {
    ServerSummary {
        name: name.to_owned(),
        state: "active".into(),
        active_version: None,
        latest_version: None,
        owner: None,
        risk_tier: None,
        managed_by: "config".into(),
    }
}

/// A config-file server on its own.
pub(crate) fn managed_server(tenant: &str, name: &str) -> ServerView {
    ServerView {
        tenant: tenant.to_owned(),
        summary: managed_summary(name),
        revision: None,
        deprecated_at: None,
        sunset: None,
        decommissioned_at: None,
        versions: Vec::new(),
    }
}

/// One server with its versions.
pub(crate) fn server(record: &ServerRecord) -> ServerView {
    let (mut deprecated_at, mut sunset, mut decommissioned_at) = (None, None, None);
    match &record.state {
        ServerState::Deprecated { sunset: s, at } => {
            deprecated_at = Some(at.clone());
            sunset = s.clone();
        }
        ServerState::Decommissioned { at } => decommissioned_at = Some(at.clone()),
        ServerState::Live => {}
    }
    ServerView {
        tenant: record.tenant.clone(),
        summary: summary(record),
        revision: Some(record.revision),
        deprecated_at,
        sunset,
        decommissioned_at,
        versions: record.versions.iter().map(version).collect(),
    }
}

/// One version.
pub(crate) fn version(v: &VersionRecord) -> VersionView {
    VersionView {
        version: v.version,
        state: v.state.as_str().to_owned(),
        digest: v.digest.clone(),
        deployment_digest: v.deployment_digest.clone(),
        deployment: v.deployment.clone(),
        metadata: v.metadata.clone(),
        deployed_by: v.deployed_by.clone(),
        deployed_at: v.deployed_at.clone(),
        approved_by: v.approved_by.clone(),
        approved_at: v.approved_at.clone(),
        activated_at: v.activated_at.clone(),
        capabilities: v
            .capabilities
            .as_ref()
            .map(|caps| caps.iter().map(capability).collect()),
        drift: v.drift.clone(),
    }
}

fn capability(a: &Approved) -> CapabilityView {
    CapabilityView {
        kind: serde_json::to_value(a.kind)
            .ok()
            .and_then(|k| k.as_str().map(str::to_owned))
            .unwrap_or_default(),
        name: a.name.clone(),
        fingerprint: a.fingerprint.clone(),
    }
}

/// The capabilities view of a server.
pub(crate) fn capabilities(record: &ServerRecord) -> CapabilitiesView {
    let active = record.active();
    CapabilitiesView {
        version: active.map(|v| v.version),
        approved: active
            .and_then(|v| v.capabilities.as_ref())
            .map(|caps| caps.iter().map(capability).collect())
            .unwrap_or_default(),
        drift: record
            .versions
            .iter()
            .flat_map(|v| {
                v.drift.iter().map(|d| DriftView {
                    version: v.version,
                    drift: d.clone(),
                })
            })
            .collect(),
    }
}
