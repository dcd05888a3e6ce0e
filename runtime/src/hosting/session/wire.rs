//! The bytes a hosting session writes to its backend: one line per
//! message, requests Berth composes, and cancellations.
//!
//! May import: external crates.

use bytes::Bytes;
use serde_json::value::RawValue;

/// A request Berth composed for its server
/// ([`HostingSession::forward_composed`](super::HostingSession::forward_composed)).
pub(crate) struct Composed<'a> {
    /// The id the agent sees on the answer.
    pub client_id: Box<RawValue>,
    /// Its JSON-RPC method.
    pub method: &'a str,
    /// Its params, raw JSON.
    pub params: &'a str,
    /// The tool a `tools/call` names, when the caller has it at hand (read
    /// from `params` otherwise, when a held session must check it).
    pub tool: Option<&'a str>,
}

/// Makes a message one stdio line: JSON cannot hold raw CR/LF inside
/// strings, so any outside them are whitespace and become spaces; then a
/// single `\n` ends it (one `write` per message).
pub(super) fn to_line(mut msg: Vec<u8>) -> Vec<u8> {
    if memchr::memchr2(b'\n', b'\r', &msg).is_some() {
        for b in msg.iter_mut() {
            if *b == b'\n' || *b == b'\r' {
                *b = b' ';
            }
        }
    }
    msg.push(b'\n');
    msg
}

/// A request Berth composed: `params` is raw JSON.
pub(super) fn compose_request(backend_id: u64, method: &str, params: &str) -> Vec<u8> {
    let mut msg = Vec::with_capacity(params.len() + method.len() + 64);
    msg.extend_from_slice(br#"{"jsonrpc":"2.0","id":"#);
    msg.extend_from_slice(itoa::Buffer::new().format(backend_id).as_bytes());
    msg.extend_from_slice(br#","method":"#);
    serde_json::to_writer(&mut msg, method).expect("writing to a Vec cannot fail");
    msg.extend_from_slice(br#","params":"#);
    msg.extend_from_slice(params.as_bytes());
    msg.push(b'}');
    msg
}

/// `notifications/cancelled` for the backend's request `backend_id`.
pub(super) fn cancelled(backend_id: u64, reason: Option<&str>) -> Bytes {
    let msg = serde_json::json!({
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"requestId": backend_id, "reason": reason},
    });
    Bytes::from(msg.to_string())
}

/// A starting number above any a previous owner of a session can have
/// used: microseconds since the Unix epoch.
pub(super) fn fresh_epoch() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_is_always_exactly_one_line() {
        assert_eq!(to_line(b"{\"a\":1}".to_vec()), b"{\"a\":1}\n");
        assert_eq!(to_line(b"{\"a\":\r\n1}".to_vec()), b"{\"a\":  1}\n");
    }

    #[test]
    fn composed_requests_and_cancellations_are_json_rpc() {
        let req: serde_json::Value =
            serde_json::from_slice(&compose_request(7, "tools/call", r#"{"name":"x"}"#)).unwrap();
        assert_eq!(req["id"], 7);
        assert_eq!(req["method"], "tools/call");
        assert_eq!(req["params"]["name"], "x");
        let c: serde_json::Value = serde_json::from_slice(&cancelled(9, Some("why"))).unwrap();
        assert_eq!(
            c["params"],
            serde_json::json!({"requestId": 9, "reason": "why"})
        );
    }
}
