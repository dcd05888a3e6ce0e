//! The `SessionStore` trait: storage of sealed records and capped event logs.
//!
//! The trait is shaped after Redis so the Redis backend maps every operation
//! to one command (or one small script):
//!
//! | method | Redis |
//! |---|---|
//! | `put` | `SET key value PX ttl` |
//! | `put_new` | `SET key value NX PX ttl` |
//! | `get` | `GET key` |
//! | `touch` | `PEXPIRE key ttl` |
//! | `delete` | `DEL key` |
//! | `compare_and_put` | script: `GET` = expected → `SET … PX ttl` / `SET … KEEPTTL` |
//! | `append_event` | script: `INCR` seq, `XADD key MAXLEN cap seq-0 …`, `PEXPIRE` both |
//! | `events_after` | `XRANGE key (after-0 +` |
//! | `ping` | `PING` |
//!
//! Stores only see sealed bytes and hashed keys; they never hold plaintext.
//! TTLs are whole milliseconds ([`ttl_millis`]): rounded up, at least 1 ms.
//! Record keys and event-log keys share one key space; never use the same key
//! for both (Redis would answer `WRONGTYPE`).
//!
//! Imports: `keys`, `error`. Must not import its implementations (`memory`,
//! `redis_store`) or `sealed_store`.

use std::time::Duration;

use crate::error::Error;
use crate::keys::RecordKey;

/// Storage of sealed session records and per-session event logs.
///
/// Implementations: [`MemoryStore`](crate::MemoryStore) (embedded mode), Redis
/// (production). Errors meaning "the store is down" are
/// [`Error::Unavailable`].
#[async_trait::async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores `sealed` under `key`, replacing any value, expiring after `ttl`.
    async fn put(&self, key: &RecordKey, sealed: Vec<u8>, ttl: Duration) -> Result<(), Error>;

    /// Create only if absent (`SET NX` semantics); `Ok(false)` if it existed.
    async fn put_new(&self, key: &RecordKey, sealed: Vec<u8>, ttl: Duration)
    -> Result<bool, Error>;

    /// The value under `key`, if present and not expired.
    async fn get(&self, key: &RecordKey) -> Result<Option<Vec<u8>>, Error>;

    /// Slides the TTL; `Ok(false)` if the key is gone.
    async fn touch(&self, key: &RecordKey, ttl: Duration) -> Result<bool, Error>;

    /// Removes the key (record or event log); `Ok(false)` if it was absent.
    async fn delete(&self, key: &RecordKey) -> Result<bool, Error>;

    /// Replaces the value only if it still equals `expected` (compare and
    /// swap); `ttl: None` keeps the remaining TTL. `Ok(false)` if the value
    /// changed or is gone. Used to reseal records after a key rotation without
    /// overwriting a concurrent update.
    ///
    /// The default implementation declines (`Ok(false)`): a store without an
    /// atomic compare-and-swap simply never reseals in place, which is safe.
    async fn compare_and_put(
        &self,
        key: &RecordKey,
        expected: &[u8],
        sealed: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool, Error> {
        let _ = (key, expected, sealed, ttl);
        Ok(false)
    }

    /// Appends a sealed event to a capped log under `log` (keeps the newest
    /// `cap`, at least 1); returns its sequence number (monotonic per log,
    /// starting at 1, restarting only if the whole log expires). TTL slides.
    async fn append_event(
        &self,
        log: &RecordKey,
        sealed_event: Vec<u8>,
        cap: usize,
        ttl: Duration,
    ) -> Result<u64, Error>;

    /// Events with sequence > `after`, in order. If the cap already dropped
    /// some of them, the first returned sequence is greater than `after + 1`.
    async fn events_after(&self, log: &RecordKey, after: u64)
    -> Result<Vec<(u64, Vec<u8>)>, Error>;

    /// Liveness check for readiness probes.
    async fn ping(&self) -> Result<(), Error>;
}

/// A TTL in whole milliseconds as stores apply it: rounded up, at least 1 ms
/// (Redis rejects `PX 0`), saturating at `u64::MAX`.
pub fn ttl_millis(ttl: Duration) -> u64 {
    let ms = ttl.as_nanos().div_ceil(1_000_000);
    u64::try_from(ms).unwrap_or(u64::MAX).max(1)
}
