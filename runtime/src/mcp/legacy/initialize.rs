//! `initialize` without a session id: start a hosting session and its
//! instance, forward the agent's `initialize`, and hand out the
//! `Mcp-Session-Id` once the server accepted and the record is stored.
//!
//! May import: `mcp::legacy::errors`, `http`, `hosting`, `protocol`,
//! `jsonrpc`.

use axum::response::Response;
use http::{HeaderValue, StatusCode};

use super::errors::{forward_failed, shutting_down, start_failed};
use crate::hosting::Next;
use crate::http::{Admitted, AppState, json, rpc_error};
use crate::jsonrpc::{self, Envelope};
use crate::protocol::{MCP_SESSION_ID, initialize_outcome};

/// Starts a session for an agent's `initialize`.
pub(super) async fn initialize(
    app: &AppState,
    admitted: Admitted,
    body: &[u8],
    env: &Envelope<'_>,
) -> Response {
    let Admitted { principal, server } = admitted;
    let sessions = app.sessions();
    let new = match sessions.create_legacy(&server, &principal.subject).await {
        Ok(n) => n,
        Err(e) => return start_failed(&e, env.id),
    };
    let stream = new.session.open_stream();
    let timeout = sessions.request_timeout(&new.route);
    if let Err(e) = new
        .session
        .forward_request(body, env, stream.clone(), timeout)
        .await
    {
        // The send can meet the closed input of a server that already
        // exited: that is an instance ending at start, as below.
        sessions.record_if_ended_at_start(
            &server,
            &new.session,
            &principal.subject,
            &e.to_string(),
        );
        sessions.remove(&new.route).await;
        return forward_failed(&e, env.id);
    }
    let first = tokio::select! {
        n = stream.next_after(0) => n,
        _ = app.shutdown().cancelled() => Next::Finished,
    };
    let Next::Event(event) = first else {
        sessions.remove(&new.route).await;
        return shutting_down(env.id, "Berth is shutting down; retry");
    };
    let version = initialize_outcome(&event.data)
        .ok()
        .and_then(|init| init.protocol_version);
    let Some(version) = version else {
        // The server refused to initialize, did not answer, or ended:
        // no session. Only an instance that ended makes this agent's new
        // sessions fail fast for a while, and only this agent's: a
        // server refusing (or choking on) *this* agent's initialize says
        // nothing about anyone else's, and one agent must not lock the
        // others out.
        let reason = jsonrpc::error_message(&event.data)
            .unwrap_or_else(|| "the MCP server failed to initialize".into());
        sessions.record_if_ended_at_start(&server, &new.session, &principal.subject, &reason);
        sessions.remove(&new.route).await;
        return json(StatusCode::OK, event.data);
    };
    sessions.clear_start_failure(&server, &principal.subject);
    new.session.set_protocol_version(&version);
    let params = env.params.map(|p| p.get()).unwrap_or_default();
    if let Err(e) = sessions.commit_legacy(&new, &version, params).await {
        sessions.remove(&new.route).await;
        return rpc_error(
            StatusCode::SERVICE_UNAVAILABLE,
            env.id,
            crate::http::hosting_error(&e),
        );
    }
    tracing::info!(
        tenant = %server.tenant, server = %server.name, subject = %principal.subject,
        session = %new.session.identity().label, "legacy session started"
    );
    let mut resp = json(StatusCode::OK, event.data);
    if let Ok(v) = HeaderValue::from_str(&new.session_id) {
        resp.headers_mut().insert(MCP_SESSION_ID, v);
    }
    resp
}
