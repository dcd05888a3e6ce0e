//! `RedisStore`: the [`SessionStore`] of production deployments, on Redis
//! (one server, or a primary found through Redis Sentinel).
//!
//! Each [`SessionStore`] method is one command or one small Lua script, as
//! tabled in the `store` module: `SET PX`, `SET NX PX`, `GET`, `PEXPIRE`,
//! `DEL`, a compare-and-swap script (`SET … PX` or `SET … KEEPTTL`), an
//! append script (`INCR`, `XADD MAXLEN cap <seq>-0`, `PEXPIRE`), `XRANGE` and
//! `PING`. Keys are [`RecordKey`]s as is (`berth:{tenant}:…`); an event log
//! `K` keeps its sequence counter in `K:seq` (the same `{tenant}` hash tag, so
//! both would share a cluster slot), which expires with the log. Values are
//! stored and read as raw bytes. Requires Redis 6.2 or newer (`SET …
//! KEEPTTL`, exclusive `XRANGE` bounds).
//!
//! URL forms, connection handling, failover and durability are documented on
//! [`RedisStore`] (this module is private).

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::SentinelClient;
use redis::{
    Cmd, ErrorKind, Pipeline, RedisError, Script, ScriptInvocation, ServerErrorKind, Value,
};

use crate::error::Error;
use crate::keys::RecordKey;
use crate::store::{SessionStore, ttl_millis};

mod endpoint;

use self::endpoint::Endpoint;

/// Tuning of a [`RedisStore`]; [`Default`] gives the documented defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedisOptions {
    /// Upper bound for one operation, connecting (and a Sentinel lookup)
    /// included; past it the operation fails with [`Error::Unavailable`].
    /// Default: [`RedisOptions::DEFAULT_TIMEOUT`].
    pub timeout: Duration,
    /// Replicas that must acknowledge a new session (`put_new`, via Redis
    /// `WAIT`) before it is reported created; `0` (the default) does not
    /// wait. Set it to 1 or more when running replicas (with Sentinel) so an
    /// acknowledged session survives a failover. `WAIT` gets half of
    /// [`RedisOptions::timeout`].
    pub min_replicas_acked: usize,
}

/// A [`SessionStore`] on Redis; clones share the same connections.
///
/// # Connections
///
/// [`RedisStore::connect`] only parses the URL; the connection is made by the
/// first operation, so a pod can start while Redis is down. Operations then
/// fail fast with [`Error::Unavailable`] ("Redis at HOST:PORT is unreachable:
/// …; check store.url") and succeed again once Redis is back:
///
/// - `redis://[[USER]:PASSWORD@]HOST[:PORT][/DB]`: a [`ConnectionManager`]
///   (one multiplexed connection) that reconnects by itself after errors.
/// - `redis+sentinel://[[USER]:PASSWORD@]HOST[:PORT][,HOST[:PORT]…]/MASTER[/DB]`
///   (Sentinel port 26379 by default; the credentials are for the Redis
///   nodes, the Sentinels are reached without): the Sentinels are asked for
///   the current primary of `MASTER`, which must answer `ROLE` as a primary.
///   After a connection error, a timeout or a `READONLY` reply that primary
///   is forgotten and the next operation looks it up again, so a Sentinel
///   failover is followed after one failed operation. (Reads keep going to a
///   demoted primary that still answers until one of those happens; Sentinel
///   normally disconnects its clients when it demotes it.)
///
/// An operation whose connection attempt was refused (nothing was sent), or
/// that met `READONLY` behind Sentinel (nothing was written), is tried once
/// more; nothing else is retried here, so an operation in flight when a
/// connection breaks fails (and may or may not have been applied). Every
/// operation, connecting and Sentinel lookups included, is bounded by
/// [`RedisOptions::timeout`]. TLS (`rediss://`) is not supported yet.
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
/// connection of their own, so other operations never queue behind them. Other writes are not waited for: losing a TTL slide, an update
/// or an event costs less than a round trip on every request.
#[derive(Clone)]
pub struct RedisStore {
    inner: Arc<Inner>,
}

