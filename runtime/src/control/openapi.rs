//! The OpenAPI document of `/v1`, generated from the handlers' annotations
//! and the request and response types (`utoipa`), served at
//! `GET /v1/openapi.json` without a token.
//!
//! May import: `control::{approval, servers, registry_api, views}`,
//! external crates.

use axum::Json;
use axum::response::{IntoResponse, Response};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use super::views::{
    CapabilitiesView, CapabilityView, DeployRequest, Deployed, DeprecateRequest, DriftView,
    ErrorBody, ErrorDetail, ProblemView, ServerList, ServerSummary, ServerView, SessionList,
    VersionList, VersionView,
};
use super::{approval, registry_api, servers, sessions};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Berth control plane",
        description = "Deploy, approve, activate, roll back, deprecate and decommission MCP servers. \
            Every route takes an OAuth bearer token with the admin scope (`berth:admin`, the tenant's claim) \
            or the operator scope (`berth:operator`, every tenant).",
    ),
    paths(
        servers::list, servers::show, servers::deploy, servers::decommission, servers::versions,
        servers::version, approval::approve, approval::capabilities, servers::activate, servers::rollback, servers::deprecate,
        sessions::list, sessions::end, registry_api::servers,
    ),
    components(schemas(
        CapabilitiesView, CapabilityView, DeployRequest, Deployed, DriftView, DeprecateRequest, ErrorBody, ErrorDetail, ProblemView, ServerList,
        ServerSummary, ServerView, SessionList, VersionList, VersionView,
    )),
    modifiers(&Bearer),
    security(("bearer" = [])),
)]
pub(crate) struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// `GET /v1/openapi.json`.
pub(crate) async fn document() -> Response {
    Json(ApiDoc::openapi()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_v1_route_is_in_the_document() {
        let doc = ApiDoc::openapi();
        let mut documented: Vec<&str> = doc.paths.paths.keys().map(String::as_str).collect();
        documented.sort();
        let routes = super::super::routes();
        let mut routed: Vec<&str> = routes.iter().map(|(path, _, _)| *path).collect();
        routed.sort();
        routed.dedup();
        assert_eq!(documented, routed);
        // Each route's methods too.
        for (path, method, _) in &routes {
            let item = &doc.paths.paths[*path];
            let found = match *method {
                "get" => item.get.is_some(),
                "put" => item.put.is_some(),
                "post" => item.post.is_some(),
                "delete" => item.delete.is_some(),
                other => panic!("unexpected method {other}"),
            };
            assert!(found, "{method} {path} is not documented");
        }
    }
}
