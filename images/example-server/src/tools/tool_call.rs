//! [`Call`]: one `tools/call` as the tool modules see it.
//!
//! Imports: the crate's `state` and `input`. Must not import `tools/mod.rs` or a tool module (they
//! all take a [`Call`]).

use rmcp::RoleServer;
use rmcp::model::{CallToolRequestParams, InputResponses, JsonObject};
use rmcp::service::RequestContext;
use serde_json::Value;

use crate::input::Retry;
use crate::state::{Instance, Session};

/// One `tools/call`, as the tool modules see it.
pub(crate) struct Call<'a> {
    /// The process-wide state.
    pub(crate) instance: &'a Instance,
    /// The calling connection's state.
    pub(crate) session: &'a Session,
    /// The request being answered.
    pub(crate) ctx: &'a RequestContext<RoleServer>,
    /// The tool's name.
    pub(crate) name: String,
    /// The tool's arguments (empty when the client sent none).
    pub(crate) args: JsonObject,
    input_responses: Option<InputResponses>,
    request_state: Option<String>,
}

// === impl Call ===

impl<'a> Call<'a> {
    /// The call `params` made on a connection with `instance` and `session`.
    pub(super) fn new(
        instance: &'a Instance,
        session: &'a Session,
        ctx: &'a RequestContext<RoleServer>,
        params: CallToolRequestParams,
    ) -> Self {
        Call {
            instance,
            session,
            ctx,
            name: params.name.into_owned(),
            args: params.arguments.unwrap_or_default(),
            input_responses: params.input_responses,
            request_state: params.request_state,
        }
    }

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