struct Inner {
    endpoint: Endpoint,
    target: Target,
    options: RedisOptions,
    /// The connection in use; `None` until first use, and (with Sentinel)
    /// after an error made the primary suspect.
    node: Mutex<Option<Arc<Node>>>,
    compare_and_put: Script,
    append_event: Script,
}

/// How to reach the server.
enum Target {
    /// One server; its [`ConnectionManager`] reconnects by itself.
    Direct { client: redis::Client, addr: String },
    /// Whichever primary the Sentinels name (lookups are serialized: they
    /// need `&mut`).
    Sentinel(tokio::sync::Mutex<SentinelClient>),
}

/// Connections to one server (each connected on first use).
struct Node {
    /// `HOST:PORT`, for messages.
    addr: String,
    /// Every operation but acknowledged writes.
    conn: ConnectionManager,
    /// Writes followed by `WAIT`: Redis blocks the whole connection during
    /// `WAIT`, so it must not be the one every other operation shares.
    acked: ConnectionManager,
}

/// What to send.
enum Request<'a> {
    Cmd(Cmd),
    Script(ScriptInvocation<'a>),
    /// A write then `WAIT`, sent together on [`Node::acked`] (`WAIT` covers
    /// the writes of its own connection).
    Acked(Pipeline),
}

/// An operation's name and what a `WRONGTYPE` reply means for it.
#[derive(Clone, Copy)]
struct Op {
    name: &'static str,
    wrong_type: &'static str,
}

const NOT_A_RECORD: &str = "key holds an event log, not a record";
const NOT_A_LOG: &str = "key holds a record, not an event log";

/// Longest TTL sent to Redis (100 years, as `MemoryStore` clamps): `PX`
/// rejects values that overflow when added to the current time.
const MAX_TTL_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

/// `compare_and_put`: KEYS[1] key; ARGV[1] expected, ARGV[2] new value,
/// ARGV[3] TTL in ms or `KEEPTTL`. Returns 1 if swapped, else 0. A GET on an
/// event log fails with WRONGTYPE before anything is written.
const COMPARE_AND_PUT_LUA: &str = r"
local current = redis.call('GET', KEYS[1])
if current ~= ARGV[1] then
  return 0
end
if ARGV[3] == 'KEEPTTL' then
  redis.call('SET', KEYS[1], ARGV[2], 'KEEPTTL')
else
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
end
return 1
";

/// `append_event`: KEYS[1] log (a stream), KEYS[2] its sequence counter;
/// ARGV[1] event, ARGV[2] cap (>= 1), ARGV[3] TTL in ms. Returns the event's
/// sequence number. A new log restarts the counter at 1; a counter lost
/// while its log lives (eviction, a stray DEL, a `touch` of the log alone)
/// resumes after the newest entry, so ids stay increasing. Scripts are not
/// rolled back on error, so the type is checked before any write.
const APPEND_EVENT_LUA: &str = r"
local kind = redis.call('TYPE', KEYS[1])['ok']
local seq
if kind == 'none' then
  seq = 1
  redis.call('SET', KEYS[2], seq)
elseif kind == 'stream' then
  seq = redis.call('INCR', KEYS[2])
  local top = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)[1]
  if top then
    local last = tonumber(string.match(top[1], '^%d+'))
    if seq <= last then
      seq = last + 1
      redis.call('SET', KEYS[2], seq)
    end
  end
else
  return redis.error_reply('WRONGTYPE Operation against a key holding the wrong kind of value')
