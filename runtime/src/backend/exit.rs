//! [`ExitNotice`]: a container's (or Pod's) end, reported to its session
//! once, whoever notices first. Shared by the docker and kubernetes
//! backends.
//!
//! May import: `backend` shapes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use parking_lot::Mutex;

use super::instance::InboundSink;

/// Reports a container's end to its session exactly once, whoever notices
/// first (the attach stream ending, or the engine's `die`/`oom` event).
pub(crate) struct ExitNotice {
    sink: Mutex<Option<Arc<dyn InboundSink>>>,
    fired: AtomicBool,
    oom: AtomicBool,
}

// === impl ExitNotice ===

impl ExitNotice {
    pub(crate) fn new(sink: Option<Arc<dyn InboundSink>>) -> Arc<Self> {
        Arc::new(ExitNotice {
            sink: Mutex::new(sink),
            fired: AtomicBool::new(false),
            oom: AtomicBool::new(false),
        })
    }

    /// A notice for a container no session uses yet (warm pool).
    pub(crate) fn new_detached() -> Arc<Self> {
        Self::new(None)
    }

    /// Records an OOM kill (from the event stream) for the exit reason.
    pub(crate) fn mark_oom(&self) {
        self.oom.store(true, Ordering::Release);
    }

    /// Tells the session the container is gone (once).
    pub(crate) fn fire(&self, reason: String) {
        if self.fired.swap(true, Ordering::AcqRel) {
            return;
        }
        let reason = if self.oom.load(Ordering::Acquire) {
            format!("{reason}; it was killed for exceeding its memory limit")
        } else {
            reason
        };
        let sink = self.sink.lock().take();
        if let Some(sink) = sink {
            sink.on_exit(reason);
        }
    }

    /// Whether the container's end was already reported.
    pub(crate) fn has_fired(&self) -> bool {
        self.fired.load(Ordering::Acquire)
    }

    pub(crate) fn set_sink(&self, sink: Arc<dyn InboundSink>) {
        *self.sink.lock() = Some(sink);
    }
}
