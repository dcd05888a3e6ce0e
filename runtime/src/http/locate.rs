//! Resolving the legacy session a request names: served here, forwarded to
//! the pod that owns it, or 404. When the owner does not answer (it just
//! died), the session is taken over here at once if the owner refused the
//! connection, or once its liveness record lapses, so the agent sees a
//! delay, not an error.
//! [`to_owner`] is also how stateless principals' requests reach the pod
//! that runs their session.
//!
//! May import: `http::{state, admit, reply, errors}`, `hosting`, `cluster`,
//! `jsonrpc`, `audit`.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::response::Response;
use bytes::Bytes;
use http::{HeaderMap, Method, StatusCode};
use serde_json::value::RawValue;

use super::admit::Admitted;
use super::errors::hosting_error;
use super::reply::{self, owner_unreachable, session_not_found};
use super::state::AppState;
use crate::cluster::{ForwardError, Lease, forward, refuses, was_forwarded};
use crate::hosting::{HostingSession, Located};

/// Attempts to reach an owner before giving up.
pub(crate) const ATTEMPTS: usize = 3;

/// The request's session here, or the answer already given.
pub(crate) enum Resolved {
    /// Serve it here.
    Here(Arc<HostingSession>, Duration),
    /// Answered (forwarded, 404 or an error).
    Answered(Response),
}

/// The original request, for forwarding.
pub(crate) struct Original<'a> {
    /// GET, POST or DELETE.
    pub method: Method,
    /// Its headers.
    pub headers: &'a HeaderMap,
    /// Its body.
    pub body: &'a [u8],
    /// The JSON-RPC id to answer errors with.
    pub id: Option<&'a RawValue>,
}

/// Finds `session_id` for the admitted caller.
pub(crate) async fn resolve(
    app: &AppState,
    admitted: &Admitted,
    session_id: &str,
    original: Original<'_>,
) -> Resolved {
    let (p, s) = (&admitted.principal, &admitted.server);
    for _ in 0..ATTEMPTS {
        let located = app
            .sessions()
            .locate_legacy(s, &p.subject, session_id)
            .await;
        let lease = match located {
            Ok(Located::Local(session, timeout)) => return Resolved::Here(session, timeout),
            Ok(Located::Gone) => {
                crate::audit::session_refused(
                    &s.tenant,
                    &s.name,
                    &p.subject,
                    original.method.as_str(),
                );
                return Resolved::Answered(session_not_found(original.id));
            }
            Ok(Located::Remote(lease)) => lease,
            Err(e) => {
                return Resolved::Answered(reply::rpc_error(
                    StatusCode::SERVICE_UNAVAILABLE,
                    original.id,
                    hosting_error(&e),
                ));
            }
        };
        if was_forwarded(original.headers) {
            // The forwarding pod thinks this pod owns it; this pod knows
            // better. Never forward twice.
            break;
        }
        if let Some(answer) = to_owner(app, admitted, &lease, &original).await {
            return Resolved::Answered(answer);
        }
    }
    Resolved::Answered(owner_unreachable(original.id))
}

/// Forwards the request to the pod holding `lease`; `None` once that pod
/// is gone (it refused the connection, or its liveness record lapsed while
/// the request waited), so the caller can take the session over.
///
/// Boxed: forwarding is the rare path, and its state (an HTTP client
/// call) would otherwise ride on the future of every request served here.
pub(crate) fn to_owner<'a>(
    app: &'a AppState,
    admitted: &'a Admitted,
    lease: &'a Lease,
    original: &'a Original<'_>,
) -> Pin<Box<dyn Future<Output = Option<Response>> + Send + 'a>> {
    Box::pin(forward_to_owner(app, admitted, lease, original))
}

async fn forward_to_owner(
    app: &AppState,
    admitted: &Admitted,
    lease: &Lease,
    original: &Original<'_>,
) -> Option<Response> {
    let s = &admitted.server;
    let path = format!("/mcp/{}/{}", s.tenant, s.name);
    // Whether a refusal at the owner's URL would prove its death rests on
    // having reached its network there before.
    app.sessions().cluster().learn_reach(lease);
    let forwarded = forward(
        app.sessions().cluster(),
        lease,
        original.method.clone(),
        &path,
        original.headers,
        Bytes::copy_from_slice(original.body),
    );
    // A stalled owner accepts the connection but never answers: give up on
    // it once its liveness record lapses, and take the session over.
    let cluster = app.sessions().cluster();
    let gone = cluster.gone(lease);
    tokio::select! {
        answer = forwarded => match answer {
            Ok(answer) => return Some(answer),
            Err(ForwardError::Refused(why)) => {
                // Nothing listens where the owner said it would: its
                // process is gone, unless its record says the refusal
                // proves nothing (draining, or its URL unchecked).
                if !cluster.declare_gone(lease).await {
                    tracing::warn!(%why, "the session's owner refused the connection; waiting for its liveness record to lapse");
                    cluster.gone(lease).await;
                }
            }
            Err(ForwardError::Unreachable(why)) => {
                // The connection may have died with the owner (reset, or
                // a pooled one): a fresh one tells whether it is gone.
                if !(refuses(cluster, lease).await && cluster.declare_gone(lease).await) {
                    tracing::warn!(%why, "the session's owner does not answer; waiting for its liveness record to lapse");
                    cluster.gone(lease).await;
                }
            }
        },
        () = gone => {
            tracing::warn!(owner = %lease.pod, "the session's owner stopped renewing its liveness while a forwarded request waited; taking the session over");
        }
    }
    None
}
