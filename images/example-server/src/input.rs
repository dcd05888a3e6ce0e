//! Asking the client for input (elicitation, sampling, roots) in either protocol era.
//!
//! A fixture that needs input is written once, as a *flow*: a function from the answers received
//! so far to the next [`Step`] — more questions, or the final result. [`run`] drives it:
//!
//! - **Legacy sessions**: each question becomes a server→client request (`elicitation/create`,
//!   `sampling/createMessage`, `roots/list`) on the open connection; questions of one step are
//!   sent concurrently, and the flow re-runs until it is done. Every such request carries
//!   `_meta["berth/inputKey"]`, the key the question has in the 2026-07-28 form, so a proxy that
//!   turns these requests into an `InputRequiredResult` can reuse the fixture's keys.
//! - **2026-07-28**: unanswered questions go back as an `InputRequiredResult` whose
//!   `requestState` seals the answers so far (HMAC, bound to the request, 10-minute TTL). The
//!   retry's `inputResponses` are checked against the result type each question expects;
//!   unknown keys are ignored; a tampered or expired state is `-32602`.
//!
//! Imports: `era`, `state`. Must not import `tools`, `prompts` or `server`, which run flows through
//! it.

use std::collections::BTreeMap;
use std::time::Duration;

use rmcp::model::{
    CreateMessageResult, ElicitResult, InputRequest, InputRequests, InputRequiredResult,
    InputResponses, JsonObject, ListRootsResult, RequestMetaObject, SealOptions, ServerRequest,
};
use rmcp::service::{PeerRequestOptions, RequestContext};
use rmcp::{ErrorData, RoleServer};
use serde_json::{Value, json};

use crate::era;
use crate::state::Instance;

/// `_meta` key naming a legacy server→client request's key in the 2026-07-28 form.
pub(crate) const INPUT_KEY_META: &str = "berth/inputKey";

/// How long a sealed `requestState` stays valid.
const STATE_TTL: Duration = Duration::from_secs(600);

/// Answers received so far, by question key: the client's result objects as JSON.
pub(crate) type Answers = BTreeMap<String, Value>;

/// One question for the client.
#[derive(Clone, Debug)]
pub(crate) struct Ask {
    key: String,
    /// `{"method": ..., "params": ...}`, the same JSON in both eras.
    request: Value,
}

/// What a flow wants next.
pub(crate) enum Step<T> {
    Ask(Vec<Ask>),
    Done(T),
}

/// What [`run`] produced.
pub(crate) enum Outcome<T> {
    Done(T),
    InputRequired(InputRequiredResult),
}

/// Why [`run`] failed.
#[derive(Debug)]
pub(crate) enum InputError {
    /// The request itself is bad (e.g. a tampered `requestState`): a JSON-RPC error.
    Protocol(ErrorData),
    /// The client could not answer a legacy server→client request.
    Client(String),
}

/// The parts of the incoming request that carry 2026-07-28 answers.
pub(crate) struct Retry {
    /// Binds the sealed state to one request kind, e.g. `tools/call:test_sampling`.
    pub(crate) scope: String,
    pub(crate) input_responses: Option<InputResponses>,
    pub(crate) request_state: Option<String>,
}

/// Runs `flow` to completion (legacy) or to its next unanswered step (2026-07-28).
pub(crate) async fn run<T>(
    ctx: &RequestContext<RoleServer>,
    instance: &Instance,
    retry: Retry,
    flow: impl Fn(&Answers) -> Step<T>,
) -> Result<Outcome<T>, InputError> {
    if era::is_stateless(ctx) {
        run_stateless(instance, retry, flow)
    } else {
        run_legacy(ctx, flow).await.map(Outcome::Done)
    }
}

async fn run_legacy<T>(
    ctx: &RequestContext<RoleServer>,
    flow: impl Fn(&Answers) -> Step<T>,
) -> Result<T, InputError> {
    let mut answers = Answers::new();
    loop {
        let asks = match flow(&answers) {
            Step::Done(result) => return Ok(result),
            Step::Ask(asks) => asks,
        };
        let pending = futures::future::join_all(asks.iter().map(|ask| ask_client(ctx, ask)));
        let results = tokio::select! {
            results = pending => results,
            () = ctx.ct.cancelled() => {
                return Err(InputError::Client("the request was cancelled".into()));
            }
        };
        for (ask, result) in asks.into_iter().zip(results) {
            answers.insert(ask.key, result?);
        }
    }
}

