//! Which agent request a backend message belongs to: the pending requests
//! of one hosting session (by backend-side id), their progress tokens, the
//! session's request streams and whether it has ended. Pure bookkeeping
//! under the session's one routing lock; no I/O.
//!
//! May import: `hosting::stream`, `jsonrpc`, `protocol`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use serde_json::value::RawValue;
use tokio::time::Instant;

use crate::hosting::stream::EventStream;
use crate::protocol::CapabilityKind;

/// Finished request streams kept for `Last-Event-ID` replay.
const KEEP_FINISHED_STREAMS: usize = 32;

/// A pending agent request, keyed by its backend-side id.
#[derive(Debug)]
pub(super) struct Pending {
    /// The agent's id, restored on the response.
    pub(super) client_id: Box<RawValue>,
    /// Where its response (and related messages) go.
    pub(super) stream: Arc<EventStream>,
    /// When it is answered with a timeout error.
    pub(super) deadline: Instant,
    /// The progress token the backend sees, if the request has one.
    pub(super) progress_token: Option<Box<str>>,
    /// Waiting for the agent (2026-07-28 input-required round trip): not a
    /// target for server-initiated messages until resumed.
    pub(super) parked: bool,
    /// The kind of capability it lists, for list requests (their answers
    /// are held to the version's approval).
    pub(super) listing: Option<CapabilityKind>,
    /// When the request last became active (registered or resumed); the
    /// most recently active request is the likeliest cause of a server
    /// message, since stdio carries no correlation.
    pub(super) active_seq: u64,
}

/// The routing state of one hosting session.
#[derive(Debug, Default)]
pub(super) struct Routing {
    pending: HashMap<u64, Pending>,
    activations: u64,
    streams: BTreeMap<u64, Arc<EventStream>>,
    next_stream: u64,
    progress: HashMap<Box<str>, Arc<EventStream>>,
    closed: Option<String>,
}

// === impl Routing ===

impl Routing {
    /// Empty routing whose request streams are numbered from `first_stream`.
    pub(super) fn new(first_stream: u64) -> Self {
        Routing {
            next_stream: first_stream,
            ..Routing::default()
        }
    }

    /// Why the session ended, if it did.
    pub(super) fn closed(&self) -> Option<&str> {
        self.closed.as_deref()
    }

    /// True while requests are in flight.
    pub(super) fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Opens request stream number `next`, pruning finished streams in
    /// batches once well over the limit.
    pub(super) fn open_stream(&mut self, cap: usize) -> Arc<EventStream> {
        let id = self.next_stream;
        self.next_stream += 1;
        let stream = Arc::new(EventStream::new(id, cap));
        self.streams.insert(id, stream.clone());
        if self.streams.len() > 2 * KEEP_FINISHED_STREAMS {
            let excess = self.streams.len() - KEEP_FINISHED_STREAMS;
            let finished: Vec<u64> = self
                .streams
                .iter()
                .filter(|(_, s)| s.is_finished())
                .map(|(id, _)| *id)
                .take(excess)
                .collect();
            for id in finished {
                self.streams.remove(&id);
            }
        }
        stream
    }

    /// Request stream `id`, if still kept.
    pub(super) fn stream(&self, id: u64) -> Option<Arc<EventStream>> {
        self.streams.get(&id).cloned()
    }

    /// Keeps a stream rebuilt by a takeover (numbered below the streams
    /// this session opens).
    pub(super) fn keep_stream(&mut self, stream: Arc<EventStream>) {
        self.streams.insert(stream.id(), stream);
    }

    /// Registers a request sent to the backend as `backend_id`; `Err` with
    /// the reason when the session has ended.
    pub(super) fn register(
        &mut self,
        backend_id: u64,
        client_id: Box<RawValue>,
        stream: Arc<EventStream>,
        timeout: Duration,
        progress_token: Option<Box<str>>,
        method: &str,
    ) -> Result<(), String> {
        if let Some(reason) = &self.closed {
            return Err(reason.clone());
        }
        if let Some(tok) = &progress_token {
            self.progress.insert(tok.clone(), stream.clone());
        }
        self.activations += 1;
        self.pending.insert(
            backend_id,
            Pending {
                client_id,
                stream,
                deadline: Instant::now() + timeout,
                progress_token,
                parked: false,
                listing: CapabilityKind::of_list_method(method),
                active_seq: self.activations,
            },
        );
        Ok(())
    }