end
redis.call('XADD', KEYS[1], 'MAXLEN', ARGV[2], string.format('%d-0', seq), 'e', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return seq
";

/// Field name of the one field of each stream entry.
const EVENT_FIELD: &[u8] = b"e";

// === impl RedisOptions ===

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

// === impl RedisStore ===

impl RedisStore {
    /// A store for `url` (`redis://…` or `redis+sentinel://…`, see
    /// [`RedisStore`]) with default [`RedisOptions`]. Does not connect:
    /// fails only if the URL is malformed.
    pub fn connect(url: &str) -> Result<RedisStore, Error> {
        RedisStore::connect_with(url, RedisOptions::default())
    }

    /// Like [`RedisStore::connect`] with explicit options.
    pub fn connect_with(url: &str, options: RedisOptions) -> Result<RedisStore, Error> {
        if options.timeout.is_zero() {
            return Err(Error::Unavailable(
                "the Redis operation timeout must be greater than zero".to_string(),
            ));
        }
        let endpoint = Endpoint::parse(url)?;
        let target = match &endpoint {
            Endpoint::Direct(info) => Target::Direct {
                addr: info.addr().to_string(),
                client: redis::Client::open(info.clone()).map_err(|e| {
                    Error::Unavailable(format!("invalid store.url: {}", describe(&e)))
                })?,
            },
            Endpoint::Sentinel(s) => Target::Sentinel(tokio::sync::Mutex::new(s.client()?)),
        };
        Ok(RedisStore {
            inner: Arc::new(Inner {
                endpoint,
                target,
                options,
                node: Mutex::new(None),
                compare_and_put: Script::new(COMPARE_AND_PUT_LUA),
                append_event: Script::new(APPEND_EVENT_LUA),
            }),
        })
    }

    /// The options in effect.
    pub fn options(&self) -> &RedisOptions {
        &self.inner.options
    }

    async fn run(&self, op: Op, request: Request<'_>) -> Result<Value, Error> {
        let inner = &*self.inner;
        let timeout = inner.options.timeout;
        match tokio::time::timeout(timeout, inner.run(op, &request)).await {
            Ok(result) => result,
            Err(_elapsed) => {
                let msg = format!(
                    "Redis {} did not complete {} within {timeout:?}",
                    inner.describe(),
                    op.name
                );
                // A primary that stopped answering may have been replaced.
                if inner.is_sentinel() {
                    inner.lock_node().take();
                }
                Err(Error::Unavailable(msg))
            }
        }
    }
}

impl fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("endpoint", &self.inner.endpoint)
            .field("options", &self.inner.options)
            .finish_non_exhaustive()
    }
}

