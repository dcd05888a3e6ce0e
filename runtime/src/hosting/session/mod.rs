//! One hosting session: a backend instance and the traffic routed through it.
//!
//! A [`HostingSession`] is (tenant, server, principal [, legacy session id]).
//! Agent requests get a fresh backend-side id (a per-session counter) so
//! concurrent agents never collide; the backend's response is spliced back to
//! the agent's original id and appended to the request's [`EventStream`].
//! Messages the server sends on its own (notifications, sampling/elicitation
//! requests) go to the stream of the request they relate to (progress by
//! token, otherwise the newest pending request) or to the standalone stream
//! (`inbound`).
//!
//! State is grouped by what guards it: request routing under one lock,
//! held only for map updates and never across `.await` (`routing`); the
//! backend-id counter, last use and the stopping flag in atomics; what the
//! handshake learned and the journal in set-once cells (`parts`).
//!
//! Writes to the instance of a session other pods could take over pass the
//! cluster's write fence first ([`HostingSession::fence_with`]): this pod
//! writes only while its liveness record is certainly in the store.
//!
//! May import: `hosting::{journal, stream, error}`, `backend` (the
//! instance pipe), `cluster` (the write fence), `servers` (the notice
//! handle), `jsonrpc`, `protocol`.

mod held;
mod inbound;
mod parts;
mod routing;
mod wire;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use serde_json::value::RawValue;
use tokio::time::Instant;

pub(crate) use self::held::{DriftReporter, Held};
pub(crate) use self::parts::BackendSetup;
use self::parts::{Activity, Handshake, Journaling};
use self::routing::Routing;
pub(crate) use self::wire::Composed;
use self::wire::{compose_request, fresh_epoch, to_line};
use super::error::HostingError;
use super::journal::{Journal, Restored};
use super::stream::EventStream;
use crate::backend::Instance;
use crate::cluster::Cluster;
use crate::jsonrpc::{self, Envelope, ErrorCode, Kind, RpcError};
use crate::protocol::Version;
use crate::servers::Notice;

/// How long a send that met a closed instance waits for the backend's
/// report of why it ended.
const EXIT_REPORT_WAIT: Duration = Duration::from_secs(2);

/// Identity of a hosting session.
#[derive(Clone, Debug)]
pub(crate) struct SessionIdentity {
    /// Tenant.
    pub tenant: String,
    /// Server name.
    pub server: String,
    /// Principal subject.
    pub subject: String,
    /// A short non-secret label for logs (a prefix of the record key hash).
    pub label: String,
    /// The server's notice for the `_meta` of every answer (deprecation).
    pub notice: Notice,
    /// The registry version the session runs (`None`: a config server).
    pub version: Option<u32>,
    /// What the session's server is held to (its version's approval);
    /// `None`: not held (config-file servers).
    pub held: Option<Arc<Held>>,
}

/// The session's standalone (GET) stream and how far a GET has read it.
struct Standalone {
    stream: Arc<EventStream>,
    delivered: AtomicU64,
}

/// One backend instance and its routing state.
pub(crate) struct HostingSession {
    identity: SessionIdentity,
    routing: parking_lot::Mutex<Routing>,
    standalone: Standalone,
    instance: OnceLock<Instance>,
    /// Set for sessions other pods could take over: writes wait while
    /// this pod's liveness is unconfirmed.
    fence: OnceLock<Cluster>,
    next_backend_id: AtomicU64,
    activity: Activity,
    handshake: Handshake,
    journaling: Journaling,
    stream_cap: usize,
}

// === impl HostingSession ===

