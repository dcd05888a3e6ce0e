//! Tools that send something besides their result: log messages, progress, list-changed and
//! resource-updated notifications, and (over HTTP) a server-side close of their own SSE stream.
//!
//! Imports: `tool_call`, `definition`, `response` and the crate's `fixtures`, `listeners`,
//! `notify`. Must not import `tools/mod.rs` or another tool module.

use std::time::Duration;

use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, LoggingLevel, Tool};

use super::definition::{no_arguments, tool};
use super::response::text;
use super::tool_call::Call;
use crate::fixtures::WATCHED_URI;
use crate::listeners::Change;
use crate::notify;

/// Pause between the notifications of one call, so clients see them arrive over time.
const STEP: Duration = Duration::from_millis(50);

pub(super) fn definitions() -> Vec<Tool> {
    vec![
        tool(
            "test_tool_with_logging",
            "Sends three info log messages, 50 ms apart, then returns",
            no_arguments(),
        ),
        tool(
            "test_logging_tool",
            "Same as test_tool_with_logging (the 2026-07-28 suite's name for it)",
            no_arguments(),
        ),
        tool(
            "test_tool_with_progress",
            "Reports progress 0, 50 and 100 of 100, 50 ms apart, if given a progress token",
            no_arguments(),
        ),
        tool(
            "test_reconnection",
            "Over HTTP, closes its own SSE stream mid-call (SEP-1699) and answers after the \
             client resumes with Last-Event-ID",
            no_arguments(),
        ),
        tool(
            "test_trigger_tool_change",
            "Adds or removes test_dynamic_tool and sends notifications/tools/list_changed",
            no_arguments(),
        ),
        tool(
            "test_trigger_prompt_change",
            "Adds or removes test_dynamic_prompt and sends notifications/prompts/list_changed",
            no_arguments(),
        ),
        tool(
            "test_trigger_resource_update",
            "Changes test://watched-resource and notifies its subscribers",
            no_arguments(),
        ),
    ]
}

pub(super) async fn call(call: &Call<'_>) -> Option<Result<CallToolResponse, ErrorData>> {
    let response = match call.name.as_str() {
        "test_tool_with_logging" | "test_logging_tool" => {
            for message in [
                "Tool execution started",
                "Tool processing data",
                "Tool execution completed",
            ] {
                notify::log(call.ctx, call.session, LoggingLevel::Info, message).await;
                tokio::time::sleep(STEP).await;
            }
            text("Logging test completed")
        }
        "test_tool_with_progress" => {
            for (progress, message) in [(0.0, "Starting"), (50.0, "Halfway"), (100.0, "Done")] {
                notify::progress(call.ctx, progress, 100.0, message).await;
                tokio::time::sleep(STEP).await;
            }
            text("Progress test completed")
        }
        "test_reconnection" => {
            match &call.instance.streams {
                Some(streams) => streams.close_and_await_resume(call.ctx).await,
                None => tokio::time::sleep(STEP * 2).await,
            }
            text("Reconnection test completed")
        }
        "test_trigger_tool_change" => {
            let listed = call.instance.toggle_dynamic_tool();
            announce(call, Change::Tools).await;
            text(format!("test_dynamic_tool listed: {listed}"))
        }
        "test_trigger_prompt_change" => {
            let listed = call.instance.toggle_dynamic_prompt();
            announce(call, Change::Prompts).await;
            text(format!("test_dynamic_prompt listed: {listed}"))
        }
        "test_trigger_resource_update" => {
            let revision = call.instance.bump_watched();
            announce(call, Change::Resource(WATCHED_URI.into())).await;
            text(format!("{WATCHED_URI} is now at revision {revision}"))
        }
        _ => return None,
    };
    Some(Ok(response))
}

async fn announce(call: &Call<'_>, change: Change) {
    notify::announce(call.ctx, call.session, &call.instance.listeners, change).await;
}
