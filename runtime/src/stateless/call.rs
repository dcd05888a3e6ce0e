//! Forwarding one 2026-07-28 request to the backend and turning what comes
//! back into frames for the agent: progress (token mapped back), logs
//! (only at or above the requested level), server→client requests (answered
//! from `inputResponses`, gathered into an `input_required` result, or
//! refused for a missing capability), and the final result, shaped.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::StatusCode;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::time::Instant;

use super::ladder::Modern;
use super::mrtr::{self, Continuation, Owner, PendingInput};
use super::shape;
use crate::hosting::{HostingSession, Next};
use crate::http::AppState;
use crate::jsonrpc::{self, Envelope, ErrorCode, Kind, RpcError};

/// How long Berth waits for more backend questions before answering the
/// agent with one `input_required` result (backends often ask several
/// questions concurrently).
const GATHER: Duration = Duration::from_millis(50);

/// Methods that may answer `input_required`.
const MRTR_METHODS: &[&str] = &["tools/call", "prompts/get", "resources/read"];

/// RFC 5424 severities, lowest first.
const LEVELS: &[&str] = &[
    "debug",
    "info",
    "notice",
    "warning",
    "error",
    "critical",
    "alert",
    "emergency",
];

/// One frame for the agent.
#[derive(Debug)]
pub enum Frame {
    /// A notification before the answer.
    Mid(Bytes),
    /// The answer (result or error) with the HTTP status it implies when
    /// sent as plain JSON.
    Final(Bytes, StatusCode),
}

/// Everything about the agent's current request.
pub struct Call {
    /// Shared state.
    pub app: AppState,
    /// The hosting session.
    pub session: Arc<HostingSession>,
    /// Who is calling.
    pub owner: Owner,
    /// The validated request.
    pub req: Modern,
    /// `inputResponses` sent with this request.
    pub input_responses: Option<Map<String, Value>>,
    /// `uri` of a `resources/read`.
    pub uri: Option<String>,
    /// Continuation binding digest.
    pub digest: String,
}

/// Reads a backend call's stream and produces frames.
pub struct Driver {
    call: Call,
    cont: Option<Continuation>,
    gather_until: Option<Instant>,
    done: bool,
}

// === impl Driver ===

impl Driver {
    /// Drives a call already forwarded (or resumed) as `cont`.
    pub fn new(call: Call, cont: Continuation) -> Self {
        Driver {
            call,
            cont: Some(cont),
            gather_until: None,
            done: false,
        }
    }

    /// Immediately answers `input_required` for questions still open.
    pub fn ask_again(mut self) -> Frame {
        self.input_required()
    }

    /// The next frame, or `None` after the final one.
    pub async fn next(&mut self) -> Option<Frame> {
        if self.done {
            return None;
        }
        loop {
            let (stream, after) = {
                let c = self.cont.as_ref().expect("driver has a call until done");
                (c.stream.clone(), c.after)
            };
            let next = match self.gather_until {
                Some(t) => match tokio::time::timeout_at(t, stream.next_after(after)).await {
                    Ok(n) => n,
                    Err(_) => return Some(self.input_required()),
                },
                None => tokio::select! {
                    n = stream.next_after(after) => n,
                    _ = self.call.app.shutdown.cancelled() => {
                        return Some(self.fail(RpcError::new(ErrorCode::InternalError, "Berth is shutting down; retry the request")));
                    }
                },
            };
            match next {
                Next::Event(e) => {
                    if let Some(c) = self.cont.as_mut() {
                        c.after = e.seq;
                    }
                    if e.last {
                        return Some(self.finish(&e.data));
                    }
                    if let Some(f) = self.on_message(&e.data).await {
                        return Some(f);
                    }
                }
                Next::Finished | Next::Gap => {
                    return Some(self.fail(RpcError::new(
                        ErrorCode::InternalError,
                        "the server's answer was lost; retry the request",
                    )));
                }
            }
        }
    }

    async fn on_message(&mut self, data: &Bytes) -> Option<Frame> {
        let env = Envelope::parse(data).ok()?;
        match env.kind {
            Kind::Notification => self.on_notification(data, &env),
            Kind::Request => self.on_server_request(&env).await,
            Kind::Response => None,
        }
    }

