//! `mcp::stateless::results::modernize`: a backend (2025-era) message shaped for a
//! 2026-07-28 agent, with the agent's id. Input layout: byte 0 picks the
//! method the agent called (and whether a resource uri is known), the rest
//! is the backend message.
//!
//! Invariants: nothing panics; when the message is a valid JSON-RPC response
//! the output is valid JSON (and decodes to a `Value` whenever the input
//! does) and still a response, with the agent's id; other messages pass
//! through unchanged.

#![no_main]

use berth::fuzzing::jsonrpc::{Envelope, Kind};
use berth::fuzzing::stateless as shape;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use serde_json::value::RawValue;

const METHODS: &[&str] = &[
    "tools/list",
    "tools/call",
    "prompts/list",
    "prompts/get",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "completion/complete",
    "server/discover",
    "ping",
];

/// The id the agent used (with an escape, as ids may have).
const AGENT_ID: &str = r#""agent \"7\"""#;

fuzz_target!(|data: &[u8]| {
    let [pick, msg @ ..] = data else {
        return;
    };
    let method = METHODS[usize::from(pick & 0x7f) % METHODS.len()];
    let uri = (pick & 0x80 != 0).then_some("test://fuzz/resource");
    let agent_id = RawValue::from_string(AGENT_ID.to_owned()).expect("a constant id is JSON");
    let (out, status) = shape::modernize(msg, &agent_id, method, uri);

    let response = match Envelope::parse(msg) {
        Ok(env) if env.kind == Kind::Response => env,
        _ => {
            assert_eq!(out, msg, "a non-response must pass through");
            return;
        }
    };
    // JSON grammar, as the envelope parser checks it (no number ranges).
    if let Err(e) = serde_json::from_slice::<&RawValue>(&out) {
        panic!(
            "output is not JSON ({e}): {}",
            String::from_utf8_lossy(&out)
        );
    }
    // An input a full decoder accepts (numbers in range, e.g. no `2e602`)
    // stays that way.
    if serde_json::from_slice::<Value>(msg).is_ok()
        && let Err(e) = serde_json::from_slice::<Value>(&out)
    {
        panic!(
            "output no longer decodes ({e}): {}",
            String::from_utf8_lossy(&out)
        );
    }
    let shaped = match Envelope::parse(&out) {
        Ok(env) => env,
        Err(e) => panic!(
            "output is not a JSON-RPC message ({e:?}): {}",
            String::from_utf8_lossy(&out)
        ),
    };
    assert_eq!(shaped.kind, Kind::Response);
    assert_eq!(shaped.id.map(|r| r.get()), Some(AGENT_ID));
    if response.result.is_some() {
        assert!(shaped.result.is_some() && status.is_success());
    }
});
