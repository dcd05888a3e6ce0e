//! Start failures: after a server fails to start, new sessions of it fail
//! fast for a while instead of spawning again (no retry storms from eager
//! agents), without letting one principal lock out the others.
//!
//! A hold has a scope. A failure no agent input reaches (the command or
//! image is missing, the spawn fails) holds the server's definition for
//! everyone: nobody's next try could go better. An instance that ended
//! while it was being initialized may have ended *because of* what that
//! agent sent (its `initialize`, its clientInfo), so it holds only that
//! principal (subject within tenant and server): a principal that crashes
//! a server on purpose delays itself, never the others. Either hold names
//! the definition that failed: a redeploy is tried at once. A principal's
//! hold is keyed by a keyed hash of its subject, and the holds kept are
//! capped, so many principals cannot grow this without limit.
//!
//! May import: `hosting::error`.

use std::collections::HashMap;
use std::hash::BuildHasher;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::time::Instant;

use super::error::HostingError;

/// How long new sessions fail fast after a failure.
const START_FAILURE_HOLD: Duration = Duration::from_secs(5);

/// Most holds kept at once; past it, expired holds go, then the oldest.
const MAX_HOLDS: usize = 4096;

/// Longest failure reason kept (the rest is cut).
const MAX_REASON: usize = 512;

/// Who a start failure holds.
#[derive(Clone, Copy, Debug)]
pub(crate) enum HoldScope<'a> {
    /// Everyone: no agent input reached the failure.
    Server,
    /// Only this subject: its own `initialize` may have caused it.
    Principal(&'a str),
}

/// A hold's key: tenant, server, and the principal's subject hash
/// (`None`: the whole server).
type Key = (String, String, Option<u64>);

/// One hold.
struct Hold {
    at: Instant,
    reason: String,
    definition: u64,
}

/// Recent start failures per server definition or principal.
#[derive(Default)]
pub(super) struct StartFailures {
    holds: Mutex<HashMap<Key, Hold>>,
    /// Keys the subject hash (a principal cannot aim at another's slot).
    subjects: std::hash::RandomState,
}

// === impl StartFailures ===

impl StartFailures {
    fn key(&self, tenant: &str, server: &str, scope: HoldScope<'_>) -> Key {
        let subject = match scope {
            HoldScope::Server => None,
            HoldScope::Principal(s) => Some(self.subjects.hash_one(s)),
        };
        (tenant.to_owned(), server.to_owned(), subject)
    }

    /// Remembers that definition `definition` of `tenant/server` failed
    /// to start, for `scope`.
    pub(super) fn record(
        &self,
        tenant: &str,
        server: &str,
        scope: HoldScope<'_>,
        definition: u64,
        reason: &str,
    ) {
        let key = self.key(tenant, server, scope);
        let mut reason = reason.to_owned();
        if reason.len() > MAX_REASON {
            let mut cut = MAX_REASON;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason.truncate(cut);
            reason.push('…');
        }
        let hold = Hold {
            at: Instant::now(),
            reason,
            definition,
        };
        let mut holds = self.holds.lock();
        if holds.len() >= MAX_HOLDS && !holds.contains_key(&key) {
            holds.retain(|_, h| h.at.elapsed() < START_FAILURE_HOLD);
            if holds.len() >= MAX_HOLDS {
                let oldest = holds
                    .iter()
                    .min_by_key(|(_, h)| h.at)
                    .map(|(k, _)| k.clone());
                if let Some(oldest) = oldest {
                    holds.remove(&oldest);
                }
            }
        }
        holds.insert(key, hold);
    }

    /// Forgets what holds `subject` on `tenant/server`: its own hold and
    /// the server's (it initialized fine, so the server does start).
    pub(super) fn clear(&self, tenant: &str, server: &str, subject: &str) {
        let mut holds = self.holds.lock();
        if holds.is_empty() {
            return;
        }
        holds.remove(&self.key(tenant, server, HoldScope::Principal(subject)));
        holds.remove(&self.key(tenant, server, HoldScope::Server));
    }

