//! The connections of a [`RedisStore`](super::RedisStore): found on first
//! use (directly or through Sentinel), forgotten after errors that make a
//! primary suspect, and the one retry of an operation that was not applied.
//!
//! Imports: `endpoint`, `options`, `errors`, `commands` and the crate's
//! `error`. Must not import `redis_store.rs` (the store that drives it).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::sentinel::SentinelClient;
use redis::{Cmd, ErrorKind, Pipeline, Script, ScriptInvocation, Value};

use super::commands::{APPEND_EVENT_LUA, COMPARE_AND_PUT_LUA};
use super::endpoint::Endpoint;
use super::errors::{NOT_A_RECORD, Op, describe, is_read_only, map_error, op};
use super::options::RedisOptions;
use crate::error::Error;

/// What every clone of a [`RedisStore`](super::RedisStore) shares.
pub(super) struct Inner {
    /// Where the server is, as parsed from `store.url`.
    pub(super) endpoint: Endpoint,
    target: Target,
    /// The options in effect.
    pub(super) options: RedisOptions,
    /// The connection in use; `None` until first use, and (with Sentinel)
    /// after an error made the primary suspect.
    node: Mutex<Option<Arc<Node>>>,
    /// The `compare_and_put` script.
    pub(super) compare_and_put: Script,
    /// The `append_event` script.
    pub(super) append_event: Script,
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
pub(super) enum Request<'a> {
    /// One command.
    Cmd(Cmd),
    /// One script call.
    Script(ScriptInvocation<'a>),
    /// A write then `WAIT`, sent together on [`Node::acked`] (`WAIT` covers
    /// the writes of its own connection).
    Acked(Pipeline),
}

/// The operation named in errors of connecting.
const PING: Op = op("PING", NOT_A_RECORD);

// === impl Inner ===

impl Inner {
    /// The shared state of a store for `endpoint`; connects nothing yet.
    pub(super) fn new(endpoint: Endpoint, options: RedisOptions) -> Result<Inner, Error> {
        let target = match &endpoint {
            Endpoint::Direct(info) => Target::Direct {
                addr: info.addr().to_string(),
                client: redis::Client::open(info.clone()).map_err(|e| {
                    Error::Unavailable(format!("invalid store.url: {}", describe(&e)))
                })?,
            },
            Endpoint::Sentinel(s) => Target::Sentinel(tokio::sync::Mutex::new(s.client()?)),
        };
        Ok(Inner {
            endpoint,
            target,
            options,
            node: Mutex::new(None),
            compare_and_put: Script::new(COMPARE_AND_PUT_LUA),
            append_event: Script::new(APPEND_EVENT_LUA),
        })
    }

    /// Sends `request`, once more if the connection was refused (nothing was
    /// sent) or, with Sentinel, the server turned out to be a replica
    /// (nothing was written; the next lookup finds the new primary).
    pub(super) async fn run(&self, op: Op, request: &Request<'_>) -> Result<Value, Error> {
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

    /// Whether the primary is found through Sentinels.
    pub(super) fn is_sentinel(&self) -> bool {
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

    /// Drops the connection in use, whichever it is (a primary that stopped
    /// answering may have been replaced).
    pub(super) fn forget_current(&self) {
        self.lock_node().take();
    }

    /// The connection in use, locked (never across an `.await`).
    fn lock_node(&self) -> MutexGuard<'_, Option<Arc<Node>>> {
        self.node.lock()
    }

    /// `at HOST:PORT`, or the Sentinel form with the last primary found.
    pub(super) fn describe(&self) -> String {
        match (&self.endpoint, self.lock_node().as_ref()) {
            (Endpoint::Direct(_), _) => format!("at {}", self.endpoint.describe()),
            (Endpoint::Sentinel(_), Some(node)) => {
                format!("{} (last at {})", self.endpoint.describe(), node.addr)
            }
            (Endpoint::Sentinel(_), None) => self.endpoint.describe(),
        }
    }
}
