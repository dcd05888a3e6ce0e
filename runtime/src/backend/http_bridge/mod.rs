//! Speaking MCP to a Streamable HTTP server as its client, behind the same
//! message pipe as stdio: each outbound message becomes one POST, and every
//! message the server sends back (a JSON body, the events of an SSE
//! response, the events of the standalone GET stream) goes to the
//! instance's [`InboundSink`].
//!
//! It speaks both eras, as the messages it is given do. A 2026-07-28
//! request (its `_meta` names the version) goes out on its own, with the
//! routing headers mirrored from its body (`outbound`), no session; its
//! cancellation closes its POST (that era's HTTP wire has no client
//! notifications); the server's JSON-RPC error for it comes back as its
//! answer even when the server gave it no id. For the session era, the
//! bridge keeps the server's `Mcp-Session-Id` and negotiated
//! `MCP-Protocol-Version` and sends both on every later request; it opens
//! the GET stream once the session is initialized (servers that answer 405
//! have none); it resumes an SSE response the server closed before
//! answering with `Last-Event-ID`, as the spec asks of clients; and every
//! request that fails at the HTTP level gets a JSON-RPC error response, so
//! no agent waits for an answer that cannot come. At shutdown it DELETEs
//! the server's session.
//!
//! Redirects are never followed and no proxy is used: the bridge only
//! talks to the address its backend resolved.
//!
//! May import: `backend` shapes, `backend::framing`, `http_bridge::*`,
//! `jsonrpc`, `protocol`.

mod messages;
mod outbound;
pub(crate) mod sse;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures::{StreamExt, TryStreamExt};
use http::HeaderMap;
use http::StatusCode;
use http::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use parking_lot::{Mutex, RwLock};
use serde_json::value::RawValue;
use tokio::io::BufReader;
use tokio::sync::{OnceCell, mpsc, oneshot};
use tokio_util::sync::CancellationToken;

use self::messages::{answers, error_for, negotiated_version};
use self::outbound::Outbound;
use self::sse::{Next, SseReader};
use crate::backend::{HeaderSource, InboundSink};
use crate::jsonrpc::{ErrorCode, RpcError};
use crate::protocol::{LAST_EVENT_ID, MCP_PROTOCOL_VERSION, MCP_SESSION_ID, ParamHeaders};

/// How long the bridge waits for a POST's response headers before sending
/// the next message. Keeps messages in order (a server sees `initialized`
/// before the next request) without letting a slow JSON answer block the
/// pipe (e.g. an elicitation response the pending call is waiting for).
const HEADER_WAIT: Duration = Duration::from_millis(250);

/// Resumption attempts for a response stream closed before its answer.
const MAX_RESUMES: u32 = 5;

/// Longest wait between reconnections, whatever `retry` the server asks.
const MAX_RETRY: Duration = Duration::from_secs(10);

/// Reconnection delay when the server gives none.
const DEFAULT_RETRY: Duration = Duration::from_secs(1);

/// A client that only talks to the address it is given: no proxy, no
/// redirects (bridges to HTTP servers, forwarding between pods); HTTPS
/// (an `https` advertise URL) is verified against the compiled-in roots,
/// so it builds on hosts without a system CA store.
pub(crate) fn client() -> reqwest::Client {
    builder()
        .pool_idle_timeout(Duration::from_secs(60))
        .build()
        .expect("a plain HTTP client always builds")
}

/// Like [`client`], but every request opens a new connection (none is kept
/// idle): for asking whether anything listens at an address now, which a
/// pooled connection to a process that just died cannot tell.
pub(crate) fn unpooled_client() -> reqwest::Client {
    builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("a plain HTTP client always builds")
}

fn builder() -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .tls_backend_preconfigured(berth_auth::tls::client_config())
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .tcp_nodelay(true)
}

/// What a bridge is given besides its messages.
pub(crate) struct BridgeSetup {
    /// The HTTP client (see [`client`]).
    pub client: reqwest::Client,
    /// Where the server's messages go.
    pub sink: Arc<dyn InboundSink>,
    /// Largest message accepted from the server, in bytes.
    pub limit: usize,
    /// The deployment's secret headers, if it has any.
    pub secrets: Option<HeaderSource>,
    /// The server's `Mcp-Param-*` declarations, once learned.
    pub declared: Arc<OnceCell<ParamHeaders>>,
}

