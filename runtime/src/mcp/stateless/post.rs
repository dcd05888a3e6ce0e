//! POST for the stateless era (2026-07-28): validate the request, find the
//! principal's hosting session, then discover, listen, or forward the call
//! (starting it, or resuming one parked for the agent's input).
//!
//! May import: the other `mcp::stateless` files, `http`, `hosting`,
//! `jsonrpc`.

use std::sync::Arc;

use axum::response::Response;
use http::{HeaderMap, StatusCode};
use serde_json::Value;

use super::call::{self, Call};
use super::discover::discover;
use super::driver::Driver;
use super::errors::{continuation_error, forward_failed, rejected, start_failed};
use super::input;
use super::listen::listen;
use super::principal::{self, Ensured};
use super::reply::{respond, single};
use super::validate::{Outcome, StatelessRequest, validate};
use crate::hosting::{HostingSession, Route, STATE_PREFIX};
use crate::http::{Admitted, AppState, accepted, check_post_media};
use crate::jsonrpc::{ErrorCode, RpcError};

/// Handles a stateless POST.
pub(crate) async fn post(
    app: &AppState,
    admitted: Admitted,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if let Err(resp) = check_post_media(headers) {
        return resp;
    }
    let req = match validate(headers, body) {
        Ok(Outcome::Request(r)) => r,
        Ok(Outcome::Notification) => return accepted(),
        Err(rej) => return rejected(rej.id.as_deref(), rej.error),
    };
    let (session, route) = match principal::ensure(app, &admitted, &req, headers, body).await {
        Ok(Ensured::Here(s, route)) => (s, route),
        Ok(Ensured::Answered(response)) => return response,
        Err(e) => return start_failed(&e, &req.id),
    };
    match req.method.as_str() {
        "server/discover" => discover(&session, &req),
        "subscriptions/listen" => listen(app, session, req).await,
        _ => forward(app, session, route, req).await,
    }
}

/// Forwards a request (or resumes a parked one) and answers it.
async fn forward(
    app: &AppState,
    session: Arc<HostingSession>,
    route: Route,
    req: StatelessRequest,
) -> Response {
    let invalid = |message: &str| {
        rejected(
            Some(&req.id),
            RpcError::new(ErrorCode::InvalidParams, message),
        )
    };
    let timeout = app.sessions().request_timeout(&route);
    let input_responses = match req.params.get("inputResponses") {
        None => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => return invalid("Invalid params: inputResponses must be an object"),
    };
    let state = match req.params.get("requestState") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return invalid("Invalid params: requestState must be a string"),
    };
    let uri = req
        .params
        .get("uri")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let digest = input::digest(&route, &req.method, &req.params);
    let call = Call {
        app: app.clone(),
        session,
        route,
        req,
        input_responses,
        uri,
        digest,
    };
    let driver = match state {
        Some(state) if state.starts_with(STATE_PREFIX) => {
            let keys = app.sessions().keys();
            let cont = match app
                .continuations()
                .take(keys, &call.route, &state, &call.digest)
            {
                Ok(c) => c,
                Err(e) => {
                    return crate::http::rpc_error(
                        StatusCode::BAD_REQUEST,
                        Some(&call.req.id),
                        continuation_error(&e),
                    );
                }
            };
            match call::resume(
                &call.session,
                &call.req.id,
                call.input_responses.as_ref(),
                cont,
                timeout,
            )
            .await
            {
                Err(frame) => return single(frame),
                Ok((cont, true)) => Driver::new(call, cont),
                Ok((cont, false)) => return single(Driver::new(call, cont).ask_again()),
            }
        }
        _ => match call::start(&call.session, &call.req, &call.digest, timeout).await {
            Ok(cont) => Driver::new(call, cont),
            Err(e) => return forward_failed(&e, &call.req.id),
        },
    };
    respond(driver).await
}
