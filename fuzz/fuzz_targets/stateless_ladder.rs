//! The 2026-07-28 validation ladder (`mcp::stateless::validate`) on an
//! HTTP-like input: `name: value` header lines, a blank line, then the body.
//! Without a blank line the whole input is the body and there are no headers.
//! Header lines that are not valid header names/values are skipped; repeated
//! names are appended, so the "repeated header" step is reachable.
//!
//! Invariants: nothing panics; an accepted request's routing headers equal
//! the body and its method is one the endpoint serves; a rejection carries
//! one of the ladder's codes, maps to a 4xx status, and its error response
//! is a valid JSON-RPC response echoing the id.

#![no_main]

use std::collections::HashMap;

use berth::fuzzing::jsonrpc::{Envelope, Kind};
use berth::fuzzing::stateless::{self as ladder, FORWARDED, Outcome, Version};
use berth::fuzzing::stateless as shape;
use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use serde_json::value::RawValue;

/// Codes the ladder may answer with.
const LADDER_CODES: &[i64] = &[-32700, -32600, -32602, -32020, -32022, -32601];

fn split(data: &[u8]) -> (HeaderMap, &[u8]) {
    let mut headers = HeaderMap::new();
    let Some(end) = data.windows(2).position(|w| w == b"\n\n") else {
        return (headers, data);
    };
    for line in data[..end].split(|b| *b == b'\n') {
        let Some(colon) = line.iter().position(|b| *b == b':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(&line[..colon]),
            HeaderValue::from_bytes(&line[colon + 1..]),
        ) else {
            continue;
        };
        headers.append(name, value);
    }
    (headers, &data[end + 2..])
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    let value = headers.get(name)?.to_str().ok()?;
    ladder::decode_header_value(value.trim_matches([' ', '\t'])).map(|v| v.into_owned())
}

fuzz_target!(|data: &[u8]| {
    let (headers, body) = split(data);
    match ladder::validate(&headers, body) {
        Ok(Outcome::Notification) => {
            let env = Envelope::parse(body).expect("an accepted notification parses");
            assert_eq!(env.kind, Kind::Notification);
        }
        Ok(Outcome::Request(req)) => {
            let method = req.method.as_str();
            assert!(
                FORWARDED.contains(&method)
                    || method == "server/discover"
                    || method == "subscriptions/listen",
                "accepted method {method}"
            );
            assert_eq!(header(&headers, "mcp-method").as_deref(), Some(method));
            assert_eq!(
                header(&headers, "mcp-protocol-version").as_deref(),
                Some(Version::STATELESS.as_str())
            );
            assert!(req.caps().is_object());
            let env = Envelope::parse(body).expect("an accepted request parses");
            assert_eq!(env.id.map(|r| r.get()), Some(req.id.get()));
        }
        Err(rej) => {
            let code = rej.error.code.code();
            assert!(LADDER_CODES.contains(&code), "unexpected code {code}");
            assert!(shape::status_for(code).is_client_error(), "code {code}");
            let response = rej.error.to_response(rej.id.as_deref());
            // Raw members: an echoed id may be a number no decoder can hold
            // (e.g. 400 digits), which is still JSON.
            let members: HashMap<&str, &RawValue> =
                serde_json::from_slice(&response).expect("an error response is a JSON object");
            let error: Value =
                serde_json::from_str(members["error"].get()).expect("the error member decodes");
            assert_eq!(error["code"], code);
            let echoed = rej.id.as_deref().map_or("null", RawValue::get);
            assert_eq!(members["id"].get(), echoed);
            if let Some(id) = &rej.id {
                let env = Envelope::parse(&response).expect("an error response with an id parses");
                assert_eq!(env.kind, Kind::Response);
                assert_eq!(env.id.map(|r| r.get()), Some(id.get()));
            }
        }
    }
});
