//! `RedisStore`: the [`SessionStore`] of production deployments, on Redis
//! (one server, a primary found through Redis Sentinel, or a Redis
//! Cluster).
//!
//! Each [`SessionStore`] method is one command or one small Lua script, as
//! tabled in the `store` module: `SET PX`, `SET NX PX`, `GET`, `PEXPIRE`,
//! `DEL`, a compare-and-swap script (`SET … PX` or `SET … KEEPTTL`), an
//! append script (`INCR`, `XADD MAXLEN cap <seq>-0`, `PEXPIRE`), `XRANGE` and
//! `PING`. Keys are [`RecordKey`]s as is (`berth:TENANT:…`), except that in
//! a cluster a session's keys carry its hash as a hash tag
//! ([`RecordKey::cluster_key`]); an event log `K` keeps its sequence counter
//! in `K:seq` (in a cluster `{K}:seq` when `K` has no tag, so both share a
//! slot), which expires with the log. The only multi-key script, the
//! append, touches those two keys. Values are stored and read as raw bytes.
//! Requires Redis 6.2 or newer (`SET … KEEPTTL`, exclusive `XRANGE` bounds).
//!
//! URL forms, connection handling, failover and durability are documented on
//! [`RedisStore`] (this module is private).
//!
//! Imports: its children `options`, `endpoint`, `connection`, `commands`,
//! `replies`, `errors`, `request`, and the crate's `error`, `keys` and `store`. No child
//! imports this file.

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use redis::Value;

use crate::error::Error;
use crate::keys::RecordKey;
use crate::store::{SessionStore, ttl_millis};

mod commands;
mod connection;
mod endpoint;
mod errors;
mod options;
mod replies;
mod request;

pub use self::options::{RedisClientCert, RedisOptions, RedisTls, RedisTlsPart};

use self::commands::{px, seq_key, stored_key};
use self::connection::Inner;
use self::endpoint::Endpoint;
use self::errors::{NOT_A_LOG, NOT_A_RECORD, Op, op};
use self::replies::{created, int, parse_xrange, unexpected};
use self::request::Request;

