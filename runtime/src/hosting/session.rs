//! One hosting session: a backend instance and the traffic routed through it.
//!
//! A [`HostingSession`] is (tenant, server, principal [, legacy session id]).
//! Agent requests get a fresh backend-side id (a per-session counter) so
//! concurrent agents never collide; the backend's response is spliced back to
//! the agent's original id and appended to the request's [`EventStream`].
//! Messages the server sends on its own (notifications, sampling/elicitation
//! requests) go to the stream of the request they relate to (progress by
//! token, otherwise the newest pending request) or to the standalone stream.
//!
//! Locking: one std `Mutex<State>` per session, held only for map updates,
//! never across `.await`. The backend's reader task calls [`InboundSink`]
//! methods synchronously.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use serde_json::value::RawValue;
use tokio::time::Instant;

use super::journal::{Journal, Restored};
use super::stream::EventStream;
use crate::backend::{InboundSink, Instance};
use crate::jsonrpc::{self, Envelope, ErrorCode, Kind, RpcError};

/// Finished request streams kept for `Last-Event-ID` replay.
const KEEP_FINISHED_STREAMS: usize = 32;

/// Identity of a hosting session.
#[derive(Clone, Debug)]
pub struct SessionIdentity {
    /// Tenant.
    pub tenant: String,
    /// Server name.
    pub server: String,
    /// Principal subject.
    pub subject: String,
    /// A short non-secret label for logs (a prefix of the record key hash).
    pub label: String,
}

/// A pending agent request, keyed by its backend-side id.
#[derive(Debug)]
struct Pending {
    client_id: Box<RawValue>,
    stream: Arc<EventStream>,
    deadline: Instant,
    progress_token: Option<Box<str>>,
    /// Waiting for the agent (2026-07-28 input-required round trip): not a
    /// target for server-initiated messages until resumed.
    parked: bool,
    /// When the request last became active (registered or resumed); the
    /// most recently active request is the likeliest cause of a server
    /// message, since stdio carries no correlation.
    active_seq: u64,
}

#[derive(Debug, Default)]
struct State {
    pending: HashMap<u64, Pending>,
    activations: u64,
    streams: BTreeMap<u64, Arc<EventStream>>,
    next_stream: u64,
    progress: HashMap<Box<str>, Arc<EventStream>>,
    closed: Option<String>,
}

/// One backend instance and its routing state.
pub struct HostingSession {
    identity: SessionIdentity,
    state: Mutex<State>,
    standalone: Arc<EventStream>,
    /// Position up to which the standalone stream was delivered to a GET.
    standalone_delivered: AtomicU64,
    instance: OnceLock<Instance>,
    next_backend_id: AtomicU64,
    last_used: Mutex<Instant>,
    stream_cap: usize,
    protocol_version: OnceLock<String>,
    shutting_down: AtomicBool,
    /// The backend's `InitializeResult`, for sessions Berth initialized
    /// itself (2026-07-28 agents).
    backend_init: tokio::sync::OnceCell<Arc<serde_json::Value>>,
    /// Where resumable streams are copied (legacy sessions, shared store).
    journal: OnceLock<Journal>,
    /// Streams rebuilt by a takeover that the journal must go on copying,
    /// with the position they were restored up to.
    unjournaled: Mutex<Vec<(Arc<EventStream>, u64)>>,
}

// === impl HostingSession ===

impl HostingSession {
    /// A session with no instance yet; call [`Self::attach`] once started.
    pub fn new(identity: SessionIdentity, stream_cap: usize) -> Arc<Self> {
        Arc::new(Self::build(
            identity,
            stream_cap,
            EventStream::new(0, stream_cap),
            1,
        ))
    }