    fn on_notification(&self, data: &Bytes, env: &Envelope<'_>) -> Option<Frame> {
        match env.method_str() {
            "notifications/progress" => {
                let (backend_tok, original) = self.cont.as_ref()?.progress.as_ref()?;
                let mut v: Value = serde_json::from_slice(data).ok()?;
                let tok = v.pointer("/params/progressToken")?;
                if serde_json::to_string(tok).ok()?.as_str() != &**backend_tok {
                    return None;
                }
                v["params"]["progressToken"] = serde_json::from_str(original.get()).ok()?;
                Some(Frame::Mid(Bytes::from(v.to_string())))
            }
            "notifications/message" => {
                let wanted = self.call.req.log_level.as_deref()?;
                let level = jsonrpc::param_str(env.params, "level")?;
                let rank = |l: &str| LEVELS.iter().position(|x| *x == l);
                (rank(&level)? >= rank(wanted)?).then(|| Frame::Mid(data.clone()))
            }
            // Cancellations, removed notifications and server-wide news
            // (delivered on listen streams) are not part of the answer.
            _ => None,
        }
    }

    async fn on_server_request(&mut self, env: &Envelope<'_>) -> Option<Frame> {
        let method = env.method_str().to_owned();
        let backend_req_id = env.id?.to_owned();
        let session = self.call.session.clone();
        if method == "ping" {
            answer(&session, &backend_req_id, Ok(serde_json::json!({}))).await;
            return None;
        }
        let Some(cap) = mrtr::required_capability(&method) else {
            answer(
                &session,
                &backend_req_id,
                Err((-32601, format!("{method} is not available through Berth"))),
            )
            .await;
            return None;
        };
        if !MRTR_METHODS.contains(&self.call.req.method.as_str()) {
            answer(
                &session,
                &backend_req_id,
                Err((
                    -32603,
                    format!(
                        "{method} is not available while answering {}",
                        self.call.req.method
                    ),
                )),
            )
            .await;
            return None;
        }
        if self.call.req.caps.get(cap).is_none() {
            answer(
                &session,
                &backend_req_id,
                Err((
                    -32603,
                    format!("the client did not declare the {cap} capability"),
                )),
            )
            .await;
            let mut caps = Map::new();
            caps.insert(cap.to_owned(), serde_json::json!({}));
            let err = RpcError::new(
                ErrorCode::MissingCapability,
                format!("Missing required client capability: this request needs `{cap}`; declare it in _meta clientCapabilities"),
            )
            .with_data(serde_json::json!({"requiredCapabilities": caps}));
            return Some(self.fail(err));
        }
        let mut params: Value = env
            .params
            .and_then(|p| serde_json::from_str(p.get()).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        let hint = take_hint(&mut params);
        let cont = self.cont.as_mut()?;
        let key = hint.unwrap_or_else(|| {
            cont.key_seq += 1;
            format!("{}-{}", mrtr::key_prefix(&method), cont.key_seq)
        });
        if let Some(answer_value) = self
            .call
            .input_responses
            .as_ref()
            .and_then(|r| r.get(&key))
            .cloned()
        {
            if !mrtr::valid_answer(&method, &answer_value) {
                answer(
                    &session,
                    &backend_req_id,
                    Err((-32602, "invalid input response".into())),
                )
                .await;
                return Some(self.fail(RpcError::new(
                    ErrorCode::InvalidParams,
                    format!(
                        "Invalid params: inputResponses[\"{key}\"] is not a valid {method} result"
                    ),
                )));
            }
            answer(&session, &backend_req_id, Ok(answer_value)).await;
            return None;
        }
        cont.pending.push(PendingInput {
            key,
            backend_request_id: backend_req_id,
            shown: serde_json::json!({"method": method, "params": params}),
            method,
        });
        if self.gather_until.is_none() {
            self.gather_until = Some(Instant::now() + GATHER);
        }
        None
    }

    fn input_required(&mut self) -> Frame {
        self.done = true;
        let Some(mut cont) = self.cont.take() else {
            return Frame::Final(Bytes::new(), StatusCode::OK);
        };
        cont.round += 1;
        let mut requests = Map::new();
        for p in &cont.pending {
            requests.insert(p.key.clone(), p.shown.clone());
        }
        let keys = self.call.app.sessions.keys().clone();
        let id = self.call.req.id.clone();
        match self.call.app.mrtr.park(&keys, &self.call.owner, cont) {
            Ok(state) => {
                let result = serde_json::json!({
                    "resultType": "input_required",
                    "inputRequests": requests,
                    "requestState": state,
                });
                Frame::Final(
                    Bytes::from(shape::result_message(&id, &result)),
                    StatusCode::OK,
                )
            }
            Err(e) => Frame::Final(Bytes::from(e.to_response(Some(&id))), StatusCode::OK),
        }
    }

    fn finish(&mut self, data: &[u8]) -> Frame {
        self.done = true;
        self.cont = None;
        let id = self.call.req.id.clone();
        let msg = match Envelope::parse(data).ok().and_then(|e| e.id) {
            Some(old) => jsonrpc::splice_id(data, old, id.get().as_bytes()),
            None => data.to_vec(),
        };
        let (out, status) = shape::modernize(&msg, &self.call.req.method, self.call.uri.as_deref());
        Frame::Final(Bytes::from(out), status)
    }

    fn fail(&mut self, err: RpcError) -> Frame {
        self.done = true;
        if let Some(c) = self.cont.take() {
            let session = c.session.clone();
            tokio::spawn(async move {
                session
                    .cancel(c.backend_id, "the request failed in Berth")
                    .await
            });
        }
        let status = shape::status_for(err.code.code());
        Frame::Final(
            Bytes::from(err.to_response(Some(&self.call.req.id))),
            status,
        )
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The agent went away mid-call: closing the stream cancels the request.
        if let Some(c) = self.cont.take() {
            let session = c.session.clone();
            if let Ok(rt) = tokio::runtime::Handle::try_current() {
                rt.spawn(async move {
                    session
                        .cancel(c.backend_id, "the agent closed the request")
                        .await
                });
            }
        }
    }
}

fn take_hint(params: &mut Value) -> Option<String> {
    let meta = params.get_mut("_meta")?.as_object_mut()?;
    let hint = meta
        .remove(mrtr::INPUT_KEY_HINT)?
        .as_str()
        .map(str::to_owned);
    if meta.is_empty() {
        params.as_object_mut()?.remove("_meta");
    }
    hint
}

/// Answers a backend's server→client request.
pub async fn answer(
    session: &HostingSession,
    id: &RawValue,
    outcome: Result<Value, (i64, String)>,
) {
    let msg = match outcome {
        Ok(result) => shape::result_message(id, &result),
        Err((code, message)) => {
            RpcError::new(ErrorCode::Other(code), message).to_response(Some(id))
        }
    };
    let _ = session.send(Bytes::from(msg)).await;
}

/// Starts the backend call for a fresh request and returns its continuation.
pub async fn start(call: &Call, timeout: Duration) -> Result<Continuation, RpcError> {
    let mut params = call.req.params.clone();
    let foreign_state = params
        .get("requestState")
        .and_then(Value::as_str)
        .is_some_and(|s| !s.starts_with(mrtr::STATE_PREFIX));
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
            .is_none_or(|v| v < "2026-07-28")
        {
            meta.remove(super::ladder::META_VERSION);
        }
        if let Some(tok) = meta.get("progressToken").cloned() {
            // Agents reuse tokens; the backend sees one unique per call.
            let unique = format!("berth-{}", call.session.reserve_unique());
            let unique_raw = Value::String(unique.clone()).to_string();
            meta.insert("progressToken".into(), Value::String(unique));
            let original = RawValue::from_string(tok.to_string())
                .map_err(|e| RpcError::new(ErrorCode::InvalidParams, e.to_string()))?;
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
pub async fn resume(
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
            Some(a) if mrtr::valid_answer(&p.method, a) => {
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
