//! Server→client notifications in both eras.
//!
//! - Log messages honour the session's `logging/setLevel` threshold (legacy) or the request's
//!   `_meta["io.modelcontextprotocol/logLevel"]` (2026-07-28, where no level means no logs).
//! - List-changed and resource-updated notifications go to the connection that caused them
//!   (legacy) and to every open `subscriptions/listen` stream whose filter accepts them
//!   (2026-07-28), through the [`Listeners`] registry (`listeners.rs`).
//!
//! Imports: `era`, `listeners`, `state` (the per-connection `Session`). Must not import the tools
//! or the handler (`tools`, `server`), which call it.

use rmcp::RoleServer;
use rmcp::model::{LoggingLevel, LoggingMessageNotificationParam, ProgressNotificationParam};
use rmcp::service::RequestContext;

use crate::era;
use crate::listeners::{Change, Listeners};
use crate::state::Session;

/// Logger name on every `notifications/message` this server sends.
const LOGGER: &str = "berth-example-server";

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
