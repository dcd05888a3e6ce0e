//! The session record: what Berth remembers about a legacy session, sealed
//! in the `SessionStore` under the per-user hashed key.
//!
//! It holds what a pod needs to re-create the session's backend after a
//! failover (the `initialize` parameters, the negotiated version). It is
//! sealed with AES-256-GCM, so the store never sees it in the clear.
//!
//! May import: external crates only.

use serde::{Deserialize, Serialize};

/// Version of the record layout.
pub(crate) const RECORD_VERSION: u32 = 1;

/// A legacy session's durable state.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct SessionRecord {
    /// Layout version.
    pub v: u32,
    /// Tenant.
    pub tenant: String,
    /// Server.
    pub server: String,
    /// The principal's subject.
    pub subject: String,
    /// Protocol version the backend negotiated.
    pub protocol_version: String,
    /// The agent's `initialize` params, verbatim JSON.
    pub initialize_params: String,
    /// Pod that started the session (informational; ownership is the
    /// lease).
    pub pod: String,
    /// The backend's re-attach handle (container id), if it has one.
    #[serde(default)]
    pub instance: Option<String>,
    /// Creation time, ms since the Unix epoch.
    pub created_ms: u64,
    /// The backend's `InitializeResult` (verbatim JSON) for sessions Berth
    /// initialized itself (stateless principals), so a pod that re-attaches
    /// the instance need not initialize it again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_init: Option<String>,
    /// The registry version of the server the session started on (`None`:
    /// a config-file server); a takeover goes on with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub server_version: Option<u32>,
    /// The backend speaks 2026-07-28 itself (no `initialize` to replay).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub native: bool,
}
