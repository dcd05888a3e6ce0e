//! One 2026-07-28 call to the backend: its request shaped for the
//! backend's era (progress token made unique, per-request version removed
//! for session-era backends), started, or resumed with the agent's
//! `inputResponses` after an `input_required` round.
//!
//! May import: `mcp::stateless::{validate, input, frame, results,
//! backend_params}`,
//! `http`, `hosting`, `protocol`, `jsonrpc`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use super::backend_params::{BackendParams, StateEdit};
use super::frame::Frame;
use super::input;
use super::results;
use super::validate::StatelessRequest;
use crate::hosting::{Composed, Continuation, HostingError, HostingSession, Route};
use crate::http::AppState;
use crate::jsonrpc::{ErrorCode, RpcError};
use crate::protocol::Era;

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
    /// The digest binding a `requestState` to this call: computed on
    /// first use (only calls that carry or get a state need it).
    pub(super) digest: OnceLock<String>,
}

// === impl Call ===

impl Call {
    /// The digest binding a `requestState` to this call's principal,
    /// method, target and arguments ([`input::digest`]).
    pub(super) fn digest(&self) -> &str {
        self.digest
            .get_or_init(|| input::digest(&self.route, &self.req.method, &self.req.params))
    }
}

/// What goes to the server as the call's `requestState`.
#[derive(Debug)]
pub(super) enum ServerState {
    /// A session-era server: Berth asks and answers for it, so no state
    /// and no answers go to it (but a state Berth did not issue does).
    Translated,
    /// A server that speaks 2026-07-28 itself: its own state, as Berth
    /// unsealed it from the agent's (or none), with the agent's answers.
    Native(Option<String>),
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
pub(super) async fn start(
    session: &Arc<HostingSession>,
    req: &StatelessRequest,
    timeout: Duration,
    state: ServerState,
) -> Result<Continuation, HostingError> {
    let params = &req.params;
    let (state, drop_input_responses) = match state {
        ServerState::Translated => {
            let foreign_state = params
                .get("requestState")
                .and_then(Value::as_str)
                .is_some_and(|s| !s.starts_with(crate::hosting::STATE_PREFIX));
            // Berth answers the server's questions itself; a state Berth
            // did not issue goes through untouched.
            if foreign_state {
                (StateEdit::Keep, false)
            } else {
                (StateEdit::Drop, true)
            }
        }
        // The server asks its own questions: the agent's answers go to it,
        // with the state it issued (unsealed by the caller).
        ServerState::Native(Some(ref state)) => (StateEdit::Set(state), false),
        ServerState::Native(None) => (StateEdit::Drop, false),
    };
    let meta = params.get("_meta").and_then(Value::as_object);
    // The backend session speaks the version it negotiated with Berth; a
    // per-request 2026 version would switch a dual-era server's behaviour
    // behind Berth's back.
    let drop_version = session
        .protocol_version()
        .is_none_or(|v| v.era() != Era::Stateless);
    // Agents reuse progress tokens; the backend sees one unique per call.
    let agent_token = meta.and_then(|m| m.get("progressToken"));
    let unique = agent_token.map(|_| format!("berth-{}", session.reserve_unique()));
    let body = BackendParams {
        params,
        state,
        drop_input_responses,
        drop_version,
        progress_token: unique.as_deref(),
    }
    .to_json();
    // (the unique token as sent, the agent's own) for the progress the
    // server reports.
    let progress = unique.zip(agent_token).map(|(token, original)| {
        let raw = serde_json::to_string(&token).expect("a string serializes to JSON");
        let original =
            serde_json::value::to_raw_value(original).expect("a JSON value serializes to raw JSON");
        (raw.into_boxed_str(), original)
    });
    let backend_token = progress.as_ref().map(|(raw, _)| raw.clone());
    let stream = session.open_stream();
    let request = Composed {
        client_id: req.id.clone(),
        method: &req.method,
        params: &body,
        tool: req.params.get("name").and_then(Value::as_str),
    };
    let backend_id = session
        .forward_composed(request, stream.clone(), timeout, backend_token)
        .await?;
    Ok(Continuation::new(
        session.clone(),
        backend_id,
        stream,
        progress,
    ))
}

/// Resumes a parked call with this request's answers. `Err` frames are final.
pub(super) async fn resume(
    session: &Arc<HostingSession>,
    req_id: &RawValue,
    input_responses: Option<&Map<String, Value>>,
    mut cont: Continuation,
    timeout: Duration,
) -> Result<(Continuation, bool), Frame> {
    if session.closed_reason().is_some() || !Arc::ptr_eq(&cont.session, session) {
        let err = RpcError::new(
            ErrorCode::InvalidParams,
            "Invalid params: the call behind requestState has ended; start the request again",
        );
        return Err(Frame::Final(
            Bytes::from(err.to_response(Some(req_id))),
            StatusCode::BAD_REQUEST,
        ));
    }
    cont.session.unpark(cont.backend_id, timeout);
    let responses = input_responses.cloned().unwrap_or_default();
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
                    Bytes::from(err.to_response(Some(req_id))),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosting::testing::session_with_pipe;
    use crate::protocol::{META_CLIENT_CAPS, META_PROTOCOL_VERSION, Version};

    fn request(params: Value) -> StatelessRequest {
        let Value::Object(params) = params else {
            panic!("params are an object")
        };
        StatelessRequest {
            id: RawValue::from_string("\"agent-1\"".into()).unwrap(),
            method: "tools/call".into(),
            params,
            log_level: None,
        }
    }

    /// The server asked an elicitation (backend id `id`) under `elicit-1`.
    fn ask(cont: &mut Continuation, id: &str) {
        cont.pending.push(crate::hosting::PendingInput {
            key: "elicit-1".into(),
            backend_request_id: RawValue::from_string(id.into()).unwrap(),
            method: "elicitation/create".into(),
            shown: serde_json::json!({}),
        });
    }

    async fn sent(rx: &mut tokio::sync::mpsc::Receiver<Bytes>) -> Value {
        let line = rx.recv().await.expect("Berth wrote to the backend");
        assert_eq!(line.last(), Some(&b'\n'), "one line per message");
        serde_json::from_slice(&line).unwrap()
    }

    #[tokio::test]
    async fn a_session_era_backend_gets_no_2026_version_and_a_unique_progress_token() {
        let (session, mut rx) = session_with_pipe();
        session.set_protocol_version(Version::V2025_11_25.as_str());
        let req = request(serde_json::json!({
            "name": "echo",
            "arguments": {"text": "hi"},
            "_meta": {
                META_PROTOCOL_VERSION: "2026-07-28",
                META_CLIENT_CAPS: {},
                "progressToken": 5,
            },
        }));
        let cont = start(
            &session,
            &req,
            Duration::from_secs(5),
            ServerState::Translated,
        )
        .await
        .unwrap();
        let msg = sent(&mut rx).await;
        assert_eq!(msg["method"], "tools/call");
        assert_eq!(
            msg["id"], cont.backend_id,
            "the backend sees Berth's own id"
        );
        let meta = &msg["params"]["_meta"];
        assert!(meta.get(META_PROTOCOL_VERSION).is_none(), "{meta}");
        let token = meta["progressToken"].as_str().unwrap();
        assert!(token.starts_with("berth-"), "{token}");
        let (backend_token, agent_token) = cont.progress.as_ref().unwrap();
        assert_eq!(&**backend_token, format!("\"{token}\""));
        assert_eq!(
            agent_token.get(),
            "5",
            "mapped back to the agent's own token"
        );
        assert_eq!(msg["params"]["arguments"]["text"], "hi");
    }

    #[tokio::test]
    async fn berth_issued_state_is_stripped_but_a_servers_own_state_passes() {
        let (session, mut rx) = session_with_pipe();
        let ours = request(serde_json::json!({
            "name": "x",
            "requestState": format!("{}abc.def", crate::hosting::STATE_PREFIX),
            "inputResponses": {"k": {}},
            "_meta": {META_CLIENT_CAPS: {}},
        }));
        start(
            &session,
            &ours,
            Duration::from_secs(5),
            ServerState::Translated,
        )
        .await
        .unwrap();
        let msg = sent(&mut rx).await;
        assert!(msg["params"].get("requestState").is_none());
        assert!(msg["params"].get("inputResponses").is_none());
        let theirs = request(serde_json::json!({
            "name": "x",
            "requestState": "server-opaque",
            "inputResponses": {"k": {}},
            "_meta": {META_CLIENT_CAPS: {}},
        }));
        start(
            &session,
            &theirs,
            Duration::from_secs(5),
            ServerState::Translated,
        )
        .await
        .unwrap();
        let msg = sent(&mut rx).await;
        assert_eq!(msg["params"]["requestState"], "server-opaque");
        assert_eq!(msg["params"]["inputResponses"]["k"], serde_json::json!({}));
    }

    #[tokio::test]
    async fn a_resumed_call_answers_valid_inputs_and_refuses_invalid_ones() {
        let (session, mut rx) = session_with_pipe();
        let req = request(serde_json::json!({"name": "x", "_meta": {META_CLIENT_CAPS: {}}}));
        let mut cont = start(
            &session,
            &req,
            Duration::from_secs(5),
            ServerState::Translated,
        )
        .await
        .unwrap();
        let _call = sent(&mut rx).await;
        ask(&mut cont, "42");
        let answers: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"elicit-1": {"action": "decline"}})).unwrap();
        let (cont, complete) = resume(
            &session,
            &req.id,
            Some(&answers),
            cont,
            Duration::from_secs(5),
        )
        .await
        .unwrap_or_else(|_| panic!("a valid answer resumes"));
        assert!(complete);
        let answer = sent(&mut rx).await;
        assert_eq!(answer["id"], 42);
        assert_eq!(answer["result"]["action"], "decline");
        drop(cont);

        let mut cont = start(
            &session,
            &req,
            Duration::from_secs(5),
            ServerState::Translated,
        )
        .await
        .unwrap();
        let _call = sent(&mut rx).await;
        ask(&mut cont, "43");
        let bad: Map<String, Value> =
            serde_json::from_value(serde_json::json!({"elicit-1": {"action": "maybe"}})).unwrap();
        let Err(Frame::Final(body, status)) =
            resume(&session, &req.id, Some(&bad), cont, Duration::from_secs(5)).await
        else {
            panic!("an invalid answer ends the call");
        };
        assert_eq!(status, StatusCode::BAD_REQUEST);
        let err: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(err["id"], "agent-1");
        assert_eq!(err["error"]["code"], -32602);
        assert_eq!(
            sent(&mut rx).await["error"]["code"],
            -32602,
            "the server is told"
        );
        assert_eq!(sent(&mut rx).await["method"], "notifications/cancelled");
    }
}
