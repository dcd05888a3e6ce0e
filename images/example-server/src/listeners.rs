//! The open `subscriptions/listen` streams (2026-07-28 clients), and the changes they hear about.
//!
//! Imports: nothing from this crate. Must not import `state` (whose `Instance` holds the registry)
//! or `notify` (which broadcasts through it).

use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::{Mutex, MutexGuard};
use rmcp::service::SubscriptionSink;

/// A change other connections may want to hear about.
#[derive(Clone, Debug)]
pub(crate) enum Change {
    /// The tool list changed.
    Tools,
    /// The prompt list changed.
    Prompts,
    /// The resource with this URI changed.
    Resource(String),
}

/// Open `subscriptions/listen` streams, keyed by a local id so a closing stream can remove itself.
#[derive(Default)]
pub(crate) struct Listeners {
    next_id: AtomicU64,
    // Held only to push, remove or clone the list, never across an await.
    sinks: Mutex<Vec<(u64, SubscriptionSink)>>,
}

// === impl Listeners ===

impl Listeners {
    /// Registers a listen stream; returns the id to pass to [`Listeners::remove`].
    pub(crate) fn add(&self, sink: SubscriptionSink) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.lock().push((id, sink));
        id
    }

    /// Forgets the listen stream registered as `id`.
    pub(crate) fn remove(&self, id: u64) {
        self.lock().retain(|(sink_id, _)| *sink_id != id);
    }

    /// Sends `change` to every listen stream whose filter accepts it.
    pub(crate) async fn broadcast(&self, change: &Change) {
        let sinks: Vec<SubscriptionSink> =
            self.lock().iter().map(|(_, sink)| sink.clone()).collect();
        for sink in sinks {
            // The sink drops what its filter did not accept; that is not an error here.
            let _ = match change {
                Change::Tools => sink.notify_tool_list_changed().await,
                Change::Prompts => sink.notify_prompt_list_changed().await,
                Change::Resource(uri) => sink.notify_resource_updated(uri.clone()).await,
            };
        }
    }

    fn lock(&self) -> MutexGuard<'_, Vec<(u64, SubscriptionSink)>> {
        self.sinks.lock()
    }
}
