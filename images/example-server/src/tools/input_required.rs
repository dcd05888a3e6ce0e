//! The fixtures of the 2026-07-28 input-required scenarios (SEP-2322) and of `server-stateless`.
//!
//! They are flows like every other input fixture (see [`crate::input`]): a legacy session gets
//! ordinary server→client requests, a 2026-07-28 request gets an `InputRequiredResult` with the
//! keys the suite expects (`user_name`, `capital_question`, `client_roots`, `step1`/`step2`, …).
//! State checks (`requestState` tampering, missing or malformed `inputResponses`) are handled by
//! the driver, so `test_input_required_result_request_state` and `…_tampered_state` only differ
//! in name.
//!
//! Imports: `tool_call`, `definition`, `response` and the crate's `input`. Must not import
//! `tools/mod.rs` or another tool module.

use rmcp::ErrorData;
use rmcp::model::{CallToolResponse, ClientCapabilities, Tool};
use serde_json::{Value, json};

use super::definition::{no_arguments, tool};
use super::response::{from_input, text};
use super::tool_call::Call;
use crate::input::{self, Answers, Ask, Step};

pub(super) fn definitions() -> Vec<Tool> {
    vec![
        tool(
            "test_input_required_result_elicitation",
            "Asks for the user's name (key user_name), then greets them",
            no_arguments(),
        ),
        tool(
            "test_input_required_result_sampling",
            "Asks the client's LLM a question (key capital_question), then reports the answer",
            no_arguments(),
        ),
        tool(
            "test_input_required_result_list_roots",
            "Asks for the client's roots (key client_roots), then lists them",
            no_arguments(),
        ),
        tool(
            "test_input_required_result_request_state",
            "Asks for a confirmation (key confirm); answers state-ok once the round trip is done",
            no_arguments(),
        ),
        tool(
            "test_input_required_result_tampered_state",
            "Same as test_input_required_result_request_state; a tampered requestState is -32602",
            no_arguments(),
        ),
        tool(
            "test_input_required_result_multiple_inputs",
            "Asks for a name, an LLM greeting and the roots at once",
            no_arguments(),
        ),
        tool(
            "test_input_required_result_multi_round",
            "Asks for a name (step1), then a favourite colour (step2)",
            no_arguments(),
        ),
        tool(
            "test_input_required_result_capabilities",
            "Asks only through the input capabilities the client declared",
            no_arguments(),
        ),
        tool(
            "test_missing_capability",
            "Needs sampling; a client that did not declare it gets -32021",
            no_arguments(),
        ),
        tool(
            "test_streaming_elicitation",
            "Asks for the user's name mid-call (key user_name)",
            no_arguments(),
        ),
    ]
}

