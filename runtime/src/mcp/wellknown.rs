//! Well-known endpoints: RFC 9728 protected-resource metadata, the dev
//! issuer's JWKS, and health probes.
//!
//! May import: `http`, `cluster` (the instance header), `jsonrpc`.

use axum::Router;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::StatusCode;

use crate::cluster::INSTANCE_HEADER;
use crate::http::{AppState, error, json};
use crate::jsonrpc::ErrorCode;

/// Routes served next to the MCP endpoint.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/.well-known/oauth-protected-resource/mcp/{tenant}/{server}",
            get(server_metadata),
        )
        .route("/.well-known/oauth-protected-resource", get(root_metadata))
        .route("/.well-known/jwks.json", get(jwks))
        .route("/healthz", get(healthz))
        .route("/readyz", get(ready))
}

/// Liveness: "ok", with the tag of this process (a pod checks that its
/// advertised URL reaches itself).
async fn healthz(State(app): State<AppState>) -> Response {
    let tag = app.sessions().cluster().instance_tag();
    ([(INSTANCE_HEADER, tag)], "ok").into_response()
}

async fn server_metadata(
    State(app): State<AppState>,
    Path((tenant, server)): Path<(String, String)>,
) -> Response {
    let Some(s) = app.servers().get(&tenant, &server) else {
        return error(
            StatusCode::NOT_FOUND,
            ErrorCode::InvalidRequest,
            format!("no MCP server `{tenant}/{server}`"),
        );
    };
    metadata(&app, &s.resource, &s.scopes)
}

async fn root_metadata(State(app): State<AppState>) -> Response {
    metadata(&app, app.public_base(), app.servers().required_scopes())
}

fn metadata(app: &AppState, resource: &str, scopes: &[String]) -> Response {
    let doc = serde_json::json!({
        "resource": resource,
        "authorization_servers": [app.issuer()],
        "bearer_methods_supported": ["header"],
        "scopes_supported": scopes,
        "resource_name": "Berth MCP endpoint",
    });
    json(StatusCode::OK, Bytes::from(doc.to_string()))
}

async fn jwks(State(app): State<AppState>) -> Response {
    match app.jwks() {
        Some(j) => json(StatusCode::OK, Bytes::from(j.to_string())),
        None => (
            StatusCode::NOT_FOUND,
            "no built-in issuer in this deployment",
        )
            .into_response(),
    }
}

async fn ready(State(app): State<AppState>) -> Response {
    match app.sessions().store().store().ping().await {
        Ok(()) => "ready".into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "readiness: session store unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "session store unavailable").into_response()
        }
    }
}