/// Runs a bridge: waits for `resolve` to yield the server's endpoint URL,
/// then forwards `outbound` until `stop` is cancelled. A failed resolve is
/// reported to the sink and cancels `stop`, so the instance shuts down.
pub(crate) fn spawn<F>(
    setup: BridgeSetup,
    resolve: F,
    outbound: mpsc::Receiver<Bytes>,
    stop: CancellationToken,
) where
    F: std::future::Future<Output = Result<url::Url, String>> + Send + 'static,
{
    tokio::spawn(async move {
        let url = tokio::select! {
            url = resolve => url,
            _ = stop.cancelled() => return,
        };
        let url = match url {
            Ok(url) => url,
            Err(reason) => {
                setup.sink.on_garbage(&reason);
                stop.cancel();
                return;
            }
        };
        let bridge = Arc::new(Bridge {
            client: setup.client,
            url,
            sink: setup.sink,
            limit: setup.limit,
            secrets: setup.secrets,
            declared: setup.declared,
            session_era: AtomicBool::new(false),
            session: RwLock::new(None),
            version: RwLock::new(None),
            in_flight: Mutex::new(HashMap::new()),
            tasks: stop.child_token(),
        });
        bridge.run(outbound, stop).await;
    });
}

struct Bridge {
    client: reqwest::Client,
    url: url::Url,
    sink: Arc<dyn InboundSink>,
    limit: usize,
    /// Secret headers added to every request (read anew each time).
    secrets: Option<HeaderSource>,
    /// The server's `Mcp-Param-*` declarations, once learned.
    declared: Arc<OnceCell<ParamHeaders>>,
    /// Whether an `initialize` went out: the server is spoken to in the
    /// session era.
    session_era: AtomicBool,
    /// The server's `Mcp-Session-Id`, once it assigned one.
    session: RwLock<Option<HeaderValue>>,
    /// The protocol version the server agreed to in `initialize`.
    version: RwLock<Option<HeaderValue>>,
    /// Closes the POST of an in-flight 2026-07-28 request, by raw id.
    in_flight: Mutex<HashMap<String, CancellationToken>>,
    /// Cancels the per-message tasks and the GET stream.
    tasks: CancellationToken,
}

// === impl Bridge ===

impl Bridge {
    async fn run(self: Arc<Self>, mut outbound: mpsc::Receiver<Bytes>, stop: CancellationToken) {
        let mut listening = false;
        loop {
            let message = tokio::select! {
                m = outbound.recv() => m,
                _ = stop.cancelled() => None,
            };
            let Some(message) = message else { break };
            let info = Outbound::of(&message, self.declared.get());
            if info.method.as_deref() == Some("initialize") {
                // Everything after depends on the session it creates.
                self.session_era.store(true, Ordering::Relaxed);
                self.post(message, info, true, None).await;
                continue;
            }
            if !self.session_era.load(Ordering::Relaxed)
                && info.stateless.is_none()
                && info.request_id.is_none()
            {
                // 2026-07-28 over HTTP has no client notifications: a
                // cancellation closes its request's POST.
                match &info.cancels {
                    Some(id) => self.abort(id),
                    None => {
                        tracing::debug!(method = ?info.method, "not sent: no 2026-07-28 HTTP form")
                    }
                }
                continue;
            }
            let (headers_tx, headers_rx) = oneshot::channel();
            let bridge = self.clone();
            let initialized = info.method.as_deref() == Some("notifications/initialized");
            let closes = bridge.tasks.child_token();
            let key = info
                .stateless
                .as_ref()
                .and(info.request_id.as_ref())
                .map(|id| id.get().to_owned());
            if let Some(key) = &key {
                self.in_flight.lock().insert(key.clone(), closes.clone());
            }
            tokio::spawn(async move {
                tokio::select! {
                    _ = bridge.post(message, info, false, Some(headers_tx)) => {}
                    _ = closes.cancelled() => {}
                }
                if let Some(key) = key {
                    bridge.in_flight.lock().remove(&key);
                }
            });
            let _ = tokio::time::timeout(HEADER_WAIT, headers_rx).await;
            if initialized && !listening {
                listening = true;
                let bridge = self.clone();
                tokio::spawn(async move {
                    let tasks = bridge.tasks.clone();
                    tokio::select! {
                        _ = bridge.listen() => {}
                        _ = tasks.cancelled() => {}
                    }
                });
            }
        }
        self.tasks.cancel();
        self.end_session().await;
    }

    /// Closes the POST of the 2026-07-28 request with raw id `id` (its
    /// cancellation); nothing if it has been answered.
    fn abort(&self, id: &str) {
        if let Some(closes) = self.in_flight.lock().remove(id) {
            closes.cancel();
        }
    }

    /// The deployment's secret headers for the next request, fresh from
    /// their source; empty when it has none.
    async fn secret_headers(&self) -> Result<HeaderMap, String> {
        match &self.secrets {
            Some(source) => source.0.headers().await,
            None => Ok(HeaderMap::new()),
        }
    }

    /// Adds the session and version headers.
    fn with_session(&self, mut req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        if let Some(s) = self.session.read().clone() {
            req = req.header(MCP_SESSION_ID, s);
        }
        if let Some(v) = self.version.read().clone() {
            req = req.header(MCP_PROTOCOL_VERSION, v);
        }
        req
    }

