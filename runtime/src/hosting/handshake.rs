//! Driving the `initialize` handshake with a hosting session's server:
//! send `initialize`, read its answer (past any notification the server
//! sends first), record the negotiated version, send `initialized`. Used
//! for a session restored on another pod (the agent's stored params) and
//! for a server Berth initializes on a stateless agent's behalf (Berth's
//! own params); the messages themselves come from `protocol`.
//!
//! May import: `hosting::{session, stream, error}`, `protocol`.

use std::time::Duration;

use bytes::Bytes;
use serde_json::value::RawValue;

use super::error::HostingError;
use super::session::HostingSession;
use super::stream::Next;
use crate::protocol::{HandshakeError, INITIALIZED, InitializeResult, initialize_outcome};

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
        .forward_composed(id, "initialize", params, stream.clone(), timeout, None)
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
