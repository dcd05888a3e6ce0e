//! Server state, split by lifetime.
//!
//! [`Instance`] lives as long as the process. Berth runs one process (or one container) per
//! hosting session, so "instance" state is what Berth's tests use to prove that a session kept
//! its backend: the counter and the random instance id survive reconnects, new protocol sessions
//! and the 2026-07-28 stateless requests (which rmcp serves with a fresh handler each time).
//!
//! [`Session`] lives as long as one protocol connection (a stdio stream or one legacy
//! `Mcp-Session-Id`): the `logging/setLevel` threshold and `resources/subscribe` URIs.
//!
//! Imports: `listeners` and `http`'s `StreamTracker` (`http/streams.rs`), which the instance holds.
//! Must not import anything that reads this state (`notify`, `input`, `tools`, `server`, the rest
//! of `http`).

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use parking_lot::Mutex;
use rmcp::model::{LoggingLevel, RequestStateCodec};

use crate::http::StreamTracker;
use crate::listeners::Listeners;

/// How many `tools/call` ids an instance keeps for `call_ids`.
pub(crate) const CALL_IDS_KEPT: usize = 10_000;

/// Process-wide state, shared by every connection and every stateless request.
pub(crate) struct Instance {
    /// Random id minted at start; `instance_info` reports it next to the pid.
    pub(crate) id: String,
    /// Seals `requestState` for 2026-07-28 input-required rounds. The key is random per process:
    /// state only has to survive the few seconds between rounds of one call.
    pub(crate) state_codec: RequestStateCodec,
    /// Open `subscriptions/listen` streams (2026-07-28 clients).
    pub(crate) listeners: Listeners,
    /// Request-stream control for `test_reconnection`; only present in `--http` mode.
    pub(crate) streams: Option<Arc<StreamTracker>>,
    counter: AtomicU64,
    /// JSON-RPC ids of the `tools/call` requests received, in arrival order (newest
    /// [`CALL_IDS_KEPT`]).
    call_ids: Mutex<std::collections::VecDeque<serde_json::Value>>,
    dynamic_tool: AtomicBool,
    dynamic_prompt: AtomicBool,
    watched_revision: AtomicU64,
}

/// Per-connection state.
#[derive(Default)]
pub(crate) struct Session {
    // Both locks guard a few words and are never held across an await.
    log_level: Mutex<Option<LoggingLevel>>,
    subscriptions: Mutex<HashSet<String>>,
}

// === impl Instance ===

impl Instance {
    pub(crate) fn new(streams: Option<Arc<StreamTracker>>) -> anyhow::Result<Self> {
        let key: [u8; 32] = rand::random();
        Ok(Self {
            id: uuid::Uuid::new_v4().to_string(),
            state_codec: RequestStateCodec::try_new(key.to_vec())?,
            listeners: Listeners::default(),
            streams,
            counter: AtomicU64::new(0),
            call_ids: Mutex::new(std::collections::VecDeque::new()),
            dynamic_tool: AtomicBool::new(false),
            dynamic_prompt: AtomicBool::new(false),
            watched_revision: AtomicU64::new(1),
        })
    }

    /// Adds one to the counter and returns the new value.
    pub(crate) fn increment(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::SeqCst) + 1
    }

    /// Notes the JSON-RPC id of a `tools/call` as it arrives.
    pub(crate) fn note_call_id(&self, id: serde_json::Value) {
        let mut ids = self.call_ids.lock();
        if ids.len() == CALL_IDS_KEPT {
            ids.pop_front();
        }
        ids.push_back(id);
    }

    /// The ids [`Instance::note_call_id`] kept, oldest first.
    pub(crate) fn call_ids(&self) -> Vec<serde_json::Value> {
        self.call_ids.lock().iter().cloned().collect()
    }

    pub(crate) fn counter(&self) -> u64 {
        self.counter.load(Ordering::SeqCst)
    }

    /// Whether `test_dynamic_tool` is currently listed.
    pub(crate) fn dynamic_tool(&self) -> bool {
        self.dynamic_tool.load(Ordering::SeqCst)
    }

    /// Flips `test_dynamic_tool` in or out of the tool list; returns whether it is now listed.
    pub(crate) fn toggle_dynamic_tool(&self) -> bool {
        !self.dynamic_tool.fetch_xor(true, Ordering::SeqCst)
    }

    /// Whether `test_dynamic_prompt` is currently listed.
    pub(crate) fn dynamic_prompt(&self) -> bool {
        self.dynamic_prompt.load(Ordering::SeqCst)
    }

    /// Flips `test_dynamic_prompt` in or out of the prompt list; returns whether it is now listed.
    pub(crate) fn toggle_dynamic_prompt(&self) -> bool {
        !self.dynamic_prompt.fetch_xor(true, Ordering::SeqCst)
    }

    pub(crate) fn watched_revision(&self) -> u64 {
        self.watched_revision.load(Ordering::SeqCst)
    }

    /// Changes `test://watched-resource`; returns its new revision.
    pub(crate) fn bump_watched(&self) -> u64 {
        self.watched_revision.fetch_add(1, Ordering::SeqCst) + 1
    }
}

// === impl Session ===

impl Session {
    /// The `logging/setLevel` threshold, if the client set one.
    pub(crate) fn log_level(&self) -> Option<LoggingLevel> {
        *self.log_level.lock()
    }

    pub(crate) fn set_log_level(&self, level: LoggingLevel) {
        *self.log_level.lock() = Some(level);
    }

    pub(crate) fn subscribe(&self, uri: String) {
        self.subscriptions.lock().insert(uri);
    }

    pub(crate) fn unsubscribe(&self, uri: &str) {
        self.subscriptions.lock().remove(uri);
    }

    pub(crate) fn is_subscribed(&self, uri: &str) -> bool {
        self.subscriptions.lock().contains(uri)
    }
}
