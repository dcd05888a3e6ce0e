//! Event streams: the ordered, replayable messages of one SSE stream.
//!
//! Every POST that is answered over SSE, and each session's standalone GET
//! stream, is an [`EventStream`]. Messages are appended with a sequence
//! number; readers wait for the next one. The newest `cap` events are kept so
//! a client that lost its connection can resume with `Last-Event-ID` (event
//! ids are `{stream}_{seq}`, see [`EventId`]).
//!
//! A stream can be *journaled* (copied to the shared store so another pod can
//! replay it, see [`super::journal`]): readers then see an event only once
//! the journal has stored it, so whatever an agent saw can be resumed on any
//! pod.
//!
//! May import: external crates only.

use parking_lot::Mutex;
use std::collections::VecDeque;

use bytes::Bytes;
use tokio::sync::Notify;

/// An SSE event id: the stream it belongs to and its position in it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EventId {
    /// Stream number within the session (0 is the standalone GET stream).
    pub stream: u64,
    /// Sequence within the stream (0 is the priming event).
    pub seq: u64,
}

/// One message on a stream.
#[derive(Clone, Debug)]
pub struct Event {
    /// Sequence number (starts at 1).
    pub seq: u64,
    /// The JSON-RPC message.
    pub data: Bytes,
    /// True for the response that ends a request stream.
    pub last: bool,
}

/// An append-only, capped, replayable stream of messages.
#[derive(Debug)]
pub struct EventStream {
    id: u64,
    cap: usize,
    // std Mutex: held only to push or copy out an event, never across .await.
    inner: Mutex<Inner>,
    notify: Notify,
}

#[derive(Debug, Default)]
struct Inner {
    events: VecDeque<Event>,
    next_seq: u64,
    finished: bool,
    /// Readers see only events up to `durable` (stored by the journal).
    journaled: bool,
    durable: u64,
}

/// What a reader gets next.
#[derive(Debug)]
pub enum Next {
    /// The next event.
    Event(Event),
    /// The stream ended and every event was read.
    Finished,
    /// Events after the requested position were dropped by the cap.
    Gap,
}

// === impl EventId ===

impl EventId {
    /// Parses `"{stream}_{seq}"`.
    pub fn parse(s: &str) -> Option<Self> {
        let (a, b) = s.split_once('_')?;
        Some(EventId {
            stream: a.parse().ok()?,
            seq: b.parse().ok()?,
        })
    }
}

impl std::fmt::Display for EventId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}_{}", self.stream, self.seq)
    }
}

// === impl EventStream ===

impl EventStream {
    /// A new, empty stream keeping at most `cap` events.
    pub fn new(id: u64, cap: usize) -> Self {
        EventStream {
            id,
            cap: cap.max(1),
            inner: Mutex::new(Inner {
                next_seq: 1,
                ..Inner::default()
            }),
            notify: Notify::new(),
        }
    }

    /// A stream rebuilt from a journal (after taking a session over): its
    /// events keep their sequence numbers and count as durable; new events
    /// are gated once [`Self::start_journal`] is called.
    pub fn restored(id: u64, cap: usize, events: Vec<Event>, finished: bool) -> Self {
        let cap = cap.max(1);
        let next_seq = events.last().map_or(1, |e| e.seq + 1);
        let skip = events.len().saturating_sub(cap);
        let events: VecDeque<Event> = events.into_iter().skip(skip).collect();
        EventStream {
            id,
            cap,
            inner: Mutex::new(Inner {
                events,
                next_seq,
                finished,
                journaled: false,
                durable: next_seq - 1,
            }),
            notify: Notify::new(),
        }
    }

    /// The stream number.
    pub fn id(&self) -> u64 {
        self.id
    }

    /// Appends a message; `last` ends the stream. Appends after the end are
    /// ignored (a late duplicate response cannot reopen a stream).
    pub fn push(&self, data: Bytes, last: bool) -> Option<u64> {
        let seq = {
            let mut inner = self.inner.lock();
            if inner.finished {
                return None;
            }
            let seq = inner.next_seq;
            inner.next_seq += 1;
            if inner.events.len() == self.cap {
                inner.events.pop_front();
            }
            inner.events.push_back(Event { seq, data, last });
            inner.finished = last;
            seq
        };
        self.notify.notify_waiters();
        Some(seq)
    }

    /// Ends the stream without a final message.
    pub fn finish(&self) {
        self.inner.lock().finished = true;
        self.notify.notify_waiters();
    }

    /// Sequence number of the newest event (0 when empty).
    pub fn last_seq(&self) -> u64 {
        self.inner.lock().next_seq - 1
    }

    /// True once the stream has ended.
    pub fn is_finished(&self) -> bool {
        self.inner.lock().finished
    }

    /// Starts journaling: from now on readers see only events the journal
    /// marked durable. `false` if the stream was already journaled.
    pub fn start_journal(&self) -> bool {
        let mut inner = self.inner.lock();
        !std::mem::replace(&mut inner.journaled, true)
    }

    /// The journal stored every event up to `seq`.
    pub fn mark_durable(&self, seq: u64) {
        {
            let mut inner = self.inner.lock();
            inner.durable = inner.durable.max(seq);
        }
        self.notify.notify_waiters();
    }

    /// Waits for the first event with a sequence greater than `after` that
    /// a reader may see.
    pub async fn next_after(&self, after: u64) -> Next {
        self.wait(after, true).await
    }

