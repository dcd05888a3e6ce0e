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

/// Whether a cluster node refused a command without running it because
/// the key's slot is served elsewhere, is migrating, or the node was just
/// demoted (`MOVED`, `ASK`, `READONLY`), or the client had no connection to
/// send it on.
pub(super) fn is_not_applied_in_cluster(err: &RedisError) -> bool {
    matches!(err.code(), Some("MOVED" | "ASK"))
        || is_read_only(err)
        || err.kind() == ErrorKind::ClusterConnectionNotFound
}

/// Whether a cluster node refused a multi-key command without running it
/// because its keys are split between the two nodes of a slot migration in
/// progress (`TRYAGAIN`): it runs once the migration has moved them all.
pub(super) fn is_try_again(err: &RedisError) -> bool {
    err.code() == Some("TRYAGAIN")
}

/// Maps a Redis error to the crate's error, with a log-safe message; `who`
/// is `Redis at HOST:PORT` or `Redis Cluster at HOST:PORT,…`.
pub(super) fn map_error(op: Op, who: &str, err: &RedisError) -> Error {
    if err.code() == Some("WRONGTYPE") {
        return Error::Corrupt(op.wrong_type);
    }
    let detail = describe(err);
    let msg = if err.is_io_error() {
        io_message(who, &detail)
    } else if is_read_only(err) {
        format!(
            "{who} is a read-only replica ({} refused); point store.url at the primary, \
             or use redis+sentinel:// to follow failovers",
            op.name
        )
    } else if matches!(err.kind(), ErrorKind::AuthenticationFailed)
        || matches!(err.code(), Some("NOAUTH" | "WRONGPASS"))
    {
        format!(
            "{who} rejected the credentials ({detail}); check the user and password in store.url \
             (or store.password)"
        )
    } else if matches!(err.code(), Some("MOVED" | "ASK")) {
        format!(
            "{who} is a Redis Cluster node and sent {} elsewhere ({detail}); use \
             redis+cluster://HOST:PORT[,HOST:PORT...] in store.url",
            op.name
        )
    } else if err.code() == Some("CLUSTERDOWN") {
        format!(
            "{who} is down or has a hash slot without a reachable primary ({detail}); check \
             `redis-cli --cluster check HOST:PORT` and the failed node's replicas"
        )
    } else {
        format!(
            "{who} failed {}: {detail}; check the Redis server (memory limit, \
             persistence, ACLs, replication)",
            op.name
        )
    };
    Error::Unavailable(msg)
}

/// What an I/O error says: a TLS handshake that failed, and how, or a
/// server that cannot be reached.
fn io_message(who: &str, detail: &str) -> String {
    if detail.contains("invalid peer certificate") {
        format!(
            "{who} presented a TLS certificate Berth does not trust ({detail}); set \
             store.tls_ca_file to the CA that signed it (without it, the compiled-in public \
             roots are used), and name the server in store.url by a name or address the \
             certificate is for"
        )
    } else if [
        "CertificateRequired",
        "BadCertificate",
        "UnknownCA",
        "CertificateUnknown",
    ]
    .iter()
    .any(|alert| detail.contains(alert))
    {
        format!(
            "{who} refused the TLS handshake for want of an acceptable client certificate \
             ({detail}); set store.tls_cert_file and store.tls_key_file to a certificate its \
             tls-ca-cert-file trusts"
        )
    } else if [
        "corrupt message",
        "InvalidContentType",
        "received fatal alert",
        "tls handshake",
    ]
    .iter()
    .any(|sign| detail.contains(sign))
    {
        format!(
            "{who} did not complete a TLS handshake ({detail}); check that the port serves TLS \
             (rediss://…) rather than plain Redis (redis://…)"
        )
    } else {
        format!(
            "{who} is unreachable: {detail}; check store.url (a server that accepts only TLS \
             needs rediss://…)"
        )
    }
}

/// The error of an operation the cluster kept redirecting (`MOVED` or `ASK`
/// after `redirects` redirections followed): its slot map keeps changing.
pub(super) fn redirected_too_often(op: Op, who: &str, redirects: u32, err: &RedisError) -> Error {
    Error::Unavailable(format!(
        "{who} redirected {} {redirects} times and then again ({}); the slot is moving between \
         nodes: check `redis-cli --cluster check HOST:PORT` for a resharding in progress or a \
         node that disagrees about the slot map",
        op.name,
        describe(err)
    ))
}

/// Why the first connection to a Redis Cluster failed: the seeds are not a
/// cluster, reject the credentials, or cannot be reached.
pub(super) fn cluster_connect_error(who: &str, err: &RedisError) -> Error {
    let text = err.to_string();
    if is_not_a_cluster(err) {
        return Error::Unavailable(format!(
            "{who} is not a Redis Cluster: the node answered that cluster support is disabled; \
             use redis://HOST:PORT (one server) or redis+sentinel://… in store.url, or start the \
             nodes with `cluster-enabled yes` and create the cluster (`redis-cli --cluster create`)"
        ));
    }
    if err.is_io_error() && !text.contains("WRONGPASS") && !text.contains("NOAUTH") {
        return Error::Unavailable(format!(
            "{who}: no seed node could be reached ({}); check store.url",
            describe(err)
        ));
    }
    map_error(PING_CLUSTER, who, err)
}

/// Whether a node answered that it is not part of a cluster (`ERR This
/// instance has cluster support disabled`, possibly wrapped in the cluster
/// client's own error).
pub(super) fn is_not_a_cluster(err: &RedisError) -> bool {
    err.to_string().contains("cluster support disabled")
}

/// The operation named when connecting to a cluster fails.
const PING_CLUSTER: Op = op("CLUSTER SLOTS", NOT_A_RECORD);

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
