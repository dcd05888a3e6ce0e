//! MCP 2026-07-28 (stateless) requests on the same endpoint.
//!
//! A stateless request carries its protocol version per request (header and
//! `_meta`); there is no `initialize` and no `Mcp-Session-Id`. Berth maps all
//! stateless requests of one principal to one server onto one hosting
//! session (so stateful servers keep working), initializes the backend
//! itself, and speaks the legacy protocol to it: results are shaped for 2026
//! ([`shape`]), server→client requests become `input_required` results
//! ([`mrtr`]), and `subscriptions/listen` is served from the backend's
//! server-wide notifications ([`listen`]).
//!
//! # Layout
//! - [`ladder`]: request validation in the spec's order.
//! - [`call`]: forwarding and reading one backend call.
//! - [`mrtr`]: parked calls and `requestState`.
//! - [`listen`]: `subscriptions/listen` streams.
//! - [`shape`]: result and error shaping, HTTP statuses.

pub mod call;
pub mod ladder;
pub mod listen;
pub mod mrtr;
pub mod shape;

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::{Map, Value};

use self::call::{Call, Driver, Frame};
use self::ladder::{Modern, Outcome, SUPPORTED_VERSIONS};
use self::mrtr::Owner;
use crate::cluster::forward::was_forwarded;
use crate::hosting::{HostingSession, Next, PrincipalSession};
use crate::http::guard;
use crate::http::locate::{self, Original};
use crate::http::{Admitted, AppState, LEGACY_VERSIONS, reply};
use crate::jsonrpc::{ErrorCode, RpcError};

/// True when a POST belongs to the 2026-07-28 era: a `MCP-Protocol-Version`
/// header that is present and not a handshake-era version (unknown versions
/// included: they get -32022 from the ladder).
pub fn is_stateless(headers: &HeaderMap, _body: &[u8]) -> bool {
    match headers
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
    {
        Some(v) => !LEGACY_VERSIONS.contains(&v) && v != "2024-11-05",
        None => false,
    }
}

/// Handles a stateless POST.
pub async fn post(
    app: &AppState,
    admitted: Admitted,
    headers: &HeaderMap,
    body: &[u8],
) -> Response {
    if let Err(resp) = guard::check_post_media(headers) {
        return resp;
    }
    let req = match ladder::validate(headers, body) {
        Ok(Outcome::Request(r)) => r,
        Ok(Outcome::Notification) => return reply::accepted(),
        Err(rej) => {
            let status = shape::status_for(rej.error.code.code());
            return reply::rpc_error(status, rej.id.as_deref(), rej.error);
        }
    };
    let owner = Owner {
        tenant: admitted.server.tenant.clone(),
        server: admitted.server.name.clone(),
        subject: admitted.principal.subject.clone(),
    };
    let session = match ensure_backend(app, &admitted, &req, headers, body).await {
        Ok(Ensured::Here(s)) => s,
        Ok(Ensured::Answered(response)) => return response,
        Err(e) => return reply::rpc_error(reply::status_for_start(&e), Some(&req.id), e),
    };
    match req.method.as_str() {
        "server/discover" => discover(&session, &req),
        "subscriptions/listen" => listen::listen(app, session, req).await,
        _ => forward(app, session, owner, req, &admitted).await,
    }
}

/// The principal's hosting session, or the answer of the pod that runs it.
enum Ensured {
    Here(Arc<HostingSession>),
    Answered(Response),
}

