//! Reading one backend call and turning what comes back into frames for
//! the agent: progress (token mapped back), logs (only at or above the
//! requested level), server→client requests (answered from
//! `inputResponses`, gathered into an `input_required` result, or refused
//! for a missing capability), and the final result, shaped.
//!
//! May import: `mcp::stateless::{call, errors, frame, input, results}`,
//! `hosting`, `jsonrpc`.

use std::borrow::Cow;

use bytes::Bytes;
use http::StatusCode;
use serde_json::{Map, Value};
use tokio::time::{Duration, Instant};

use super::call::{Call, answer};
use super::capabilities::{Needs, Relayed};
use super::errors::continuation_error;
use super::frame::Frame;
use super::input::{self, INPUT_METHODS};
use super::results;
use super::sealed_state;
use crate::hosting::{Continuation, Next, PendingInput};
use crate::jsonrpc::{self, Envelope, ErrorCode, Kind, RpcError};
use crate::protocol::{META_SUBSCRIPTION_ID, Version};

/// How long Berth waits for more backend questions before answering the
/// agent with one `input_required` result (backends often ask several
/// questions concurrently).
const GATHER: Duration = Duration::from_millis(50);

/// Longest a listen stream stays silent before an SSE comment keeps it
/// open through proxies.
const KEEPALIVE: Duration = Duration::from_secs(15);

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

/// Reads a backend call's stream and produces frames.
pub(super) struct Driver {
    call: Call,
    cont: Option<Continuation>,
    gather_until: Option<Instant>,
    done: bool,
}

// === impl Driver ===

impl Driver {
    /// Drives a call already forwarded (or resumed) as `cont`.
    pub(super) fn new(call: Call, cont: Continuation) -> Self {
        Driver {
            call,
            cont: Some(cont),
            gather_until: None,
            done: false,
        }
    }

    /// Immediately answers `input_required` for questions still open.
    pub(super) async fn ask_again(mut self) -> Frame {
        self.input_required().await
    }

