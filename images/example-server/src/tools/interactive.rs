//! The 2025 conformance tools that ask the client for input: sampling and the three elicitation
//! fixtures. Each is a flow (see [`crate::input`]), so it also works for 2026-07-28 clients,
//! which get the questions back as an `InputRequiredResult`.
//!
//! Imports: `tool_call`, `definition`, `response` and the crate's `input`. Must not import
//! `tools/mod.rs` or another tool module.

use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, Tool};
use serde_json::{Value, json};

use super::definition::{no_arguments, tool};
use super::response::{from_input, text, tool_error};
use super::tool_call::Call;
use crate::input::{self, Answers, Ask, Step};

pub(super) fn definitions() -> Vec<Tool> {
    vec![
        tool(
            "test_sampling",
            "Asks the client's LLM to complete `prompt` (sampling/createMessage)",
            json!({
                "type": "object",
                "properties": {"prompt": {"type": "string", "description": "The prompt to send"}},
                "required": ["prompt"],
            }),
        ),
        tool(
            "test_elicitation",
            "Asks the user for a username and an email (elicitation/create)",
            json!({
                "type": "object",
                "properties": {"message": {"type": "string", "description": "The message to show"}},
                "required": ["message"],
            }),
        ),
        tool(
            "test_elicitation_sep1034_defaults",
            "Elicits a form whose every field has a default value (SEP-1034)",
            no_arguments(),
        ),
        tool(
            "test_elicitation_sep1330_enums",
            "Elicits a form with all five enum shapes (SEP-1330)",
            no_arguments(),
        ),
    ]
}

pub(super) async fn call(call: &Call<'_>) -> Option<Result<CallToolResponse, ErrorData>> {
    let ctx = call.ctx;
    let instance = call.instance;
    let outcome = match call.name.as_str() {
        "test_sampling" => {
            let prompt = match call.str_arg("prompt") {
                Ok(prompt) => prompt.to_owned(),
                Err(message) => return Some(Ok(tool_error(message))),
            };
            input::run(ctx, instance, call.retry(), |answers: &Answers| {
                if !answers.contains_key("completion") {
                    return Step::Ask(vec![Ask::sample("completion", &prompt, 100)]);
                }
                let reply = input::sampled_text(answers, "completion");
                Step::Done(text(format!("LLM response: {reply}")))
            })
            .await
        }
        "test_elicitation" => {
            let message = match call.str_arg("message") {
                Ok(message) => message.to_owned(),
                Err(message) => return Some(Ok(tool_error(message))),
            };
            input::run(ctx, instance, call.retry(), |answers: &Answers| {
                if !answers.contains_key("user_info") {
                    return Step::Ask(vec![Ask::elicit("user_info", &message, user_schema())]);
                }
                Step::Done(report("User response", answers, "user_info"))
            })
            .await
        }
        "test_elicitation_sep1034_defaults" => {
            input::run(ctx, instance, call.retry(), |answers: &Answers| {
                if !answers.contains_key("defaults") {
                    let message = "Please review these values (every field has a default)";
                    return Step::Ask(vec![Ask::elicit("defaults", message, defaults_schema())]);
                }
                Step::Done(report("Elicitation completed", answers, "defaults"))
            })
            .await
        }
        "test_elicitation_sep1330_enums" => {
            input::run(ctx, instance, call.retry(), |answers: &Answers| {
                if !answers.contains_key("choices") {
                    let message = "Please pick from each list";
                    return Step::Ask(vec![Ask::elicit("choices", message, enums_schema())]);
                }
                Step::Done(report("Elicitation completed", answers, "choices"))
            })
            .await
        }
        _ => return None,
    };
    Some(from_input(outcome))
}

/// `<label>: action=<action>, content=<json>` for an elicitation answer.
fn report(label: &str, answers: &Answers, key: &str) -> CallToolResponse {
    let content = answers
        .get(key)
        .map(|answer| answer["content"].clone())
        .unwrap_or(Value::Null);
    text(format!(
        "{label}: action={}, content={content}",
        input::action(answers, key)
    ))
}

/// `tools-call-elicitation`.
fn user_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "username": {"type": "string", "description": "User's response"},
            "email": {"type": "string", "description": "User's email address"},
        },
        "required": ["username", "email"],
    })
}

/// `elicitation-sep1034-defaults`: a default for every primitive type.
fn defaults_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "name": {"type": "string", "description": "User's name", "default": "John Doe"},
            "age": {"type": "integer", "description": "User's age", "default": 30},
            "score": {"type": "number", "description": "User's score", "default": 95.5},
            "status": {
                "type": "string",
                "description": "User's status",
                "enum": ["active", "inactive", "pending"],
                "default": "active",
            },
            "verified": {"type": "boolean", "description": "Whether the user is verified", "default": true},
        },
    })
}

/// `elicitation-sep1330-enums`: untitled, titled and legacy single-select; untitled and titled
/// multi-select.
fn enums_schema() -> Value {
    json!({
        "type": "object",
        "properties": {
            "untitledSingle": {"type": "string", "enum": ["option1", "option2", "option3"]},
            "titledSingle": {
                "type": "string",
                "oneOf": [
                    {"const": "value1", "title": "First Option"},
                    {"const": "value2", "title": "Second Option"},
                    {"const": "value3", "title": "Third Option"},
                ],
            },
            "legacyEnum": {
                "type": "string",
                "enum": ["opt1", "opt2", "opt3"],
                "enumNames": ["Option One", "Option Two", "Option Three"],
            },
            "untitledMulti": {
                "type": "array",
                "items": {"type": "string", "enum": ["option1", "option2", "option3"]},
            },
            "titledMulti": {
                "type": "array",
                "items": {
                    "anyOf": [
                        {"const": "value1", "title": "First Choice"},
                        {"const": "value2", "title": "Second Choice"},
                        {"const": "value3", "title": "Third Choice"},
                    ],
                },
            },
        },
    })
}
