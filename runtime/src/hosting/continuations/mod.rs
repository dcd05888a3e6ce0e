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
//! With a store shared by several pods, each parked call is also sealed in
//! the store (`parked`), so it outlives the pod that parked it: the retry
//! reaches whichever pod runs the principal's session by then (the owner,
//! or the pod that took the session over and re-attached its container),
//! which answers the backend's questions and routes the call's answer to
//! the retry. Deleting the stored call is the single-use token (one `DEL`
//! returns true once), on every pod. A call whose instance did not survive
//! its pod (the process backend) is reported lost, never waited for.
//!
//! What an input request means (which capability it needs, what a valid
//! answer looks like) is the 2026 era's business, in `mcp::stateless`;
//! this module only keeps, seals and hands back parked calls.
//!
//! May import: `hosting::{session, route}`, `protocol`, its parts:
//! `continuation` (a parked call in memory), `parked` (as the store keeps
//! it).

mod continuation;
mod parked;

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use berth_session_store::{Error as StoreError, KeyRing, SealedStore, SessionBinding};
use parking_lot::Mutex;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::time::Instant;

use self::continuation::PARK_FOR;
pub(crate) use self::continuation::{Continuation, PendingInput, StateError};
use self::parked::ParkedCall;
use super::route::Route;
use super::session::HostingSession;
use crate::protocol::random_id;

/// Prefix of every `requestState` Berth issues.
pub(crate) const STATE_PREFIX: &str = "v1.";

/// Parked calls: this pod's in memory, and (with a shared store) every
/// pod's in the store.
#[derive(Clone, Default)]
pub(crate) struct Continuations {
    // Insert/remove only, never held across .await.
    map: Arc<Mutex<HashMap<String, Continuation>>>,
    /// The store shared with other pods; `None` with the embedded store.
    shared: Option<SealedStore>,
}

/// A retry naming a parked call.
pub(crate) struct Retry<'a> {
    /// The principal's session route.
    pub route: &'a Route,
    /// The principal's session as this pod runs it.
    pub session: &'a Arc<HostingSession>,
    /// The `requestState` the agent sent.
    pub state: &'a str,
    /// Digest of the retried call.
    pub digest: &'a str,
    /// The agent's id of the retry.
    pub request_id: &'a RawValue,
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
    /// The call was parked by a pod that went away, and the server
    /// instance running it did not survive (process backend, or a
    /// container that ended): its answer will never come.
    #[error("the parked call was lost with the pod that held it")]
    Lost,
    /// The shared store could not be reached to take the call.
    #[error("the session store is unavailable: {0}")]
    Store(String),
}

// === impl Continuations ===

impl Continuations {
    /// Parked calls kept in memory and, when `shared` is the store other
    /// pods use too, sealed there.
    pub(crate) fn new(shared: Option<SealedStore>) -> Self {
        Continuations {
            map: Arc::default(),
            shared,
        }
    }

    /// Parks a continuation, bound to the call whose `digest` is given,
    /// and returns the `requestState` for the agent.
    pub(crate) async fn park(
        &self,
        keys: &KeyRing,
        route: &Route,
        digest: &str,
        mut cont: Continuation,
    ) -> Result<String, ContinuationError> {
        cont.digest = digest.to_owned();
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
        if let Some(store) = &self.shared {
            let record = ParkedCall::of(&cont, route);
            match store
                .save(&parked::binding(keys, route, &id), &record, PARK_FOR)
                .await
            {
                Ok(()) => cont.stored = true,
                Err(e) => tracing::warn!(
                    error = %e,
                    "could not keep a parked call in the session store; only a retry reaching this pod can complete it"
                ),
            }
        }
        let mut map = self.map.lock();
        let now = Instant::now();
        map.retain(|_, c| c.expires > now);
        map.insert(id, cont);
        Ok(state)
    }

    /// Verifies and takes the continuation the retry names (single use):
    /// parked here, or (shared store) parked by a pod that went away on
    /// the instance this pod's session re-attached.
    pub(crate) async fn take(
        &self,
        keys: &KeyRing,
        retry: Retry<'_>,
    ) -> Result<Continuation, ContinuationError> {
        let refused = |e: StateError| {
            tracing::info!(subject = %retry.route.subject, reason = ?e, "refused requestState");
            ContinuationError::Refused(e)
        };
        let (id, round) = open_state(keys, &retry).map_err(refused)?;
        let local = self.map.lock().remove(id);
        let store = self.shared.as_ref();
        if let Some(cont) = local {
            if cont.expires <= Instant::now()
                || u64::from(cont.round) != round
                || cont.digest != retry.digest
            {
                return Err(refused(StateError::Mismatch));
            }
            if let (true, Some(store)) = (cont.stored, store) {
                // The store's copy is the single-use token: another pod
                // may have taken the call (it took the session over).
                match store
                    .store()
                    .delete(parked::binding(keys, retry.route, id).record_key())
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => return Err(refused(StateError::Unknown)),
                    Err(e) => {
                        self.map.lock().insert(id.to_owned(), cont);
                        return Err(unavailable(e));
                    }
                }
            }
            return Ok(cont);
        }
        let Some(store) = store else {
            return Err(refused(StateError::Unknown));
        };
        let binding = parked::binding(keys, retry.route, id);
        let record: ParkedCall = match store.load(&binding, None).await {
            Ok(Some(record)) => record,
            Ok(None) => return Err(refused(StateError::Unknown)),
            Err(e @ StoreError::Unavailable(_)) => return Err(unavailable(e)),
            Err(e) => {
                tracing::warn!(error = %e, "unusable parked call record");
                return Err(refused(StateError::Unknown));
            }
        };
        record
            .check(retry.route, round, retry.digest)
            .map_err(refused)?;
        match store.store().delete(binding.record_key()).await {
            Ok(true) => {}
            Ok(false) => return Err(refused(StateError::Unknown)),
            Err(e) => return Err(unavailable(e)),
        }
        match record.adopt(retry.session, retry.request_id) {
            Some(cont) => {
                tracing::info!(subject = %retry.route.subject, "resumed a call parked by another pod");
                Ok(cont)
            }
            None => {
                tracing::info!(subject = %retry.route.subject, "a parked call was lost with the pod that held it");
                Err(ContinuationError::Lost)
            }
        }
    }

    /// Drops expired continuations, cancelling their backend calls (their
    /// stored copies expire on their own).
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

/// Opens the retry's `requestState`: the parked call's id and round.
fn open_state<'a>(keys: &KeyRing, retry: &Retry<'a>) -> Result<(&'a str, u64), StateError> {
    let rest = retry
        .state
        .strip_prefix(STATE_PREFIX)
        .ok_or(StateError::Malformed)?;
    let (id, sealed) = rest.split_once('.').ok_or(StateError::Malformed)?;
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(sealed)
        .map_err(|_| StateError::Malformed)?;
    let opened = keys
        .open(&state_binding(keys, retry.route, id), &sealed)
        .map_err(|_| StateError::Sealed)?;
    let payload: Value =
        serde_json::from_slice(&opened.plaintext).map_err(|_| StateError::Sealed)?;
    if payload["digest"] != retry.digest {
        return Err(StateError::Mismatch);
    }
    let round = payload["round"].as_u64().ok_or(StateError::Sealed)?;
    Ok((id, round))
}

fn unavailable(e: StoreError) -> ContinuationError {
    tracing::error!(error = %e, "session store unavailable while taking a parked call");
    ContinuationError::Store(e.to_string())
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
mod tests;