    /// Registers a request another pod sent to the backend as
    /// `backend_id` (a parked call whose pod went away); `false` when that
    /// id is pending here already or the session has ended.
    pub(super) fn adopt(
        &mut self,
        backend_id: u64,
        client_id: Box<RawValue>,
        stream: Arc<EventStream>,
        timeout: Duration,
        progress_token: Option<Box<str>>,
    ) -> bool {
        !self.pending.contains_key(&backend_id)
            && self
                .register(backend_id, client_id, stream, timeout, progress_token, "")
                .is_ok()
    }

    /// Takes a pending request out (answered, cancelled or failed).
    pub(super) fn take(&mut self, backend_id: u64) -> Option<Pending> {
        let p = self.pending.remove(&backend_id)?;
        if let Some(tok) = &p.progress_token {
            self.progress.remove(tok);
        }
        Some(p)
    }

    /// Takes the pending request the agent knows as `client_id`.
    pub(super) fn take_by_client_id(&mut self, client_id: &str) -> Option<(u64, Pending)> {
        let id = self
            .pending
            .iter()
            .find(|(_, p)| p.client_id.get() == client_id)
            .map(|(id, _)| *id)?;
        self.take(id).map(|p| (id, p))
    }

    /// Parks a request until `until`; `false` if it is not pending.
    pub(super) fn park(&mut self, backend_id: u64, until: Instant) -> bool {
        match self.pending.get_mut(&backend_id) {
            Some(p) => {
                p.parked = true;
                p.deadline = until;
                true
            }
            None => false,
        }
    }

    /// Resumes a parked request with a fresh deadline; it becomes the most
    /// recently active one.
    pub(super) fn unpark(&mut self, backend_id: u64, timeout: Duration) -> bool {
        self.activations += 1;
        let seq = self.activations;
        match self.pending.get_mut(&backend_id) {
            Some(p) => {
                p.parked = false;
                p.deadline = Instant::now() + timeout;
                p.active_seq = seq;
                true
            }
            None => false,
        }
    }

    /// Takes every request past its deadline.
    pub(super) fn take_overdue(&mut self, now: Instant) -> Vec<(u64, Pending)> {
        let overdue: Vec<u64> = self
            .pending
            .iter()
            .filter(|(_, p)| p.deadline <= now)
            .map(|(id, _)| *id)
            .collect();
        overdue
            .into_iter()
            .filter_map(|id| self.take(id).map(|p| (id, p)))
            .collect()
    }

    /// Marks the session ended (the first reason wins) and takes every
    /// pending request.
    pub(super) fn close(&mut self, reason: &str) -> Vec<Pending> {
        if self.closed.is_none() {
            self.closed = Some(reason.to_owned());
        }
        self.progress.clear();
        self.pending.drain().map(|(_, p)| p).collect()
    }

    /// The stream of the pending request sent to the backend as
    /// `backend_id`.
    pub(super) fn stream_of(&self, backend_id: u64) -> Option<Arc<EventStream>> {
        self.pending.get(&backend_id).map(|p| p.stream.clone())
    }

    /// Where a message the server sent on its own goes: the stream of the
    /// request whose progress token it carries, else the most recently
    /// active unparked request; `None` means the standalone stream.
    pub(super) fn target(&self, progress_token: Option<&RawValue>) -> Option<Arc<EventStream>> {
        progress_token
            .and_then(|t| self.progress.get(t.get()).cloned())
            .or_else(|| {
                self.pending
                    .values()
                    .filter(|p| !p.parked)
                    .max_by_key(|p| p.active_seq)
                    .map(|p| p.stream.clone())
            })
    }
}

// === impl Pending ===