/// Gets (or starts) the principal's hosting session, initialized; with a
/// shared store, forwards the request to the pod that owns it.
async fn ensure_backend(
    app: &AppState,
    admitted: &Admitted,
    req: &Modern,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Ensured, RpcError> {
    let s = &admitted.server;
    let subject = &admitted.principal.subject;
    for _ in 0..locate::ATTEMPTS {
        let (session, binding, fresh) = match app
            .sessions
            .stateless(&s.tenant, &s.name, subject, &s.config)
            .await?
        {
            PrincipalSession::Here(session, binding, fresh) => (session, binding, fresh),
            PrincipalSession::Remote(lease) => {
                if was_forwarded(headers) {
                    break; // never forwarded twice
                }
                let original = Original {
                    method: Method::POST,
                    headers,
                    body,
                    id: Some(&req.id),
                };
                let binding = app.sessions.bind_principal(&s.tenant, &s.name, subject);
                match locate::to_owner(app, admitted, binding.record_key(), &lease, &original).await
                {
                    Some(answer) => return Ok(Ensured::Answered(answer)),
                    None => continue,
                }
            }
        };
        let timeout = app.sessions.request_timeout(&binding);
        let mut params = None;
        let init = session
            .backend_init()
            .get_or_try_init(|| {
                let (sent, init) = initialize_backend(&session, req.client_info.clone(), timeout);
                params = Some(sent);
                init
            })
            .await;
        return match init {
            Ok(_) => {
                if let Some(params) = params.filter(|_| fresh) {
                    app.sessions
                        .save_principal(&binding, &session, &params, &s.config)
                        .await;
                }
                Ok(Ensured::Here(session))
            }
            Err(e) => {
                // Only an instance that ended counts as a server that
                // cannot start (see `http::legacy`): the agent's
                // clientInfo is in this initialize, and one agent must
                // not lock the others out.
                if session.closed_reason().is_some() {
                    app.sessions
                        .record_start_failure(&s.tenant, &s.name, &e.message);
                }
                app.sessions.remove(&binding).await;
                Err(e)
            }
        };
    }
    Ok(Ensured::Answered(locate::owner_unreachable(Some(&req.id))))
}

/// Runs the legacy handshake with the backend on the agent's behalf,
/// declaring every client capability Berth can relay (each request's own
/// capabilities are enforced per request).
/// Returns the `initialize` params it sends (kept in the principal's
/// record) and the handshake to await.
fn initialize_backend(
    session: &Arc<HostingSession>,
    client_info: Option<Value>,
    timeout: std::time::Duration,
) -> (
    String,
    impl std::future::Future<Output = Result<Arc<Value>, RpcError>> + '_,
) {
    let info = client_info.unwrap_or_else(
        || serde_json::json!({"name": "berth", "version": env!("CARGO_PKG_VERSION")}),
    );
    let params = serde_json::json!({
        "protocolVersion": "2025-11-25",
        "capabilities": {"sampling": {}, "elicitation": {"form": {}, "url": {}}, "roots": {}},
        "clientInfo": info,
    })
    .to_string();
    (params.clone(), handshake(session, params, timeout))
}

async fn handshake(
    session: &Arc<HostingSession>,
    params: String,
    timeout: std::time::Duration,
) -> Result<Arc<Value>, RpcError> {
    let stream = session.open_stream();
    let id = serde_json::value::RawValue::from_string("\"berth-initialize\"".into())
        .expect("valid JSON");
    session
        .forward_composed(id, "initialize", &params, stream.clone(), timeout, None)
        .await?;
    let mut after = 0;
    let event = loop {
        match stream.next_after(after).await {
            Next::Event(e) if e.last => break e,
            Next::Event(e) => after = e.seq,
            _ => {
                return Err(RpcError::new(
                    ErrorCode::BackendUnavailable,
                    "the MCP server did not answer initialize",
                ));
            }
        }
    };
    #[derive(serde::Deserialize)]
    struct Init {
        result: Option<Value>,
        error: Option<Value>,
    }
    let init: Init = serde_json::from_slice(&event.data).map_err(|e| {
        RpcError::new(
            ErrorCode::BackendUnavailable,
            format!("the MCP server answered initialize with garbage: {e}"),
        )
    })?;
    let Some(result) = init.result else {
        let detail = init.error.map(|e| e.to_string()).unwrap_or_default();
        return Err(RpcError::new(
            ErrorCode::BackendUnavailable,
            format!("the MCP server refused to initialize: {detail}"),
        ));
    };
    if let Some(v) = result.get("protocolVersion").and_then(Value::as_str) {
        session.set_protocol_version(v.to_owned());
    }
    session
        .send(Bytes::from_static(
            br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
        ))
        .await?;
    Ok(Arc::new(result))
}

/// Capabilities a 2026 agent may see (the `tasks` key moved to an extension).
const CAPABILITY_KEYS: &[&str] = &[
    "completions",
    "experimental",
    "extensions",
    "logging",
    "prompts",
    "resources",
    "tools",
];

/// `server/discover`, answered from the backend's `InitializeResult`.
fn discover(session: &HostingSession, req: &Modern) -> Response {
    let init = session.backend_init().get().cloned().unwrap_or_default();
    let mut caps = Map::new();
    if let Some(Value::Object(c)) = init.get("capabilities") {
        for (k, v) in c {
            if CAPABILITY_KEYS.contains(&k.as_str()) {
                caps.insert(k.clone(), v.clone());
            }
        }
    }
    let mut result = serde_json::json!({
        "resultType": "complete",
        "supportedVersions": SUPPORTED_VERSIONS,
        "capabilities": caps,
        "ttlMs": 0,
        "cacheScope": "private",
    });
    if let Some(i) = init.get("instructions") {
        result["instructions"] = i.clone();
    }
    if let Some(info) = init.get("serverInfo") {
        result["_meta"] = serde_json::json!({"io.modelcontextprotocol/serverInfo": info});
    }
    reply::json(
        StatusCode::OK,
        Bytes::from(shape::result_message(&req.id, &result)),
    )
}

/// Forwards a request (or resumes a parked one) and answers it.
async fn forward(
    app: &AppState,
    session: Arc<HostingSession>,
    owner: Owner,
    req: Modern,
    admitted: &Admitted,
) -> Response {
    let timeout = admitted
        .server
        .config
        .request_timeout
        .unwrap_or(app.config.limits.request_timeout);
    let input_responses = match req.params.get("inputResponses") {
        None => None,
        Some(Value::Object(m)) => Some(m.clone()),
        Some(_) => {
            return reply::rpc_error(
                StatusCode::BAD_REQUEST,
                Some(&req.id),
                RpcError::new(
                    ErrorCode::InvalidParams,
                    "Invalid params: inputResponses must be an object",
                ),
            );
        }
    };
    let state = match req.params.get("requestState") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => {
            return reply::rpc_error(
                StatusCode::BAD_REQUEST,
                Some(&req.id),
                RpcError::new(
                    ErrorCode::InvalidParams,
                    "Invalid params: requestState must be a string",
                ),
            );
        }
    };
    let uri = req
        .params
        .get("uri")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let digest = mrtr::digest(&owner, &req.method, &req.params);
    let call = Call {
        app: app.clone(),
        session,
        owner,
        req,
        input_responses,
        uri,
        digest,
    };
    let driver = match state {
        Some(state) if state.starts_with(mrtr::STATE_PREFIX) => {
            let cont = match app
                .mrtr
                .take(app.sessions.keys(), &call.owner, &state, &call.digest)
            {
                Ok(c) => c,
                Err(e) => return reply::rpc_error(StatusCode::BAD_REQUEST, Some(&call.req.id), e),
            };
            match call::resume(&call, cont, timeout).await {
                Err(frame) => return single(frame),
                Ok((cont, true)) => Driver::new(call, cont),
                Ok((cont, false)) => return single(Driver::new(call, cont).ask_again()),
            }
        }
        _ => match call::start(&call, timeout).await {
            Ok(cont) => Driver::new(call, cont),
            Err(e) => return reply::rpc_error(StatusCode::OK, Some(&call.req.id), e),
        },
    };
    respond(driver).await
}

