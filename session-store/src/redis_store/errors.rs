//! Redis errors as the crate's [`Error`]: which operation failed, what a
//! `WRONGTYPE` reply means for it, and log-safe descriptions that never
//! quote stored values.
//!
//! Imports: the crate's `error`. Must not import any other module of
//! `redis_store`.

use redis::{ErrorKind, RedisError, ServerErrorKind};

use crate::error::Error;

/// An operation's name and what a `WRONGTYPE` reply means for it.
#[derive(Clone, Copy)]
pub(super) struct Op {
    /// The command or script, for messages.
    pub(super) name: &'static str,
    /// What a `WRONGTYPE` reply means.
    pub(super) wrong_type: &'static str,
}

/// `WRONGTYPE` from an operation on a record.
pub(super) const NOT_A_RECORD: &str = "key holds an event log, not a record";
/// `WRONGTYPE` from an operation on an event log.
pub(super) const NOT_A_LOG: &str = "key holds a record, not an event log";

/// An [`Op`] named `name`.
pub(super) const fn op(name: &'static str, wrong_type: &'static str) -> Op {
    Op { name, wrong_type }
}

/// Whether the server refused a write as a read-only replica.
pub(super) fn is_read_only(err: &RedisError) -> bool {
    err.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly) || err.code() == Some("READONLY")
}

/// Maps a Redis error to the crate's error, with a log-safe message.
pub(super) fn map_error(op: Op, addr: &str, err: &RedisError) -> Error {
    if err.code() == Some("WRONGTYPE") {
        return Error::Corrupt(op.wrong_type);
    }
    let detail = describe(err);
    let msg = if err.is_io_error() {
        format!("Redis at {addr} is unreachable: {detail}; check store.url")
    } else if is_read_only(err) {
        format!(
            "Redis at {addr} is a read-only replica ({} refused); point store.url at the primary, \
             or use redis+sentinel:// to follow failovers",
            op.name
        )
    } else if matches!(err.kind(), ErrorKind::AuthenticationFailed)
        || matches!(err.code(), Some("NOAUTH" | "WRONGPASS"))
    {
        format!(
            "Redis at {addr} rejected the credentials ({detail}); check the user and password in store.url"
        )
    } else {
        format!(
            "Redis at {addr} failed {}: {detail}; check the Redis server (memory limit, \
             persistence, ACLs, replication)",
            op.name
        )
    };
    Error::Unavailable(msg)
}

/// A log-safe description of a Redis error. Conversion and parse errors can
/// quote the reply (record bytes), so only their category is kept; I/O and
/// server errors describe the connection or the command, never values.
pub(super) fn describe(err: &RedisError) -> String {
    if err.is_io_error() {
        return err.to_string();
    }
    if let Some(code) = err.code() {
        return match err.detail() {
            Some(detail) => format!("{code} {detail}"),
            None => code.to_string(),
        };
    }
    match err.kind() {
        ErrorKind::AuthenticationFailed
        | ErrorKind::InvalidClientConfig
        | ErrorKind::MasterNameNotFoundBySentinel
        | ErrorKind::NoValidReplicasFoundBySentinel
        | ErrorKind::EmptySentinelList => err.to_string(),
        _ => err.category().to_string(),
    }
}
