//! JSON-RPC 2.0 framing for the proxy hot path.
//!
//! Berth forwards message bodies byte-for-byte. [`Envelope::parse`] borrows the
//! id, method and params straight out of the input buffer (no payload is
//! decoded), validates the JSON-RPC shape, and [`splice_id`] rewrites only the
//! `id` bytes when a message crosses from an agent to a backend or back.
//!
//! Error objects follow the JSON-RPC and MCP codes; see [`ErrorCode`].
//!
//! May import: external crates only (a leaf: nothing below it).

mod error;
mod meta;

pub(crate) use self::error::ErrorCode;
pub use self::error::RpcError;
pub use self::meta::meta_field;

use std::borrow::Cow;

use serde::Deserialize;
use serde::de::Deserializer;
use serde_json::value::RawValue;

/// What kind of JSON-RPC message an [`Envelope`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Has `method` and `id`: expects exactly one response.
    Request,
    /// Has `method`, no `id`.
    Notification,
    /// Has `id` and exactly one of `result` / `error`.
    Response,
}

/// A validated JSON-RPC message whose parts borrow from the input buffer.
#[derive(Debug)]
pub struct Envelope<'a> {
    /// The message kind.
    pub kind: Kind,
    /// The raw `id` bytes (`"abc"` or `42`), for requests and responses.
    pub id: Option<&'a RawValue>,
    /// The method name, for requests and notifications.
    pub method: Option<Cow<'a, str>>,
    /// The raw `params` bytes, if any.
    pub params: Option<&'a RawValue>,
    /// The raw `result` bytes of a successful response.
    pub result: Option<&'a RawValue>,
    /// The raw `error` bytes of an error response.
    pub error: Option<&'a RawValue>,
}

/// Why a buffer is not an acceptable JSON-RPC message.
#[derive(Debug, Clone)]
pub enum ParseError {
    /// Not JSON at all (`-32700`).
    NotJson(String),
    /// A JSON array: batches were removed from MCP in 2025-06-18 (`-32600`).
    Batch,
    /// JSON, but not a valid JSON-RPC 2.0 message (`-32600`). Carries the id
    /// when one could be read, so the error can echo it.
    Invalid {
        /// Human-readable reason.
        reason: String,
        /// The request id, when it was readable and valid.
        id: Option<Box<RawValue>>,
    },
}

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(borrow, default)]
    jsonrpc: Option<Cow<'a, str>>,
    #[serde(borrow, default, deserialize_with = "present")]
    id: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    method: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    params: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    result: Option<&'a RawValue>,
    #[serde(borrow, default, deserialize_with = "present")]
    error: Option<&'a RawValue>,
}

/// Keeps `null` distinguishable from an absent member.
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<&'de RawValue>, D::Error> {
    <&RawValue>::deserialize(d).map(Some)
}

// === impl Envelope ===

impl<'a> Envelope<'a> {
    /// Parses and validates one JSON-RPC message.
    pub fn parse(input: &'a [u8]) -> Result<Self, ParseError> {
        let first = input
            .iter()
            .copied()
            .find(|b| !b.is_ascii_whitespace())
            .ok_or_else(|| ParseError::NotJson("empty body".into()))?;
        // serde_json skips the strings of unknown members without checking
        // UTF-8, and the message is forwarded as is: check it here.
        if std::str::from_utf8(input).is_err() {
            return Err(ParseError::NotJson("invalid UTF-8".into()));
        }
        if first == b'[' {
            // Still must be JSON to be a batch rather than a parse error.
            return match serde_json::from_slice::<&RawValue>(input) {
                Ok(_) => Err(ParseError::Batch),
                Err(e) => Err(ParseError::NotJson(e.to_string())),
            };
        }
        if first != b'{' {
            return match serde_json::from_slice::<&RawValue>(input) {
                Ok(_) => Err(invalid("a JSON-RPC message must be a JSON object", None)),
                Err(e) => Err(ParseError::NotJson(e.to_string())),
            };
        }
        let wire: Wire<'a> = match serde_json::from_slice(input) {
            Ok(w) => w,
            Err(e) if e.is_syntax() || e.is_eof() => {
                return Err(ParseError::NotJson(e.to_string()));
            }
            Err(e) => return Err(invalid(&format!("malformed JSON-RPC message: {e}"), None)),
        };
        Self::validate(wire)
    }

    fn validate(w: Wire<'a>) -> Result<Self, ParseError> {
        let id = match w.id {
            Some(raw) if is_valid_id(raw) => Some(raw),
            Some(raw) if raw.get() == "null" => {
                return Err(invalid(
                    "the id must be a string or an integer, not null",
                    None,
                ));
            }
            Some(_) => return Err(invalid("the id must be a string or an integer", None)),
            None => None,
        };
        let echo = || id.map(|r| r.to_owned());
        if w.jsonrpc.as_deref() != Some("2.0") {
            return Err(invalid(
                r#"the "jsonrpc" member must be exactly "2.0""#,
                echo(),
            ));
        }
        let method = match w.method {
            Some(raw) => match serde_json::from_str::<Cow<'a, str>>(raw.get()) {
                Ok(m) => Some(m),
                Err(_) => return Err(invalid("the method must be a string", echo())),
            },
            None => None,
        };
        if let Some(p) = w.params
            && !matches!(p.get().as_bytes().first(), Some(b'{') | Some(b'['))
        {
            return Err(invalid("params must be an object", echo()));
        }
        let kind = match (&method, id, w.result, w.error) {
            (Some(_), Some(_), None, None) => Kind::Request,
            (Some(_), None, None, None) => Kind::Notification,
            (None, Some(_), Some(_), None) | (None, Some(_), None, Some(_)) => Kind::Response,
            (None, Some(_), Some(_), Some(_)) => {
                return Err(invalid(
                    "a response has either result or error, not both",
                    echo(),
                ));
            }
            (Some(_), _, _, _) => {
                return Err(invalid("a request cannot carry result or error", echo()));
            }
            (None, None, _, _) => {
                return Err(invalid(
                    "a message needs a method (request) or an id (response)",
                    None,
                ));
            }
            (None, Some(_), None, None) => {
                return Err(invalid("a response needs result or error", echo()));
            }
        };
        Ok(Envelope {
            kind,
            id,
            method,
            params: w.params,
            result: w.result,
            error: w.error,
        })
    }

    /// The method name, or `""` for responses.
    pub fn method_str(&self) -> &str {
        self.method.as_deref().unwrap_or("")
    }
}