/// A [`SessionStore`] on Redis; clones share the same connections.
///
/// # Connections
///
/// [`RedisStore::connect`] only parses the URL; the connection is made by the
/// first operation, so a pod can start while Redis is down. Operations then
/// fail fast with [`Error::Unavailable`] ("Redis at HOST:PORT is unreachable:
/// …; check store.url") and succeed again once Redis is back:
///
/// - `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`: a
///   [`ConnectionManager`](redis::aio::ConnectionManager) (one multiplexed
///   connection) that reconnects by itself after errors.
/// - `redis+sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]…]/MASTER[/DB]`
///   (Sentinel port 26379 by default; the credentials are for the Redis
///   nodes, the Sentinels are reached without): the Sentinels are asked for
///   the current primary of `MASTER`, which must answer `ROLE` as a primary.
///   After a connection error, a timeout or a `READONLY` reply that primary
///   is forgotten and the next operation looks it up again, so a Sentinel
///   failover is followed after one failed operation. (Reads keep going to a
///   demoted primary that still answers until one of those happens; Sentinel
///   normally disconnects its clients when it demotes it.)
/// - `redis+cluster://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]…][/]`
///   (port 6379 by default; the credentials are for every node): a Redis
///   Cluster, its slot map read from the first seed that answers. Commands
///   go to the primary of their key's slot (`PING` to every node); the
///   connections follow slot moves, resharding and failovers (a `MOVED`
///   or `READONLY` reply refreshes the slot map). A session's keys
///   share one slot ([`RecordKey::cluster_key`]), so its scripts run on one
///   shard. Sessions spread over the shards by their hash.
///
/// An operation whose connection attempt was refused (nothing was sent), or
/// that met `READONLY` behind Sentinel or in a cluster (nothing was
/// written), is tried once more. In a cluster, `MOVED` and `ASK` are
/// followed to the node they name (`ASKING` first for `ASK`, scripts sent
/// as `EVAL`; up to 5 redirections) and `TRYAGAIN` (the append's two keys
/// split by a slot migration in progress) is tried again after a pause, so
/// a live resharding costs no failed operation. Nothing else is retried
/// here, so an operation in flight when a connection breaks fails (and may
/// or may not have been applied). Every
/// operation, connecting and Sentinel lookups included, is bounded by
/// [`RedisOptions::timeout`].
///
/// # TLS
///
/// `rediss://`, `rediss+sentinel://` (TLS to the Sentinels and the nodes)
/// and `rediss+cluster://` connect over TLS, checking the server's
/// certificate and name against [`RedisTls::ca_pem`] (default: the
/// compiled-in Mozilla roots) and presenting [`RedisTls::client`] if set.
///
/// # Durability
///
/// Redis replicates asynchronously: a write acknowledged by the primary can
/// be lost if the primary dies before a replica received it, and Sentinel
/// then promotes a replica without it. With
/// [`RedisOptions::min_replicas_acked`] > 0, `put_new` (which creates a
/// session) is followed by `WAIT n` and fails with [`Error::Unavailable`] if
/// fewer replicas confirmed the write in time (the record still exists on the
/// primary). Since `WAIT` blocks its connection, these writes use a second
/// connection of their own, so other operations never queue behind them
/// (in a cluster, a second cluster connection; the write and its `WAIT`
/// go to the primary of the key's slot). Other writes are not waited for:
/// losing a TTL slide, an update or an event costs less than a round trip
/// on every request.
#[derive(Clone)]
pub struct RedisStore {
    /// Swapped whole by [`RedisStore::reload_tls`]; an operation keeps the
    /// one it started with.
    inner: Arc<ArcSwap<Inner>>,
}

// === impl RedisStore ===

impl RedisStore {
    /// A store for `url` (`redis://…`, `redis+sentinel://…` or
    /// `redis+cluster://…`, see [`RedisStore`]) with default [`RedisOptions`]. Does not connect:
    /// fails only if the URL is malformed.
    pub fn connect(url: &str) -> Result<RedisStore, Error> {
        RedisStore::connect_with(url, RedisOptions::default())
    }

    /// Checks `url` as [`RedisStore::connect`] reads it, connecting nothing:
    /// [`Error::InvalidUrl`] names what is wrong (for a configuration check).
    pub fn check_url(url: &str) -> Result<(), Error> {
        Endpoint::parse(url).map(drop)
    }

    /// Like [`RedisStore::connect`] with explicit options.
    pub fn connect_with(url: &str, options: RedisOptions) -> Result<RedisStore, Error> {
        if options.timeout.is_zero() {
            return Err(Error::Unavailable(
                "the Redis operation timeout must be greater than zero".to_string(),
            ));
        }
        let endpoint = Endpoint::parse(url)?;
        Ok(RedisStore {
            inner: Arc::new(ArcSwap::from_pointee(Inner::new(endpoint, options)?)),
        })
    }

    /// The options in effect.
    pub fn options(&self) -> RedisOptions {
        self.inner.load().options.clone()
    }

    /// Uses `tls` for the connections made from now on, e.g. after a
    /// certificate rotation: operations in flight finish on the
    /// connections they started with, which then close; the next operation
    /// connects again with `tls`. Returns `false` (and
    /// changes nothing) when `tls` is what is in use. `tls` should have
    /// passed [`RedisTls::check`].
    pub fn reload_tls(&self, tls: RedisTls) -> Result<bool, Error> {
        let current = self.inner.load();
        if current.options.tls == tls {
            return Ok(false);
        }
        let options = RedisOptions {
            tls,
            ..current.options.clone()
        };
        let next = Inner::new(current.endpoint.clone(), options)?;
        self.inner.store(Arc::new(next));
        Ok(true)
    }

