//! POST for the stateless era (2026-07-28): validate the request, find the
//! principal's hosting session, then discover, listen, or forward the call
//! (starting it, or resuming one parked for the agent's input).
//!
//! May import: the other `mcp::stateless` files, `http`, `hosting`,
//! `jsonrpc`.

use std::sync::{Arc, OnceLock};

use axum::response::Response;
use http::HeaderMap;
use serde_json::Value;

use super::call::{self, Call, ServerState};
use super::discover::discover;
use super::driver::Driver;
use super::errors::{
    continuation_error, continuation_status, forward_failed, refused_state, rejected, start_failed,
};
use super::listen::listen;
use super::param_headers;
use super::principal::{self, Ensured};
use super::reply::{respond, single};
use super::sealed_state;
use super::validate::{Outcome, StatelessRequest, validate};
use crate::hosting::{HostingSession, Retry, Route, STATE_PREFIX};
use crate::http::{Admitted, AppState, accepted, check_post_media};
use crate::jsonrpc::{ErrorCode, RpcError};

/// How long a `subscriptions/listen` a server serves itself may stay open
/// (it ends sooner when the agent goes away).
const LISTEN_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

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
    // A server that speaks 2026-07-28 itself answers everything itself.
    match req.method.as_str() {
        "server/discover" if !session.is_native() => discover(&session, &req),
        "subscriptions/listen" if !session.is_native() => listen(app, session, req).await,
        _ => forward(app, session, route, req, headers).await,
    }
}

/// Forwards a request (or resumes a parked one) and answers it.
async fn forward(
    app: &AppState,
    session: Arc<HostingSession>,
    route: Route,
    req: StatelessRequest,
    headers: &HeaderMap,
) -> Response {
    let invalid = |message: &str| {
        rejected(
            Some(&req.id),
            RpcError::new(ErrorCode::InvalidParams, message),
        )
    };
    let timeout = if req.method == "subscriptions/listen" {
        LISTEN_FOR
    } else {
        app.sessions().request_timeout(&route)
    };
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
    if req.method == "tools/call" {
        // The server never sees the request's headers: Berth checks the
        // ones its tools declare.
        let declared = param_headers::declarations(&route.server, &session, timeout).await;
        let tool = req.params.get("name").and_then(Value::as_str).unwrap_or("");
        let arguments = req.params.get("arguments").and_then(Value::as_object);
        if let Err(e) = param_headers::check(declared, tool, arguments, headers) {
            return rejected(Some(&req.id), e);
        }
    }
    let call = Call {
        app: app.clone(),
        session,
        route,
        req,
        input_responses,
        uri,
        digest: OnceLock::new(),
    };
    if call.session.is_native() {
        // The server's own state, unsealed: only the call it was issued
        // for, by the principal it was issued to, gets it back.
        let server_state = match &state {
            None => None,
            Some(state) => {
                let keys = app.sessions().keys();
                match sealed_state::open(keys, &call.route, call.digest(), state) {
                    Ok(inner) => inner,
                    Err(why) => {
                        tracing::info!(subject = %call.route.subject, reason = ?why, "refused requestState");
                        return rejected(Some(&call.req.id), refused_state());
                    }
                }
            }
        };
        let native = ServerState::Native(server_state);
        return match call::start(&call.session, &call.req, timeout, native).await {
            Ok(cont) => respond(Driver::new(call, cont)).await,
            Err(e) => forward_failed(&e, &call.req.id),
        };
    }
    let driver = match state {
        Some(state) if state.starts_with(STATE_PREFIX) => {
            let keys = app.sessions().keys();
            let retry = Retry {
                route: &call.route,
                session: &call.session,
                state: &state,
                digest: call.digest(),
                request_id: &call.req.id,
            };
            let cont = match app.continuations().take(keys, retry).await {
                Ok(c) => c,
                Err(e) => {
                    return crate::http::rpc_error(
                        continuation_status(&e),
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
                Ok((cont, false)) => return single(Driver::new(call, cont).ask_again().await),
            }
        }
        _ => match call::start(&call.session, &call.req, timeout, ServerState::Translated).await {
            Ok(cont) => Driver::new(call, cont),
            Err(e) => return forward_failed(&e, &call.req.id),
        },
    };
    respond(driver).await
}