    /// A session taken over from a pod that went away, with the streams its
    /// journal kept. A request that was still waiting for its answer gets a
    /// retryable error instead. Stream numbers and backend-side ids continue
    /// from a fresh epoch, so neither an agent's old `Last-Event-ID` nor a
    /// late answer to the old pod's request can be mistaken for a new one.
    pub fn resumed(identity: SessionIdentity, stream_cap: usize, journal: Restored) -> Arc<Self> {
        let epoch = fresh_epoch();
        let standalone = EventStream::restored(0, stream_cap, journal.standalone, false);
        let delivered = standalone.last_seq();
        let session = Self::build(identity, stream_cap, standalone, epoch);
        session
            .standalone_delivered
            .store(delivered, Ordering::Release);
        let mut unjournaled = vec![(session.standalone.clone(), delivered)];
        {
            let mut st = session.lock();
            let newest = journal.streams.keys().next_back().copied().unwrap_or(0);
            st.next_stream = epoch.max(newest + 1);
            for (id, restored) in journal.streams {
                let stream = Arc::new(EventStream::restored(
                    id,
                    stream_cap,
                    restored.events,
                    restored.finished,
                ));
                if !restored.finished {
                    unjournaled.push((stream.clone(), stream.last_seq()));
                    match &restored.request_id {
                        Some(id) => {
                            let err = RpcError::new(
                                ErrorCode::BackendUnavailable,
                                "the Berth pod serving this request went away before the MCP server answered; the request may be retried",
                            )
                            .with_data(serde_json::json!({"retryable": true}));
                            stream.push(Bytes::from(err.to_response(Some(id))), true);
                        }
                        None => stream.finish(),
                    }
                }
                st.streams.insert(id, stream);
            }
        }
        *session
            .unjournaled
            .lock()
            .expect("unjournaled lock poisoned") = unjournaled;
        Arc::new(session)
    }

    fn build(
        identity: SessionIdentity,
        stream_cap: usize,
        standalone: EventStream,
        first_id: u64,
    ) -> Self {
        HostingSession {
            identity,
            state: Mutex::new(State {
                next_stream: first_id,
                ..State::default()
            }),
            standalone: Arc::new(standalone),
            standalone_delivered: AtomicU64::new(0),
            instance: OnceLock::new(),
            next_backend_id: AtomicU64::new(first_id),
            last_used: Mutex::new(Instant::now()),
            stream_cap,
            protocol_version: OnceLock::new(),
            shutting_down: AtomicBool::new(false),
            backend_init: tokio::sync::OnceCell::new(),
            journal: OnceLock::new(),
            unjournaled: Mutex::new(Vec::new()),
        }
    }

    /// Journals this session's resumable streams from now on: the
    /// standalone stream, streams rebuilt by a takeover, and request streams
    /// passed to [`Self::journal_stream`].
    pub fn set_journal(&self, journal: Journal) {
        let journal = self.journal.get_or_init(|| journal);
        let restored =
            std::mem::take(&mut *self.unjournaled.lock().expect("unjournaled lock poisoned"));
        if restored.is_empty() {
            journal.follow(self.standalone.clone(), 0);
        }
        for (stream, after) in restored {
            journal.follow(stream, after);
        }
    }

    /// Journals a request stream that is answered over SSE (so the agent
    /// can resume it on any pod); `request_id` is the agent's id.
    pub async fn journal_stream(&self, stream: &Arc<EventStream>, request_id: Option<&RawValue>) {
        if let Some(journal) = self.journal.get() {
            journal.follow_request(stream.clone(), request_id).await;
        }
    }

    /// Attaches the started backend instance.
    pub fn attach(&self, instance: Instance) {
        let _ = self.instance.set(instance);
    }

    /// The instance's re-attach handle (container id), if it has one.
    pub fn instance_resume(&self) -> Option<String> {
        self.instance.get().and_then(|i| i.resume.clone())
    }

    /// Who owns this session.
    pub fn identity(&self) -> &SessionIdentity {
        &self.identity
    }

    /// The protocol version the backend negotiated, once known.
    pub fn protocol_version(&self) -> Option<&str> {
        self.protocol_version.get().map(String::as_str)
    }

    /// Records the negotiated protocol version.
    pub fn set_protocol_version(&self, v: String) {
        let _ = self.protocol_version.set(v);
    }

