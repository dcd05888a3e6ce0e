//! What the backend sends, routed: responses to the request they answer
//! (id spliced back to the agent's), everything else to the request it
//! most likely belongs to or to the standalone stream.
//!
//! May import: `hosting::session` (the session it routes for), `backend`
//! (the [`InboundSink`] trait), `jsonrpc`, `protocol`.

use bytes::Bytes;

use super::HostingSession;
use crate::backend::InboundSink;
use crate::jsonrpc::{self, Envelope, ErrorCode, Kind, RpcError};
use crate::protocol::{META_DEPRECATION, META_SUBSCRIPTION_ID};

// === impl HostingSession (routing what the backend sends) ===

impl HostingSession {
    fn route_response(&self, line: &Bytes, env: &Envelope<'_>) {
        let Some(backend_id) = env.id.and_then(jsonrpc::id_as_u64) else {
            tracing::warn!(session = %self.identity.label, "server answered an id Berth never sent; dropped");
            return;
        };
        let Some(p) = self.routing.lock().take(backend_id) else {
            // Forged, duplicate or late (after a timeout): never delivered.
            tracing::debug!(session = %self.identity.label, backend_id, "response to no pending request; dropped");
            return;
        };
        let mut msg = jsonrpc::splice_id(
            line,
            env.id.expect("responses have ids"),
            p.client_id.get().as_bytes(),
        );
        if let Some(kind) = p.listing {
            msg = self.hold_listing(kind, msg);
        }
        if let Some(notice) = self.identity.notice.load().as_deref() {
            msg = jsonrpc::with_result_meta(&msg, META_DEPRECATION, notice).unwrap_or(msg);
        }
        p.stream.push(Bytes::from(msg), true);
    }

    fn route_from_server(&self, line: Bytes, env: &Envelope<'_>) {
        let method = env.method_str();
        // What a 2026-07-28 subscription delivers is tagged with the id of
        // its `subscriptions/listen` request (Berth's backend-side id).
        let subscription = jsonrpc::meta_field(env.params, META_SUBSCRIPTION_ID)
            .and_then(jsonrpc::id_as_u64)
            .and_then(|id| self.routing.lock().stream_of(id));
        if let Some(stream) = subscription {
            stream.push(line, false);
            return;
        }
        // Server-wide news belongs on the standalone stream (GET, or the
        // 2026-07-28 listen streams), never on one request's stream.
        let server_wide =
            method.ends_with("/list_changed") || method == "notifications/resources/updated";
        if method == "notifications/tools/list_changed" {
            self.forget_live_tools();
        }
        let target = if server_wide {
            None
        } else {
            let token = (method == "notifications/progress")
                .then(|| jsonrpc::param_raw(env.params, "progressToken"))
                .flatten();
            self.routing.lock().target(token)
        };
        match target {
            Some(stream) if !stream.is_finished() => {
                stream.push(line, false);
            }
            _ => {
                self.standalone.stream.push(line, false);
            }
        }
    }
}

// === impl InboundSink for HostingSession ===

impl InboundSink for HostingSession {
    fn on_message(&self, line: Bytes) {
        let env = match Envelope::parse(&line) {
            Ok(env) => env,
            Err(e) => {
                self.on_garbage(&format!("server wrote an invalid JSON-RPC message: {e:?}"));
                return;
            }
        };
        match env.kind {
            Kind::Response => self.route_response(&line, &env),
            Kind::Request | Kind::Notification => {
                let line = line.clone();
                self.route_from_server(line, &env)
            }
        }
    }

    fn on_garbage(&self, reason: &str) {
        let reason: String = reason.chars().take(200).collect();
        tracing::warn!(session = %self.identity.label, reason = %reason, "ignored server output");
    }

    /// The request the oversized message answered fails now, with the
    /// reason (the limit and the setting to raise); the session goes on.
    fn on_oversized(&self, answers: Option<u64>, reason: &str) {
        tracing::warn!(session = %self.identity.label, answers, %reason, "dropped an oversized server message");
        let Some(p) = answers.and_then(|id| self.routing.lock().take(id)) else {
            return;
        };
        let err = RpcError::new(ErrorCode::InternalError, reason)
            .with_data(serde_json::json!({"retryable": false}));
        p.fail(&err);
    }

    fn on_exit(&self, reason: String) {
        let who = &self.identity;
        tracing::info!(
            tenant = %who.tenant, server = %who.server, subject = %who.subject,
            session = %who.label, %reason, "server instance ended"
        );
        self.close(&format!("the MCP server instance ended ({reason})"));
    }
}
