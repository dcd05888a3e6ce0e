//! `[control]`: the control plane under `/v1` (who may deploy and approve).
//!
//! May import: nothing else in the crate.

use serde::Deserialize;

/// The control plane's settings.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ControlConfig {
    /// Scope a tenant admin's token needs (with the tenant claim of the
    /// tenant it acts on).
    pub admin_scope: String,
    /// Scope that reaches every tenant (platform operators).
    pub operator_scope: String,
    /// Tenants whose admins may approve the versions they deployed
    /// themselves (everyone else needs a second person).
    pub self_approval: Vec<String>,
    /// Largest accepted request body of `/v1`, bytes.
    pub max_body_bytes: usize,
}

impl Default for ControlConfig {
    fn default() -> Self {
        ControlConfig {
            admin_scope: "berth:admin".into(),
            operator_scope: "berth:operator".into(),
            self_approval: Vec::new(),
            max_body_bytes: 256 * 1024,
        }
    }
}