#[async_trait::async_trait]
impl SessionStore for RedisStore {
    async fn put(&self, key: &RecordKey, sealed: Vec<u8>, ttl: Duration) -> Result<(), Error> {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key.as_str())
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
        let replicas = self.inner.options.min_replicas_acked;
        let mut set = redis::cmd("SET");
        set.arg(key.as_str())
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
        let wait = (self.inner.options.timeout / 2).max(Duration::from_millis(1));
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
                self.inner.describe()
            )));
        }
        Ok(true)
    }

    async fn get(&self, key: &RecordKey) -> Result<Option<Vec<u8>>, Error> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(key.as_str());
        match self.run(op("GET", NOT_A_RECORD), Request::Cmd(cmd)).await? {
            Value::Nil => Ok(None),
            Value::BulkString(bytes) => Ok(Some(bytes)),
            _ => Err(unexpected("GET")),
        }
    }

    async fn touch(&self, key: &RecordKey, ttl: Duration) -> Result<bool, Error> {
        let mut cmd = redis::cmd("PEXPIRE");
        cmd.arg(key.as_str()).arg(px(ttl));
        let reply = self
            .run(op("PEXPIRE", NOT_A_RECORD), Request::Cmd(cmd))
            .await?;
        Ok(int(&reply, "PEXPIRE")? == 1)
    }

    async fn delete(&self, key: &RecordKey) -> Result<bool, Error> {
        let mut cmd = redis::cmd("DEL");
        cmd.arg(key.as_str());
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
        let mut invocation = self.inner.compare_and_put.key(key.as_str());
        invocation.arg(expected).arg(sealed.as_slice()).arg(ttl_arg);
        let reply = self
            .run(
                op("compare_and_put script", NOT_A_RECORD),
                Request::Script(invocation),
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
        let mut invocation = self.inner.append_event.key(log.as_str());
        invocation
            .key(seq_key(log))
            .arg(sealed_event.as_slice())
            .arg(cap.max(1))
            .arg(px(ttl));
        let reply = self
            .run(
                op("append_event script", NOT_A_LOG),
                Request::Script(invocation),
            )
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
        cmd.arg(log.as_str()).arg(format!("({after}-0")).arg("+");
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

// === impl Inner ===

impl Inner {
    /// Sends `request`, once more if the connection was refused (nothing was
    /// sent) or, with Sentinel, the server turned out to be a replica
    /// (nothing was written; the next lookup finds the new primary).
    async fn run(&self, op: Op, request: &Request<'_>) -> Result<Value, Error> {
        let mut retried = false;
        loop {
            let node = self.node().await?;
            let result = match request {
                Request::Cmd(cmd) => cmd.query_async::<Value>(&mut node.conn.clone()).await,
                Request::Script(script) => {
                    script.invoke_async::<Value>(&mut node.conn.clone()).await
                }
                Request::Acked(pipe) => pipe.query_async::<Value>(&mut node.acked.clone()).await,
            };
            let err = match result {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            let sentinel = self.is_sentinel();
            let retry = err.is_connection_refusal() || (sentinel && is_read_only(&err));
            if sentinel && (retry || err.is_io_error() || err.is_unrecoverable_error()) {
                self.forget(&node);
            }
            if retry && !retried {
                retried = true;
                continue;
            }
            return Err(map_error(op, &node.addr, &err));
        }
    }

    /// The connection to use: created on first use (`redis://`) or after a
    /// Sentinel lookup of the current primary.
    async fn node(&self) -> Result<Arc<Node>, Error> {
        if let Some(node) = self.lock_node().clone() {
            return Ok(node);
        }
        match &self.target {
            Target::Direct { client, addr } => {
                let mut slot = self.lock_node();
                if let Some(node) = slot.clone() {
                    return Ok(node);
                }
                let node = self.new_node(client, addr.clone())?;
                Ok(slot.insert(node).clone())
            }
            Target::Sentinel(sentinel) => {
                let mut sentinel = sentinel.lock().await;
                if let Some(node) = self.lock_node().clone() {
                    return Ok(node);
                }
                let client = sentinel.async_get_client().await.map_err(|e| {
                    let detail = match e.kind() {
                        ErrorKind::MasterNameNotFoundBySentinel => {
                            "the Sentinels know no healthy primary by that name".to_string()
                        }
                        _ => describe(&e),
                    };
                    Error::Unavailable(format!(
                        "no reachable Redis {}: {detail}; during a failover this clears within \
                         seconds, otherwise check the master name in store.url and the Sentinels",
                        self.endpoint.describe(),
                    ))
                })?;
                let addr = client.get_connection_info().addr().to_string();
                tracing::info!(primary = %addr, "Redis primary found via Sentinel");
                let node = self.new_node(&client, addr)?;
                *self.lock_node() = Some(node.clone());
                Ok(node)
            }
        }
    }

    /// Lazy connections to `client`'s server: nothing connects yet.
    fn new_node(&self, client: &redis::Client, addr: String) -> Result<Arc<Node>, Error> {
        let manager = || {
            ConnectionManager::new_lazy_with_config(client.clone(), self.manager_config())
                .map_err(|e| map_error(PING, &addr, &e))
        };
        let (conn, acked) = (manager()?, manager()?);
        Ok(Arc::new(Node { addr, conn, acked }))
    }

    fn is_sentinel(&self) -> bool {
        matches!(self.target, Target::Sentinel(_))
    }

    /// Drops `node` unless another task already replaced it.
    fn forget(&self, node: &Arc<Node>) {
        let mut slot = self.lock_node();
        if slot
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, node))
        {
            tracing::debug!(primary = %node.addr, "forgetting Redis primary after an error");
            *slot = None;
        }
    }

    fn manager_config(&self) -> ConnectionManagerConfig {
        // One quick retry inside the manager; the operation timeout bounds
        // everything and the next operation triggers the next attempt.
        ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.options.timeout))
            .set_response_timeout(Some(self.options.timeout))
            .set_number_of_retries(1)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500))
    }

    fn lock_node(&self) -> MutexGuard<'_, Option<Arc<Node>>> {
        // Only an `Option<Arc>` is guarded; a poisoned lock is still usable.
        self.node.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `at HOST:PORT`, or the Sentinel form with the last primary found.
    fn describe(&self) -> String {
        match (&self.endpoint, self.lock_node().as_ref()) {
            (Endpoint::Direct(_), _) => format!("at {}", self.endpoint.describe()),
            (Endpoint::Sentinel(_), Some(node)) => {
                format!("{} (last at {})", self.endpoint.describe(), node.addr)
            }
            (Endpoint::Sentinel(_), None) => self.endpoint.describe(),
        }
    }
}

