//! Where registry records live: [`RegistryStore`], a key-value store with
//! compare-and-set, and [`SharedStore`], its implementation on the
//! session store (Redis for `berth serve` with Redis: every pod reads the
//! same records). The embedded file store is in `file_store`.
//!
//! Records never expire: the shared store writes them with a TTL of a
//! century and keeps it on every change.
//!
//! May import: external crates (`berth-session-store`).

use std::sync::Arc;
use std::time::Duration;

use berth_session_store::{RecordKey, SessionStore};

/// "Never" for the shared store, whose writes all carry a TTL.
const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A key-value store with compare-and-set: every registry change is a
/// read, a change, and a swap that fails if someone else wrote first.
#[async_trait::async_trait]
pub(crate) trait RegistryStore: Send + Sync + 'static {
    /// The value under `key`.
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String>;

    /// Writes `value` if the current value is `expected` (`None`: absent);
    /// `Ok(false)` if another writer changed it first.
    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: Vec<u8>,
    ) -> Result<bool, String>;
}

/// Registry records in the session store (Redis).
pub(crate) struct SharedStore {
    store: Arc<dyn SessionStore>,
}

impl SharedStore {
    /// Records in `store`.
    pub(crate) fn new(store: Arc<dyn SessionStore>) -> Self {
        SharedStore { store }
    }
}

#[async_trait::async_trait]
impl RegistryStore for SharedStore {
    async fn get(&self, key: &str) -> Result<Option<Vec<u8>>, String> {
        self.store
            .get(&RecordKey::new(key))
            .await
            .map_err(|e| e.to_string())
    }

    async fn swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        value: Vec<u8>,
    ) -> Result<bool, String> {
        let key = RecordKey::new(key);
        let result = match expected {
            None => self.store.put_new(&key, value, CENTURY).await,
            Some(old) => self.store.compare_and_put(&key, old, value, None).await,
        };
        result.map_err(|e| e.to_string())
    }
}