fn invalid(reason: &str, id: Option<Box<RawValue>>) -> ParseError {
    ParseError::Invalid {
        reason: reason.to_owned(),
        id,
    }
}

/// A JSON-RPC id must be a string or an integer (MCP forbids `null`).
fn is_valid_id(raw: &RawValue) -> bool {
    let s = raw.get().as_bytes();
    match s.first() {
        Some(b'"') => true,
        Some(b'-') | Some(b'0'..=b'9') => s.iter().all(|b| b.is_ascii_digit() || *b == b'-'),
        _ => false,
    }
}

/// Parses a numeric id as `u64` (backend-side ids are always Berth's own counters).
pub fn id_as_u64(raw: &RawValue) -> Option<u64> {
    raw.get().parse().ok()
}

/// Returns `input` with the bytes of `part` (which must borrow from `input`)
/// replaced by `replacement`. This is how ids are remapped without touching
/// the rest of the message.
///
/// # Panics
/// If `part` does not point into `input` (a programming error).
pub fn splice_id(input: &[u8], part: &RawValue, replacement: &[u8]) -> Vec<u8> {
    let std::ops::Range { start, end } = span_in(input, part);
    // +1: room for the newline a stdio line needs, without reallocating.
    let mut out = Vec::with_capacity(input.len() - (end - start) + replacement.len() + 1);
    out.extend_from_slice(&input[..start]);
    out.extend_from_slice(replacement);
    out.extend_from_slice(&input[end..]);
    out
}

/// Where `part` (a value parsed from `input`, borrowing it) lies in `input`.
///
/// # Panics
/// If `part` does not point into `input` (a programming error).
pub(crate) fn span_in(input: &[u8], part: &RawValue) -> std::ops::Range<usize> {
    let start = (part.get().as_ptr() as usize)
        .checked_sub(input.as_ptr() as usize)
        .expect("a parsed value must borrow from its message");
    let end = start + part.get().len();
    assert!(
        end <= input.len(),
        "a parsed value must borrow from its message"
    );
    start..end
}

/// `msg` (a response) with `result._meta.<key>` set to `value`; `None`
/// when it is not a response with an object result (errors stay as they
/// are). Parses the whole message: for rare answers only (a deprecated
/// server's).
pub(crate) fn with_result_meta(
    msg: &[u8],
    key: &str,
    value: &serde_json::Value,
) -> Option<Vec<u8>> {
    let mut parsed: serde_json::Value = serde_json::from_slice(msg).ok()?;
    let result = parsed.get_mut("result")?.as_object_mut()?;
    let meta = result
        .entry("_meta")
        .or_insert_with(|| serde_json::Value::Object(serde_json::Map::new()));
    meta.as_object_mut()?.insert(key.to_owned(), value.clone());
    serde_json::to_vec(&parsed).ok()
}

/// Reads a top-level member of params as raw JSON.
pub fn param_raw<'a>(params: Option<&'a RawValue>, field: &str) -> Option<&'a RawValue> {
    let map: std::collections::HashMap<Cow<'a, str>, &'a RawValue> =
        serde_json::from_str(params?.get()).ok()?;
    map.into_iter().find(|(k, _)| k == field).map(|(_, v)| v)
}

/// The `name` member of params (`tools/call`, `prompts/get`), read without
/// building a map of the other members (it is on the hot path of every
/// call to a held server).
pub(crate) fn params_name(params: &str) -> Option<Cow<'_, str>> {
    #[derive(Deserialize)]
    struct P<'a> {
        #[serde(borrow, default)]
        name: Option<Cow<'a, str>>,
    }
    serde_json::from_str::<P<'_>>(params).ok()?.name
}

/// Reads a top-level string member of params, e.g. `name` of `tools/call`.
pub fn param_str<'a>(params: Option<&'a RawValue>, field: &str) -> Option<Cow<'a, str>> {
    serde_json::from_str::<Cow<'a, str>>(param_raw(params, field)?.get()).ok()
}

/// The `error.message` of an error response.
pub(crate) fn error_message(msg: &[u8]) -> Option<String> {
    let v: serde_json::Value = serde_json::from_slice(msg).ok()?;
    v.pointer("/error/message")?.as_str().map(str::to_owned)
}

#[cfg(test)]
mod tests;