    /// POSTs one message and delivers what comes back.
    async fn post(
        &self,
        message: Bytes,
        info: Outbound,
        initialize: bool,
        headers_sent: Option<oneshot::Sender<()>>,
    ) {
        let Outbound {
            request_id,
            stateless,
            ..
        } = info;
        let secrets = match self.secret_headers().await {
            Ok(headers) => headers,
            Err(reason) => return self.fail(request_id.as_deref(), &reason),
        };
        let req = self
            .client
            .post(self.url.clone())
            .headers(secrets)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json, text/event-stream")
            .body(message);
        let req = match &stateless {
            Some(routing) => req.headers(routing.clone()),
            None => self.with_session(req),
        };
        let response = req.send().await;
        if let Some(tx) = headers_sent {
            let _ = tx.send(());
        }
        let response = match response {
            Ok(r) => r,
            Err(e) => {
                return self.fail(
                    request_id.as_deref(),
                    &format!("could not reach the server: {}", error_chain(&e)),
                );
            }
        };
        if let (true, Some(s)) = (initialize, response.headers().get(MCP_SESSION_ID)) {
            *self.session.write() = Some(s.clone());
        }
        let status = response.status();
        if status == StatusCode::ACCEPTED {
            return;
        }
        if status.is_success() && is_event_stream(&response) {
            return self
                .read_response_stream(response, request_id, initialize, stateless.is_none())
                .await;
        }
        // A JSON body: the answer, or (on an error status) maybe a JSON-RPC
        // error for this request.
        let body = match self.read_body(response).await {
            Ok(body) => body,
            Err(reason) => return self.fail(request_id.as_deref(), &reason),
        };
        if answers(&body, request_id.as_deref()) || (status.is_success() && !body.is_empty()) {
            self.deliver(body, initialize);
        } else if let (Some(_), Some(id)) = (&stateless, request_id.as_deref()) {
            // The server refused a 2026-07-28 request at the HTTP level:
            // its own error, or one that says so (not retryable: asking
            // again gets the same answer).
            let answer = error_for(&body, id).unwrap_or_else(|| {
                let err = RpcError::new(
                    ErrorCode::InvalidRequest,
                    format!(
                        "the server refused the request with HTTP {status}: {}",
                        String::from_utf8_lossy(&body[..body.len().min(200)])
                    ),
                );
                Bytes::from(err.to_response(Some(id)))
            });
            self.sink.on_message(answer);
        } else if request_id.is_some() || !status.is_success() {
            let reason = if status == StatusCode::NOT_FOUND && self.has_session() {
                "the server no longer knows this session (HTTP 404)".to_owned()
            } else {
                format!("the server answered HTTP {status} without a JSON-RPC response")
            };
            self.fail(request_id.as_deref(), &reason);
        }
    }

    /// Reads an SSE response until it carries the answer to `request_id`,
    /// resuming with `Last-Event-ID` if the server closes it early.
    async fn read_response_stream(
        &self,
        response: reqwest::Response,
        request_id: Option<Box<RawValue>>,
        initialize: bool,
        resumable: bool,
    ) {
        let mut response = response;
        let mut last_event: Option<String> = None;
        let mut retry = DEFAULT_RETRY;
        let mut resumes = 0;
        loop {
            let mut events = event_reader(response, self.limit);
            loop {
                match events.next_event().await {
                    Ok(Next::Event(event)) => {
                        if let Some(id) = event.id {
                            last_event = Some(id);
                        }
                        if let Some(ms) = event.retry {
                            retry = Duration::from_millis(ms).min(MAX_RETRY);
                        }
                        if event.data.is_empty() {
                            continue; // priming event
                        }
                        let answer = answers(&event.data, request_id.as_deref());
                        self.deliver(event.data, initialize && answer);
                        if answer {
                            // The stream has served its purpose.
                            return;
                        }
                    }
                    Ok(Next::Oversized(n)) => self.oversized(n),
                    Ok(Next::End) | Err(_) => break,
                }
            }
            if request_id.is_none() {
                return;
            }
            if !resumable {
                return self.fail(
                    request_id.as_deref(),
                    "the server closed the response stream before answering",
                );
            }
            let Some(from) = last_event.clone() else {
                return self.fail(
                    request_id.as_deref(),
                    "the server closed the response stream before answering and gave no event id to resume from",
                );
            };
            resumes += 1;
            if resumes > MAX_RESUMES {
                return self.fail(
                    request_id.as_deref(),
                    &format!("the server closed the response stream {MAX_RESUMES} times without answering"),
                );
            }
            tokio::time::sleep(retry).await;
            match self.get_stream(Some(&from)).await {
                Ok(Some(next)) => response = next,
                Ok(None) => {
                    return self.fail(
                        request_id.as_deref(),
                        "the server closed the response stream and does not offer resumption (GET answered 405)",
                    );
                }
                Err(reason) => return self.fail(request_id.as_deref(), &reason),
            }
        }
    }

