//! Prompts: the four `prompts-get-*` fixtures, the input-required prompt (SEP-2322: input
//! requests are not only for tools), and the prompt `test_trigger_prompt_change` toggles.
//!
//! Imports: `fixtures`, `input`, `state`. Must not import `server` (which routes here).

use rmcp::model::{
    ContentBlock, GetPromptRequestParams, GetPromptResponse, GetPromptResult, ImageContent,
    ListPromptsResult, Prompt, PromptArgument, PromptMessage, Role,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer};
use serde_json::{Value, json};

use crate::fixtures::RED_PIXEL_PNG;
use crate::input::{self, Answers, Ask, InputError, Outcome, Retry, Step};
use crate::state::Instance;

const INPUT_PROMPT: &str = "test_input_required_result_prompt";
const DYNAMIC_PROMPT: &str = "test_dynamic_prompt";

/// The prompts currently listed.
pub(crate) fn list(instance: &Instance) -> ListPromptsResult {
    let mut prompts = vec![
        Prompt::new(
            "test_simple_prompt",
            Some("A prompt without arguments"),
            None,
        ),
        Prompt::new(
            "test_prompt_with_arguments",
            Some("A prompt that quotes its two arguments"),
            Some(vec![
                argument("arg1", "First test argument"),
                argument("arg2", "Second test argument"),
            ]),
        ),
        Prompt::new(
            "test_prompt_with_embedded_resource",
            Some("A prompt that embeds the resource named by resourceUri"),
            Some(vec![argument(
                "resourceUri",
                "URI of the resource to embed",
            )]),
        ),
        Prompt::new(
            "test_prompt_with_image",
            Some("A prompt that includes an image"),
            None,
        ),
        Prompt::new(
            INPUT_PROMPT,
            Some("A prompt that first asks the user for context (key user_context)"),
            None,
        ),
    ];
    if instance.dynamic_prompt() {
        prompts.push(Prompt::new(
            DYNAMIC_PROMPT,
            Some("Listed only while test_trigger_prompt_change has toggled it on"),
            None,
        ));
    }
    ListPromptsResult::with_all_items(prompts)
}

/// Answers `prompts/get`; an unknown (or currently unlisted) prompt is `-32602`.
pub(crate) async fn get(
    instance: &Instance,
    params: GetPromptRequestParams,
    ctx: &RequestContext<RoleServer>,
) -> Result<GetPromptResponse, ErrorData> {
    let args = params.arguments.clone().unwrap_or_default();
    let messages = match params.name.as_str() {
        "test_simple_prompt" => {
            vec![PromptMessage::new_text(
                Role::User,
                "This is a simple prompt for testing.",
            )]
        }
        "test_prompt_with_arguments" => {
            let arg1 = required(&args, "arg1")?;
            let arg2 = required(&args, "arg2")?;
            vec![PromptMessage::new_text(
                Role::User,
                format!("Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"),
            )]
        }
        "test_prompt_with_embedded_resource" => {
            let uri = required(&args, "resourceUri")?;
            vec![
                PromptMessage::new_resource(
                    Role::User,
                    uri.to_owned(),
                    Some("text/plain".into()),
                    Some("Embedded resource content for testing.".into()),
                    None,
                    None,
                    None,
                ),
                PromptMessage::new_text(Role::User, "Please process the embedded resource above."),
            ]
        }
        "test_prompt_with_image" => vec![
            PromptMessage::new(
                Role::User,
                ContentBlock::Image(ImageContent::new(RED_PIXEL_PNG, "image/png")),
            ),
            PromptMessage::new_text(Role::User, "Please analyze the image above."),
        ],
        INPUT_PROMPT => return input_prompt(instance, params, ctx).await,
        DYNAMIC_PROMPT if instance.dynamic_prompt() => {
            vec![PromptMessage::new_text(
                Role::User,
                "This prompt comes and goes.",
            )]
        }
        name => {
            return Err(ErrorData::invalid_params(
                format!("unknown prompt: {name}"),
                Some(json!({"name": name})),
            ));
        }
    };
    Ok(GetPromptResponse::Complete(GetPromptResult::new(messages)))
}

/// `input-required-result-non-tool-request`: asks for context, then builds the prompt from it.
async fn input_prompt(
    instance: &Instance,
    params: GetPromptRequestParams,
    ctx: &RequestContext<RoleServer>,
) -> Result<GetPromptResponse, ErrorData> {
    let retry = Retry {
        scope: format!("prompts/get:{INPUT_PROMPT}"),
        input_responses: params.input_responses,
        request_state: params.request_state,
    };
    let outcome = input::run(ctx, instance, retry, |answers: &Answers| {
        if !answers.contains_key("user_context") {
            let schema = json!({
                "type": "object",
                "properties": {"context": {"type": "string"}},
                "required": ["context"],
            });
            let message = "What context should the prompt use?";
            return Step::Ask(vec![Ask::elicit("user_context", message, schema)]);
        }
        let context = input::accepted(answers, "user_context")
            .and_then(|content| {
                content
                    .get("context")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        Step::Done(GetPromptResult::new(vec![PromptMessage::new_text(
            Role::User,
            format!("Answer using this context: {context}"),
        )]))
    })
    .await;
    match outcome {
        Ok(Outcome::Done(result)) => Ok(GetPromptResponse::Complete(result)),
        Ok(Outcome::InputRequired(result)) => Ok(GetPromptResponse::InputRequired(result)),
        Err(InputError::Protocol(error)) => Err(error),
        Err(InputError::Client(message)) => Err(ErrorData::internal_error(message, None)),
    }
}

fn argument(name: &str, description: &str) -> PromptArgument {
    PromptArgument::new(name)
        .with_description(description)
        .with_required(true)
}

fn required<'a>(args: &'a rmcp::model::JsonObject, name: &str) -> Result<&'a str, ErrorData> {
    args.get(name).and_then(Value::as_str).ok_or_else(|| {
        ErrorData::invalid_params(format!("missing required argument `{name}`"), None)
    })
}
