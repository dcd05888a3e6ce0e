//! [`Cluster`] as the docker backend's [`LeaseProbe`]: whether a
//! container's session may still be resumed, and which session claimed a
//! warm-pool container.
//!
//! May import: `cluster::inner`, `backend` (the trait).

use std::time::Duration;

use berth_session_store::RecordKey;

use super::inner::Cluster;
use crate::backend::LeaseProbe;

/// How long a pool container's claim record lives: a bound on garbage;
/// whether the session is alive is decided by its lease and record.
const CLAIM_TTL: Duration = Duration::from_secs(24 * 3600);

/// Store key recording which session claimed a (pool) container.
fn claim_key(scope: &str, container: &str) -> RecordKey {
    RecordKey::new(format!("berth:claims:{scope}:{container}"))
}

#[async_trait::async_trait]
impl LeaseProbe for Cluster {
    fn scope(&self) -> &str {
        &self.inner.scope
    }

    async fn held(&self, lease_key: &str) -> bool {
        self.session_alive(lease_key).await
    }

    async fn claim(&self, container: &str, lease_key: &str) {
        let key = claim_key(&self.inner.scope, container);
        let put = self
            .inner
            .store
            .put(&key, lease_key.as_bytes().to_vec(), CLAIM_TTL)
            .await;
        if let Err(e) = put {
            tracing::warn!(error = %e, "could not record a pool container's claim; it may be swept if its pod dies");
        }
    }

    async fn claim_of(&self, container: &str) -> Option<String> {
        let key = claim_key(&self.inner.scope, container);
        match self.inner.store.get(&key).await {
            Ok(Some(v)) => String::from_utf8(v).ok(),
            // Unknown: say "claimed" by a key that always counts as held.
            Err(_) => Some(String::new()),
            Ok(None) => None,
        }
    }
}