    fn inner(&self) -> Arc<Inner> {
        self.inner.load_full()
    }

    /// For a `redis+cluster://` store, connects now and fails with
    /// [`Error::Unavailable`] if the nodes answered but are not a Redis
    /// Cluster: a mistake no retry fixes, best reported at startup.
    /// Unreachable nodes are no error here (pods may start before Redis;
    /// the first operation connects). Other stores: `Ok` without
    /// connecting. Bounded by [`RedisOptions::timeout`].
    pub async fn check_cluster(&self) -> Result<(), Error> {
        let inner = self.inner();
        tokio::time::timeout(inner.options.timeout, inner.check_cluster())
            .await
            .unwrap_or(Ok(()))
    }

    /// `key` as named in Redis (hash-tagged in a cluster).
    fn key<'k>(&self, key: &'k RecordKey) -> Cow<'k, str> {
        stored_key(key, self.inner.load().is_cluster())
    }

    async fn run(&self, op: Op, request: Request<'_>) -> Result<Value, Error> {
        let inner = self.inner();
        let timeout = inner.options.timeout;
        let mut try_again = 0;
        match tokio::time::timeout(timeout, inner.run(op, &request, &mut try_again)).await {
            Ok(result) => result,
            Err(_elapsed) => {
                let mut msg = format!(
                    "Redis {} did not complete {} within {timeout:?}",
                    inner.describe(),
                    op.name
                );
                if try_again > 0 {
                    // The slot's keys stayed split between two nodes.
                    msg.push_str(&format!(
                        ": the cluster answered TRYAGAIN {try_again} times (a migration of this \
                         key's slot has not finished; if no `redis-cli --cluster reshard` is \
                         running, one was interrupted: run `redis-cli --cluster fix`)"
                    ));
                }
                if inner.endpoint.is_tls() {
                    // A plain server reads a TLS ClientHello as the start
                    // of a command and waits for the rest.
                    msg.push_str(" (with rediss://, check that the port serves TLS)");
                }
                // A primary that stopped answering may have been replaced.
                if inner.is_sentinel() {
                    inner.forget_current();
                }
                Err(Error::Unavailable(msg))
            }
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("endpoint", &self.inner.load().endpoint)
            .field("options", &self.inner.load().options)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl SessionStore for RedisStore {
    async fn put(&self, key: &RecordKey, sealed: Vec<u8>, ttl: Duration) -> Result<(), Error> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(&*self.key(key))
            .arg(sealed.as_slice())
            .arg("PX")
            .arg(px(ttl));
        let reply = self.run(op("SET", NOT_A_RECORD), Request::Cmd(cmd)).await?;
        match reply {
            Value::Okay => Ok(()),
            _ => Err(unexpected("SET")),
        }
    }

    async fn put_new(
        &self,
        key: &RecordKey,
        sealed: Vec<u8>,
        ttl: Duration,
    ) -> Result<bool, Error> {
        let replicas = self.inner.load().options.min_replicas_acked;
        let mut set = redis::cmd("SET");
        set.arg(&*self.key(key))
            .arg(sealed.as_slice())
            .arg("NX")
            .arg("PX")
            .arg(px(ttl));
        if replicas == 0 {
            let reply = self
                .run(op("SET NX", NOT_A_RECORD), Request::Cmd(set))
                .await?;
            return created(&reply);
        }
        // One pipeline, so `WAIT` runs on the connection that wrote.
        let wait = (self.inner.load().options.timeout / 2).max(Duration::from_millis(1));
        let mut pipe = redis::pipe();
        pipe.add_command(set)
            .cmd("WAIT")
            .arg(replicas)
            .arg(ttl_millis(wait));
        let reply = self
            .run(op("SET NX + WAIT", NOT_A_RECORD), Request::Acked(pipe))
            .await?;
        let Value::Array(replies) = reply else {
            return Err(unexpected("SET NX + WAIT"));
        };
        let [set_reply, Value::Int(acked)] = replies.as_slice() else {
            return Err(unexpected("SET NX + WAIT"));
        };
        if !created(set_reply)? {
            return Ok(false);
        }
        if usize::try_from(*acked).unwrap_or(0) < replicas {
            return Err(Error::Unavailable(format!(
                "Redis {} stored the new session but only {acked} of the {replicas} required \
                 replicas acknowledged it within {wait:?}, so it could be lost in a failover; \
                 check the replicas (INFO replication) or lower min_replicas_acked",
                self.inner.load().describe()
            )));
        }
        Ok(true)
    }

    async fn get(&self, key: &RecordKey) -> Result<Option<Vec<u8>>, Error> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(&*self.key(key));
        match self.run(op("GET", NOT_A_RECORD), Request::Cmd(cmd)).await? {
            Value::Nil => Ok(None),
            Value::BulkString(bytes) => Ok(Some(bytes)),
            _ => Err(unexpected("GET")),
        }
    }

    async fn touch(&self, key: &RecordKey, ttl: Duration) -> Result<bool, Error> {
        let mut cmd = redis::cmd("PEXPIRE");
        cmd.arg(&*self.key(key)).arg(px(ttl));
        let reply = self
            .run(op("PEXPIRE", NOT_A_RECORD), Request::Cmd(cmd))
            .await?;
        Ok(int(&reply, "PEXPIRE")? == 1)
    }

    async fn delete(&self, key: &RecordKey) -> Result<bool, Error> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(&*self.key(key));
        let reply = self.run(op("DEL", NOT_A_RECORD), Request::Cmd(cmd)).await?;
        Ok(int(&reply, "DEL")? > 0)
    }

    async fn compare_and_put(
        &self,
        key: &RecordKey,
        expected: &[u8],
        sealed: Vec<u8>,
        ttl: Option<Duration>,
    ) -> Result<bool, Error> {
        let ttl_arg = match ttl {
            Some(ttl) => px(ttl).to_string(),
            None => "KEEPTTL".to_string(),
        };
        let inner = self.inner();
        let mut call = inner.compare_and_put.call(&[&self.key(key)]);
        call.arg(expected).arg(sealed.as_slice()).arg(ttl_arg);
        let reply = self
            .run(
                op("compare_and_put script", NOT_A_RECORD),
                Request::Script(call),
            )
            .await?;
        Ok(int(&reply, "compare_and_put script")? == 1)
    }

    async fn append_event(
        &self,
        log: &RecordKey,
        sealed_event: Vec<u8>,
        cap: usize,
        ttl: Duration,
    ) -> Result<u64, Error> {
        let log = self.key(log);
        let inner = self.inner();
        let seq = seq_key(&log, inner.is_cluster());
        let mut call = inner.append_event.call(&[&log, &seq]);
        call.arg(sealed_event.as_slice())
            .arg(cap.max(1))
            .arg(px(ttl));
        let reply = self
            .run(op("append_event script", NOT_A_LOG), Request::Script(call))
            .await?;
        u64::try_from(int(&reply, "append_event script")?)
            .map_err(|_| unexpected("append_event script"))
    }

    async fn events_after(
        &self,
        log: &RecordKey,
        after: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, Error> {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(&*self.key(log)).arg(format!("({after}-0")).arg("+");
        let reply = self.run(op("XRANGE", NOT_A_LOG), Request::Cmd(cmd)).await?;
        parse_xrange(reply)
    }

    async fn ping(&self) -> Result<(), Error> {
        let reply = self
            .run(op("PING", NOT_A_RECORD), Request::Cmd(redis::cmd("PING")))
            .await?;
        match reply {
            Value::SimpleString(s) if s == "PONG" => Ok(()),
            _ => Err(unexpected("PING")),
        }
    }
}

#[cfg(test)]
mod tests;
