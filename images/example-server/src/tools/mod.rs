//! The tool catalog.
//!
//! # Layout
//! - [`content`]: tools that return fixed content (text, image, audio, resources, errors, schemas).
//! - [`signals`]: tools that notify while they run (logs, progress, list changes, stream close).
//! - [`interactive`]: the 2025 conformance tools that ask the client (sampling, elicitation).
//! - [`input_required`]: the 2026-07-28 input-required (SEP-2322) and capability fixtures.
//! - [`berth`]: the tools Berth's own tests call (`counter_*`, `echo`, `instance_info`, …);
//!   their names are a contract with the rest of the workspace.
//! - [`tool_call`] ([`Call`]), [`definition`] and [`response`]: what every tool module shares.
//!
//! Each module lists its tools and answers calls for them; [`call`] asks each in turn.
//!
//! Imports: this file holds only module declarations and the entry points [`list`], [`find`] and
//! [`call`], which call the tool modules; no tool module imports this file. Tool modules import
//! `tool_call`, `definition` and `response`, which import no tool module.

use rmcp::model::{CallToolRequestParams, CallToolResponse, Tool};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::json;

use crate::state::{Instance, Session};

mod berth;
mod content;
mod definition;
mod input_required;
mod interactive;
mod response;
mod signals;
mod tool_call;

use self::tool_call::Call;

/// Every tool currently listed, in a stable order.
pub(crate) fn list(instance: &Instance) -> Vec<Tool> {
    let mut tools = Vec::new();
    tools.extend(content::definitions());
    tools.extend(signals::definitions());
    tools.extend(interactive::definitions());
    tools.extend(input_required::definitions());
    tools.extend(berth::definitions());
    if instance.dynamic_tool() {
        tools.push(content::dynamic_definition());
    }
    tools
}

/// The listed tool called `name`, if any.
pub(crate) fn find(instance: &Instance, name: &str) -> Option<Tool> {
    list(instance).into_iter().find(|tool| tool.name == name)
}

/// Runs a `tools/call`. An unknown (or currently unlisted) tool is `-32602`, as the spec asks.
pub(crate) async fn call(
    instance: &Instance,
    session: &Session,
    params: CallToolRequestParams,
    ctx: &RequestContext<RoleServer>,
) -> Result<CallToolResponse, ErrorData> {
    if let Ok(id) = serde_json::to_value(&ctx.id) {
        instance.note_call_id(id);
    }
    if find(instance, &params.name).is_none() {
        return Err(ErrorData::invalid_params(
            format!("unknown tool: {}", params.name),
            Some(json!({"name": params.name})),
        ));
    }
    let call = Call::new(instance, session, ctx, params);
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
