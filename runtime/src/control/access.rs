//! Who may act on which tenant: the bearer token is validated as on the
//! MCP endpoint (audience `{public_url}/v1`); then `control.operator_scope`
//! reaches every tenant, and `control.admin_scope` reaches the tenant of
//! the token's tenant claim. Another tenant's resources are 404, exactly
//! as if they did not exist; a token with neither scope gets 403
//! `insufficient_scope`.
//!
//! May import: `control::{state, problem}`, `http` (Host checks,
//! token validation), external crates.

use axum::response::Response;
use berth_auth::Principal;
use http::{HeaderMap, HeaderValue, StatusCode, header};

use super::problem::problem;
use super::state::ControlState;

/// A caller allowed to act on a tenant.
pub(crate) struct Caller {
    /// Who.
    pub principal: Principal,
}

impl Caller {
    /// The subject, as audit events and records name it.
    pub(crate) fn subject(&self) -> &str {
        &self.principal.subject
    }
}

/// Authenticates the request and checks it may act on `tenant`.
pub(crate) async fn authorize(
    state: &ControlState,
    headers: &HeaderMap,
    tenant: &str,
) -> Result<Caller, Response> {
    let app = &state.app;
    app.hosts().check(headers)?;
    let resource = format!("{}/v1", app.public_base());
    let metadata_url = format!(
        "{}/.well-known/oauth-protected-resource/v1",
        app.public_base()
    );
    let control = &state.registry.control();
    let principal =
        crate::http::authenticate(app.validator(), headers, &resource, &metadata_url, &[]).await?;
    if principal.has_scope(&control.operator_scope) {
        return Ok(Caller { principal });
    }
    if !principal.has_scope(&control.admin_scope) {
        let scope = format!("{} {}", control.admin_scope, control.operator_scope);
        let mut resp = problem(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!(
                "the control plane needs a token with the scope `{}` (tenant admins) or `{}` (operators)",
                control.admin_scope, control.operator_scope
            ),
        );
        let challenge = format!(
            "Bearer error=\"insufficient_scope\", scope=\"{scope}\", resource_metadata=\"{metadata_url}\""
        );
        if let Ok(v) = HeaderValue::from_str(&challenge) {
            resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
        }
        return Err(resp);
    }
    if principal.tenant != tenant {
        crate::audit::tenant_refused(&principal.tenant, tenant, "/v1", &principal.subject);
        return Err(problem(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no tenant `{tenant}` here"),
        ));
    }
    Ok(Caller { principal })
}