    /// Why the session ended, if it did.
    pub fn closed_reason(&self) -> Option<String> {
        self.lock().closed.clone()
    }

    /// Marks the session used now (for idle reaping).
    pub fn touch(&self) {
        *self.last_used.lock().expect("last_used lock poisoned") = Instant::now();
    }

    /// How long since the session was last used.
    pub fn idle_for(&self) -> Duration {
        self.last_used
            .lock()
            .expect("last_used lock poisoned")
            .elapsed()
    }

    /// True while requests are in flight.
    pub fn has_pending(&self) -> bool {
        !self.lock().pending.is_empty()
    }

    /// Opens a new request stream.
    pub fn open_stream(&self) -> Arc<EventStream> {
        let mut st = self.lock();
        let id = st.next_stream;
        st.next_stream += 1;
        let stream = Arc::new(EventStream::new(id, self.stream_cap));
        st.streams.insert(id, stream.clone());
        // Prune in batches (not on every request) once well over the limit.
        if st.streams.len() > 2 * KEEP_FINISHED_STREAMS {
            let excess = st.streams.len() - KEEP_FINISHED_STREAMS;
            let finished: Vec<u64> = st
                .streams
                .iter()
                .filter(|(_, s)| s.is_finished())
                .map(|(id, _)| *id)
                .take(excess)
                .collect();
            for id in finished {
                st.streams.remove(&id);
            }
        }
        stream
    }

    /// Finds a stream for `Last-Event-ID` replay (0 is the standalone stream).
    pub fn stream(&self, id: u64) -> Option<Arc<EventStream>> {
        if id == 0 {
            return Some(self.standalone.clone());
        }
        self.lock().streams.get(&id).cloned()
    }

    /// The standalone (GET) stream and the position a new GET resumes from.
    pub fn standalone(&self) -> (Arc<EventStream>, u64) {
        (
            self.standalone.clone(),
            self.standalone_delivered.load(Ordering::Acquire),
        )
    }

    /// Records that the standalone stream was delivered up to `seq`.
    pub fn standalone_delivered(&self, seq: u64) {
        self.standalone_delivered.fetch_max(seq, Ordering::AcqRel);
    }

    /// Forwards an agent request; its response will end `stream`. Returns
    /// the backend-side id.
    pub async fn forward_request(
        &self,
        raw: &[u8],
        env: &Envelope<'_>,
        stream: Arc<EventStream>,
        timeout: Duration,
    ) -> Result<u64, RpcError> {
        let id = env.id.expect("requests have ids");
        let progress_token = jsonrpc::meta_field(env.params, "progressToken")
            .map(|t| t.get().to_owned().into_boxed_str());
        let backend_id = self.register(id.to_owned(), stream, timeout, progress_token)?;
        let mut buf = itoa_buf(backend_id);
        let msg = jsonrpc::splice_id(raw, id, buf.format());
        self.send_registered(backend_id, Bytes::from(to_line(msg)))
            .await
    }