impl Pending {
    /// Ends the request's stream with `error` (a JSON-RPC error response
    /// under the agent's id).
    pub(super) fn fail(&self, error: &crate::jsonrpc::RpcError) {
        self.stream
            .push(Bytes::from(error.to_response(Some(&self.client_id))), true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(s: &str) -> Box<RawValue> {
        RawValue::from_string(s.to_owned()).unwrap()
    }

    fn routing_with(ids: &[u64]) -> (Routing, Vec<Arc<EventStream>>) {
        let mut r = Routing::new(1);
        let mut streams = Vec::new();
        for id in ids {
            let s = r.open_stream(8);
            r.register(
                *id,
                raw(&format!("\"c{id}\"")),
                s.clone(),
                Duration::from_secs(60),
                None,
                "x",
            )
            .unwrap();
            streams.push(s);
        }
        (r, streams)
    }

    #[tokio::test]
    async fn server_messages_go_to_the_newest_active_request_then_the_standalone_stream() {
        let (mut r, streams) = routing_with(&[10, 11]);
        assert_eq!(r.target(None).unwrap().id(), streams[1].id());
        // A parked request (waiting for its agent) is never a target.
        assert!(r.park(11, Instant::now() + Duration::from_secs(300)));
        assert_eq!(r.target(None).unwrap().id(), streams[0].id());
        // Resuming makes it the newest again.
        assert!(r.unpark(11, Duration::from_secs(60)));
        assert_eq!(r.target(None).unwrap().id(), streams[1].id());
        r.take(10);
        r.take(11);
        assert!(r.target(None).is_none(), "nothing pending: standalone");
    }

    #[tokio::test]
    async fn progress_tokens_route_to_their_request_until_it_is_answered() {
        let mut r = Routing::new(1);
        let a = r.open_stream(8);
        let b = r.open_stream(8);
        r.register(
            1,
            raw("1"),
            a.clone(),
            Duration::from_secs(60),
            Some("\"tok\"".into()),
            "x",
        )
        .unwrap();
        r.register(2, raw("2"), b.clone(), Duration::from_secs(60), None, "x")
            .unwrap();
        let tok = raw("\"tok\"");
        assert_eq!(r.target(Some(&tok)).unwrap().id(), a.id());
        assert!(r.take(1).is_some());
        assert_eq!(
            r.target(Some(&tok)).unwrap().id(),
            b.id(),
            "token forgotten"
        );
    }

    #[tokio::test]
    async fn a_closed_session_refuses_new_requests_and_hands_back_pending_ones() {
        let (mut r, _) = routing_with(&[1, 2]);
        assert_eq!(r.close("the MCP server instance ended").len(), 2);
        assert!(!r.has_pending());
        assert_eq!(r.closed(), Some("the MCP server instance ended"));
        r.close("a later reason");
        assert_eq!(
            r.closed(),
            Some("the MCP server instance ended"),
            "first reason wins"
        );
        let s = r.open_stream(8);
        let refused = r.register(3, raw("3"), s, Duration::from_secs(1), None, "x");
        assert_eq!(refused.unwrap_err(), "the MCP server instance ended");
    }

    #[tokio::test]
    async fn an_adopted_call_is_answered_here_unless_its_id_is_taken() {
        let (mut r, _) = routing_with(&[5]);
        let s = r.open_stream(8);
        assert!(
            !r.adopt(5, raw("\"x\""), s.clone(), Duration::from_secs(9), None),
            "id 5 is pending here"
        );
        let tok: Box<str> = "\"berth-7\"".into();
        assert!(r.adopt(
            7,
            raw("\"x\""),
            s.clone(),
            Duration::from_secs(9),
            Some(tok)
        ));
        assert_eq!(r.stream_of(7).unwrap().id(), s.id());
        assert_eq!(r.target(Some(&raw("\"berth-7\""))).unwrap().id(), s.id());
        r.close("ended");
        assert!(!r.adopt(8, raw("1"), s, Duration::from_secs(9), None));
    }

    #[tokio::test(start_paused = true)]
    async fn overdue_requests_are_taken_once() {
        let mut r = Routing::new(1);
        let s = r.open_stream(8);
        r.register(1, raw("1"), s.clone(), Duration::from_secs(5), None, "x")
            .unwrap();
        r.register(2, raw("2"), s, Duration::from_secs(50), None, "x")
            .unwrap();
        tokio::time::advance(Duration::from_secs(6)).await;
        let overdue = r.take_overdue(Instant::now());
        assert_eq!(overdue.iter().map(|(id, _)| *id).collect::<Vec<_>>(), [1]);
        assert!(r.take_overdue(Instant::now()).is_empty());
        assert!(r.take_by_client_id("2").is_some());
    }

    #[test]
    fn finished_streams_are_pruned_in_batches() {
        let mut r = Routing::new(1);
        for _ in 0..(2 * KEEP_FINISHED_STREAMS) {
            r.open_stream(1).finish();
        }
        assert_eq!(r.streams.len(), 2 * KEEP_FINISHED_STREAMS);
        let live = r.open_stream(1);
        assert!(r.streams.len() <= KEEP_FINISHED_STREAMS + 1);
        assert!(r.stream(live.id()).is_some(), "an open stream is kept");
        assert!(r.stream(1).is_none(), "the oldest finished ones went first");
    }
}
