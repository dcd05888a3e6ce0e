//! Tools that return fixed content: the `tools-call-*` content fixtures, the JSON Schema 2020-12
//! fixture, a tool with an `x-mcp-header` parameter (SEP-2243), and the tool that
//! `test_trigger_tool_change` adds to and removes from the list.
//!
//! Imports: `tool_call`, `definition`, `response` and the crate's `fixtures`. Must not import
//! `tools/mod.rs` or another tool module.

use rmcp::ErrorData;
use rmcp::model::{
    AudioContent, CallToolResponse, CallToolResult, ContentBlock, ResourceContents, Tool,
};
use serde_json::json;

use super::definition::{no_arguments, tool};
use super::response::{text, tool_error};
use super::tool_call::Call;
use crate::fixtures::{
    EMBEDDED_RESOURCE_TEXT, EMBEDDED_RESOURCE_URI, ERROR_TEXT, JSON_SCHEMA_DIALECT,
    JSON_SCHEMA_TOOL, MIXED_RESOURCE_JSON, MIXED_RESOURCE_URI, RED_PIXEL_PNG, SILENT_WAV,
    SIMPLE_TEXT,
};

/// The tool `test_trigger_tool_change` toggles.
const DYNAMIC_TOOL: &str = "test_dynamic_tool";

pub(super) fn definitions() -> Vec<Tool> {
    vec![
        tool("test_simple_text", "Returns one text block", no_arguments()),
        tool(
            "test_image_content",
            "Returns one PNG image block",
            no_arguments(),
        ),
        tool(
            "test_audio_content",
            "Returns one WAV audio block",
            no_arguments(),
        ),
        tool(
            "test_embedded_resource",
            "Returns an embedded text resource",
            no_arguments(),
        ),
        tool(
            "test_multiple_content_types",
            "Returns text, an image and an embedded JSON resource",
            no_arguments(),
        ),
        tool(
            "test_error_handling",
            "Always fails with a tool execution error (isError: true)",
            no_arguments(),
        ),
        tool(
            JSON_SCHEMA_TOOL,
            "Tool with JSON Schema 2020-12 features",
            json_schema_2020_12(),
        ),
        tool(
            "test_mcp_param_header",
            "Echoes `region`, which clients mirror in the Mcp-Param-Region header (SEP-2243)",
            json!({
                "type": "object",
                "properties": {
                    "region": {
                        "type": "string",
                        "description": "Any string; mirrored as a header",
                        "x-mcp-header": "Region",
                    },
                },
                "required": ["region"],
            }),
        ),
    ]
}

/// The definition of the tool `test_trigger_tool_change` toggles.
pub(super) fn dynamic_definition() -> Tool {
    tool(
        DYNAMIC_TOOL,
        "Listed only while test_trigger_tool_change has toggled it on",
        no_arguments(),
    )
}

pub(super) fn call(call: &Call<'_>) -> Option<Result<CallToolResponse, ErrorData>> {
    let response = match call.name.as_str() {
        "test_simple_text" => text(SIMPLE_TEXT),
        "test_image_content" => complete(vec![ContentBlock::image(RED_PIXEL_PNG, "image/png")]),
        "test_audio_content" => complete(vec![ContentBlock::Audio(AudioContent::new(
            SILENT_WAV,
            "audio/wav",
        ))]),
        "test_embedded_resource" => complete(vec![ContentBlock::resource(ResourceContents::text(
            EMBEDDED_RESOURCE_TEXT,
            EMBEDDED_RESOURCE_URI,
        ))]),
        "test_multiple_content_types" => complete(vec![
            ContentBlock::text("Multiple content types test:"),
            ContentBlock::image(RED_PIXEL_PNG, "image/png"),
            ContentBlock::resource(
                ResourceContents::text(MIXED_RESOURCE_JSON, MIXED_RESOURCE_URI)
                    .with_mime_type("application/json"),
            ),
        ]),
        "test_error_handling" => {
            CallToolResponse::Complete(CallToolResult::error(vec![ContentBlock::text(ERROR_TEXT)]))
        }
        JSON_SCHEMA_TOOL => {
            let name = call.args.get("name").and_then(|v| v.as_str());
            text(format!("Hello, {}!", name.unwrap_or("world")))
        }
        "test_mcp_param_header" => match call.str_arg("region") {
            Ok(region) => text(format!("region={region}")),
            Err(message) => tool_error(message),
        },
        DYNAMIC_TOOL => text("the dynamic tool ran"),
        _ => return None,
    };
    Some(Ok(response))
}

fn complete(content: Vec<ContentBlock>) -> CallToolResponse {
    CallToolResponse::Complete(CallToolResult::success(content))
}

/// The schema `json-schema-2020-12` checks: `$schema`, `$defs` (with an `$anchor`), a `$ref`,
/// `additionalProperties`, composition (`allOf`/`anyOf`) and conditionals (`if`/`then`/`else`).
fn json_schema_2020_12() -> serde_json::Value {
    json!({
        "$schema": JSON_SCHEMA_DIALECT,
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": {
                    "street": {"type": "string"},
                    "city": {"type": "string"},
                },
            },
        },
        "properties": {
            "name": {"type": "string"},
            "address": {"$ref": "#/$defs/address"},
            "contactMethod": {"type": "string", "enum": ["phone", "email"]},
            "phone": {"type": "string"},
            "email": {"type": "string"},
        },
        "allOf": [{"anyOf": [{"required": ["phone"]}, {"required": ["email"]}]}],
        "if": {
            "properties": {"contactMethod": {"const": "phone"}},
            "required": ["contactMethod"],
        },
        "then": {"required": ["phone"]},
        "else": {"required": ["email"]},
        "additionalProperties": false,
    })
}
