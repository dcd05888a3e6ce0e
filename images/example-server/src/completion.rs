//! `completion/complete`: prefix matches from fixed candidate lists for the arguments of
//! `test_prompt_with_arguments` and the `{id}` of `test://template/{id}/data`.
//!
//! Imports: `fixtures`. Must not import `server` (which routes here).

use rmcp::ErrorData;
use rmcp::model::{CompleteRequestParams, CompleteResult, CompletionInfo, Reference};

use crate::fixtures::TEMPLATE_URI;

pub(crate) fn complete(params: &CompleteRequestParams) -> Result<CompleteResult, ErrorData> {
    let candidates: &[&str] = match (&params.r#ref, params.argument.name.as_str()) {
        (Reference::Prompt(prompt), "arg1") if prompt.name == "test_prompt_with_arguments" => {
            &["paris", "park", "party"]
        }
        (Reference::Prompt(prompt), "arg2") if prompt.name == "test_prompt_with_arguments" => {
            &["red", "green", "blue"]
        }
        (Reference::Resource(template), "id") if template.uri == TEMPLATE_URI => {
            &["1", "2", "3", "123"]
        }
        _ => &[],
    };
    let prefix = params.argument.value.as_str();
    let values = candidates
        .iter()
        .filter(|candidate| candidate.starts_with(prefix))
        .map(|candidate| (*candidate).to_owned())
        .collect();
    let info =
        CompletionInfo::new(values).map_err(|error| ErrorData::internal_error(error, None))?;
    Ok(CompleteResult::new(info))
}