    /// Keeps the standalone GET stream open for server-initiated messages.
    async fn listen(&self) {
        let mut last_event: Option<String> = None;
        let mut retry = DEFAULT_RETRY;
        let mut failures = 0u32;
        loop {
            match self.get_stream(last_event.as_deref()).await {
                Ok(None) => return, // the server has no GET stream
                Ok(Some(response)) => {
                    failures = 0;
                    let mut events = event_reader(response, self.limit);
                    loop {
                        match events.next_event().await {
                            Ok(Next::Event(event)) => {
                                if let Some(id) = event.id {
                                    last_event = Some(id);
                                }
                                if let Some(ms) = event.retry {
                                    retry = Duration::from_millis(ms).min(MAX_RETRY);
                                }
                                if !event.data.is_empty() {
                                    self.deliver(event.data, false);
                                }
                            }
                            Ok(Next::Oversized(n)) => self.oversized(n),
                            Ok(Next::End) | Err(_) => break,
                        }
                    }
                    tokio::time::sleep(retry).await;
                }
                Err(reason) => {
                    failures += 1;
                    tracing::debug!(%reason, failures, "server GET stream unavailable");
                    tokio::time::sleep((retry * failures).min(MAX_RETRY)).await;
                }
            }
        }
    }

    /// Opens a GET stream (optionally resuming); `None` when the server
    /// offers none (405).
    async fn get_stream(&self, from: Option<&str>) -> Result<Option<reqwest::Response>, String> {
        let mut req = self
            .client
            .get(self.url.clone())
            .headers(self.secret_headers().await?)
            .header(ACCEPT, "text/event-stream");
        if let Some(id) = from {
            req = req.header(LAST_EVENT_ID, id);
        }
        let response = self
            .with_session(req)
            .send()
            .await
            .map_err(|e| format!("could not reach the server: {}", error_chain(&e)))?;
        match response.status() {
            StatusCode::METHOD_NOT_ALLOWED => Ok(None),
            s if s.is_success() && is_event_stream(&response) => Ok(Some(response)),
            s => Err(format!(
                "the server answered a GET stream request with HTTP {s}"
            )),
        }
    }

    /// Reads a whole (non-SSE) body, up to the message limit.
    async fn read_body(&self, response: reqwest::Response) -> Result<Bytes, String> {
        let mut body = BytesMut::new();
        let mut chunks = response.bytes_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| format!("reading the server's answer failed: {e}"))?;
            if body.len() + chunk.len() > self.limit {
                return Err(format!(
                    "the server's answer is over the {}-byte message limit; raise `limits.max_message_bytes` in Berth's configuration, or ask the server for less",
                    self.limit
                ));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body.freeze())
    }

    /// Hands a server message to the session; notes the negotiated version.
    fn deliver(&self, message: Bytes, initialize: bool) {
        if let Some(v) = initialize.then(|| negotiated_version(&message)).flatten() {
            *self.version.write() = Some(v);
        }
        self.sink.on_message(message);
    }

    /// Answers a failed request with a JSON-RPC error (retryable: the
    /// server never processed it or its answer was lost); other failures
    /// are only reported.
    fn fail(&self, request_id: Option<&RawValue>, reason: &str) {
        match request_id {
            Some(id) => {
                let err = RpcError::new(ErrorCode::BackendUnavailable, reason)
                    .with_data(serde_json::json!({"retryable": true}));
                self.sink.on_message(Bytes::from(err.to_response(Some(id))));
            }
            None => self.sink.on_garbage(reason),
        }
    }

    fn oversized(&self, n: usize) {
        self.sink.on_garbage(&format!(
            "server sent a {n}-byte event, over the {}-byte limit",
            self.limit
        ));
    }

    fn has_session(&self) -> bool {
        self.session.read().is_some()
    }

    /// Ends the server's session (best effort; the instance stops anyway).
    async fn end_session(&self) {
        if !self.has_session() {
            return;
        }
        let req = self.with_session(self.client.delete(self.url.clone()));
        let _ = tokio::time::timeout(Duration::from_secs(1), req.send()).await;
    }
}

fn is_event_stream(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("text/event-stream"))
}

fn event_reader(
    response: reqwest::Response,
    limit: usize,
) -> SseReader<impl tokio::io::AsyncBufRead + Unpin> {
    let bytes = response.bytes_stream().map_err(std::io::Error::other);
    SseReader::new(
        BufReader::new(tokio_util::io::StreamReader::new(bytes)),
        limit,
    )
}

/// An error with its causes (reqwest hides the useful part in `source`).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut next = e.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}