impl HostingSession {
    /// A session with no instance yet; call [`Self::attach`] once started.
    pub(crate) fn new(identity: SessionIdentity, stream_cap: usize) -> Arc<Self> {
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
    pub(crate) fn resumed(
        identity: SessionIdentity,
        stream_cap: usize,
        journal: Restored,
    ) -> Arc<Self> {
        let epoch = fresh_epoch();
        let newest = journal.streams.keys().next_back().copied().unwrap_or(0);
        let standalone = EventStream::restored(0, stream_cap, journal.standalone, false);
        let delivered = standalone.last_seq();
        let session = Self::build(identity, stream_cap, standalone, epoch);
        session
            .standalone
            .delivered
            .store(delivered, Ordering::Release);
        let mut unjournaled = vec![(session.standalone.stream.clone(), delivered)];
        {
            let mut routing = session.routing.lock();
            *routing = Routing::new(epoch.max(newest + 1));
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
                routing.keep_stream(stream);
            }
        }
        *session.journaling.unjournaled.lock() = unjournaled;
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
            routing: parking_lot::Mutex::new(Routing::new(first_id)),
            standalone: Standalone {
                stream: Arc::new(standalone),
                delivered: AtomicU64::new(0),
            },
            instance: OnceLock::new(),
            fence: OnceLock::new(),
            next_backend_id: AtomicU64::new(first_id),
            activity: Activity::new(),
            handshake: Handshake::default(),
            journaling: Journaling::default(),
            stream_cap,
        }
    }

    /// Journals this session's resumable streams from now on: the
    /// standalone stream, streams rebuilt by a takeover, and request streams
    /// passed to [`Self::journal_stream`].
    pub(crate) fn set_journal(&self, journal: Journal) {
        let journal = self.journaling.journal.get_or_init(|| journal);
        let restored = std::mem::take(&mut *self.journaling.unjournaled.lock());
        if restored.is_empty() {
            journal.follow(self.standalone.stream.clone(), 0);
        }
        for (stream, after) in restored {
            journal.follow(stream, after);
        }
    }

    /// Journals a request stream that is answered over SSE (so the agent
    /// can resume it on any pod); `request_id` is the agent's id.
    pub(crate) async fn journal_stream(
        &self,
        stream: &Arc<EventStream>,
        request_id: Option<&RawValue>,
    ) {
        if let Some(journal) = self.journaling.journal.get() {
            journal.follow_request(stream.clone(), request_id).await;
        }
    }

    /// Makes writes to the instance wait for `cluster`'s write fence (a
    /// session other pods could take over).
    pub(crate) fn fence_with(&self, cluster: Cluster) {
        let _ = self.fence.set(cluster);
    }

    /// Attaches the started backend instance.
    pub(crate) fn attach(&self, instance: Instance) {
        let _ = self.instance.set(instance);
    }

    /// The instance's re-attach handle (container id), if it has one.
    pub(crate) fn instance_resume(&self) -> Option<String> {
        self.instance.get().and_then(|i| i.resume.clone())
    }

    /// Who owns this session.
    pub(crate) fn identity(&self) -> &SessionIdentity {
        &self.identity
    }

    /// The protocol version the backend negotiated, once known (and known
    /// to Berth).
    pub(crate) fn protocol_version(&self) -> Option<Version> {
        self.handshake.version.get().copied()
    }

    /// Records the version the backend negotiated (the first call wins);
    /// a version Berth does not know is not recorded.
    pub(crate) fn set_protocol_version(&self, v: &str) {
        if let Some(v) = Version::parse(v) {
            let _ = self.handshake.version.set(v);
        }
    }

    /// How the backend is set up for stateless agents (set once, by the
    /// first request that needs it).
    pub(crate) fn backend_setup(&self) -> &tokio::sync::OnceCell<BackendSetup> {
        &self.handshake.setup
    }

    /// The backend's `InitializeResult`, if Berth initialized it.
    pub(crate) fn backend_init(&self) -> Option<Arc<serde_json::Value>> {
        match self.handshake.setup.get() {
            Some(BackendSetup::Initialized(init)) => Some(init.clone()),
            _ => None,
        }
    }

    /// True when the backend speaks 2026-07-28 itself.
    pub(crate) fn is_native(&self) -> bool {
        matches!(self.handshake.setup.get(), Some(BackendSetup::Native))
    }

    /// Why the session ended, if it did.
    pub(crate) fn closed_reason(&self) -> Option<String> {
        self.routing.lock().closed().map(str::to_owned)
    }

    /// Marks the session used now (for idle reaping).
    pub(crate) fn touch(&self) {
        self.activity.touch();
    }

    /// How long ago the session started.
    pub(crate) fn age(&self) -> Duration {
        self.activity.age()
    }

    /// The instance's id (pid or container id), once started.
    pub(crate) fn instance_id(&self) -> Option<&str> {
        self.instance.get().map(|i| i.id.as_str())
    }

    /// How long since the session was last used.
    pub(crate) fn idle_for(&self) -> Duration {
        self.activity.idle_for()
    }

    /// True while requests are in flight.
    pub(crate) fn has_pending(&self) -> bool {
        self.routing.lock().has_pending()
    }

    /// Opens a new request stream.
    pub(crate) fn open_stream(&self) -> Arc<EventStream> {
        self.routing.lock().open_stream(self.stream_cap)
    }

    /// Finds a stream for `Last-Event-ID` replay (0 is the standalone stream).
    pub(crate) fn stream(&self, id: u64) -> Option<Arc<EventStream>> {
        if id == 0 {
            return Some(self.standalone.stream.clone());
        }
        self.routing.lock().stream(id)
    }

    /// The standalone (GET) stream and the position a new GET resumes from.
    pub(crate) fn standalone(&self) -> (Arc<EventStream>, u64) {
        (
            self.standalone.stream.clone(),
            self.standalone.delivered.load(Ordering::Acquire),
        )
    }

    /// Records that the standalone stream was delivered up to `seq`.
    pub(crate) fn standalone_delivered(&self, seq: u64) {
        self.standalone.delivered.fetch_max(seq, Ordering::AcqRel);
    }

    /// Forwards an agent request; its response will end `stream`. Returns
    /// the backend-side id.
    pub(crate) async fn forward_request(
        &self,
        raw: &[u8],
        env: &Envelope<'_>,
        stream: Arc<EventStream>,
        timeout: Duration,
    ) -> Result<u64, HostingError> {
        let id = env.id.expect("requests have ids");
        let method = env.method_str();
        if self.identity.held.is_some() && method == "tools/call" {
            let name = env
                .params
                .and_then(|p| jsonrpc::params_name(p.get()))
                .unwrap_or_default();
            self.check_tool_call(&name, timeout).await?;
        }
        let progress_token = jsonrpc::meta_field(env.params, "progressToken")
            .map(|t| t.get().to_owned().into_boxed_str());
        let backend_id = self.register(id.to_owned(), stream, timeout, progress_token, method)?;
        let mut buf = itoa::Buffer::new();
        let msg = jsonrpc::splice_id(raw, id, buf.format(backend_id).as_bytes());
        self.send_registered(backend_id, Bytes::from(to_line(msg)))
            .await
    }

    /// Forwards a request Berth composed. The agent sees its `client_id`
    /// on the response. `progress_token` is the raw token *as sent to the
    /// backend*.
    pub(crate) async fn forward_composed(
        &self,
        request: Composed<'_>,
        stream: Arc<EventStream>,
        timeout: Duration,
        progress_token: Option<Box<str>>,
    ) -> Result<u64, HostingError> {
        let (method, params) = (request.method, request.params);
        if self.identity.held.is_some() && method == "tools/call" {
            let name = match request.tool {
                Some(name) => std::borrow::Cow::Borrowed(name),
                None => jsonrpc::params_name(params).unwrap_or_default(),
            };
            self.check_tool_call(&name, timeout).await?;
        }
        let id = request.client_id;
        let backend_id = self.register(id, stream, timeout, progress_token, method)?;
        let msg = compose_request(backend_id, method, params);
        self.send_registered(backend_id, Bytes::from(to_line(msg)))
            .await
    }

    /// Reserves a number no other call of this session gets (for tokens
    /// Berth derives from it). Taken from the backend-id sequence, so it is
    /// unique even when calls start concurrently.
    pub(crate) fn reserve_unique(&self) -> u64 {
        self.next_backend_id.fetch_add(1, Ordering::Relaxed)
    }

    fn register(
        &self,
        client_id: Box<RawValue>,
        stream: Arc<EventStream>,
        timeout: Duration,
        progress_token: Option<Box<str>>,
        method: &str,
    ) -> Result<u64, HostingError> {
        let backend_id = self.next_backend_id.fetch_add(1, Ordering::Relaxed);
        self.routing
            .lock()
            .register(
                backend_id,
                client_id,
                stream,
                timeout,
                progress_token,
                method,
            )
            .map_err(HostingError::Ended)?;
        Ok(backend_id)
    }

    async fn send_registered(&self, backend_id: u64, msg: Bytes) -> Result<u64, HostingError> {
        if let Err(e) = self.send(msg).await {
            self.routing.lock().take(backend_id);
            return Err(e);
        }
        Ok(backend_id)
    }

    /// Forgets a pending request without telling the server (its answer,
    /// should it come, is dropped).
    pub(crate) fn forget(&self, backend_id: u64) {
        self.routing.lock().take(backend_id);
    }

    /// Parks a pending request (its agent must come back with input) until
    /// `until`; parked requests do not receive server-initiated messages.
    pub(crate) fn park(&self, backend_id: u64, until: Instant) -> bool {
        self.routing.lock().park(backend_id, until)
    }

    /// Takes charge of a call the backend got from another pod (a parked
    /// 2026-07-28 call whose pod went away, on the instance this session
    /// re-attached): its answer goes to `stream`. This session numbers its
    /// own calls above it from now on. `false` if the id is pending here
    /// already or the session has ended.
    pub(crate) fn adopt(
        &self,
        backend_id: u64,
        client_id: Box<RawValue>,
        stream: Arc<EventStream>,
        timeout: Duration,
        progress_token: Option<Box<str>>,
    ) -> bool {
        self.next_backend_id
            .fetch_max(backend_id.saturating_add(1), Ordering::Relaxed);
        self.routing
            .lock()
            .adopt(backend_id, client_id, stream, timeout, progress_token)
    }

    /// Resumes a parked request with a fresh deadline.
    pub(crate) fn unpark(&self, backend_id: u64, timeout: Duration) -> bool {
        self.routing.lock().unpark(backend_id, timeout)
    }

    /// Abandons a pending request: no response will be delivered, and the
    /// server is told to stop.
    pub(crate) async fn cancel(&self, backend_id: u64, reason: &str) {
        if self.routing.lock().take(backend_id).is_none() {
            return;
        }
        let _ = self.send(wire::cancelled(backend_id, Some(reason))).await;
    }

    /// Forwards an agent notification or response (to a server request).
    pub(crate) async fn forward_other(
        &self,
        raw: &[u8],
        env: &Envelope<'_>,
    ) -> Result<(), HostingError> {
        if env.kind == Kind::Notification && env.method_str() == "notifications/cancelled" {
            return self.forward_cancel(env).await;
        }
        self.send(Bytes::from(to_line(raw.to_vec()))).await
    }

    /// Sends a message Berth itself composed (e.g. `initialize` on behalf of a
    /// stateless agent).
    pub(crate) async fn send(&self, msg: Bytes) -> Result<(), HostingError> {
        let msg = if msg.last() == Some(&b'\n') {
            msg
        } else {
            Bytes::from(to_line(msg.to_vec()))
        };
        let instance = self.instance.get().ok_or(HostingError::NotRunning)?;
        if let Some(cluster) = self.fence.get()
            && !cluster.writable()
        {
            if !cluster.wait_writable().await {
                return Err(HostingError::Unconfirmed);
            }
            if self.closed_reason().is_some() {
                // Let go while this pod's liveness was unconfirmed.
                return Err(HostingError::Moved);
            }
        }
        match instance.outbound.send(msg).await {
            Ok(()) => Ok(()),
            Err(_) => Err(HostingError::Ended(self.exit_reason().await)),
        }
    }

    /// Why the instance stopped taking messages. A write can meet the
    /// closed input of a server that just exited moments before the
    /// backend reports why (its exit status, and what it was missing), so
    /// wait for that report a little; a generic reason if none comes.
    async fn exit_reason(&self) -> String {
        let deadline = Instant::now() + EXIT_REPORT_WAIT;
        loop {
            if let Some(reason) = self.closed_reason() {
                return reason;
            }
            if Instant::now() >= deadline {
                return "server instance stopped".into();
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn forward_cancel(&self, env: &Envelope<'_>) -> Result<(), HostingError> {
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
        let taken = self
            .routing
            .lock()
            .take_by_client_id(cancel.request_id.get());
        let Some((backend_id, p)) = taken else {
            return Ok(()); // Already answered: nothing to cancel.
        };
        p.stream.finish();
        self.send(wire::cancelled(backend_id, cancel.reason.as_deref()))
            .await
    }

    /// Answers every request past its deadline with a timeout error and tells
    /// the server to stop working on it.
    pub(crate) fn expire_overdue(&self, now: Instant) -> Vec<Bytes> {
        let overdue = self.routing.lock().take_overdue(now);
        let err = RpcError::new(
            ErrorCode::RequestTimeout,
            "the MCP server did not answer within the request timeout; the request was cancelled and may be retried",
        )
        .with_data(serde_json::json!({"retryable": true}));
        overdue
            .into_iter()
            .map(|(id, p)| {
                p.fail(&err);
                wire::cancelled(id, Some("request timed out in Berth"))
            })
            .collect()
    }

    /// Lets the instance run on for another pod to re-attach (pod
    /// shutdown with a shared store) and fails whatever is still pending
    /// as retryable. Instances that cannot outlive the pod are stopped.
    pub(crate) async fn detach(&self, reason: &str) {
        if self.activity.begin_stop() {
            return;
        }
        self.close(reason);
        if let Some(instance) = self.instance.get() {
            instance.control.detach().await;
        }
    }

    /// Stops the instance and fails whatever is still pending.
    pub(crate) async fn shutdown(&self, reason: &str) {
        if self.activity.begin_stop() {
            return;
        }
        self.close(reason);
        if let Some(instance) = self.instance.get() {
            instance.control.shutdown().await;
        }
    }

    fn close(&self, reason: &str) {
        let pending = self.routing.lock().close(reason);
        let err = RpcError::new(
            ErrorCode::BackendUnavailable,
            format!("{reason}; the request was not completed and may be retried"),
        )
        .with_data(serde_json::json!({"retryable": true}));
        for p in pending {
            p.fail(&err);
        }
        self.standalone.stream.finish();
    }
}
