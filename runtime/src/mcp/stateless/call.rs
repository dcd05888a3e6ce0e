//! One 2026-07-28 call to the backend: its request shaped for the
//! backend's era (progress token made unique, per-request version removed
//! for session-era backends), started, or resumed with the agent's
//! `inputResponses` after an `input_required` round.
//!
//! May import: `mcp::stateless::{validate, input, frame, results}`,
//! `http`, `hosting`, `protocol`, `jsonrpc`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::frame::Frame;
use super::input;
use super::results;
use super::validate::StatelessRequest;
use crate::hosting::{Continuation, HostingError, HostingSession, Route};
use crate::http::AppState;
use crate::jsonrpc::{ErrorCode, RpcError};
use crate::protocol::{Era, META_PROTOCOL_VERSION};

/// Everything about the agent's current request.
pub(super) struct Call {
    /// Shared state.
    pub(super) app: AppState,
    /// The hosting session.
    pub(super) session: Arc<HostingSession>,
    /// The principal's session route (what a `requestState` is bound to).
    pub(super) route: Route,
    /// The validated request.
    pub(super) req: StatelessRequest,
    /// `inputResponses` sent with this request.
    pub(super) input_responses: Option<Map<String, Value>>,
    /// `uri` of a `resources/read`.
    pub(super) uri: Option<String>,
    /// Continuation binding digest.
    pub(super) digest: String,
}

/// Answers a backend's server→client request.
pub(super) async fn answer(
    session: &HostingSession,
    id: &RawValue,
    outcome: Result<Value, (i64, String)>,
) {
    let msg = match outcome {
        Ok(result) => results::result_message(id, &result),
        Err((code, message)) => {
            RpcError::new(ErrorCode::Other(code), message).to_response(Some(id))
        }
    };
    let _ = session.send(Bytes::from(msg)).await;
}

/// Starts the backend call for a fresh request and returns its continuation.
pub(super) async fn start(call: &Call, timeout: Duration) -> Result<Continuation, HostingError> {
    let mut params = call.req.params.clone();
    let foreign_state = params
        .get("requestState")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.starts_with(crate::hosting::STATE_PREFIX));
    if !foreign_state {
        // Berth answers the server's questions itself; a state Berth did not
        // issue belongs to a 2026-aware server and goes through untouched.
        params.remove("inputResponses");
        params.remove("requestState");
    }
    let mut progress = None;
    let mut backend_token = None;
    if let Some(meta) = params.get_mut("_meta").and_then(Value::as_object_mut) {
        // The backend session speaks the version it negotiated with Berth;
        // a per-request 2026 version would switch a dual-era server's
        // behaviour behind Berth's back.
        if call
            .session
            .protocol_version()
            .is_none_or(|v| v.era() != Era::Stateless)
        {
            meta.remove(META_PROTOCOL_VERSION);
        }
        if let Some(tok) = meta.get("progressToken").cloned() {
            // Agents reuse tokens; the backend sees one unique per call.
            let unique = format!("berth-{}", call.session.reserve_unique());
            let unique_raw = Value::String(unique.clone()).to_string();
            meta.insert("progressToken".into(), Value::String(unique));
            let original =
                serde_json::value::to_raw_value(&tok).expect("a JSON value serializes to raw JSON");
            progress = Some((unique_raw.clone().into_boxed_str(), original));
            backend_token = Some(unique_raw.into_boxed_str());
        }
    }
    let params = Value::Object(params).to_string();
    let stream = call.session.open_stream();
    let backend_id = call
        .session
        .forward_composed(
            call.req.id.clone(),
            &call.req.method,
            &params,
            stream.clone(),
            timeout,
            backend_token,
        )
        .await?;
    Ok(Continuation::new(
        call.session.clone(),
        backend_id,
        stream,
        call.digest.clone(),
        progress,
    ))
}

/// Resumes a parked call with this request's answers. `Err` frames are final.
pub(super) async fn resume(
    call: &Call,
    mut cont: Continuation,
    timeout: Duration,
) -> Result<(Continuation, bool), Frame> {
    if call.session.closed_reason().is_some() || !Arc::ptr_eq(&cont.session, &call.session) {
        let err = RpcError::new(
            ErrorCode::InvalidParams,
            "Invalid params: the call behind requestState has ended; start the request again",
        );
        return Err(Frame::Final(
            Bytes::from(err.to_response(Some(&call.req.id))),
            StatusCode::BAD_REQUEST,
        ));
    }
    cont.session.unpark(cont.backend_id, timeout);
    let responses = call.input_responses.clone().unwrap_or_default();
    let mut still = Vec::new();
    for p in std::mem::take(&mut cont.pending) {
        match responses.get(&p.key) {
            Some(a) if input::valid_answer(&p.method, a) => {
                answer(&cont.session, &p.backend_request_id, Ok(a.clone())).await;
            }
            Some(_) => {
                answer(
                    &cont.session,
                    &p.backend_request_id,
                    Err((-32602, "invalid input response".into())),
                )
                .await;
                let session = cont.session.clone();
                session
                    .cancel(cont.backend_id, "invalid input response")
                    .await;
                let err = RpcError::new(
                    ErrorCode::InvalidParams,
                    format!(
                        "Invalid params: inputResponses[\"{}\"] is not a valid {} result",
                        p.key, p.method
                    ),
                );
                return Err(Frame::Final(
                    Bytes::from(err.to_response(Some(&call.req.id))),
                    StatusCode::BAD_REQUEST,
                ));
            }
            None => still.push(p),
        }
    }
    let complete = still.is_empty();
    cont.pending = still;
    Ok((cont, complete))
}
