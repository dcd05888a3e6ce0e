//! Start failures: after a server fails to start, new sessions of it fail
//! fast for a while instead of spawning again (no retry storms from eager
//! agents).
//!
//! May import: `hosting::error`.

use std::time::Duration;

use dashmap::DashMap;
use tokio::time::Instant;

use super::error::HostingError;

/// How long new sessions of a server that failed to start fail fast.
const START_FAILURE_HOLD: Duration = Duration::from_secs(5);

/// Recent start failures per (tenant, server), with the definition that
/// failed: a new definition (a redeploy) is tried at once.
#[derive(Default)]
pub(super) struct StartFailures {
    failures: DashMap<(String, String), (Instant, String, u64)>,
}

// === impl StartFailures ===

impl StartFailures {
    /// Remembers that definition `definition` of `tenant/server` failed
    /// to start.
    pub(super) fn record(&self, tenant: &str, server: &str, definition: u64, reason: &str) {
        self.failures.insert(
            (tenant.to_owned(), server.to_owned()),
            (Instant::now(), reason.to_owned(), definition),
        );
    }

    /// Forgets the failures of `tenant/server` (it initialized fine).
    pub(super) fn clear(&self, tenant: &str, server: &str) {
        self.failures
            .remove(&(tenant.to_owned(), server.to_owned()));
    }

    /// `Err` while definition `definition` of `tenant/server` is held
    /// after a recent failure.
    pub(super) fn check(
        &self,
        tenant: &str,
        server: &str,
        definition: u64,
    ) -> Result<(), HostingError> {
        let Some(f) = self.failures.get(&(tenant.to_owned(), server.to_owned())) else {
            return Ok(());
        };
        let (at, reason, failed) = f.value();
        if *failed == definition && at.elapsed() < START_FAILURE_HOLD {
            return Err(HostingError::StartHeld {
                reason: reason.clone(),
                wait_secs: (START_FAILURE_HOLD - at.elapsed()).as_secs() + 1,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_failed_server_is_held_briefly_then_tried_again() {
        let f = StartFailures::default();
        assert!(f.check("t", "s", 1).is_ok());
        f.record("t", "s", 1, "could not start server command `x`");
        assert!(
            f.check("t", "s", 2).is_ok(),
            "a new definition is tried at once"
        );
        // Whole seconds, rounded up past the hold.
        let held = f.check("t", "s", 1).unwrap_err();
        assert_eq!(
            held.to_string(),
            "could not start server command `x` (not retried for another 6s)"
        );
        assert!(f.check("t", "other", 1).is_ok(), "only that server is held");
        tokio::time::advance(START_FAILURE_HOLD).await;
        assert!(f.check("t", "s", 1).is_ok());
        f.record("t", "s", 1, "again");
        f.clear("t", "s");
        assert!(f.check("t", "s", 1).is_ok());
    }
}
