//! [`RedisOptions`]: the tuning of a [`RedisStore`](super::RedisStore)
//! (operation timeout, replica acknowledgements).
//!
//! Imports: nothing from this crate. Must not import any other module of
//! `redis_store` (they all read it).

use std::time::Duration;

/// Tuning of a [`RedisStore`](super::RedisStore); [`Default`] gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisOptions {
    /// Upper bound for one operation, connecting (and a Sentinel lookup)
    /// included; past it the operation fails with [`Error::Unavailable`](crate::Error::Unavailable).
    /// Default: [`RedisOptions::DEFAULT_TIMEOUT`].
    pub timeout: Duration,
    /// Replicas that must acknowledge a new session (`put_new`, via Redis
    /// `WAIT`) before it is reported created; `0` (the default) does not
    /// wait. Set it to 1 or more when running replicas (with Sentinel) so an
    /// acknowledged session survives a failover. `WAIT` gets half of
    /// [`RedisOptions::timeout`].
    pub min_replicas_acked: usize,
}

impl RedisOptions {
    /// The default [`RedisOptions::timeout`]: 2 s.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            timeout: Self::DEFAULT_TIMEOUT,
            min_replicas_acked: 0,
        }
    }
}