fn run_stateless<T>(
    instance: &Instance,
    retry: Retry,
    flow: impl Fn(&Answers) -> Step<T>,
) -> Result<Outcome<T>, InputError> {
    let scope = retry.scope.as_bytes();
    let mut answers: Answers = match &retry.request_state {
        Some(state) => instance
            .state_codec
            .open_json_with(state, scope)
            .map_err(|error| {
                InputError::Protocol(ErrorData::invalid_params(
                    format!("requestState rejected: {error}"),
                    None,
                ))
            })?,
        None => Answers::new(),
    };
    let mut responses = retry.input_responses.unwrap_or_default();
    loop {
        let asks = match flow(&answers) {
            Step::Done(result) => return Ok(Outcome::Done(result)),
            Step::Ask(asks) => asks,
        };
        let mut missing = Vec::new();
        for ask in asks {
            match responses.remove(&ask.key) {
                Some(response) => {
                    ask.check(&response)?;
                    answers.insert(ask.key, response);
                }
                None => missing.push(ask),
            }
        }
        if missing.is_empty() {
            continue;
        }
        let mut requests = InputRequests::new();
        for ask in missing {
            let request: InputRequest = serde_json::from_value(ask.request).map_err(internal)?;
            requests.insert(ask.key, request);
        }
        let options = SealOptions::new().associated_data(scope).ttl(STATE_TTL);
        let state = instance
            .state_codec
            .seal_json_with(&answers, &options)
            .map_err(internal)?;
        return Ok(Outcome::InputRequired(InputRequiredResult::new(
            Some(requests),
            Some(state),
        )));
    }
}

/// Sends one question as a legacy server→client request and returns the client's result.
async fn ask_client(ctx: &RequestContext<RoleServer>, ask: &Ask) -> Result<Value, InputError> {
    let request: ServerRequest = serde_json::from_value(ask.request.clone()).map_err(internal)?;
    let mut meta = JsonObject::new();
    meta.insert(INPUT_KEY_META.into(), Value::from(ask.key.clone()));
    let options = PeerRequestOptions::no_options().with_meta(RequestMetaObject::from(meta));
    let result = async {
        ctx.peer
            .send_request_with_option(request, options)
            .await?
            .await_response()
            .await
    }
    .await
    .map_err(|error| InputError::Client(format!("{} failed: {error}", ask.method())))?;
    serde_json::to_value(result).map_err(internal)
}

fn internal(error: impl std::fmt::Display) -> InputError {
    InputError::Protocol(ErrorData::internal_error(error.to_string(), None))
}

// === impl Ask ===

impl Ask {
    /// An `elicitation/create` form request.
    pub(crate) fn elicit(key: &str, message: &str, requested_schema: Value) -> Self {
        Self::new(
            key,
            json!({
                "method": "elicitation/create",
                "params": {"mode": "form", "message": message, "requestedSchema": requested_schema},
            }),
        )
    }

    /// A `sampling/createMessage` request with one user text message.
    pub(crate) fn sample(key: &str, prompt: &str, max_tokens: u32) -> Self {
        Self::new(
            key,
            json!({
                "method": "sampling/createMessage",
                "params": {
                    "messages": [{"role": "user", "content": {"type": "text", "text": prompt}}],
                    "maxTokens": max_tokens,
                },
            }),
        )
    }

    /// A `roots/list` request.
    pub(crate) fn roots(key: &str) -> Self {
        Self::new(key, json!({"method": "roots/list", "params": {}}))
    }

    fn new(key: &str, request: Value) -> Self {
        Self {
            key: key.into(),
            request,
        }
    }

    fn method(&self) -> &str {
        self.request["method"].as_str().unwrap_or_default()
    }

    /// Rejects a 2026-07-28 input response that is not the result type this question expects.
    fn check(&self, response: &Value) -> Result<(), InputError> {
        let parsed = match self.method() {
            "elicitation/create" => {
                serde_json::from_value::<ElicitResult>(response.clone()).map(drop)
            }
            "sampling/createMessage" => {
                serde_json::from_value::<CreateMessageResult>(response.clone()).map(drop)
            }
            _ => serde_json::from_value::<ListRootsResult>(response.clone()).map(drop),
        };
        parsed.map_err(|error| {
            InputError::Protocol(ErrorData::invalid_params(
                format!(
                    "inputResponses[{:?}] is not a {} result: {error}",
                    self.key,
                    self.method()
                ),
                None,
            ))
        })
    }
}

// === answer accessors ===

