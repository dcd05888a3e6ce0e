//! One parked call as a pod holds it in memory: the hosting session and
//! backend id of the call, its stream, the questions still open, and how
//! long the agent has to answer; and why a `requestState` naming one is
//! refused.
//!
//! May import: `hosting::{session, stream}`.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::time::Instant;

use crate::hosting::session::HostingSession;
use crate::hosting::stream::EventStream;

/// How long a parked call waits for its agent to come back.
pub(crate) const PARK_FOR: Duration = Duration::from_secs(300);

/// A backend request waiting for the agent's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub(crate) struct PendingInput {
    /// Key in `inputRequests` / `inputResponses`.
    pub key: String,
    /// The backend's JSON-RPC id of its request.
    pub backend_request_id: Box<RawValue>,
    /// `sampling/createMessage`, `elicitation/create` or `roots/list`.
    pub method: String,
    /// The request as shown to the agent (`{method, params}`).
    pub shown: Value,
}

/// A parked backend call.
pub(crate) struct Continuation {
    /// The hosting session running the call.
    pub session: Arc<HostingSession>,
    /// Backend id of the parked call.
    pub backend_id: u64,
    /// The call's event stream.
    pub stream: Arc<EventStream>,
    /// Stream position already consumed.
    pub after: u64,
    /// Questions not yet answered.
    pub pending: Vec<PendingInput>,
    /// Round number (1 for the first input_required).
    pub round: u32,
    /// Digest binding the state to principal, method and target (set
    /// when the call is parked: most calls never are, and never need it).
    pub digest: String,
    /// Progress token mapping of the original call (backend raw, agent raw).
    pub progress: Option<(Box<str>, Box<RawValue>)>,
    /// Counter for generated input keys.
    pub key_seq: u32,
    /// When the agent's time to answer ends.
    pub(super) expires: Instant,
    /// A copy is sealed in the shared store (to be consumed with it).
    pub(super) stored: bool,
}

/// Why a `requestState` was refused.
#[derive(Debug)]
pub(crate) enum StateError {
    /// Not `v1.<id>.<sealed>`.
    Malformed,
    /// The seal does not open for this principal.
    Sealed,
    /// No parked call has that id (used, expired or another pod's).
    Unknown,
    /// It was issued for another call or round.
    Mismatch,
}

// === impl Continuation ===

impl Continuation {
    /// A new continuation (not yet parked).
    pub(crate) fn new(
        session: Arc<HostingSession>,
        backend_id: u64,
        stream: Arc<EventStream>,
        progress: Option<(Box<str>, Box<RawValue>)>,
    ) -> Self {
        Continuation {
            session,
            backend_id,
            stream,
            after: 0,
            pending: Vec::new(),
            round: 0,
            digest: String::new(),
            progress,
            key_seq: 0,
            expires: Instant::now() + PARK_FOR,
            stored: false,
        }
    }
}