    /// The next frame, or `None` after the final one.
    pub(super) async fn next(&mut self) -> Option<Frame> {
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
                    Err(_) => return Some(self.input_required().await),
                },
                None if self.is_native_listen() => tokio::select! {
                    n = stream.next_after(after) => n,
                    _ = tokio::time::sleep(KEEPALIVE) => return Some(Frame::KeepAlive),
                    _ = self.call.app.shutdown().cancelled() => return None,
                },
                None => tokio::select! {
                    n = stream.next_after(after) => n,
                    _ = self.call.app.shutdown().cancelled() => {
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
        let native = self.call.session.is_native();
        if native && self.is_native_listen() {
            // The server tags what a subscription delivers with the id it
            // saw; the agent knows its own.
            let mut v: Value = serde_json::from_slice(data).ok()?;
            if let Some(meta) = v
                .pointer_mut("/params/_meta")
                .and_then(Value::as_object_mut)
                && meta.contains_key(META_SUBSCRIPTION_ID)
            {
                let agent_id: Value = serde_json::from_str(self.call.req.id.get()).ok()?;
                meta.insert(META_SUBSCRIPTION_ID.into(), agent_id);
            }
            return Some(Frame::Mid(Bytes::from(v.to_string())));
        }
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
            // A native server heard the requested level itself.
            "notifications/message" if native => Some(Frame::Mid(data.clone())),
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
        let mut params: Value = env
            .params
            .and_then(|p| serde_json::from_str(p.get()).ok())
            .unwrap_or_else(|| serde_json::json!({}));
        let Some(needs) = Needs::of(&method, Some(&params)) else {
            answer(
                &session,
                &backend_req_id,
                Err((-32601, format!("{method} is not available through Berth"))),
            )
            .await;
            return None;
        };
        if !INPUT_METHODS.contains(&self.call.req.method.as_str()) {
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
        if !Relayed::from_declared(self.call.req.caps()).has(needs) {
            let cap = needs.name();
            answer(
                &session,
                &backend_req_id,
                Err((
                    -32603,
                    format!("the client did not declare the {cap} capability"),
                )),
            )
            .await;
            let err = RpcError::new(
                ErrorCode::MissingCapability,
                format!("Missing required client capability: this request needs `{cap}`; declare it in _meta clientCapabilities"),
            )
            .with_data(serde_json::json!({"requiredCapabilities": needs.required()}));
            return Some(self.fail(err));
        }
        let hint = input::take_hint(&mut params);
        let cont = self.cont.as_mut()?;
        let key = hint.unwrap_or_else(|| {
            cont.key_seq += 1;
            format!("{}-{}", input::key_prefix(&method), cont.key_seq)
        });
        if let Some(answer_value) = self
            .call
            .input_responses
            .as_ref()
            .and_then(|r| r.get(&key))
            .cloned()
        {
            if !input::valid_answer(&method, &answer_value) {
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

    async fn input_required(&mut self) -> Frame {
        self.done = true;
        let Some(mut cont) = self.cont.take() else {
            return Frame::Final(Bytes::new(), StatusCode::OK);
        };
        cont.round += 1;
        let mut requests = Map::new();
        for p in &cont.pending {
            requests.insert(p.key.clone(), p.shown.clone());
        }
        let keys = self.call.app.sessions().keys().clone();
        let id = self.call.req.id.clone();
        match self
            .call
            .app
            .continuations()
            .park(&keys, &self.call.route, self.call.digest(), cont)
            .await
        {
            Ok(state) => {
                let result = serde_json::json!({
                    "resultType": "input_required",
                    "inputRequests": requests,
                    "requestState": state,
                });
                Frame::Final(
                    Bytes::from(results::result_message(&id, &result)),
                    StatusCode::OK,
                )
            }
            Err(e) => Frame::Final(
                Bytes::from(continuation_error(&e).to_response(Some(&id))),
                StatusCode::OK,
            ),
        }
    }

    fn finish(&mut self, data: &[u8]) -> Frame {
        self.done = true;
        self.cont = None;
        let id = &self.call.req.id;
        // A native server's answer is edited as a whole first; the id is
        // the agent's once shaped, whatever it was.
        let msg = if self.call.session.is_native() {
            let mut msg = data.to_vec();
            if self.call.req.method == "server/discover" {
                msg = endpoint_versions(msg);
            }
            match self.seal_server_state(msg) {
                Ok(msg) => Cow::Owned(msg),
                Err(e) => {
                    let err = RpcError::new(
                        ErrorCode::InternalError,
                        format!("could not seal requestState: {e}"),
                    );
                    return Frame::Final(Bytes::from(err.to_response(Some(id))), StatusCode::OK);
                }
            }
        } else {
            Cow::Borrowed(data)
        };
        let (out, status) =
            results::modernize(&msg, id, &self.call.req.method, self.call.uri.as_deref());
        Frame::Final(Bytes::from(out), status)
    }

    /// A native server's `input_required` answer with its `requestState`
    /// sealed for this principal and call; other answers unchanged.
    fn seal_server_state(&self, msg: Vec<u8>) -> Result<Vec<u8>, String> {
        // Most answers are complete: look before decoding.
        if memchr::memmem::find(&msg, b"input_required").is_none() {
            return Ok(msg);
        }
        let mut v: Value = serde_json::from_slice(&msg).map_err(|e| e.to_string())?;
        let Some(result) = v.get_mut("result").and_then(Value::as_object_mut) else {
            return Ok(msg);
        };
        if result.get("resultType").and_then(Value::as_str) != Some("input_required") {
            return Ok(msg);
        }
        let server_state = result
            .get("requestState")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let keys = self.call.app.sessions().keys();
        let sealed = sealed_state::seal(
            keys,
            &self.call.route,
            self.call.digest(),
            server_state.as_deref(),
        )?;
        result.insert("requestState".into(), Value::String(sealed));
        serde_json::to_vec(&v).map_err(|e| e.to_string())
    }

    /// A `subscriptions/listen` the server itself serves.
    fn is_native_listen(&self) -> bool {
        self.call.req.method == "subscriptions/listen" && self.call.session.is_native()
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
        let status = results::status_for(err.code.code());
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

/// A native server's `server/discover` answer, listing the versions the
/// endpoint (Berth in front of the server) speaks: the ones Berth checks
/// requests against and names in its -32022 errors, so an agent sees one
/// consistent list.
fn endpoint_versions(msg: Vec<u8>) -> Vec<u8> {
    let Ok(mut v) = serde_json::from_slice::<Value>(&msg) else {
        return msg;
    };
    let Some(result) = v.get_mut("result").and_then(Value::as_object_mut) else {
        return msg;
    };
    let supported: Vec<Value> = Version::SUPPORTED
        .iter()
        .map(|v| Value::String(v.as_str().to_owned()))
        .collect();
    result.insert("supportedVersions".into(), Value::Array(supported));
    serde_json::to_vec(&v).unwrap_or(msg)
}
