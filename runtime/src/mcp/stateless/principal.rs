//! The principal's hosting session for a stateless request: found or
//! started here, or the request forwarded to the pod that owns it. A new
//! session's server is asked (once per definition) whether it speaks
//! 2026-07-28; if it does, requests go to it as they are, one session per
//! principal; if not, Berth initializes it on the agent's behalf
//! (declaring the client capabilities the agent declared, and no others),
//! one session per principal and declared set.
//!
//! May import: `mcp::stateless::{validate, capabilities}`, `http`,
//! `hosting`, `cluster`, `protocol`.

use std::sync::Arc;

use axum::response::Response;
use http::{HeaderMap, Method};

use super::capabilities::Relayed;
use super::validate::StatelessRequest;
use crate::cluster::was_forwarded;
use crate::hosting::{
    BackendSetup, HandshakeFailure, HostingError, HostingSession, PrincipalSession, Route,
    Sessions, discover, initialize,
};
use crate::http::{ATTEMPTS, Admitted, AppState, Original, owner_unreachable, to_owner};
use crate::protocol::{Era, Version, client_initialize_params};
use crate::servers::HostedServer;

/// How long a server has to answer `server/discover` before Berth takes
/// it for one that speaks only the session era (some hold every request
/// until `initialize`). Generous: it includes the server's own start-up
/// (an interpreter loading its SDK on a busy host), and a wrong guess
/// would stick for the server's definition. Asked once per definition.
const DISCOVER_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// The hosting-session variant of a principal's requests to a server that
/// speaks 2026-07-28, or whose era is not known yet (capability-set
/// variants are made of `s`, `t`, `f`, `u`, `r` or `-`).
const NATIVE_VARIANT: &str = "native";

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
    let declared = Relayed::from_declared(req.caps());
    if s.backend_era.get().is_none()
        && let Some(era) = sessions.recalled_era(s).await
    {
        // Another pod asked this definition already: no instance is
        // started just to ask again (on a takeover, or a new pod).
        let _ = s.backend_era.set(era);
    }
    for _ in 0..ATTEMPTS {
        // A server that speaks 2026-07-28 reads each request's
        // capabilities from its `_meta`: one session serves all of a
        // principal's requests. A session-era server is told them once, in
        // `initialize`: one session per declared set. While the era is
        // unknown, the principal's native session finds it out.
        let variant = match s.backend_era.get() {
            Some(Era::Sessions) => declared.key(),
            _ => NATIVE_VARIANT.to_owned(),
        };
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
                match to_owner(app, admitted, &lease, &original).await {
                    Some(answer) => return Ok(Ensured::Answered(answer)),
                    None => continue,
                }
            }
        };
        let native = match speaks_stateless(sessions, s, &session).await {
            Ok(native) => native,
            Err(e) => return Err(failed(app, s, &session, &route, e).await),
        };
        if !native && variant == NATIVE_VARIANT {
            // Found out here: the server belongs on its declared-set
            // sessions (this instance was only asked).
            sessions.remove(&route).await;
            continue;
        }
        let timeout = sessions.request_timeout(&route);
        let mut sent = None;
        let setup = session
            .backend_setup()
            .get_or_try_init(|| async {
                if native {
                    return Ok(BackendSetup::Native);
                }
                let params =
                    client_initialize_params(req.client_info().cloned(), declared.to_initialize());
                sent = Some(params.clone());
                initialize_backend(&session, params, timeout).await
            })
            .await;
        return match setup {
            Ok(_) => {
                if fresh {
                    sessions.clear_start_failure(s, &route.subject);
                    let params = sent.unwrap_or_default();
                    sessions.save_principal(&route, &session, &params).await;
                }
                Ok(Ensured::Here(session, route))
            }
            Err(e) => Err(failed(app, s, &session, &route, e).await),
        };
    }
    Ok(Ensured::Answered(owner_unreachable(Some(&req.id))))
}

/// Ends a session whose server could not be set up; returns why. Only an
/// instance that ended counts as a server that cannot start, and only for
/// this principal (see `mcp::legacy`): the agent's clientInfo is in
/// Berth's `initialize`, and one agent must not lock the others out.
async fn failed(
    app: &AppState,
    server: &HostedServer,
    session: &HostingSession,
    route: &Route,
    e: HostingError,
) -> HostingError {
    let sessions = app.sessions();
    sessions.record_if_ended_at_start(server, session, &route.subject, &e.to_string());
    sessions.remove(route).await;
    e
}

/// Whether `server` speaks 2026-07-28 itself: asked once per definition,
/// through the first session that needs to know (this one, if none has).
async fn speaks_stateless(
    sessions: &Sessions,
    server: &HostedServer,
    session: &HostingSession,
) -> Result<bool, HostingError> {
    let era = server
        .backend_era
        .get_or_try_init(|| async {
            let native = discover(session, DISCOVER_WAIT).await?;
            tracing::info!(
                tenant = %server.tenant, server = %server.name,
                era = if native { "2026-07-28 (native)" } else { "session era (translated)" },
                "found out which era the server speaks"
            );
            let era = if native {
                Era::Stateless
            } else {
                Era::Sessions
            };
            sessions.remember_era(server, era).await;
            Ok::<_, HostingError>(era)
        })
        .await?;
    if *era == Era::Stateless {
        session.set_protocol_version(Version::STATELESS.as_str());
        return Ok(true);
    }
    Ok(false)
}

/// Runs the session-era handshake with the backend on the agent's behalf
/// and keeps its `InitializeResult` (for `server/discover`).
async fn initialize_backend(
    session: &HostingSession,
    params: String,
    timeout: std::time::Duration,
) -> Result<BackendSetup, HostingError> {
    match initialize(session, &params, timeout).await {
        Ok(init) => Ok(BackendSetup::Initialized(Arc::new(init.result))),
        Err(HandshakeFailure::Session(e)) => Err(e),
        Err(HandshakeFailure::Refused(e)) => Err(HostingError::Handshake(e)),
        Err(HandshakeFailure::NoAnswer | HandshakeFailure::Unusable) => {
            Err(HostingError::NoInitializeAnswer)
        }
    }
}
