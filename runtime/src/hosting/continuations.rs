//! Continuations: calls parked while their 2026-07-28 agent answers an
//! `input_required` result (multi-round-trip requests on top of legacy
//! backends).
//!
//! When a backend asks its client something mid-call (sampling, elicitation,
//! roots), a 2026 agent cannot be asked over a stream. Berth parks the
//! backend call, answers the agent with an `InputRequiredResult`, and keeps a
//! [`Continuation`]. The agent retries with `inputResponses` and the
//! `requestState` Berth issued; Berth verifies it, hands the answers to the
//! backend, and resumes reading the same call.
//!
//! `requestState` is `v1.<id>.<sealed>`: AES-256-GCM (the session-store
//! sealing, keyed per principal) over the round and a digest of who asked
//! what, so a tampered, replayed, expired or foreign state is rejected with
//! -32602 before the backend is touched. Continuations are single-use.
//!
//! What an input request means (which capability it needs, what a valid
//! answer looks like) is the 2026 era's business, in `mcp::stateless`;
//! this module only keeps, seals and hands back parked calls.
//!
//! May import: `hosting::{session, stream, route}`, `protocol`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use berth_session_store::{KeyRing, SessionBinding};
use parking_lot::Mutex;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::time::Instant;

use super::route::Route;
use super::session::HostingSession;
use super::stream::EventStream;
use crate::protocol::random_id;

/// How long a parked call waits for its agent to come back.
pub(crate) const PARK_FOR: Duration = Duration::from_secs(300);

/// Prefix of every `requestState` Berth issues.
pub(crate) const STATE_PREFIX: &str = "v1.";

/// A backend request waiting for the agent's answer.
#[derive(Clone, Debug)]
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
    /// Digest binding the state to principal, method and target.
    pub digest: String,
    /// Progress token mapping of the original call (backend raw, agent raw).
    pub progress: Option<(Box<str>, Box<RawValue>)>,
    /// Counter for generated input keys.
    pub key_seq: u32,
    expires: Instant,
}

/// Parked calls of this pod.
#[derive(Clone, Default)]
pub(crate) struct Continuations {
    // Insert/remove only, never held across .await.
    map: Arc<Mutex<HashMap<String, Continuation>>>,
}

/// Why a continuation could not be parked or taken back.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ContinuationError {
    /// The `requestState` could not be sealed.
    #[error("could not seal requestState: {0}")]
    Seal(String),
    /// The `requestState` is not one this pod can honour: malformed,
    /// tampered, for another principal or call, expired or already used
    /// (the detail is logged, never sent).
    #[error("requestState refused ({0:?})")]
    Refused(StateError),
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

// === impl Continuations ===

impl Continuations {
    /// Parks a continuation and returns the `requestState` for the agent.
    pub(crate) fn park(
        &self,
        keys: &KeyRing,
        route: &Route,
        mut cont: Continuation,
    ) -> Result<String, ContinuationError> {
        let id = random_id();
        cont.expires = Instant::now() + PARK_FOR;
        cont.session.park(cont.backend_id, cont.expires);
        let payload = serde_json::json!({"round": cont.round, "digest": cont.digest});
        let sealed = keys
            .seal(
                &state_binding(keys, route, &id),
                payload.to_string().as_bytes(),
            )
            .map_err(|e| ContinuationError::Seal(e.to_string()))?;
        let state = format!(
            "{STATE_PREFIX}{id}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed)
        );
        let mut map = self.map.lock();
        let now = Instant::now();
        map.retain(|_, c| c.expires > now);
        map.insert(id, cont);
        Ok(state)
    }

    /// Verifies and takes the continuation named by `state` (single use).
    pub(crate) fn take(
        &self,
        keys: &KeyRing,
        route: &Route,
        state: &str,
        digest: &str,
    ) -> Result<Continuation, ContinuationError> {
        self.take_inner(keys, route, state, digest).map_err(|e| {
            tracing::info!(subject = %route.subject, reason = ?e, "refused requestState");
            ContinuationError::Refused(e)
        })
    }