/// The accepted content of an elicitation answer, or `None` if declined, cancelled or absent.
pub(crate) fn accepted(answers: &Answers, key: &str) -> Option<JsonObject> {
    let answer = answers.get(key)?;
    if answer["action"] != "accept" {
        return None;
    }
    answer["content"].as_object().cloned()
}

/// The action of an elicitation answer (`accept`, `decline`, `cancel`).
pub(crate) fn action(answers: &Answers, key: &str) -> String {
    answers
        .get(key)
        .and_then(|answer| answer["action"].as_str())
        .unwrap_or("none")
        .to_owned()
}

/// The text of a sampling answer (the first text block, whichever content shape the client used).
pub(crate) fn sampled_text(answers: &Answers, key: &str) -> String {
    let content = answers.get(key).map(|answer| &answer["content"]);
    let block = match content {
        Some(Value::Array(blocks)) => blocks.iter().find(|block| block["type"] == "text"),
        Some(block) => Some(block),
        None => None,
    };
    block
        .and_then(|block| block["text"].as_str())
        .unwrap_or("")
        .to_owned()
}

/// The root URIs of a roots answer.
pub(crate) fn root_uris(answers: &Answers, key: &str) -> Vec<String> {
    answers
        .get(key)
        .and_then(|answer| answer["roots"].as_array())
        .map(|roots| {
            roots
                .iter()
                .filter_map(|root| root["uri"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry(responses: Option<Value>, state: Option<String>) -> Retry {
        Retry {
            scope: "tools/call:test".into(),
            input_responses: responses.map(|value| serde_json::from_value(value).unwrap()),
            request_state: state,
        }
    }

    /// Two rounds: `a` (elicitation), then `b` (roots); done with both answers.
    fn two_rounds(answers: &Answers) -> Step<String> {
        if !answers.contains_key("a") {
            let schema = json!({"type": "object", "properties": {"x": {"type": "string"}}});
            return Step::Ask(vec![Ask::elicit("a", "A?", schema)]);
        }
        if !answers.contains_key("b") {
            return Step::Ask(vec![Ask::roots("b")]);
        }
        Step::Done(root_uris(answers, "b").join(","))
    }

    fn input_required(outcome: Result<Outcome<String>, InputError>) -> InputRequiredResult {
        match outcome {
            Ok(Outcome::InputRequired(result)) => result,
            Ok(Outcome::Done(text)) => panic!("expected input_required, got done: {text}"),
            Err(error) => panic!("expected input_required, got {error:?}"),
        }
    }

    #[test]
    fn rounds_carry_sealed_answers() {
        let instance = Instance::new(None).unwrap();
        let first = input_required(run_stateless(&instance, retry(None, None), two_rounds));
        assert!(first.input_requests.as_ref().unwrap().contains_key("a"));

        let answer_a = json!({"a": {"action": "accept", "content": {}}});
        let second = input_required(run_stateless(
            &instance,
            retry(Some(answer_a), first.request_state.clone()),
            two_rounds,
        ));
        assert!(second.input_requests.as_ref().unwrap().contains_key("b"));
        assert_ne!(first.request_state, second.request_state);

        let answer_b = json!({"b": {"roots": [{"uri": "file:///x"}]}, "extra": 1});
        let done = run_stateless(
            &instance,
            retry(Some(answer_b), second.request_state),
            two_rounds,
        );
        assert!(matches!(done, Ok(Outcome::Done(text)) if text == "file:///x"));
    }

    #[test]
    fn tampered_state_is_invalid_params() {
        let instance = Instance::new(None).unwrap();
        let first = input_required(run_stateless(&instance, retry(None, None), two_rounds));
        let tampered = format!("{}-TAMPERED", first.request_state.unwrap());
        let outcome = run_stateless(&instance, retry(None, Some(tampered)), two_rounds);
        assert!(matches!(outcome, Err(InputError::Protocol(e)) if e.code.0 == -32602));
    }

    #[test]
    fn malformed_response_is_invalid_params() {
        let instance = Instance::new(None).unwrap();
        let outcome = run_stateless(
            &instance,
            retry(Some(json!({"a": 12345})), None),
            two_rounds,
        );
        assert!(matches!(outcome, Err(InputError::Protocol(e)) if e.code.0 == -32602));
    }

    #[test]
    fn wrong_keys_ask_again() {
        let instance = Instance::new(None).unwrap();
        let responses = json!({"wrong": {"action": "accept", "content": {}}});
        let again = input_required(run_stateless(
            &instance,
            retry(Some(responses), None),
            two_rounds,
        ));
        assert!(again.input_requests.unwrap().contains_key("a"));
    }
}