fn single(frame: Frame) -> Response {
    match frame {
        Frame::Final(b, status) => reply::json(status, b),
        Frame::Mid(b) => reply::json(StatusCode::OK, b),
    }
}

/// JSON when the answer is the first frame; SSE (no event ids, no priming:
/// 2026 has no resumption) when notifications come first.
async fn respond(mut driver: Driver) -> Response {
    let first = driver.next().await;
    match first {
        Some(Frame::Final(b, status)) => reply::json(status, b),
        Some(Frame::Mid(b)) => {
            let head = futures::stream::once(async move { Ok::<_, Infallible>(sse_frame(&b)) });
            let rest = futures::stream::unfold(driver, |mut d| async move {
                let f = d.next().await?;
                let bytes = match f {
                    Frame::Mid(b) | Frame::Final(b, _) => sse_frame(&b),
                };
                Some((Ok::<_, Infallible>(bytes), d))
            });
            reply::sse_response(Body::from_stream(futures::StreamExt::chain(head, rest)))
        }
        None => reply::error(StatusCode::OK, ErrorCode::InternalError, "no answer"),
    }
}

/// One SSE event carrying one compact JSON message.
pub fn sse_frame(data: &[u8]) -> Bytes {
    let mut out = Vec::with_capacity(data.len() + 24);
    out.extend_from_slice(b"event: message\ndata: ");
    crate::http::reply::put_sse_data(&mut out, data);
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}
