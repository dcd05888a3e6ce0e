//! The HTTP/1.1 server: the route table (core v1 pods, pods/status,
//! pods/attach, secrets; `/version`, `/readyz`, `/livez`), the request
//! log, Status answers for unknown paths and methods, and the accept loop
//! — which serves each connection with upgrades (for attach) and cuts it
//! when an outage starts, and while the API is down accepts connections
//! and drops them at once.
//!
//! Imports `state`, `status`, `pods`, `secrets`, `attach`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde_json::json;
use tokio::net::TcpListener;

use super::attach;
use super::pods;
use super::secrets;
use super::state::Fake;
use super::status::{ApiError, json_response};

/// The routes.
pub(crate) fn router(fake: Arc<Fake>) -> Router {
    let ns = "/api/v1/namespaces/{ns}";
    Router::new()
        .route(
            &format!("{ns}/pods"),
            post(pods::create).get(pods::list).fallback(not_allowed),
        )
        .route(
            &format!("{ns}/pods/{{name}}"),
            get(pods::get)
                .patch(pods::patch)
                .delete(pods::delete)
                .fallback(not_allowed),
        )
        .route(
            &format!("{ns}/pods/{{name}}/status"),
            get(pods::get_status).fallback(not_allowed),
        )
        .route(
            &format!("{ns}/pods/{{name}}/attach"),
            get(attach::attach)
                .post(attach::attach)
                .fallback(not_allowed),
        )
        .route(
            &format!("{ns}/secrets"),
            post(secrets::create)
                .get(secrets::list)
                .fallback(not_allowed),
        )
        .route(
            &format!("{ns}/secrets/{{name}}"),
            get(secrets::get)
                .patch(secrets::patch)
                .delete(secrets::delete)
                .fallback(not_allowed),
        )
        .route("/version", get(version))
        .route("/readyz", get(|| async { "ok" }))
        .route("/livez", get(|| async { "ok" }))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(fake.clone(), log))
        .with_state(fake)
}

/// Records "METHOD path?query".
async fn log(State(fake): State<Arc<Fake>>, req: Request, next: Next) -> Response {
    let target = req
        .uri()
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_default();
    fake.store.log_request(format!("{} {target}", req.method()));
    next.run(req).await
}

async fn not_found() -> ApiError {
    ApiError::new(
        404,
        "NotFound",
        "the server could not find the requested resource",
    )
}

async fn not_allowed() -> ApiError {
    ApiError::new(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
    )
}

async fn version() -> Response {
    json_response(
        StatusCode::OK,
        &json!({
            "major": "1",
            "minor": "33",
            "gitVersion": "v1.33.0-fake-kube",
            "platform": "linux/amd64",
        }),
    )
    .into_response()
}

/// Accepts connections until the fake closes.
pub(crate) async fn serve(listener: TcpListener, fake: Arc<Fake>, router: Router) {
    loop {
        let accepted = tokio::select! {
            r = listener.accept() => r,
            () = fake.closing.cancelled() => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        if *fake.down.borrow() {
            // An outage: the connection is dropped at once.
            drop(stream);
            continue;
        }
        let service = TowerToHyperService::new(router.clone());
        let fake = fake.clone();
        tokio::spawn(async move {
            let conn = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::select! {
                _ = conn => {}
                () = fake.cut() => {}
            }
        });
    }
}
