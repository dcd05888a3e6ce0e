//! `Envelope::parse` on arbitrary bytes, then, for valid messages, the
//! helpers the proxy runs on them: `splice_id` (agent id → backend id and
//! back), `meta_field` and `param_raw`.
//!
//! Invariants: nothing panics; only JSON text is accepted; an envelope's
//! kind matches its members; a spliced numeric id parses back as the same
//! kind with the new id and the rest of the message untouched.

#![no_main]

use berth::fuzzing::jsonrpc::{self, Envelope, Kind};
use libfuzzer_sys::fuzz_target;
use serde_json::value::RawValue;

fuzz_target!(|data: &[u8]| {
    let Ok(env) = Envelope::parse(data) else {
        return;
    };
    // Only JSON text is accepted (RFC 8259: UTF-8, complete grammar).
    if let Err(e) = serde_json::from_slice::<&RawValue>(data) {
        panic!("accepted a message that is not JSON: {e}");
    }
    match env.kind {
        Kind::Request => assert!(env.id.is_some() && env.method.is_some()),
        Kind::Notification => assert!(env.id.is_none() && env.method.is_some()),
        Kind::Response => {
            assert!(env.id.is_some() && env.method.is_none());
            assert!(env.result.is_some() != env.error.is_some());
        }
    }
    let _ = jsonrpc::meta_field(env.params, "progressToken");
    let _ = jsonrpc::param_raw(env.params, "name");
    let _ = jsonrpc::param_str(env.params, "uri");

    let Some(id) = env.id else {
        return;
    };
    let _ = jsonrpc::id_as_u64(id);
    // The replacement depends on the input so both short and long ids occur.
    let new_id = (data.len() as u64)
        .wrapping_mul(0x9e37_79b9_7f4a_7c15)
        .to_string();
    let spliced = jsonrpc::splice_id(data, id, new_id.as_bytes());
    let again = match Envelope::parse(&spliced) {
        Ok(e) => e,
        Err(e) => panic!("spliced message no longer parses: {e:?}"),
    };
    assert_eq!(again.kind, env.kind);
    assert_eq!(again.id.map(|r| r.get()), Some(new_id.as_str()));
    assert_eq!(jsonrpc::id_as_u64(again.id.unwrap()), new_id.parse().ok());
    assert_eq!(again.method, env.method);
    assert_eq!(again.params.map(|r| r.get()), env.params.map(|r| r.get()));
    assert_eq!(again.result.map(|r| r.get()), env.result.map(|r| r.get()));
    assert_eq!(again.error.map(|r| r.get()), env.error.map(|r| r.get()));

    // Splicing the original id back restores the input byte for byte.
    let restored = jsonrpc::splice_id(&spliced, again.id.unwrap(), id.get().as_bytes());
    assert_eq!(restored, data);
});
