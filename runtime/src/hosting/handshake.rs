//! Driving the handshakes with a hosting session's server: `initialize`
//! (send it, read its answer past any notification the server sends
//! first, record the negotiated version, send `initialized`), used for a
//! session restored on another pod (the agent's stored params) and for a
//! server Berth initializes on a stateless agent's behalf (Berth's own
//! params); and `server/discover`, which tells whether the server speaks
//! the stateless era itself. The messages come from `protocol`.
//!
//! May import: `hosting::{session, stream, error}`, `jsonrpc`, `protocol`.

use std::time::Duration;

use bytes::Bytes;
use serde_json::value::RawValue;

use super::error::HostingError;
use super::session::{Composed, HostingSession};
use super::stream::Next;
use crate::jsonrpc::ErrorCode;
use crate::protocol::{
    HandshakeError, INITIALIZED, InitializeResult, Version, discover_params, initialize_outcome,
    speaks_stateless,
};

/// The id Berth's own `server/discover` carries.
const DISCOVER_ID: &str = r#""berth-discover""#;

/// Asks the session's server whether it speaks the stateless era
/// (`server/discover`). A server that answers with an error, says another
/// version, or says nothing within `wait` does not; neither does one that
/// ends (the caller finds the session closed). A server that could not be
/// asked (an HTTP server Berth could not reach) is an error, so the
/// question is asked again. On `true`, the session's protocol version is
/// the stateless one.
pub(crate) async fn discover(
    session: &HostingSession,
    wait: Duration,
) -> Result<bool, HostingError> {
    let id = RawValue::from_string(DISCOVER_ID.to_owned()).expect("a constant id is JSON");
    let stream = session.open_stream();
    let backend_id = session
        .forward_composed(
            Composed {
                client_id: id,
                method: "server/discover",
                params: &discover_params(),
                tool: None,
            },
            stream.clone(),
            wait,
            None,
        )
        .await?;
    let answer = tokio::time::timeout(wait, async {
        let mut after = 0;
        loop {
            match stream.next_after(after).await {
                Next::Event(e) if e.last => return Some(e),
                Next::Event(e) => after = e.seq,
                Next::Finished | Next::Gap => return None,
            }
        }
    })
    .await;
    let native = match answer {
        Ok(Some(reply)) => {
            if session.closed_reason().is_none()
                && let Some(reason) = unavailable(&reply.data)
            {
                return Err(HostingError::Unreachable(reason));
            }
            speaks_stateless(&reply.data)
        }
        Ok(None) => false,
        Err(_) => {
            // Some servers hold requests until `initialize`: forget this
            // one quietly (no cancellation before a handshake).
            session.forget(backend_id);
            false
        }
    };
    if native {
        session.set_protocol_version(Version::STATELESS.as_str());
    }
    Ok(native)
}

/// The message of a reply that says the server could not be reached
/// (Berth's own `-32002`, not the server's answer).
fn unavailable(reply: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Reply {
        error: Option<Error>,
    }
    #[derive(serde::Deserialize)]
    struct Error {
        code: i64,
        message: String,
    }
    let error = serde_json::from_slice::<Reply>(reply).ok()?.error?;
    (error.code == ErrorCode::BackendUnavailable.code()).then_some(error.message)
}

/// The id Berth's own `initialize` carries (the server sees the session's
/// own backend id; this is what the reply is spliced back to).
const INITIALIZE_ID: &str = r#""berth-initialize""#;

/// Why a handshake did not complete.
#[derive(Debug)]
pub(crate) enum HandshakeFailure {
    /// The params are not a JSON object.
    Unusable,
    /// The session could not send (its instance ended).
    Session(HostingError),
    /// The server ended before it answered.
    NoAnswer,
    /// It answered with an error, or garbage.
    Refused(HandshakeError),
}

/// Runs the handshake with `params` (raw JSON).
pub(crate) async fn initialize(
    session: &HostingSession,
    params: &str,
    timeout: Duration,
) -> Result<InitializeResult, HandshakeFailure> {
    let is_object = serde_json::from_str::<&RawValue>(params)
        .is_ok_and(|p| p.get().trim_start().starts_with('{'));
    if !is_object {
        return Err(HandshakeFailure::Unusable);
    }
    let id = RawValue::from_string(INITIALIZE_ID.to_owned()).expect("a constant id is JSON");
    let stream = session.open_stream();
    session
        .forward_composed(
            Composed {
                client_id: id,
                method: "initialize",
                params,
                tool: None,
            },
            stream.clone(),
            timeout,
            None,
        )
        .await
        .map_err(HandshakeFailure::Session)?;
    let mut after = 0;
    let answer = loop {
        match stream.next_after(after).await {
            Next::Event(e) if e.last => break e,
            Next::Event(e) => after = e.seq,
            Next::Finished | Next::Gap => return Err(HandshakeFailure::NoAnswer),
        }
    };
    let init = initialize_outcome(&answer.data).map_err(HandshakeFailure::Refused)?;
    if let Some(v) = &init.protocol_version {
        session.set_protocol_version(v);
    }
    session
        .send(Bytes::from_static(INITIALIZED))
        .await
        .map_err(HandshakeFailure::Session)?;
    Ok(init)
}
