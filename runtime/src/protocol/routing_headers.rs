//! The 2026-07-28 routing headers a client mirrors from a request's body
//! (SEP-2243), both ways: `Mcp-Method`, `Mcp-Name` (the name a request
//! addresses) and `Mcp-Param-*` (tool arguments whose schema says
//! `x-mcp-header`). Values that would not survive an HTTP field travel
//! Base64-wrapped as `=?base64?…?=`.
//!
//! Berth reads them to check an agent's request against its body, and
//! writes them when it is itself the client of a Streamable HTTP server.
//!
//! May import: external crates only.

use std::borrow::Cow;
use std::collections::HashMap;

use base64::Engine;
use serde_json::{Map, Value};

/// Tool name → the arguments it mirrors in `Mcp-Param-*` headers.
pub(crate) type ParamHeaders = HashMap<String, Vec<ParamHeader>>;

/// One `x-mcp-header` declaration of a tool's input schema.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ParamHeader {
    /// Property names from the schema's root to the argument (a chain of
    /// `properties`; one name for a top-level argument).
    pub path: Vec<String>,
    /// The header's suffix: the argument travels in `Mcp-Param-{suffix}`.
    pub suffix: String,
}

/// The params field a method's `Mcp-Name` header mirrors, if it has one.
pub(crate) fn name_field(method: &str) -> Option<&'static str> {
    match method {
        "tools/call" | "prompts/get" => Some("name"),
        "resources/read" => Some("uri"),
        _ => None,
    }
}

/// A header value for `value`: printable ASCII without edge whitespace
/// as it is, anything else (or a value that looks like the sentinel)
/// Base64-wrapped.
pub(crate) fn encode_header_value(value: &str) -> String {
    let plain = value.bytes().all(|b| (0x20..=0x7e).contains(&b))
        && value.trim_matches([' ', '\t']) == value
        && !(value.starts_with("=?base64?") && value.ends_with("?="));
    if plain {
        return value.to_owned();
    }
    format!(
        "=?base64?{}?=",
        base64::engine::general_purpose::STANDARD.encode(value)
    )
}

/// Decodes the `=?base64?…?=` sentinel; other values are literal. `None`
/// for a sentinel that is not valid Base64 of UTF-8.
pub fn decode_header_value(value: &str) -> Option<Cow<'_, str>> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .map(Cow::Owned),
        None => Some(Cow::Borrowed(value)),
    }
}

/// How an argument reads in a header (strings as they are, numbers and
/// booleans as JSON); other values are not mirrored.
pub(crate) fn header_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.to_string()),
        _ => None,
    }
}

/// The argument at `path` in `arguments`; `None` when a step is missing,
/// not an object, or the value is `null`.
pub(crate) fn value_at<'a>(
    arguments: &'a Map<String, Value>,
    path: &[String],
) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    let mut node = arguments.get(first)?;
    for key in rest {
        node = node.as_object()?.get(key)?;
    }
    (!node.is_null()).then_some(node)
}

/// The declarations in a `tools/list` result's tools. A tool whose
/// annotations are invalid (not on a chain of `properties`, not a token,
/// not on an integer, string or boolean, or repeated) declares none: conforming clients drop
/// such a tool and servers check nothing for it.
pub(crate) fn declarations(tools: &[Value]) -> ParamHeaders {
    let mut declared = ParamHeaders::new();
    for tool in tools {
        let Some(name) = tool.get("name").and_then(Value::as_str) else {
            continue;
        };
        let Some(schema) = tool.get("inputSchema") else {
            continue;
        };
        let mut found = Vec::new();
        if collect(schema, &mut Vec::new(), &mut found).is_err() || repeated(&found) {
            continue;
        }
        if !found.is_empty() {
            declared.insert(name.to_owned(), found);
        }
    }
    declared
}

/// The `Mcp-Param-*` headers (name, value) a client sends for a call of
/// `tool` with `arguments`.
pub(crate) fn param_headers_for(
    declared: &ParamHeaders,
    tool: &str,
    arguments: Option<&Map<String, Value>>,
) -> Vec<(String, String)> {
    let (Some(params), Some(arguments)) = (declared.get(tool), arguments) else {
        return Vec::new();
    };
    params
        .iter()
        .filter_map(|p| {
            let text = header_text(value_at(arguments, &p.path)?)?;
            Some((
                format!("mcp-param-{}", p.suffix.to_ascii_lowercase()),
                encode_header_value(&text),
            ))
        })
        .collect()
}

/// An annotation Berth cannot use.
struct Invalid;