// === helpers ===

const PING: Op = op("PING", NOT_A_RECORD);

const fn op(name: &'static str, wrong_type: &'static str) -> Op {
    Op { name, wrong_type }
}

fn seq_key(log: &RecordKey) -> String {
    format!("{}:seq", log.as_str())
}

/// A TTL as Redis' `PX` argument: whole ms, at least 1, at most 100 years.
fn px(ttl: Duration) -> u64 {
    ttl_millis(ttl).min(MAX_TTL_MS)
}

fn int(reply: &Value, what: &'static str) -> Result<i64, Error> {
    match reply {
        Value::Int(n) => Ok(*n),
        _ => Err(unexpected(what)),
    }
}

/// `SET … NX` replies OK when it wrote, nil when the key existed.
fn created(reply: &Value) -> Result<bool, Error> {
    match reply {
        Value::Okay => Ok(true),
        Value::Nil => Ok(false),
        _ => Err(unexpected("SET NX")),
    }
}

/// `[[id, [field, value]], …]` into `(seq, value)`, ids being `seq-0`.
fn parse_xrange(reply: Value) -> Result<Vec<(u64, Vec<u8>)>, Error> {
    const BAD: Error = Error::Corrupt("unexpected XRANGE reply from Redis (not a Berth event log)");
    let Value::Array(entries) = reply else {
        return Err(BAD);
    };
    entries
        .into_iter()
        .map(|entry| {
            let Value::Array(entry) = entry else {
                return Err(BAD);
            };
            let [Value::BulkString(id), Value::Array(fields)] =
                <[Value; 2]>::try_from(entry).map_err(|_| BAD)?
            else {
                return Err(BAD);
            };
            let seq = std::str::from_utf8(&id)
                .ok()
                .and_then(|id| id.strip_suffix("-0"))
                .and_then(|seq| seq.parse::<u64>().ok())
                .ok_or(BAD)?;
            let [Value::BulkString(field), Value::BulkString(value)] =
                <[Value; 2]>::try_from(fields).map_err(|_| BAD)?
            else {
                return Err(BAD);
            };
            if field != EVENT_FIELD {
                return Err(BAD);
            }
            Ok((seq, value))
        })
        .collect()
}

fn is_read_only(err: &RedisError) -> bool {
    err.kind() == ErrorKind::Server(ServerErrorKind::ReadOnly) || err.code() == Some("READONLY")
}

fn unexpected(what: &'static str) -> Error {
    Error::Unavailable(format!(
        "unexpected reply to {what} from Redis; is store.url pointing at a Redis 6.2+ server?"
    ))
}

/// Maps a Redis error to the crate's error, with a log-safe message.
fn map_error(op: Op, addr: &str, err: &RedisError) -> Error {
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
fn describe(err: &RedisError) -> String {
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

#[cfg(test)]
mod tests;
