//! The store conformance suite against [`MemoryStore`], in real time, so the
//! same assertions hold for every backend (see `redis_store.rs`).

use std::sync::Arc;

use berth_session_store::{MemoryStore, SessionStore};

mod conformance;

use self::conformance::conformance_tests;

async fn memory_store() -> ((), Arc<dyn SessionStore>) {
    ((), Arc::new(MemoryStore::new()))
}

conformance_tests!(crate::memory_store());
