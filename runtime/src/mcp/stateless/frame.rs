//! [`Frame`]: one message for the agent, before the answer or as it.
//!
//! May import: external crates only.

use bytes::Bytes;
use http::StatusCode;

/// One frame for the agent.
#[derive(Debug)]
pub(super) enum Frame {
    /// A notification before the answer.
    Mid(Bytes),
    /// The answer (result or error) with the HTTP status it implies when
    /// sent as plain JSON.
    Final(Bytes, StatusCode),
    /// Nothing happened for a while on a long-lived stream: an SSE comment
    /// keeps proxies from closing it.
    KeepAlive,
}
