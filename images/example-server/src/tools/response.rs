//! Building `tools/call` responses: text results, tool errors, and finished input flows.
//!
//! Imports: the crate's `input`. Must not import `tools/mod.rs` or a tool module.

use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, CallToolResult, ContentBlock};

use crate::input::{InputError, Outcome};

/// A successful result with one text block.
pub(crate) fn text(text: impl Into<String>) -> CallToolResponse {
    CallToolResponse::Complete(CallToolResult::success(vec![ContentBlock::text(text)]))
}

/// A tool execution error (`isError: true`) with one text block.
pub(crate) fn tool_error(text: impl Into<String>) -> CallToolResponse {
    CallToolResponse::Complete(CallToolResult::error(vec![ContentBlock::text(text)]))
}

/// Maps a finished input flow to a `tools/call` response.
///
/// A client that could not answer a legacy server→client request gets a tool error it can read;
/// a bad 2026-07-28 retry is a JSON-RPC error.
pub(crate) fn from_input(
    outcome: Result<Outcome<CallToolResponse>, InputError>,
) -> Result<CallToolResponse, ErrorData> {
    match outcome {
        Ok(Outcome::Done(response)) => Ok(response),
        Ok(Outcome::InputRequired(result)) => Ok(CallToolResponse::InputRequired(result)),
        Err(InputError::Client(message)) => Ok(tool_error(message)),
        Err(InputError::Protocol(error)) => Err(error),
    }
}
