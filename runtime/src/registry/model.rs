//! What the registry keeps: a [`ServerRecord`] per deployed server, with
//! its immutable [`VersionRecord`]s and their lifecycle states.
//!
//! Records are stored as JSON; every change bumps the record's
//! `revision`, which is also its `ETag`.
//!
//! May import: `protocol` (capability fingerprints); plain data otherwise
//! (`utoipa` derives their OpenAPI schemas).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::protocol::{Approved, CapabilityKind};

/// How much harm the server can do (set by its owner, shown to approvers).
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum RiskTier {
    /// Read-only, public data.
    Low,
    /// The default.
    Medium,
    /// Writes, or reaches internal systems.
    High,
    /// Money, production, or personal data at scale.
    Critical,
}

/// The most sensitive data the server handles.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DataClassification {
    /// Anyone may see it.
    Public,
    /// The default.
    Internal,
    /// Need to know.
    Confidential,
    /// Regulated.
    Restricted,
}

/// Who answers for a server, and what it is.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
pub(crate) struct Metadata {
    /// Owning team or person.
    pub owner: Option<String>,
    /// How to reach the owner.
    pub contact: Option<String>,
    /// What the server is for.
    pub description: Option<String>,
    /// Risk tier.
    pub risk_tier: RiskTier,
    /// Data classification.
    pub data_classification: DataClassification,
}

impl Default for Metadata {
    fn default() -> Self {
        Metadata {
            owner: None,
            contact: None,
            description: None,
            risk_tier: RiskTier::Medium,
            data_classification: DataClassification::Internal,
        }
    }
}

/// Where a version is in its life.
#[derive(Clone, Copy, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub(crate) enum VersionState {
    /// Deployed, waiting for approval.
    Proposed,
    /// Approved; may be activated.
    Approved,
    /// New sessions use it (at most one version per server).
    Active,
    /// Was active; may be activated again (rollback).
    Retired,
}

impl VersionState {
    /// The state's name, as in the API.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            VersionState::Proposed => "proposed",
            VersionState::Approved => "approved",
            VersionState::Active => "active",
            VersionState::Retired => "retired",
        }
    }
}

/// An executable pinned by content.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub(crate) struct ExecutablePin {
    /// Its path, as resolved when the version was deployed.
    pub path: String,
    /// `sha256:…` of the file.
    pub sha256: String,
}

/// A version about to be deployed: the checked document and what it was
/// pinned to.
#[derive(Clone, Debug)]
pub(crate) struct NewVersion {
    /// The deployment document, without metadata.
    pub document: serde_json::Value,
    /// SHA-256 of the canonical document.
    pub deployment_digest: String,
    /// The image's content digest (docker).
    pub image_digest: Option<String>,
    /// The executable's pin (process backend).
    pub executable: Option<ExecutablePin>,
    /// Owner, risk tier, ….
    pub metadata: Metadata,
}

impl NewVersion {
    /// The digest naming what the version runs (the deployment's own when
    /// nothing was pinned).
    pub(crate) fn digest(&self) -> String {
        self.image_digest
            .clone()
            .or_else(|| self.executable.as_ref().map(|e| e.sha256.clone()))
            .unwrap_or_else(|| self.deployment_digest.clone())
    }
}

/// One immutable version of a server.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub(crate) struct VersionRecord {
    /// 1, 2, … per server.
    pub version: u32,
    /// Lifecycle state.
    pub state: VersionState,
    /// The deployment document (the shape of a `[servers.T.S]` entry), as
    /// deployed, without the metadata.
    pub deployment: serde_json::Value,
    /// What the version runs, by content: the image's digest (docker) or
    /// the executable's SHA-256 (process backend), `sha256:…`.
    pub digest: String,
    /// SHA-256 of the canonical deployment document, `sha256:…`.
    pub deployment_digest: String,
    /// The image's content digest, when the backend runs images.
    #[serde(default)]
    pub image_digest: Option<String>,
    /// The executable and its SHA-256, when the backend runs processes.
    #[serde(default)]
    pub executable: Option<ExecutablePin>,
    /// Owner, risk tier, … as deployed with this version.
    pub metadata: Metadata,
    /// Subject that deployed it.
    pub deployed_by: String,
    /// When, RFC 3339.
    pub deployed_at: String,
    /// Subject that approved it.
    pub approved_by: Option<String>,
    /// When, RFC 3339.
    pub approved_at: Option<String>,
    /// When it was last activated, RFC 3339.
    pub activated_at: Option<String>,
    /// What it offered when it was approved (tools, prompts, resources,
    /// resource templates, each with its fingerprint).
    #[serde(default)]
    pub capabilities: Option<Vec<Approved>>,
    /// Every drift from that set seen at run time (one per capability and
    /// live fingerprint).
    #[serde(default)]
    pub drift: Vec<DriftRecord>,
}

/// A capability seen at run time that is not as approved.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, ToSchema)]
pub(crate) struct DriftRecord {
    /// `tool`, `prompt`, `resource` or `resource_template`.
    #[schema(value_type = String)]
    pub kind: CapabilityKind,
    /// Its name (URI for resources).
    pub name: String,
    /// The approved fingerprint; `null` when it was never approved.
    pub approved: Option<String>,
    /// The fingerprint seen.
    pub live: String,
    /// When it was first seen, RFC 3339.
    pub seen_at: String,
}

/// Where a server is in its life, beside its versions.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase", tag = "state")]
pub(crate) enum ServerState {
    /// Callable when it has an active version.
    Live,
    /// Still callable; announced to go away.
    Deprecated {
        /// The announced end date (RFC 3339 date), if any.
        sunset: Option<String>,
        /// When it was deprecated.
        at: String,
    },
    /// Gone: calls are refused; kept so its history stays readable and
    /// its name cannot be silently reused.
    Decommissioned {
        /// When.
        at: String,
    },
}

/// A deployed server with every version it had.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
pub(crate) struct ServerRecord {
    /// Tenant.
    pub tenant: String,
    /// Server name.
    pub name: String,
    /// Bumped by every change; the record's `ETag`.
    pub revision: u64,
    /// Lifecycle state of the server as a whole.
    pub state: ServerState,
    /// Every version, oldest first (`versions[i].version == i + 1`).
    pub versions: Vec<VersionRecord>,
}

impl ServerRecord {
    /// A server with no versions yet.
    pub(crate) fn new(tenant: &str, name: &str) -> Self {
        ServerRecord {
            tenant: tenant.to_owned(),
            name: name.to_owned(),
            revision: 0,
            state: ServerState::Live,
            versions: Vec::new(),
        }
    }

    /// The active version, if any.
    pub(crate) fn active(&self) -> Option<&VersionRecord> {
        self.versions
            .iter()
            .find(|v| v.state == VersionState::Active)
    }

    /// Version `v`, if it exists.
    pub(crate) fn version(&self, v: u32) -> Option<&VersionRecord> {
        let i = usize::try_from(v).ok()?.checked_sub(1)?;
        self.versions.get(i)
    }

    /// Whether the server is decommissioned.
    pub(crate) fn is_decommissioned(&self) -> bool {
        matches!(self.state, ServerState::Decommissioned { .. })
    }

    /// The server's state in one word, as in listings: `decommissioned`,
    /// `deprecated`, `active` (has an active version) or `inactive`.
    pub(crate) fn summary_state(&self) -> &'static str {
        match self.state {
            ServerState::Decommissioned { .. } => "decommissioned",
            ServerState::Deprecated { .. } => "deprecated",
            ServerState::Live if self.active().is_some() => "active",
            ServerState::Live => "inactive",
        }
    }
}