    /// Like [`Self::next_after`] but ignoring durability (for the journal).
    pub async fn next_to_journal(&self, after: u64) -> Next {
        self.wait(after, false).await
    }

    async fn wait(&self, after: u64, durable_only: bool) -> Next {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            // Register interest before checking, so a push in between is not missed.
            notified.as_mut().enable();
            if let Some(next) = self.peek(after, durable_only) {
                return next;
            }
            notified.await;
        }
    }

    /// Non-blocking variant of [`Self::next_after`]; `None` means "wait".
    pub fn try_next_after(&self, after: u64) -> Option<Next> {
        self.peek(after, true)
    }

    fn peek(&self, after: u64, durable_only: bool) -> Option<Next> {
        let inner = self.inner.lock();
        let newest = inner.next_seq - 1;
        let visible = if durable_only && inner.journaled {
            inner.durable.min(newest)
        } else {
            newest
        };
        let finished = inner.finished && visible == newest;
        // `after` comes from a client's Last-Event-ID: nothing follows u64::MAX.
        let Some(want) = after.checked_add(1) else {
            return finished.then_some(Next::Finished);
        };
        if want > visible {
            return finished.then_some(Next::Finished);
        }
        if let Some(first) = inner.events.front().map(|e| e.seq) {
            if want < first {
                return Some(Next::Gap);
            }
            if let Some(e) = inner.events.get((want - first) as usize) {
                return Some(Next::Event(e.clone()));
            }
        }
        finished.then_some(Next::Finished)
    }

    /// The oldest event still kept, if any.
    pub fn oldest_seq(&self) -> Option<u64> {
        let inner = self.inner.lock();
        inner.events.front().map(|e| e.seq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn readers_see_events_in_order_then_finish() {
        let s = std::sync::Arc::new(EventStream::new(3, 8));
        let reader = {
            let s = s.clone();
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut after = 0;
                while let Next::Event(e) = s.next_after(after).await {
                    after = e.seq;
                    seen.push(e.data);
                }
                seen
            })
        };
        s.push(Bytes::from_static(b"a"), false);
        s.push(Bytes::from_static(b"b"), false);
        s.push(Bytes::from_static(b"c"), true);
        assert_eq!(s.push(Bytes::from_static(b"late"), false), None);
        let seen = reader.await.unwrap();
        assert_eq!(seen, vec!["a", "b", "c"]);
    }

    #[test]
    fn replay_after_a_position_and_gap_detection() {
        let s = EventStream::new(1, 2);
        for d in ["1", "2", "3"] {
            s.push(Bytes::from(d), false);
        }
        // Event 1 fell off the cap.
        assert!(matches!(s.try_next_after(0), Some(Next::Gap)));
        assert!(matches!(s.try_next_after(1), Some(Next::Event(e)) if e.seq == 2));
        assert!(matches!(s.try_next_after(2), Some(Next::Event(e)) if e.seq == 3));
        assert!(s.try_next_after(3).is_none());
        // A client-chosen Last-Event-ID at the top of the range (found by fuzz/event_id).
        assert!(s.try_next_after(u64::MAX).is_none());
        s.finish();
        assert!(matches!(s.try_next_after(3), Some(Next::Finished)));
        assert!(matches!(s.try_next_after(u64::MAX), Some(Next::Finished)));
    }

    #[tokio::test]
    async fn journaled_streams_show_only_durable_events() {
        let s = EventStream::new(4, 8);
        s.push(Bytes::from_static(b"a"), false);
        assert!(s.start_journal());
        assert!(!s.start_journal(), "journaling starts once");
        s.push(Bytes::from_static(b"b"), true);
        // Nothing is visible until the journal stored it.
        assert!(s.try_next_after(0).is_none());
        assert!(matches!(s.next_to_journal(0).await, Next::Event(e) if e.seq == 1));
        s.mark_durable(1);
        assert!(matches!(s.try_next_after(0), Some(Next::Event(e)) if e.seq == 1));
        assert!(s.try_next_after(1).is_none(), "b is not durable yet");
        s.mark_durable(2);
        assert!(matches!(s.try_next_after(1), Some(Next::Event(e)) if e.last));
        assert!(matches!(s.try_next_after(2), Some(Next::Finished)));
    }

    #[test]
    fn restored_streams_keep_their_numbers() {
        let events = (5..=7)
            .map(|seq| Event {
                seq,
                data: Bytes::from(seq.to_string()),
                last: false,
            })
            .collect();
        let s = EventStream::restored(9, 2, events, false);
        assert!(
            matches!(s.try_next_after(4), Some(Next::Gap)),
            "cap 2 keeps 6 and 7"
        );
        assert!(matches!(s.try_next_after(5), Some(Next::Event(e)) if e.seq == 6));
        assert!(s.start_journal());
        assert!(matches!(s.try_next_after(6), Some(Next::Event(e)) if e.seq == 7));
        assert_eq!(s.push(Bytes::from_static(b"next"), true), Some(8));
        assert!(
            s.try_next_after(7).is_none(),
            "new events wait for the journal"
        );
    }

    #[test]
    fn event_ids_round_trip() {
        let id = EventId { stream: 12, seq: 7 };
        assert_eq!(EventId::parse(&id.to_string()), Some(id));
        assert_eq!(EventId::parse("12"), None);
        assert_eq!(EventId::parse("a_1"), None);
    }
}