    /// Forwards a request Berth composed (`params` is raw JSON). The agent
    /// sees `client_id` on the response. `progress_token` is the raw token
    /// *as sent to the backend*.
    pub async fn forward_composed(
        &self,
        client_id: Box<RawValue>,
        method: &str,
        params: &str,
        stream: Arc<EventStream>,
        timeout: Duration,
        progress_token: Option<Box<str>>,
    ) -> Result<u64, RpcError> {
        let backend_id = self.register(client_id, stream, timeout, progress_token)?;
        let mut msg = Vec::with_capacity(params.len() + method.len() + 64);
        msg.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
        msg.extend_from_slice(itoa_buf(backend_id).format());
        msg.extend_from_slice(br#","method":"#);
        serde_json::to_writer(&mut msg, method).expect("writing to a Vec cannot fail");
        msg.extend_from_slice(br#","params":"#);
        msg.extend_from_slice(params.as_bytes());
        msg.push(b'}');
        self.send_registered(backend_id, Bytes::from(to_line(msg)))
            .await
    }

    /// Reserves a number no other call of this session gets (for tokens
    /// Berth derives from it). Taken from the backend-id sequence, so it is
    /// unique even when calls start concurrently.
    pub fn reserve_unique(&self) -> u64 {
        self.next_backend_id.fetch_add(1, Ordering::Relaxed)
    }

    fn register(
        &self,
        client_id: Box<RawValue>,
        stream: Arc<EventStream>,
        timeout: Duration,
        progress_token: Option<Box<str>>,
    ) -> Result<u64, RpcError> {
        let backend_id = self.next_backend_id.fetch_add(1, Ordering::Relaxed);
        let mut st = self.lock();
        if let Some(reason) = &st.closed {
            return Err(ended(reason));
        }
        if let Some(tok) = &progress_token {
            st.progress.insert(tok.clone(), stream.clone());
        }
        st.pending.insert(
            backend_id,
            Pending {
                client_id,
                stream,
                deadline: Instant::now() + timeout,
                progress_token,
                parked: false,
                active_seq: 0,
            },
        );
        st.activations += 1;
        let seq = st.activations;
        if let Some(p) = st.pending.get_mut(&backend_id) {
            p.active_seq = seq;
        }
        Ok(backend_id)
    }

    async fn send_registered(&self, backend_id: u64, msg: Bytes) -> Result<u64, RpcError> {
        if let Err(e) = self.send(msg).await {
            take_pending(&mut self.lock(), backend_id);
            return Err(e);
        }
        Ok(backend_id)
    }

    /// Parks a pending request (its agent must come back with input) until
    /// `until`; parked requests do not receive server-initiated messages.
    pub fn park(&self, backend_id: u64, until: Instant) -> bool {
        match self.lock().pending.get_mut(&backend_id) {
            Some(p) => {
                p.parked = true;
                p.deadline = until;
                true
            }
            None => false,
        }
    }

    /// Resumes a parked request with a fresh deadline.
    pub fn unpark(&self, backend_id: u64, timeout: Duration) -> bool {
        let mut st = self.lock();
        st.activations += 1;
        let seq = st.activations;
        match st.pending.get_mut(&backend_id) {
            Some(p) => {
                p.parked = false;
                p.deadline = Instant::now() + timeout;
                p.active_seq = seq;
                true
            }
            None => false,
        }
    }

    /// Abandons a pending request: no response will be delivered, and the
    /// server is told to stop.
    pub async fn cancel(&self, backend_id: u64, reason: &str) {
        if take_pending(&mut self.lock(), backend_id).is_none() {
            return;
        }
        let msg = serde_json::json!({
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": backend_id, "reason": reason},
        });
        let _ = self.send(Bytes::from(msg.to_string())).await;
    }

    /// The backend's `InitializeResult` cell (sessions Berth initializes).
    pub fn backend_init(&self) -> &tokio::sync::OnceCell<Arc<serde_json::Value>> {
        &self.backend_init
    }

    /// Forwards an agent notification or response (to a server request).
    pub async fn forward_other(&self, raw: &[u8], env: &Envelope<'_>) -> Result<(), RpcError> {
        if env.kind == Kind::Notification && env.method_str() == "notifications/cancelled" {
            return self.forward_cancel(env).await;
        }
        self.send(Bytes::from(to_line(raw.to_vec()))).await
    }

    /// Sends a message Berth itself composed (e.g. `initialize` on behalf of a
    /// stateless agent).
    pub async fn send(&self, msg: Bytes) -> Result<(), RpcError> {
        let msg = if msg.last() == Some(&b'\n') {
            msg
        } else {
            Bytes::from(to_line(msg.to_vec()))
        };
        let instance = self.instance.get().ok_or_else(|| {
            RpcError::new(
                ErrorCode::BackendUnavailable,
                "server instance is not running",
            )
        })?;
        instance.outbound.send(msg).await.map_err(|_| {
            ended(
                &self
                    .closed_reason()
                    .unwrap_or_else(|| "server instance stopped".into()),
            )
        })
    }

    async fn forward_cancel(&self, env: &Envelope<'_>) -> Result<(), RpcError> {
        #[derive(serde::Deserialize)]
        struct Cancel<'a> {
            #[serde(rename = "requestId", borrow)]
            request_id: &'a RawValue,
            #[serde(default)]
            reason: Option<String>,
        }
        let Some(cancel) = env
            .params
            .and_then(|p| serde_json::from_str::<Cancel<'_>>(p.get()).ok())
        else {
            return Ok(()); // Malformed cancellations are ignored, per spec.
        };
        // The agent no longer wants an answer: end its stream now rather
        // than at the timeout, and tell the server.
        let pending = {
            let mut st = self.lock();
            let id = st
                .pending
                .iter()
                .find(|(_, p)| p.client_id.get() == cancel.request_id.get())
                .map(|(id, _)| *id);
            id.and_then(|id| take_pending(&mut st, id).map(|p| (id, p)))
        };
        let Some((backend_id, p)) = pending else {
            return Ok(()); // Already answered: nothing to cancel.
        };
        p.stream.finish();
        let msg = serde_json::json!({
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": backend_id, "reason": cancel.reason},
        });
        self.send(Bytes::from(msg.to_string())).await
    }

    /// Answers every request past its deadline with a timeout error and tells
    /// the server to stop working on it.
    pub fn expire_overdue(&self, now: Instant) -> Vec<Bytes> {
        let mut cancels = Vec::new();
        let mut st = self.lock();
        let overdue: Vec<u64> = st
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        for id in overdue {
            if let Some(p) = take_pending(&mut st, id) {
                let err = RpcError::new(
                    ErrorCode::RequestTimeout,
                    "the MCP server did not answer within the request timeout; the request was cancelled and may be retried",
                )
                .with_data(serde_json::json!({"retryable": true}));
                p.stream
                    .push(Bytes::from(err.to_response(Some(&p.client_id))), true);
                let cancel = serde_json::json!({
                    "jsonrpc": "2.0",
                    "method": "notifications/cancelled",
                    "params": {"requestId": id, "reason": "request timed out in Berth"},
                });
                cancels.push(Bytes::from(cancel.to_string()));
            }
        }
        cancels
    }

    /// Lets the instance run on for another pod to re-attach (pod
    /// shutdown with a shared store) and fails whatever is still pending
    /// as retryable. Instances that cannot outlive the pod are stopped.
    pub async fn detach(&self, reason: &str) {
        if self.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        self.close(reason);
        if let Some(instance) = self.instance.get() {
            instance.control.detach().await;
        }
    }

    /// Stops the instance and fails whatever is still pending.
    pub async fn shutdown(&self, reason: &str) {
        if self.shutting_down.swap(true, Ordering::AcqRel) {
            return;
        }
        self.close(reason);
        if let Some(instance) = self.instance.get() {
            instance.control.shutdown().await;
        }
    }

    fn close(&self, reason: &str) {
        let pending = {
            let mut st = self.lock();
            if st.closed.is_none() {
                st.closed = Some(reason.to_owned());
            }
            st.progress.clear();
            std::mem::take(&mut st.pending)
        };
        for (_, p) in pending {
            let err = RpcError::new(
                ErrorCode::BackendUnavailable,
                format!("{reason}; the request was not completed and may be retried"),
            )
            .with_data(serde_json::json!({"retryable": true}));
            p.stream
                .push(Bytes::from(err.to_response(Some(&p.client_id))), true);
        }
        self.standalone.finish();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("session state lock poisoned")
    }

    fn route_response(&self, line: &Bytes, env: &Envelope<'_>) {
        let Some(backend_id) = env.id.and_then(jsonrpc::id_as_u64) else {
            tracing::warn!(session = %self.identity.label, "server answered an id Berth never sent; dropped");
            return;
        };
        let pending = take_pending(&mut self.lock(), backend_id);
        let Some(p) = pending else {
            // Forged, duplicate or late (after a timeout): never delivered.
            tracing::debug!(session = %self.identity.label, backend_id, "response to no pending request; dropped");
            return;
        };
        let msg = jsonrpc::splice_id(
            line,
            env.id.expect("responses have ids"),
            p.client_id.get().as_bytes(),
        );
        p.stream.push(Bytes::from(msg), true);
    }

    fn route_from_server(&self, line: Bytes, env: &Envelope<'_>) {
        let method = env.method_str();
        // Server-wide news belongs on the standalone stream (GET, or the
        // 2026-07-28 listen streams), never on one request's stream.
        let server_wide =
            method.ends_with("/list_changed") || method == "notifications/resources/updated";
        let target = if server_wide {
            None
        } else {
            let st = self.lock();
            let by_progress = (method == "notifications/progress")
                .then(|| jsonrpc::param_raw(env.params, "progressToken"))
                .flatten()
                .and_then(|t| st.progress.get(t.get()).cloned());
            by_progress.or_else(|| {
                st.pending
                    .iter()
                    .filter(|(_, p)| !p.parked)
                    .max_by_key(|(_, p)| p.active_seq)
                    .map(|(_, p)| p.stream.clone())
            })
        };
        match target {
            Some(stream) if !stream.is_finished() => {
                stream.push(line, false);
            }
            _ => {
                self.standalone.push(line, false);
            }
        }
    }
}

/// Makes a message one stdio line: JSON cannot hold raw CR/LF inside
/// strings, so any outside them are whitespace and become spaces; then a
/// single `\n` ends it (one `write` per message).
fn to_line(mut msg: Vec<u8>) -> Vec<u8> {
    if memchr::memchr2(b'\n', b'\r', &msg).is_some() {
        for b in msg.iter_mut() {
            if *b == b'\n' || *b == b'\r' {
                *b = b' ';
            }
        }
    }
    msg.push(b'\n');
    msg
}

/// A starting number above any a previous owner of a session can have
/// used: microseconds since the Unix epoch.
fn fresh_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2))
}

