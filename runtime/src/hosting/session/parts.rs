//! The smaller pieces of a hosting session's state, each guarded by what
//! protects it: when it was last used (atomics), what the handshake
//! learned (set once), and which of its streams the journal follows.
//!
//! May import: `hosting::journal`, `hosting::stream`, `protocol`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use crate::hosting::journal::Journal;
use crate::hosting::stream::EventStream;
use crate::protocol::Version;

/// When the session was last used, and whether it is being stopped;
/// lock-free (touched on every request).
#[derive(Debug)]
pub(super) struct Activity {
    started: Instant,
    /// Milliseconds after `started` of the last use.
    last_used_ms: AtomicU64,
    stopping: AtomicBool,
}

/// What the handshake settled.
#[derive(Debug, Default)]
pub(super) struct Handshake {
    /// The version the backend negotiated (unknown versions are `None`).
    pub(super) version: OnceLock<Version>,
    /// How Berth set the backend up for stateless (2026-07-28) agents.
    pub(super) setup: tokio::sync::OnceCell<BackendSetup>,
}

/// How a hosting session's backend was set up for stateless agents.
#[derive(Clone, Debug)]
pub(crate) enum BackendSetup {
    /// It speaks 2026-07-28 itself: requests go through as they are.
    Native,
    /// It speaks only the session era: Berth initialized it on the agents'
    /// behalf; its `InitializeResult`.
    Initialized(Arc<serde_json::Value>),
}

/// Where resumable streams are copied (legacy sessions, shared store).
#[derive(Default)]
pub(super) struct Journaling {
    pub(super) journal: OnceLock<Journal>,
    /// Streams rebuilt by a takeover that the journal must go on copying,
    /// with the position they were restored up to.
    pub(super) unjournaled: Mutex<Vec<(Arc<EventStream>, u64)>>,
}

// === impl Activity ===

impl Activity {
    pub(super) fn new() -> Self {
        Activity {
            started: Instant::now(),
            last_used_ms: AtomicU64::new(0),
            stopping: AtomicBool::new(false),
        }
    }

    /// Marks the session used now.
    pub(super) fn touch(&self) {
        let ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last_used_ms.fetch_max(ms, Ordering::Relaxed);
    }

    /// How long since the session was last used.
    /// How long ago the session started.
    pub(super) fn age(&self) -> Duration {
        self.started.elapsed()
    }

    pub(super) fn idle_for(&self) -> Duration {
        let last = Duration::from_millis(self.last_used_ms.load(Ordering::Relaxed));
        self.started.elapsed().saturating_sub(last)
    }

    /// Marks the session as stopping; `true` if it already was.
    pub(super) fn begin_stop(&self) -> bool {
        self.stopping.swap(true, Ordering::AcqRel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn idleness_is_measured_from_the_last_touch() {
        let a = Activity::new();
        tokio::time::advance(Duration::from_secs(30)).await;
        assert_eq!(a.idle_for(), Duration::from_secs(30));
        a.touch();
        assert_eq!(a.idle_for(), Duration::ZERO);
        tokio::time::advance(Duration::from_millis(1500)).await;
        assert_eq!(a.idle_for(), Duration::from_millis(1500));
        assert!(!a.begin_stop());
        assert!(a.begin_stop(), "stopping starts once");
    }
}
