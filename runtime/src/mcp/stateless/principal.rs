//! The principal's hosting session for a stateless request: found or
//! started here and initialized by Berth on the agent's behalf (declaring
//! the client capabilities the agent declared, and no others), or the
//! request forwarded to the pod that owns it.
//!
//! May import: `mcp::stateless::{validate, capabilities}`, `http`,
//! `hosting`, `cluster`, `protocol`.

use std::sync::Arc;

use axum::response::Response;
use http::{HeaderMap, Method};
use serde_json::Value;

use super::capabilities::Relayed;
use super::validate::StatelessRequest;
use crate::cluster::was_forwarded;
use crate::hosting::{
    HandshakeFailure, HostingError, HostingSession, PrincipalSession, Route, initialize,
};
use crate::http::{ATTEMPTS, Admitted, AppState, Original, owner_unreachable, to_owner};
use crate::protocol::client_initialize_params;

/// The principal's hosting session, or the answer of the pod that runs it.
pub(super) enum Ensured {
    /// Here, initialized, with its route.
    Here(Arc<HostingSession>, Route),
    /// Answered (by the owner pod, or 503 when it cannot be reached).
    Answered(Response),
}

/// Gets (or starts) the principal's hosting session, initialized; with a
/// shared store, forwards the request to the pod that owns it.
pub(super) async fn ensure(
    app: &AppState,
    admitted: &Admitted,
    req: &StatelessRequest,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Ensured, HostingError> {
    let s = &admitted.server;
    let subject = &admitted.principal.subject;
    let sessions = app.sessions();
    let declared = Relayed::from_declared(&req.caps);
    let variant = declared.key();
    for _ in 0..ATTEMPTS {
        let (session, route, fresh) = match sessions.stateless(s, subject, &variant).await? {
            PrincipalSession::Here(session, route, fresh) => (session, route, fresh),
            PrincipalSession::Remote(lease) => {
                if was_forwarded(headers) {
                    break; // never forwarded twice
                }
                let original = Original {
                    method: Method::POST,
                    headers,
                    body,
                    id: Some(&req.id),
                };
                let route = sessions.principal_route(s, subject, &variant);
                match to_owner(app, admitted, route.record_key(), &lease, &original).await {
                    Some(answer) => return Ok(Ensured::Answered(answer)),
                    None => continue,
                }
            }
        };
        let timeout = sessions.request_timeout(&route);
        let mut sent = None;
        let init = session
            .backend_init()
            .get_or_try_init(|| {
                let params =
                    client_initialize_params(req.client_info.clone(), declared.to_initialize());
                sent = Some(params.clone());
                initialize_backend(&session, params, timeout)
            })
            .await;
        return match init {
            Ok(_) => {
                if let Some(params) = sent.filter(|_| fresh) {
                    sessions.save_principal(&route, &session, &params).await;
                }
                Ok(Ensured::Here(session, route))
            }
            Err(e) => {
                // Only an instance that ended counts as a server that
                // cannot start (see `mcp::legacy`): the agent's
                // clientInfo is in this initialize, and one agent must
                // not lock the others out.
                if session.closed_reason().is_some() {
                    sessions.record_start_failure(&s.tenant, &s.name, &e.to_string());
                }
                sessions.remove(&route).await;
                Err(e)
            }
        };
    }
    Ok(Ensured::Answered(owner_unreachable(Some(&req.id))))
}

/// Runs the session-era handshake with the backend on the agent's behalf
/// and keeps its `InitializeResult` (for `server/discover`).
async fn initialize_backend(
    session: &HostingSession,
    params: String,
    timeout: std::time::Duration,
) -> Result<Arc<Value>, HostingError> {
    match initialize(session, &params, timeout).await {
        Ok(init) => Ok(Arc::new(init.result)),
        Err(HandshakeFailure::Session(e)) => Err(e),
        Err(HandshakeFailure::Refused(e)) => Err(HostingError::Handshake(e)),
        Err(HandshakeFailure::NoAnswer | HandshakeFailure::Unusable) => {
            Err(HostingError::NoInitializeAnswer)
        }
    }
}
