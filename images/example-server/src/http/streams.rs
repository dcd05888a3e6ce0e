//! A session manager that lets `test_reconnection` close its own SSE stream (SEP-1699).
//!
//! rmcp's [`LocalSessionManager`] can close a request's SSE stream and replay it on a
//! `GET` with `Last-Event-ID`, but a tool handler cannot tell which stream carries its request.
//! [`StreamTracker`] wraps the local manager, does the same work in `create_stream` and
//! `resume`, and on the way records which stream carries each `test_reconnection` call and when
//! the client comes back for it. The tool then closes its stream, waits for the resume, and
//! answers on the resumed stream.
//!
//! Imports: nothing from this crate. Must not import `serve` (which installs the tracker) or
//! `state` (whose `Instance` holds it).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::Stream;
use parking_lot::{Mutex, MutexGuard};
use rmcp::RoleServer;
use rmcp::model::{
    ClientJsonRpcMessage, ClientRequest, JsonRpcMessage, RequestId, ServerJsonRpcMessage,
};
use rmcp::service::RequestContext;
use rmcp::transport::WorkerTransport;
use rmcp::transport::streamable_http_server::session::local::{
    EventId, LocalSessionHandle, LocalSessionManager, LocalSessionManagerError, LocalSessionWorker,
};
use rmcp::transport::streamable_http_server::session::{
    RestoreOutcome, ServerSseMessage, SessionId, SessionManager,
};
use tokio::sync::Notify;
use tokio_stream::wrappers::ReceiverStream;

/// The tool whose request streams are tracked.
const TRACKED_TOOL: &str = "test_reconnection";

/// `retry` sent with the priming event before the server closes a stream.
const RETRY: Duration = Duration::from_millis(500);

/// How long the tool waits for the client to resume before answering anyway.
const RESUME_WAIT: Duration = Duration::from_secs(10);

/// [`LocalSessionManager`] plus knowledge of where `test_reconnection` calls stream.
#[derive(Default)]
pub(crate) struct StreamTracker {
    local: LocalSessionManager,
    // Held to insert, look up or remove one entry, never across an await.
    calls: Mutex<HashMap<(SessionId, RequestId), TrackedCall>>,
}

/// The stream of one tracked call and the signal that the client resumed it.
#[derive(Clone)]
struct TrackedCall {
    http_request_id: u64,
    resumed: Arc<Notify>,
}

// === impl StreamTracker ===

impl StreamTracker {
    /// Closes the SSE stream carrying `ctx`'s request and waits until the client resumes it.
    ///
    /// Does nothing but a short pause when the request is not a tracked legacy-session call
    /// (e.g. a 2026-07-28 stateless request, which has no resumable stream).
    pub(crate) async fn close_and_await_resume(&self, ctx: &RequestContext<RoleServer>) {
        let Some(session_id) = session_id(ctx) else {
            tokio::time::sleep(RETRY).await;
            return;
        };
        let key = (session_id.clone(), ctx.id.clone());
        let tracked = self.lock().get(&key).cloned();
        let Some(tracked) = tracked else {
            tokio::time::sleep(RETRY).await;
            return;
        };
        match self.handle(&session_id).await {
            Ok(handle) => match handle
                .close_sse_stream(tracked.http_request_id, Some(RETRY))
                .await
            {
                Ok(()) => {
                    if tokio::time::timeout(RESUME_WAIT, tracked.resumed.notified())
                        .await
                        .is_err()
                    {
                        tracing::warn!("client did not resume the closed stream in time");
                    }
                }
                Err(error) => tracing::warn!(%error, "could not close the request stream"),
            },
            Err(error) => tracing::warn!(%error, "session vanished before closing its stream"),
        }
        self.lock().remove(&key);
    }

    async fn handle(&self, id: &SessionId) -> Result<LocalSessionHandle, LocalSessionManagerError> {
        self.local
            .sessions
            .read()
            .await
            .get(id)
            .cloned()
            .ok_or_else(|| LocalSessionManagerError::SessionNotFound(id.clone()))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<(SessionId, RequestId), TrackedCall>> {
        self.calls.lock()
    }
}

impl SessionManager for StreamTracker {
    type Error = LocalSessionManagerError;
    type Transport = WorkerTransport<LocalSessionWorker>;

    async fn create_session(&self) -> Result<(SessionId, Self::Transport), Self::Error> {
        self.local.create_session().await
    }

    async fn initialize_session(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<ServerJsonRpcMessage, Self::Error> {
        Ok(self.handle(id).await?.initialize(message).await?)
    }

    async fn has_session(&self, id: &SessionId) -> Result<bool, Self::Error> {
        self.local.has_session(id).await
    }

    async fn close_session(&self, id: &SessionId) -> Result<(), Self::Error> {
        self.lock().retain(|(session, _), _| session != id);
        self.local.close_session(id).await
    }

    async fn create_stream(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let handle = self.handle(id).await?;
        let receiver = handle.establish_request_wise_channel().await?;
        if let (Some(http_request_id), Some(request_id)) =
            (receiver.http_request_id, tracked_request(&message))
        {
            let call = TrackedCall {
                http_request_id,
                resumed: Arc::default(),
            };
            self.lock().insert((id.clone(), request_id), call);
        }
        handle
            .push_message(message, receiver.http_request_id)
            .await?;
        Ok(ReceiverStream::new(receiver.inner))
    }

    async fn accept_message(
        &self,
        id: &SessionId,
        message: ClientJsonRpcMessage,
    ) -> Result<(), Self::Error> {
        Ok(self.handle(id).await?.push_message(message, None).await?)
    }

    async fn create_standalone_stream(
        &self,
        id: &SessionId,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let receiver = self.handle(id).await?.establish_common_channel().await?;
        Ok(ReceiverStream::new(receiver.inner))
    }

    async fn resume(
        &self,
        id: &SessionId,
        last_event_id: String,
    ) -> Result<impl Stream<Item = ServerSseMessage> + Send + Sync + 'static, Self::Error> {
        let event_id: EventId = last_event_id.parse()?;
        let receiver = self.handle(id).await?.resume(event_id).await?;
        // Event ids are `<index>/<http request id>` on request streams.
        let stream = last_event_id
            .split_once('/')
            .and_then(|(_, stream)| stream.parse::<u64>().ok());
        if let Some(stream) = stream {
            let calls = self.lock();
            let resumed = calls
                .iter()
                .filter(|((session, _), call)| session == id && call.http_request_id == stream);
            for (_, call) in resumed {
                call.resumed.notify_one();
            }
        }
        Ok(ReceiverStream::new(receiver.inner))
    }

    async fn restore_session(
        &self,
        id: SessionId,
    ) -> Result<RestoreOutcome<Self::Transport>, Self::Error> {
        self.local.restore_session(id).await
    }
}

/// The JSON-RPC id of `message` if it is a `tools/call` of the tracked tool.
fn tracked_request(message: &ClientJsonRpcMessage) -> Option<RequestId> {
    match message {
        JsonRpcMessage::Request(request) => match &request.request {
            ClientRequest::CallToolRequest(call) if call.params.name == TRACKED_TOOL => {
                Some(request.id.clone())
            }
            _ => None,
        },
        _ => None,
    }
}

/// The `Mcp-Session-Id` of the HTTP request behind `ctx`, if any.
fn session_id(ctx: &RequestContext<RoleServer>) -> Option<SessionId> {
    let parts = ctx.extensions.get::<http::request::Parts>()?;
    let value = parts.headers.get("mcp-session-id")?.to_str().ok()?;
    Some(SessionId::from(value))
}
