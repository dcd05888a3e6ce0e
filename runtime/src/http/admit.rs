//! Admission: the guards every MCP request passes, in order: a claim to
//! be forwarded by another pod verified (403), Host/Origin (403), bearer
//! token (401), tenant (403), server exists (404).
//!
//! May import: `http::{state, host, auth, reply}`, `cluster` (forward
//! signatures), `servers`, `jsonrpc`, `audit`, external crates
//! (`berth-auth`).

use std::sync::Arc;

use axum::response::Response;
use berth_auth::Principal;
use http::{HeaderMap, Method, StatusCode};

use super::auth::authenticate;
use super::reply;
use super::state::AppState;
use crate::cluster::{ForwardVerdict, verify_forwarded, was_forwarded};
use crate::jsonrpc::ErrorCode;
use crate::servers::HostedServer;

/// A request that passed the guards.
pub(crate) struct Admitted {
    /// The authenticated caller.
    pub(crate) principal: Principal,
    /// The target server.
    pub(crate) server: Arc<HostedServer>,
}

// === impl AppState (admission) ===

impl AppState {
    /// Refuses a request that claims to be forwarded by another pod but
    /// does not carry a valid signature from a pod with this key set
    /// (checked before anything else; agents' own requests pass at the
    /// cost of one header lookup).
    pub(crate) fn check_forwarded(
        &self,
        method: &Method,
        tenant: &str,
        name: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<(), Response> {
        if !was_forwarded(headers) {
            return Ok(());
        }
        let path = format!("/mcp/{tenant}/{name}");
        let cluster = self.sessions().cluster();
        match verify_forwarded(cluster, method, &path, headers, body) {
            ForwardVerdict::Direct | ForwardVerdict::Forwarded => Ok(()),
            ForwardVerdict::Forged(why) => {
                crate::audit::forged_forward(tenant, name, why);
                Err(reply::error(
                    StatusCode::FORBIDDEN,
                    ErrorCode::InvalidRequest,
                    format!(
                        "Forbidden: this request claims to be forwarded by another Berth pod, but {why}; agents must not send the berth-forwarded-by header"
                    ),
                ))
            }
        }
    }

    /// Runs the guards every MCP request passes.
    pub(crate) async fn admit(
        &self,
        headers: &HeaderMap,
        tenant: &str,
        name: &str,
    ) -> Result<Admitted, Response> {
        self.hosts().check(headers)?;
        let servers = self.servers();
        let server = servers.get(tenant, name);
        let principal = match &server {
            Some(s) => {
                authenticate(
                    self.validator(),
                    headers,
                    &s.resource,
                    &s.metadata_url,
                    &s.scopes,
                )
                .await?
            }
            // Unknown servers still challenge like known ones: nothing
            // tells an unauthenticated caller which servers exist.
            None => {
                authenticate(
                    self.validator(),
                    headers,
                    &servers.resource_url(tenant, name),
                    &servers.metadata_url(tenant, name),
                    servers.required_scopes(),
                )
                .await?
            }
        };
        if principal.tenant != tenant {
            crate::audit::tenant_refused(&principal.tenant, tenant, name, &principal.subject);
            return Err(reply::error(
                StatusCode::FORBIDDEN,
                ErrorCode::InvalidRequest,
                format!(
                    "Forbidden: this token is for tenant `{}`; it cannot use servers of tenant `{tenant}`",
                    principal.tenant
                ),
            ));
        }
        let Some(server) = server else {
            if let Some(reason) = servers.unavailable(tenant, name) {
                return Err(reply::error(
                    StatusCode::NOT_FOUND,
                    ErrorCode::InvalidRequest,
                    format!("Not Found: {reason}"),
                ));
            }
            return Err(reply::error(
                StatusCode::NOT_FOUND,
                ErrorCode::InvalidRequest,
                format!(
                    "Not Found: tenant `{tenant}` has no MCP server named `{name}`; check the URL (/mcp/{{tenant}}/{{server}})"
                ),
            ));
        };
        if server.notice.load().is_some() {
            crate::audit::deprecated_server_used(tenant, name, &principal.subject);
        }
        Ok(Admitted { principal, server })
    }
}
