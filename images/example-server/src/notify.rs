//! Server→client notifications in both eras.
//!
//! - Log messages honour the session's `logging/setLevel` threshold (legacy) or the request's
//!   `_meta["io.modelcontextprotocol/logLevel"]` (2026-07-28, where no level means no logs).
//! - List-changed and resource-updated notifications go to the connection that caused them
//!   (legacy) and to every open `subscriptions/listen` stream whose filter accepts them
//!   (2026-07-28). [`Listeners`] is that registry.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use rmcp::RoleServer;
use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam};
use rmcp::service::{RequestContext, SubscriptionSink};

use crate::era;
use crate::state::Session;

/// Logger name on every `notifications/message` this server sends.
const LOGGER: &str = "berth-example-server";

/// A change other connections may want to hear about.
#[derive(Clone, Debug)]
pub(crate) enum Change {
    Tools,
    Prompts,
    Resource(String),
}

/// Open `subscriptions/listen` streams, keyed by a local id so a closing stream can remove itself.
#[derive(Default)]
pub(crate) struct Listeners {
    next_id: AtomicU64,
    // std Mutex: held only to push, remove or clone the list, never across an await.
    sinks: Mutex<Vec<(u64, SubscriptionSink)>>,
}

/// Sends `message` at `level` if the client asked for that level.
pub(crate) async fn log(
    ctx: &RequestContext<RoleServer>,
    session: &Session,
    level: LoggingLevel,
    message: &str,
) {
    let threshold = if era::is_stateless(ctx) {
        // 2026-07-28: a request that names no level gets no log messages.
        match ctx.meta.log_level() {
            Some(threshold) => threshold,
            None => return,
        }
    } else {
        // Legacy: everything until the client calls logging/setLevel.
        session.log_level().unwrap_or(LoggingLevel::Debug)
    };
    if severity(level) < severity(threshold) {
        return;
    }
    let param = LoggingMessageNotificationParam::new(level, serde_json::Value::from(message))
        .with_logger(LOGGER);
    if let Err(error) = ctx.peer.notify_logging_message(param).await {
        tracing::debug!(%error, "could not send a log message");
    }
}

/// Sends a progress notification if the request carried a progress token.
pub(crate) async fn progress(
    ctx: &RequestContext<RoleServer>,
    progress: f64,
    total: f64,
    message: &str,
) {
    let Some(token) = ctx.meta.get_progress_token() else {
        return;
    };
    let param = ProgressNotificationParam::new(token, progress)
        .with_total(total)
        .with_message(message);
    if let Err(error) = ctx.peer.notify_progress(param).await {
        tracing::debug!(%error, "could not send a progress notification");
    }
}

/// Tells the calling connection and every listen stream about `change`.
pub(crate) async fn announce(
    ctx: &RequestContext<RoleServer>,
    session: &Session,
    listeners: &Listeners,
    change: Change,
) {
    if !era::is_stateless(ctx) {
        let sent = match &change {
            Change::Tools => ctx.peer.notify_tool_list_changed().await,
            Change::Prompts => ctx.peer.notify_prompt_list_changed().await,
            Change::Resource(uri) if session.is_subscribed(uri) => {
                let param = rmcp::model::ResourceUpdatedNotificationParam::new(uri.clone());
                ctx.peer.notify_resource_updated(param).await
            }
            Change::Resource(_) => Ok(()),
        };
        if let Err(error) = sent {
            tracing::debug!(%error, "could not send a change notification");
        }
    }
    listeners.broadcast(&change).await;
}

/// Orders levels from least to most severe (RFC 5424 order, as in the MCP spec).
fn severity(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

// === impl Listeners ===

impl Listeners {
    /// Registers a listen stream; returns the id to pass to [`Listeners::remove`].
    pub(crate) fn add(&self, sink: SubscriptionSink) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().push((id, sink));
        id
    }

    pub(crate) fn remove(&self, id: u64) {
        self.lock().retain(|(sink_id, _)| *sink_id != id);
    }

    async fn broadcast(&self, change: &Change) {
        let sinks: Vec<SubscriptionSink> =
            self.lock().iter().map(|(_, sink)| sink.clone()).collect();
        for sink in sinks {
            // The sink drops what its filter did not accept; that is not an error here.
            let _ = match change {
                Change::Tools => sink.notify_tool_list_changed().await,
                Change::Prompts => sink.notify_prompt_list_changed().await,
                Change::Resource(uri) => sink.notify_resource_updated(uri.clone()).await,
            };
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(u64, SubscriptionSink)>> {
        self.sinks.lock().unwrap_or_else(|e| e.into_inner())
    }
}