fn take_pending(st: &mut State, id: u64) -> Option<Pending> {
    let p = st.pending.remove(&id)?;
    if let Some(tok) = &p.progress_token {
        st.progress.remove(tok);
    }
    Some(p)
}

fn ended(reason: &str) -> RpcError {
    RpcError::new(
        ErrorCode::BackendUnavailable,
        format!("{reason}; start a new session to continue"),
    )
}

/// Formats a u64 without allocation.
fn itoa_buf(n: u64) -> ItoaBuf {
    ItoaBuf { n, buf: [0; 20] }
}

struct ItoaBuf {
    n: u64,
    buf: [u8; 20],
}

impl ItoaBuf {
    fn format(&mut self) -> &[u8] {
        let mut i = self.buf.len();
        let mut n = self.n;
        loop {
            i -= 1;
            self.buf[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        &self.buf[i..]
    }
}

// === impl InboundSink for HostingSession ===

impl InboundSink for HostingSession {
    fn on_message(&self, line: Bytes) {
        let env = match Envelope::parse(&line) {
            Ok(env) => env,
            Err(e) => {
                self.on_garbage(&format!("server wrote an invalid JSON-RPC message: {e:?}"));
                return;
            }
        };
        match env.kind {
            Kind::Response => self.route_response(&line, &env),
            Kind::Request | Kind::Notification => {
                let line = line.clone();
                self.route_from_server(line, &env)
            }
        }
    }

    fn on_garbage(&self, reason: &str) {
        let reason: String = reason.chars().take(200).collect();
        tracing::warn!(session = %self.identity.label, reason = %reason, "ignored server output");
    }

    fn on_exit(&self, reason: String) {
        tracing::info!(session = %self.identity.label, %reason, "server instance ended");
        self.close(&format!("the MCP server instance ended ({reason})"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn itoa_formats() {
        for n in [0u64, 7, 10, 12345, u64::MAX] {
            assert_eq!(itoa_buf(n).format(), n.to_string().as_bytes());
        }
    }
}