/// Walks `schema`'s `properties` chains from `path`, collecting
/// annotations; an annotation anywhere else in the schema is invalid.
fn collect(
    schema: &Value,
    path: &mut Vec<String>,
    found: &mut Vec<ParamHeader>,
) -> Result<(), Invalid> {
    let Some(object) = schema.as_object() else {
        return Ok(());
    };
    if let Some(header) = object.get("x-mcp-header") {
        let suffix = header.as_str().filter(|s| is_token(s)).ok_or(Invalid)?;
        let scalar = matches!(
            object.get("type").and_then(Value::as_str),
            Some("string" | "integer" | "boolean")
        );
        if path.is_empty() || !scalar {
            return Err(Invalid);
        }
        found.push(ParamHeader {
            path: path.clone(),
            suffix: suffix.to_owned(),
        });
    }
    for (key, value) in object {
        match key.as_str() {
            "properties" => {
                let Some(props) = value.as_object() else {
                    continue;
                };
                for (name, sub) in props {
                    path.push(name.clone());
                    let walked = collect(sub, path, found);
                    path.pop();
                    walked?;
                }
            }
            "x-mcp-header" | "type" | "description" | "title" | "default" | "examples" | "enum"
            | "const" | "required" => {}
            _ => {
                if mentions_annotation(value) {
                    return Err(Invalid);
                }
            }
        }
    }
    Ok(())
}

/// Whether `value` has an `x-mcp-header` anywhere inside.
fn mentions_annotation(value: &Value) -> bool {
    match value {
        Value::Object(o) => o
            .iter()
            .any(|(k, v)| k == "x-mcp-header" || mentions_annotation(v)),
        Value::Array(a) => a.iter().any(mentions_annotation),
        _ => false,
    }
}

/// Whether two declarations name the same header (case-insensitively).
fn repeated(found: &[ParamHeader]) -> bool {
    let mut seen = std::collections::HashSet::new();
    !found
        .iter()
        .all(|p| seen.insert(p.suffix.to_ascii_lowercase()))
}

/// An RFC 9110 token (what a header name may be made of).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn args(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn header_values_round_trip_and_wrap_what_a_field_cannot_carry() {
        for (plain, wrapped) in [
            ("us-west1", false),
            ("Hello World", false),
            (" edge", true),
            ("tab\t", true),
            ("日本", true),
            ("line\nbreak", true),
            ("=?base64?abc?=", true),
        ] {
            let encoded = encode_header_value(plain);
            assert_eq!(encoded.starts_with("=?base64?"), wrapped, "{plain:?}");
            assert_eq!(decode_header_value(&encoded).as_deref(), Some(plain));
        }
        assert_eq!(decode_header_value("=?base64?!!!?="), None);
    }

    #[test]
    fn declarations_follow_properties_chains_and_drop_invalid_tools() {
        let d = declarations(&[
            json!({"name": "route", "inputSchema": {"type": "object", "properties": {
                "region": {"type": "string", "x-mcp-header": "Region"},
                "target": {"type": "object", "properties": {
                    "zone": {"type": "integer", "x-mcp-header": "Zone"}}},
                "note": {"type": "string"},
            }}}),
            json!({"name": "in_anyof", "inputSchema": {"type": "object", "anyOf": [
                {"properties": {"x": {"type": "string", "x-mcp-header": "X"}}}]}}),
            json!({"name": "on_object", "inputSchema": {"type": "object", "properties": {
                "o": {"type": "object", "x-mcp-header": "O"}}}}),
            json!({"name": "twice", "inputSchema": {"type": "object", "properties": {
                "a": {"type": "string", "x-mcp-header": "Same"},
                "b": {"type": "string", "x-mcp-header": "same"}}}}),
            json!({"name": "bad_token", "inputSchema": {"type": "object", "properties": {
                "a": {"type": "string", "x-mcp-header": "has space"}}}}),
            json!({"name": "plain", "inputSchema": {"type": "object"}}),
        ]);
        assert_eq!(d.len(), 1, "{d:?}");
        let route = &d["route"];
        assert!(route.contains(&ParamHeader {
            path: vec!["region".into()],
            suffix: "Region".into()
        }));
        assert!(route.contains(&ParamHeader {
            path: vec!["target".into(), "zone".into()],
            suffix: "Zone".into()
        }));
    }

    #[test]
    fn param_headers_mirror_present_scalar_arguments() {
        let d = declarations(&[json!({"name": "route", "inputSchema": {"properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "target": {"type": "object", "properties": {
                "zone": {"type": "integer", "x-mcp-header": "Zone"}}},
            "flag": {"type": "boolean", "x-mcp-header": "Flag"},
        }}})]);
        let mut got = param_headers_for(
            &d,
            "route",
            Some(&args(
                json!({"region": "Zürich", "target": {"zone": 3}, "flag": null}),
            )),
        );
        got.sort();
        assert_eq!(
            got,
            vec![
                ("mcp-param-region".into(), encode_header_value("Zürich")),
                ("mcp-param-zone".into(), "3".into()),
            ]
        );
        assert!(param_headers_for(&d, "other", Some(&args(json!({"region": "x"})))).is_empty());
        assert!(param_headers_for(&d, "route", None).is_empty());
    }
}
