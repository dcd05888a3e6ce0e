//! Reading what a Streamable HTTP server sends back: whether a message
//! answers a request, an id-less error re-addressed to its request, and
//! the version an `initialize` result negotiated.
//!
//! May import: `jsonrpc`, external crates.

use bytes::Bytes;
use http::HeaderValue;
use serde_json::value::RawValue;

use crate::jsonrpc::{Envelope, Kind};

/// Whether `message` is the response to the request with `id`.
pub(super) fn answers(message: &[u8], id: Option<&RawValue>) -> bool {
    let Some(id) = id else { return false };
    matches!(Envelope::parse(message), Ok(env) if env.kind == Kind::Response
        && env.id.is_some_and(|got| got.get() == id.get()))
}

/// A JSON-RPC error the server sent without an id (as it may on an HTTP
/// error status), re-addressed to the request `id`.
pub(super) fn error_for(body: &[u8], id: &RawValue) -> Option<Bytes> {
    let mut message: serde_json::Value = serde_json::from_slice(body).ok()?;
    let object = message.as_object_mut()?;
    if !object.get("error")?.is_object() || !object.get("id")?.is_null() {
        return None;
    }
    object.insert("id".into(), serde_json::from_str(id.get()).ok()?);
    Some(Bytes::from(message.to_string()))
}

/// The `protocolVersion` of an `initialize` result, as a header value.
pub(super) fn negotiated_version(message: &[u8]) -> Option<HeaderValue> {
    #[derive(serde::Deserialize)]
    struct Response {
        result: InitResult,
    }
    #[derive(serde::Deserialize)]
    struct InitResult {
        #[serde(rename = "protocolVersion")]
        protocol_version: String,
    }
    let parsed: Response = serde_json::from_slice(message).ok()?;
    HeaderValue::from_str(&parsed.result.protocol_version).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_matches_raw_ids_of_responses_only() {
        let id = RawValue::from_string("7".into()).unwrap();
        assert!(answers(
            br#"{"jsonrpc":"2.0","id":7,"result":{}}"#,
            Some(&id)
        ));
        assert!(!answers(
            br#"{"jsonrpc":"2.0","id":8,"result":{}}"#,
            Some(&id)
        ));
        assert!(!answers(
            br#"{"jsonrpc":"2.0","id":7,"method":"sampling/createMessage"}"#,
            Some(&id)
        ));
        assert!(!answers(br#"{"jsonrpc":"2.0","id":7,"result":{}}"#, None));
    }

    #[test]
    fn an_id_less_error_is_re_addressed_to_the_request() {
        let id = RawValue::from_string(r#""r1""#.into()).unwrap();
        let got = error_for(
            br#"{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Unsupported protocol version"}}"#,
            &id,
        )
        .unwrap();
        let got: serde_json::Value = serde_json::from_slice(&got).unwrap();
        assert_eq!(got["id"], "r1");
        assert_eq!(got["error"]["message"], "Unsupported protocol version");
        assert!(error_for(b"Bad Request", &id).is_none());
        assert!(error_for(br#"{"jsonrpc":"2.0","id":null,"result":{}}"#, &id).is_none());
    }

    #[test]
    fn negotiated_version_reads_the_initialize_result() {
        let v = negotiated_version(
            br#"{"jsonrpc":"2.0","id":1,"result":{"protocolVersion":"2025-06-18"}}"#,
        );
        assert_eq!(v.unwrap(), "2025-06-18");
        assert!(negotiated_version(br#"{"jsonrpc":"2.0","id":1,"error":{}}"#).is_none());
    }
}
