//! A parked call as the shared store keeps it, so that a retry reaching
//! another pod (or the pod that took the session over after its owner
//! died) can complete it: sealed like a session record (AES-256-GCM under
//! the principal's key, hashed key), expiring with the park time.
//!
//! It holds what only the parked call knows: the instance running it (a
//! call survives only on the same instance), the backend's id of the call
//! (so its answer is routed to the retry), the questions still open (their
//! ids in the backend, to answer them), the round, the progress-token
//! mapping and the key counter. The agent's original request is not kept:
//! a 2026-07-28 retry restates it, and the digest (in the state and here)
//! binds the retry to its method, target and arguments.
//!
//! May import: `hosting::{route, session}`, `continuations::continuation`
//! (the in-memory shape).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use berth_session_store::{KeyRing, SessionBinding};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::continuation::{Continuation, PARK_FOR, PendingInput, StateError};
use crate::hosting::route::Route;
use crate::hosting::session::HostingSession;

/// Layout version of the stored record.
const PARKED_VERSION: u32 = 1;

/// A parked call, sealed in the shared store.
#[derive(Debug, Serialize, Deserialize)]
pub(super) struct ParkedCall {
    v: u32,
    /// Record key of the hosting session the call runs on.
    session: String,
    /// The instance's re-attach handle (container id); `None`: the call
    /// dies with its pod (process backend).
    instance: Option<String>,
    /// The backend's id of the parked call.
    backend_id: u64,
    /// Questions the agent has not answered yet.
    pending: Vec<PendingInput>,
    /// Round number.
    round: u32,
    /// Digest binding it to principal, method and target.
    digest: String,
    /// Progress token (as the backend sees it, as the agent sent it).
    progress: Option<(String, Box<RawValue>)>,
    /// Counter for generated input keys.
    key_seq: u32,
    /// When the agent's time to answer ends, ms since the Unix epoch.
    expires_ms: u64,
}

// === impl ParkedCall ===

impl ParkedCall {
    /// What the store keeps of `cont`, parked on `route`'s session.
    pub(super) fn of(cont: &Continuation, route: &Route) -> Self {
        ParkedCall {
            v: PARKED_VERSION,
            session: route.record_key().as_str().to_owned(),
            instance: cont.session.instance_resume(),
            backend_id: cont.backend_id,
            pending: cont.pending.clone(),
            round: cont.round,
            digest: cont.digest.clone(),
            progress: cont
                .progress
                .as_ref()
                .map(|(backend, agent)| (backend.to_string(), agent.clone())),
            key_seq: cont.key_seq,
            expires_ms: now_ms().saturating_add(millis(PARK_FOR)),
        }
    }

    /// Checks the record belongs to this retry: its round and call, not
    /// expired, parked on the principal's session the retry reached.
    pub(super) fn check(&self, route: &Route, round: u64, digest: &str) -> Result<(), StateError> {
        if self.v != PARKED_VERSION || self.expires_ms <= now_ms() {
            return Err(StateError::Unknown);
        }
        if u64::from(self.round) != round
            || self.digest != digest
            || self.session != route.record_key().as_str()
        {
            return Err(StateError::Mismatch);
        }
        Ok(())
    }

    /// The call, resumed on `session`, whose answer is then routed here;
    /// `None` when the call was lost (`session` does not run the instance
    /// that was running it).
    pub(super) fn adopt(
        self,
        session: &Arc<HostingSession>,
        request_id: &RawValue,
    ) -> Option<Continuation> {
        let same_instance = self.instance.is_some()
            && session.instance_resume() == self.instance
            && session.closed_reason().is_none();
        if !same_instance {
            return None;
        }
        let progress = self
            .progress
            .map(|(backend, agent)| (backend.into_boxed_str(), agent));
        let stream = session.open_stream();
        let adopted = session.adopt(
            self.backend_id,
            request_id.to_owned(),
            stream.clone(),
            PARK_FOR,
            progress.as_ref().map(|(backend, _)| backend.clone()),
        );
        if !adopted {
            return None;
        }
        let mut cont = Continuation::new(session.clone(), self.backend_id, stream, progress);
        cont.digest = self.digest;
        cont.pending = self.pending;
        cont.round = self.round;
        cont.key_seq = self.key_seq;
        Some(cont)
    }
}

/// Where a parked call is kept: the principal's binding with the call's
/// id in place of a session id (`~parked:` cannot collide with a session
/// id, nor with the binding its `requestState` is sealed under).
pub(super) fn binding(keys: &KeyRing, route: &Route, id: &str) -> SessionBinding {
    keys.bind(
        route.tenant(),
        route.server_name(),
        &route.subject,
        &format!("~parked:{id}"),
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, millis)
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}
