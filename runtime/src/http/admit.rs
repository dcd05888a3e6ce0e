//! Admission: the guards every MCP request passes, in order: Host/Origin
//! (403), bearer token (401), tenant (403), server exists (404).
//!
//! May import: `http::{state, host, auth, reply}`, `servers`, `jsonrpc`,
//! `audit`, external crates (`berth-auth`).

use std::sync::Arc;

use axum::response::Response;
use berth_auth::Principal;
use http::{HeaderMap, StatusCode};

use super::auth::authenticate;
use super::reply;
use super::state::AppState;
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
