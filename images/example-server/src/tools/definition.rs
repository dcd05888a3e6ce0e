//! Building tool definitions (name, description, JSON input schema).
//!
//! Imports: nothing from this crate. Must not import `tools/mod.rs` or a tool module.

use rmcp::model::{JsonObject, Tool};
use serde_json::{Value, json};

/// A tool definition from a JSON input schema.
pub(crate) fn tool(
    name: &'static str,
    description: impl Into<std::borrow::Cow<'static, str>>,
    schema: Value,
) -> Tool {
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