    /// `Err` while definition `definition` of `tenant/server` is held for
    /// everyone, or for `subject`, after a recent failure.
    pub(super) fn check(
        &self,
        tenant: &str,
        server: &str,
        subject: &str,
        definition: u64,
    ) -> Result<(), HostingError> {
        let holds = self.holds.lock();
        if holds.is_empty() {
            return Ok(());
        }
        for scope in [HoldScope::Server, HoldScope::Principal(subject)] {
            let Some(h) = holds.get(&self.key(tenant, server, scope)) else {
                continue;
            };
            let held_for = h.at.elapsed();
            if h.definition == definition && held_for < START_FAILURE_HOLD {
                return Err(HostingError::StartHeld {
                    reason: h.reason.clone(),
                    wait_secs: (START_FAILURE_HOLD - held_for).as_secs() + 1,
                });
            }
        }
        Ok(())
    }

    /// Holds kept (expired ones included, until they are swept).
    #[cfg(test)]
    fn len(&self) -> usize {
        self.holds.lock().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_server_that_cannot_start_is_held_for_everyone_briefly() {
        let f = StartFailures::default();
        assert!(f.check("t", "s", "alice", 1).is_ok());
        f.record(
            "t",
            "s",
            HoldScope::Server,
            1,
            "could not start server command `x`",
        );
        assert!(
            f.check("t", "s", "alice", 2).is_ok(),
            "a new definition is tried at once"
        );
        // Whole seconds, rounded up past the hold.
        let held = f.check("t", "s", "bob", 1).unwrap_err();
        assert_eq!(
            held.to_string(),
            "could not start server command `x` (not retried for another 6s)"
        );
        assert!(
            f.check("t", "other", "bob", 1).is_ok(),
            "only that server is held"
        );
        tokio::time::advance(START_FAILURE_HOLD).await;
        assert!(f.check("t", "s", "bob", 1).is_ok());
        f.record("t", "s", HoldScope::Server, 1, "again");
        f.clear("t", "s", "carol");
        assert!(
            f.check("t", "s", "bob", 1).is_ok(),
            "anyone's success clears it"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_crash_holds_only_the_principal_that_caused_it() {
        let f = StartFailures::default();
        f.record(
            "t",
            "s",
            HoldScope::Principal("mallory"),
            1,
            "instance ended",
        );
        assert!(f.check("t", "s", "mallory", 1).is_err());
        assert!(
            f.check("t", "s", "alice", 1).is_ok(),
            "others start at once"
        );
        assert!(
            f.check("t", "s", "mallory", 2).is_ok(),
            "a redeploy is tried"
        );
        assert!(f.check("u", "s", "mallory", 1).is_ok(), "per tenant");
        f.clear("t", "s", "alice");
        assert!(
            f.check("t", "s", "mallory", 1).is_err(),
            "another's success does not clear it"
        );
        f.clear("t", "s", "mallory");
        assert!(f.check("t", "s", "mallory", 1).is_ok());
    }

    #[tokio::test(start_paused = true)]
    async fn holds_stay_bounded_under_many_principals() {
        let f = StartFailures::default();
        for i in 0..MAX_HOLDS + 100 {
            // Each a little later than the one before (within the hold).
            tokio::time::advance(Duration::from_micros(100)).await;
            f.record(
                "t",
                "s",
                HoldScope::Principal(&format!("p{i}")),
                1,
                &"x".repeat(10_000),
            );
        }
        assert_eq!(f.len(), MAX_HOLDS, "the oldest go past the cap");
        assert!(f.check("t", "s", "p0", 1).is_ok(), "the oldest went first");
        let newest = format!("p{}", MAX_HOLDS + 99);
        let held = f.check("t", "s", &newest, 1).unwrap_err().to_string();
        assert!(held.len() < MAX_REASON + 64, "reasons are cut: {held}");
        tokio::time::advance(START_FAILURE_HOLD).await;
        f.record("t", "s", HoldScope::Principal("late"), 1, "r");
        assert_eq!(f.len(), 1, "expired holds are swept when the cap is hit");
    }
}
