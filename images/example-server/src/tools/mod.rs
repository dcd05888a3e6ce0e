//! The tool catalog.
//!
//! # Layout
//! - [`content`]: tools that return fixed content (text, image, audio, resources, errors, schemas).
//! - [`signals`]: tools that notify while they run (logs, progress, list changes, stream close).
//! - [`interactive`]: the 2025 conformance tools that ask the client (sampling, elicitation).
//! - [`input_required`]: the 2026-07-28 input-required (SEP-2322) and capability fixtures.
//! - [`berth`]: the tools Berth's own tests call (`counter_*`, `echo`, `instance_info`, …);
//!   their names are a contract with the rest of the workspace.
//!
//! Each module lists its tools and answers calls for them; [`call`] asks each in turn.

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, InputResponses,
    JsonObject, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::{Value, json};

use crate::input::{InputError, Outcome, Retry};
use crate::server::ExampleServer;

mod berth;
mod content;
mod input_required;
mod interactive;
mod signals;

/// One `tools/call`, as the tool modules see it.
pub(crate) struct Call<'a> {
    pub(crate) server: &'a ExampleServer,
    pub(crate) ctx: &'a RequestContext<RoleServer>,
    pub(crate) name: String,
    pub(crate) args: JsonObject,
    input_responses: Option<InputResponses>,
    request_state: Option<String>,
}

/// Every tool currently listed, in a stable order.
pub(crate) fn list(server: &ExampleServer) -> Vec<Tool> {
    let mut tools = Vec::new();
    tools.extend(content::definitions());
    tools.extend(signals::definitions());
    tools.extend(interactive::definitions());
    tools.extend(input_required::definitions());
    tools.extend(berth::definitions());
    if server.instance.dynamic_tool() {
        tools.push(content::dynamic_definition());
    }
    tools
}

/// The listed tool called `name`, if any.
pub(crate) fn find(server: &ExampleServer, name: &str) -> Option<Tool> {
    list(server).into_iter().find(|tool| tool.name == name)
}

/// Runs a `tools/call`. An unknown (or currently unlisted) tool is `-32602`, as the spec asks.
pub(crate) async fn call(
    server: &ExampleServer,
    params: CallToolRequestParams,
    ctx: &RequestContext<RoleServer>,
) -> Result<CallToolResponse, ErrorData> {
    if find(server, &params.name).is_none() {
        return Err(ErrorData::invalid_params(
            format!("unknown tool: {}", params.name),
            Some(json!({"name": params.name})),
        ));
    }
    let call = Call {
        server,
        ctx,
        name: params.name.into_owned(),
        args: params.arguments.unwrap_or_default(),
        input_responses: params.input_responses,
        request_state: params.request_state,
    };
    let answered = match content::call(&call) {
        Some(result) => Some(result),
        None => signals::call(&call).await,
    };
    let answered = match answered {
        Some(result) => Some(result),
        None => interactive::call(&call).await,
    };
    let answered = match answered {
        Some(result) => Some(result),
        None => input_required::call(&call).await,
    };
    let answered = match answered {
        Some(result) => Some(result),
        None => berth::call(&call).await,
    };
    answered.unwrap_or_else(|| {
        Err(ErrorData::internal_error(
            format!("tool {} is listed but has no handler", call.name),
            None,
        ))
    })
}

// === impl Call ===

impl Call<'_> {
    /// The 2026-07-28 retry fields of this call, for [`crate::input::run`].
    pub(crate) fn retry(&self) -> Retry {
        Retry {
            scope: format!("tools/call:{}", self.name),
            input_responses: self.input_responses.clone(),
            request_state: self.request_state.clone(),
        }
    }

    /// A string argument, or the message of the tool error to answer with.
    pub(crate) fn str_arg(&self, name: &str) -> Result<&str, String> {
        self.args
            .get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| format!("argument `{name}` must be a string"))
    }
}

// === helpers shared by the tool modules ===

/// A tool definition from a JSON input schema.
pub(crate) fn tool(name: &'static str, description: &'static str, schema: Value) -> Tool {
    let schema = match schema {
        Value::Object(object) => object,
        _ => JsonObject::new(),
    };
    Tool::new(name, description, schema)
}

/// The input schema of a tool without arguments.
pub(crate) fn no_arguments() -> Value {
    json!({"type": "object", "properties": {}})
}

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
