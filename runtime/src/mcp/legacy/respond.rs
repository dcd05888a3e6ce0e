//! Answering a forwarded request: plain JSON when the response is the only
//! message, SSE when the server sends anything before it (primed for
//! 2025-11-25 clients, so a lost connection can resume). SSE answers are
//! journaled (with a shared store) so the agent can resume them on any pod.
//!
//! May import: `mcp::legacy::errors`, `http`, `hosting`.

use std::sync::Arc;

use axum::response::Response;
use http::{HeaderValue, StatusCode};
use serde_json::value::RawValue;

use super::errors::shutting_down;
use crate::hosting::{EventStream, HostingSession, Next};
use crate::http::{Accepts, AppState, SseStart, json, sse};

/// Answers the request whose answer ends `stream`.
pub(super) async fn respond(
    app: &AppState,
    session: &Arc<HostingSession>,
    stream: Arc<EventStream>,
    accepts: Accepts,
    request_id: Option<&RawValue>,
) -> Response {
    let primes = session
        .protocol_version()
        .is_some_and(|v| v.has_priming_events());
    let limits = app.limits();
    let first = tokio::select! {
        n = stream.next_after(0) => Some(n),
        // A slow answer: switch to SSE and prime it, so a lost connection
        // can be resumed with Last-Event-ID.
        _ = tokio::time::sleep(limits.sse_prime_after), if primes => None,
        _ = app.shutdown().cancelled() => Some(Next::Finished),
    };
    let start = SseStart {
        after: 0,
        priming: primes.then_some(app.sse_retry()),
        close_idle: if primes { limits.sse_poll_close } else { None },
    };
    match first {
        Some(Next::Event(e)) if e.last && accepts.json => json(StatusCode::OK, e.data),
        None | Some(Next::Event(_)) => {
            session.journal_stream(&stream, request_id).await;
            sse(stream, start, app.shutdown().clone(), None)
        }
        Some(Next::Finished) if !app.shutdown().is_cancelled() => {
            // The agent cancelled the request: an empty stream, no answer.
            let mut resp = Response::new(axum::body::Body::empty());
            resp.headers_mut().insert(
                http::header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            );
            resp
        }
        Some(Next::Finished | Next::Gap) => {
            shutting_down(None, "Berth is shutting down; retry the request")
        }
    }
}
