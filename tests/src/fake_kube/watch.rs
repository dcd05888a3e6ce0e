//! Pod watches: `GET …/pods?watch=true` answers 200 with a chunked stream
//! of newline-delimited `{"type":…,"object":…}` events — the history
//! after `resourceVersion` (an `ERROR` 410 Expired event if that is gone),
//! or for an empty / `"0"` version an ADDED per current pod — then live
//! events, filtered by namespace, `labelSelector` (a pod entering or
//! leaving the selection is ADDED / DELETED) and `fieldSelector`, until
//! `timeoutSeconds`. Bookmarks are not sent, except the one that ends the
//! initial events of a `sendInitialEvents=true` watch (annotation
//! `k8s.io/initial-events-end`). An outage cuts the connection (the server
//! loop drops it).
//!
//! Imports `state`, `store`, `status`, `request`, `selector`.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde_json::{Value, json};
use tokio::sync::broadcast;
use tokio::time::Instant;

use super::request::{Params, facts};
use super::selector::{FieldSelector, LabelSelector, POD_FIELDS};
use super::state::Fake;
use super::status::{ApiError, ApiResult};
use super::store::{Event, EventKind};

/// What one watcher sees.
struct Feed {
    backlog: VecDeque<Bytes>,
    live: broadcast::Receiver<Arc<Event>>,
    deadline: Option<Instant>,
    ns: String,
    labels: LabelSelector,
    fields: FieldSelector,
}

fn line(kind: &str, object: &Value) -> Bytes {
    let mut text = json!({"type": kind, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

impl Feed {
    fn matches(&self, pod: &Value) -> bool {
        self.labels.matches(pod) && self.fields.matches(pod)
    }

    /// The line this watcher gets for an event, if any.
    fn view(&self, e: &Event) -> Option<Bytes> {
        if e.namespace != self.ns {
            return None;
        }
        let now = self.matches(&e.object);
        let kind = match e.kind {
            EventKind::Added | EventKind::Deleted => now.then_some(e.kind.as_str()),
            EventKind::Modified => {
                let was = e.before.as_ref().map_or(now, |b| self.matches(b));
                match (was, now) {
                    (true, true) => Some("MODIFIED"),
                    (false, true) => Some("ADDED"),
                    (true, false) => Some("DELETED"),
                    (false, false) => None,
                }
            }
        }?;
        Some(line(kind, &e.object))
    }

    async fn next(&mut self) -> Option<Bytes> {
        if let Some(b) = self.backlog.pop_front() {
            return Some(b);
        }
        loop {
            let received = match self.deadline {
                Some(d) => tokio::select! {
                    r = self.live.recv() => r,
                    () = tokio::time::sleep_until(d) => return None,
                },
                None => self.live.recv().await,
            };
            // A watcher that fell behind is closed, as the real server
            // does; the client resumes from its last resourceVersion.
            let event = received.ok()?;
            if let Some(b) = self.view(&event) {
                return Some(b);
            }
        }
    }
}

fn stream_response(body: Body) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// `GET …/pods?watch=true`.
pub(crate) async fn pods(fake: Arc<Fake>, ns: String, q: Params) -> ApiResult {
    fake.check(&facts("GET", "watch", "pods", &ns, None))?;
    let labels = LabelSelector::parse(q.get("labelSelector"))?;
    let fields = FieldSelector::parse(q.get("fieldSelector"), POD_FIELDS)?;
    let from = match q.get("resourceVersion") {
        None | Some("" | "0") => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| {
            ApiError::bad_request(format!(
                "resourceVersion: Invalid value: \"{v}\": must be an unsigned integer"
            ))
        })?),
    };
    let deadline = q
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .filter(|t| *t > 0)
        .map(|t| Instant::now() + Duration::from_secs(t));
    let start = match fake.store.watch(&ns, from) {
        Ok(start) => start,
        Err(gone) => {
            let once = futures::stream::once(async move {
                Ok::<_, Infallible>(line("ERROR", &gone.to_json()))
            });
            return Ok(stream_response(Body::from_stream(once)));
        }
    };
    let mut feed = Feed {
        backlog: VecDeque::new(),
        live: start.live,
        deadline,
        ns,
        labels,
        fields,
    };
    feed.backlog = start.backlog.iter().filter_map(|e| feed.view(e)).collect();
    if q.flag("sendInitialEvents") {
        let bookmark = json!({
            "kind": "Pod",
            "apiVersion": "v1",
            "metadata": {
                "resourceVersion": start.rv.to_string(),
                "annotations": {"k8s.io/initial-events-end": "true"},
            },
        });
        feed.backlog.push_back(line("BOOKMARK", &bookmark));
    }
    let stream = futures::stream::unfold(feed, |mut feed| async move {
        let next = feed.next().await?;
        Some((Ok::<_, Infallible>(next), feed))
    });
    Ok(stream_response(Body::from_stream(stream)))
}