    fn take_inner(
        &self,
        keys: &KeyRing,
        route: &Route,
        state: &str,
        digest: &str,
    ) -> Result<Continuation, StateError> {
        let rest = state
            .strip_prefix(STATE_PREFIX)
            .ok_or(StateError::Malformed)?;
        let (id, sealed) = rest.split_once('.').ok_or(StateError::Malformed)?;
        let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| StateError::Malformed)?;
        let opened = keys
            .open(&state_binding(keys, route, id), &sealed)
            .map_err(|_| StateError::Sealed)?;
        let payload: Value =
            serde_json::from_slice(&opened.plaintext).map_err(|_| StateError::Sealed)?;
        if payload["digest"] != digest {
            return Err(StateError::Mismatch);
        }
        let cont = self.map.lock().remove(id).ok_or(StateError::Unknown)?;
        if cont.expires <= Instant::now() || payload["round"] != cont.round || cont.digest != digest
        {
            return Err(StateError::Mismatch);
        }
        Ok(cont)
    }

    /// Drops expired continuations, cancelling their backend calls.
    pub(crate) async fn sweep(&self) {
        let now = Instant::now();
        let expired: Vec<Continuation> = {
            let mut map = self.map.lock();
            let ids: Vec<String> = map
                .iter()
                .filter(|(_, c)| c.expires <= now)
                .map(|(k, _)| k.clone())
                .collect();
            ids.into_iter().filter_map(|k| map.remove(&k)).collect()
        };
        for c in expired {
            c.session
                .cancel(c.backend_id, "the agent did not answer the input request")
                .await;
        }
    }
}

// === impl Continuation ===

impl Continuation {
    /// A new continuation (not yet parked).
    pub(crate) fn new(
        session: Arc<HostingSession>,
        backend_id: u64,
        stream: Arc<EventStream>,
        digest: String,
        progress: Option<(Box<str>, Box<RawValue>)>,
    ) -> Self {
        Continuation {
            session,
            backend_id,
            stream,
            after: 0,
            pending: Vec::new(),
            round: 0,
            digest,
            progress,
            key_seq: 0,
            expires: Instant::now() + PARK_FOR,
        }
    }
}

/// The binding a `requestState` is sealed under: the principal's, with the
/// continuation's id in place of a session id (`~mrtr:` cannot collide
/// with a session id: none starts with `~`).
fn state_binding(keys: &KeyRing, route: &Route, id: &str) -> SessionBinding {
    keys.bind(
        route.tenant(),
        route.server_name(),
        &route.subject,
        &format!("~mrtr:{id}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hosting::testing::{keys, route, session};

    fn parked_call(digest: &str) -> Continuation {
        let session = session();
        let stream = session.open_stream();
        let mut cont = Continuation::new(session, 7, stream, digest.into(), None);
        cont.round = 1;
        cont
    }

    fn refused(r: Result<Continuation, ContinuationError>) -> String {
        match r {
            Err(ContinuationError::Refused(why)) => format!("{why:?}"),
            Err(e) => panic!("expected a refusal, got {e}"),
            Ok(_) => panic!("expected a refusal, got the continuation"),
        }
    }

    #[tokio::test]
    async fn a_state_opens_once_for_its_principal_and_call() {
        let keys = keys();
        let alice = route(&keys, "alice", "~stateless");
        let parked = Continuations::default();
        let state = parked.park(&keys, &alice, parked_call("d1")).unwrap();
        assert!(state.starts_with(STATE_PREFIX));
        let cont = parked
            .take(&keys, &alice, &state, "d1")
            .expect("its owner, its call");
        assert_eq!(cont.backend_id, 7);
        assert_eq!(
            refused(parked.take(&keys, &alice, &state, "d1")),
            "Unknown",
            "single use"
        );
    }

    #[tokio::test]
    async fn another_principal_another_call_or_a_tampered_state_is_refused() {
        let keys = keys();
        let alice = route(&keys, "alice", "~stateless");
        let bob = route(&keys, "bob", "~stateless");
        let parked = Continuations::default();
        let state = parked.park(&keys, &alice, parked_call("d1")).unwrap();
        assert_eq!(refused(parked.take(&keys, &bob, &state, "d1")), "Sealed");
        assert_eq!(
            refused(parked.take(&keys, &alice, &state, "d2")),
            "Mismatch"
        );
        // Flip one character in the middle of the sealed part.
        let mut tampered = state.clone().into_bytes();
        let mid = tampered.len() - 20;
        tampered[mid] = if tampered[mid] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).unwrap();
        assert_eq!(
            refused(parked.take(&keys, &alice, &tampered, "d1")),
            "Sealed"
        );
        assert_eq!(
            refused(parked.take(&keys, &alice, "v2.x.y", "d1")),
            "Malformed"
        );
        // None of the refused attempts used it up.
        assert!(parked.take(&keys, &alice, &state, "d1").is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn parked_calls_expire() {
        let keys = keys();
        let alice = route(&keys, "alice", "~stateless");
        let parked = Continuations::default();
        let state = parked.park(&keys, &alice, parked_call("d1")).unwrap();
        tokio::time::advance(PARK_FOR + Duration::from_secs(1)).await;
        parked.sweep().await;
        assert_eq!(refused(parked.take(&keys, &alice, &state, "d1")), "Unknown");
    }
}
