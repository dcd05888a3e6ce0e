//! The registry's change marker: a small random value, replaced after
//! every change to the index, so that each pod's poll reads a few bytes
//! and reads the index (`tenant/name` -> revision for every server, tens
//! of bytes per server) only when it moved. The marker is read before the
//! index and written after it, so a pod that saw a marker also saw every
//! index change made before that marker was written. A writer that dies
//! between the two leaves the marker behind: the index is read at least
//! every [`FULL_READ`] whatever the marker says.
//!
//! May import: `registry::store`.

use std::time::{Duration, Instant};

use super::store::RegistryStore;

/// Store key of the change marker.
pub(super) const CHANGED_KEY: &str = "berth:registry:changed";

/// The longest a pod goes without reading the index.
pub(super) const FULL_READ: Duration = Duration::from_secs(30);

/// A new marker value: random, so no two changes write the same one.
pub(super) fn new_marker() -> Vec<u8> {
    format!("{:032x}", rand::random::<u128>()).into_bytes()
}

/// Replaces the change marker in `store` so other pods read the index;
/// called after each index change. A swap lost to another writer is as
/// good (theirs came after this index change); failing loses nothing but
/// time ([`FULL_READ`]).
pub(super) async fn mark_changed(store: &dyn RegistryStore) {
    let marked = match store.get(CHANGED_KEY).await {
        Ok(old) => store
            .swap(CHANGED_KEY, old.as_deref(), new_marker())
            .await
            .map(drop),
        Err(e) => Err(e),
    };
    if let Err(e) = marked {
        tracing::warn!(error = %e, "cannot mark the registry changed; other pods apply the change within 30 s");
    }
}

/// What one pod last saw: the marker read before its last index read.
#[derive(Default)]
pub(super) struct Watch {
    seen: Option<Option<Vec<u8>>>,
    read_at: Option<Instant>,
}

impl Watch {
    /// Reads the marker from `store`: `Some(marker)` when the index must
    /// be read (then [`Watch::index_read`] with it once it was).
    pub(super) async fn poll(
        &self,
        store: &dyn RegistryStore,
    ) -> Result<Option<Option<Vec<u8>>>, String> {
        let marker = store.get(CHANGED_KEY).await?;
        Ok(self.needs_index(&marker).then_some(marker))
    }

    /// Whether the index must be read, the marker now being `marker`.
    pub(super) fn needs_index(&self, marker: &Option<Vec<u8>>) -> bool {
        self.seen.as_ref() != Some(marker)
            || self.read_at.is_none_or(|at| at.elapsed() >= FULL_READ)
    }

    /// Records that the index was read after the marker read `marker`.
    pub(super) fn index_read(&mut self, marker: Option<Vec<u8>>) {
        self.seen = Some(marker);
        self.read_at = Some(Instant::now());
    }
}

#[cfg(test)]
mod tests {
    use super::{Watch, new_marker};

    #[test]
    fn the_index_is_read_first_and_then_only_when_the_marker_moves() {
        let mut watch = Watch::default();
        assert!(watch.needs_index(&None), "never read");
        watch.index_read(None);
        assert!(!watch.needs_index(&None), "no change yet");
        let first = Some(new_marker());
        assert!(watch.needs_index(&first));
        watch.index_read(first.clone());
        assert!(!watch.needs_index(&first));
        let second = Some(new_marker());
        assert_ne!(first, second);
        assert!(watch.needs_index(&second));
        // A marker that vanished (expired, flushed) is a change too.
        assert!(watch.needs_index(&None));
    }
}