pub(super) async fn call(call: &Call<'_>) -> Option<Result<CallToolResponse, ErrorData>> {
    let ctx = call.ctx;
    let instance = call.instance;
    let retry = call.retry();
    let outcome = match call.name.as_str() {
        "test_input_required_result_elicitation" | "test_streaming_elicitation" => {
            input::run(ctx, instance, retry, |answers: &Answers| {
                if !answers.contains_key("user_name") {
                    return Step::Ask(vec![ask_name("user_name", "What is your name?")]);
                }
                Step::Done(text(format!("Hello, {}!", name(answers, "user_name"))))
            })
            .await
        }
        "test_input_required_result_sampling" => {
            input::run(ctx, instance, retry, |answers: &Answers| {
                if !answers.contains_key("capital_question") {
                    let question = "What is the capital of France?";
                    return Step::Ask(vec![Ask::sample("capital_question", question, 100)]);
                }
                let reply = input::sampled_text(answers, "capital_question");
                Step::Done(text(format!("The model answered: {reply}")))
            })
            .await
        }
        "test_input_required_result_list_roots" => {
            input::run(ctx, instance, retry, |answers: &Answers| {
                if !answers.contains_key("client_roots") {
                    return Step::Ask(vec![Ask::roots("client_roots")]);
                }
                let roots = input::root_uris(answers, "client_roots");
                Step::Done(text(format!("Client roots: {}", roots.join(", "))))
            })
            .await
        }
        "test_input_required_result_request_state"
        | "test_input_required_result_tampered_state" => {
            input::run(ctx, instance, retry, |answers: &Answers| {
                if !answers.contains_key("confirm") {
                    let schema = object_schema("ok", json!({"type": "boolean"}));
                    return Step::Ask(vec![Ask::elicit("confirm", "Please confirm", schema)]);
                }
                let confirmed = input::accepted(answers, "confirm")
                    .and_then(|content| content.get("ok").and_then(Value::as_bool))
                    .unwrap_or(false);
                Step::Done(text(format!("state-ok: confirmed={confirmed}")))
            })
            .await
        }
        "test_input_required_result_multiple_inputs" => {
            input::run(ctx, instance, retry, |answers: &Answers| {
                let keys = ["user_name", "greeting", "client_roots"];
                if !keys.iter().all(|key| answers.contains_key(*key)) {
                    return Step::Ask(vec![
                        ask_name("user_name", "What is your name?"),
                        Ask::sample("greeting", "Generate a greeting", 50),
                        Ask::roots("client_roots"),
                    ]);
                }
                Step::Done(text(format!(
                    "name={}, greeting={}, roots={}",
                    name(answers, "user_name"),
                    input::sampled_text(answers, "greeting"),
                    input::root_uris(answers, "client_roots").join(", "),
                )))
            })
            .await
        }
        "test_input_required_result_multi_round" => {
            input::run(ctx, instance, retry, |answers: &Answers| {
                if !answers.contains_key("step1") {
                    return Step::Ask(vec![ask_name("step1", "Step 1: What is your name?")]);
                }
                if !answers.contains_key("step2") {
                    let schema = object_schema("color", json!({"type": "string"}));
                    let message = "Step 2: What is your favorite color?";
                    return Step::Ask(vec![Ask::elicit("step2", message, schema)]);
                }
                let color = input::accepted(answers, "step2")
                    .and_then(|content| {
                        content
                            .get("color")
                            .and_then(Value::as_str)
                            .map(str::to_owned)
                    })
                    .unwrap_or_default();
                Step::Done(text(format!("{} likes {color}", name(answers, "step1"))))
            })
            .await
        }
        "test_input_required_result_capabilities" => {
            let caps = ctx.client_capabilities().unwrap_or_default();
            input::run(ctx, instance, retry, |answers: &Answers| {
                let mut asks = Vec::new();
                if caps.elicitation.is_some() && !answers.contains_key("user_name") {
                    asks.push(ask_name("user_name", "What is your name?"));
                }
                if caps.sampling.is_some() && !answers.contains_key("summary") {
                    asks.push(Ask::sample("summary", "Summarise MCP in one line", 50));
                }
                if !asks.is_empty() {
                    return Step::Ask(asks);
                }
                let asked: Vec<&String> = answers.keys().collect();
                Step::Done(text(format!(
                    "answered through declared capabilities: {asked:?}"
                )))
            })
            .await
        }
        "test_missing_capability" => {
            let caps = ctx.client_capabilities().unwrap_or_default();
            if caps.sampling.is_none() {
                let required = ClientCapabilities::builder().enable_sampling().build();
                return Some(Err(ErrorData::missing_required_client_capability(required)));
            }
            input::run(ctx, instance, retry, |answers: &Answers| {
                if !answers.contains_key("completion") {
                    return Step::Ask(vec![Ask::sample("completion", "Say hello", 20)]);
                }
                let reply = input::sampled_text(answers, "completion");
                Step::Done(text(format!("LLM response: {reply}")))
            })
            .await
        }
        _ => return None,
    };
    Some(from_input(outcome))
}

/// An elicitation asking for one required string, `name`.
fn ask_name(key: &str, message: &str) -> Ask {
    Ask::elicit(
        key,
        message,
        object_schema("name", json!({"type": "string"})),
    )
}

/// `{"type": "object", "properties": {field: schema}, "required": [field]}`.
fn object_schema(field: &str, schema: Value) -> Value {
    json!({"type": "object", "properties": {field: schema}, "required": [field]})
}

/// The `name` an elicitation answer accepted, or `stranger`.
fn name(answers: &Answers, key: &str) -> String {
    input::accepted(answers, key)
        .and_then(|content| {
            content
                .get("name")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| "stranger".into())
}
