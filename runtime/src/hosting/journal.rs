//! The SSE journal: a session's replayable streams copied, sealed, into the
//! shared store's capped per-session event log, so a stream lost with its pod
//! can be resumed with `Last-Event-ID` on any other pod.
//!
//! Only streams an agent can resume are journaled: a legacy session's
//! standalone GET stream, and request streams once they are answered over
//! SSE (plain JSON answers cannot be resumed, so they cost no store write).
//! A journaled stream shows a reader an event only after the store holds it
//! ([`EventStream::start_journal`]), so whatever an agent saw, another pod
//! can replay. If the store fails, journaling stops for that stream and its
//! events flow on from memory: the store being down never stalls an answer.
//!
//! On a takeover, [`Journal::load`] rebuilds the streams. A request stream
//! whose answer never came (its pod died mid-call) is ended with a
//! retryable JSON-RPC error carrying the agent's request id, so no request
//! is silently dropped.
//!
//! May import: `hosting::stream`, external crates (the sealed store).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use berth_session_store::{Error as StoreError, SealedStore, SessionBinding};
use bytes::Bytes;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use super::stream::{Event, EventStream, Next};

/// One journal entry (sealed before it reaches the store).
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    /// Stream number (0 is the standalone stream).
    s: u64,
    /// Sequence within the stream; 0 on the opening entry.
    q: u64,
    /// The message; absent on opening and end entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    d: Option<Box<RawValue>>,
    /// The agent's request id (opening entry of a request stream).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    r: Option<Box<RawValue>>,
    /// The stream ends here.
    #[serde(default, skip_serializing_if = "is_false")]
    l: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Where one session's streams are journaled; a cheap `Clone` handle.
#[derive(Clone)]
pub(crate) struct Journal {
    store: SealedStore,
    binding: SessionBinding,
    cap: usize,
    ttl: Duration,
}

/// A session's streams as the journal holds them.
#[derive(Debug, Default)]
pub(crate) struct Restored {
    /// The standalone stream's events.
    pub standalone: Vec<Event>,
    /// Request streams by number.
    pub streams: BTreeMap<u64, RestoredStream>,
}

/// One request stream rebuilt from the journal.
#[derive(Debug, Default)]
pub(crate) struct RestoredStream {
    /// Its events, in order.
    pub events: Vec<Event>,
    /// The agent's id of the request it answers, if the opening entry is
    /// still in the log.
    pub request_id: Option<Box<RawValue>>,
    /// True if it was answered (or ended) before its pod went away.
    pub finished: bool,
}

// === impl Journal ===

impl Journal {
    /// The journal of the session bound by `binding`; the log keeps the
    /// newest `cap` entries and expires after `ttl` without appends.
    pub(crate) fn new(
        store: SealedStore,
        binding: SessionBinding,
        cap: usize,
        ttl: Duration,
    ) -> Self {
        Journal {
            store,
            binding,
            cap: cap.max(1),
            ttl,
        }
    }

    /// Journals a request stream answered over SSE: first the opening
    /// entry with the agent's request id (stored before the agent sees
    /// anything, so another pod can always answer the request), then every
    /// event. If the store fails, the stream is served from memory only.
    pub(crate) async fn follow_request(
        &self,
        stream: Arc<EventStream>,
        request_id: Option<&RawValue>,
    ) {
        if let Some(r) = request_id {
            let opening = Entry {
                s: stream.id(),
                q: 0,
                d: None,
                r: Some(r.to_owned()),
                l: false,
            };
            if let Err(error) = self.append(&opening).await {
                tracing::warn!(%error, "could not journal an SSE stream; it can be resumed on this pod only");
                return;
            }
        }
        self.follow(stream, 0);
    }

    /// Starts copying `stream`'s events after `after` into the log; its
    /// readers now see only stored events. No-op if already journaled.
    pub(crate) fn follow(&self, stream: Arc<EventStream>, after: u64) {
        if stream.start_journal() {
            tokio::spawn(self.clone().copy(stream, after));
        }
    }

    async fn copy(self, stream: Arc<EventStream>, after: u64) {
        let s = stream.id();
        let mut after = after;
        loop {
            let entry = match stream.next_to_journal(after).await {
                Next::Event(e) => {
                    after = e.seq;
                    let d = std::str::from_utf8(&e.data)
                        .ok()
                        .and_then(|d| RawValue::from_string(d.to_owned()).ok());
                    Entry {
                        s,
                        q: e.seq,
                        d,
                        r: None,
                        l: e.last,
                    }
                }
                Next::Finished => Entry {
                    s,
                    q: after,
                    d: None,
                    r: None,
                    l: true,
                },
                Next::Gap => {
                    // The journal fell behind the stream's own cap: what
                    // was dropped cannot be stored any more.
                    after = stream.oldest_seq().map_or(after, |first| first - 1);
                    stream.mark_durable(after);
                    continue;
                }
            };
            let end = entry.l;
            if let Err(e) = self.append(&entry).await {
                return self.give_up(&stream, &e);
            }
            stream.mark_durable(after);
            if end {
                return;
            }
        }
    }

    async fn append(&self, entry: &Entry) -> Result<u64, StoreError> {
        self.store
            .append_event(&self.binding, entry, self.cap, self.ttl)
            .await
    }

    fn give_up(&self, stream: &EventStream, error: &StoreError) {
        tracing::warn!(
            %error,
            stream = stream.id(),
            "could not journal an SSE stream; it goes on from this pod's memory and cannot be resumed on another pod"
        );
        stream.mark_durable(u64::MAX);
    }

    /// Reads the session's streams back from the log.
    pub(crate) async fn load(&self) -> Result<Restored, StoreError> {
        let entries: Vec<(u64, Entry)> = self.store.events_after(&self.binding, 0).await?;
        let mut restored = Restored::default();
        for (_, entry) in entries {
            let event = entry.d.map(|d| Event {
                seq: entry.q,
                data: Bytes::from(d.get().to_owned()),
                last: entry.l,
            });
            if entry.s == 0 {
                restored.standalone.extend(event);
                continue;
            }
            let stream = restored.streams.entry(entry.s).or_default();
            if entry.r.is_some() {
                stream.request_id = entry.r;
            }
            stream.finished |= entry.l;
            stream.events.extend(event);
        }
        Ok(restored)
    }
}
