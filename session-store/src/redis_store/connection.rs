//! The connections of a [`RedisStore`](super::RedisStore): found on first
//! use (directly, through Sentinel, or from a cluster's seed nodes),
//! forgotten after errors that make a primary suspect, and the retries of
//! operations that were not applied (a refused connection, a cluster's
//! redirections and `TRYAGAIN`).
//!
//! Imports: `endpoint`, `options`, `errors`, `commands`, `request` and the
//! crate's `error`. Must not import `redis_store.rs` (the store that drives it).

use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Mutex, MutexGuard};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::{ClusterClient, ClusterConfig};
use redis::cluster_async::ClusterConnection;
use redis::sentinel::SentinelClient;
use redis::{ConnectionAddr, ErrorKind, Value};

use super::commands::{APPEND_EVENT_LUA, COMPARE_AND_PUT_LUA};
use super::endpoint::{Endpoint, join_addrs};
use super::errors::{
    NOT_A_RECORD, Op, cluster_connect_error, describe, is_not_a_cluster, is_not_applied_in_cluster,
    is_read_only, is_try_again, map_error, op, redirected_too_often,
};
use super::options::RedisOptions;
use super::request::{LuaScript, Redirect, Request, send, send_redirected};
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
    pub(super) compare_and_put: LuaScript,
    /// The `append_event` script.
    pub(super) append_event: LuaScript,
}

/// How to reach the server.
enum Target {
    /// One server; its [`ConnectionManager`] reconnects by itself.
    Direct { client: redis::Client, addr: String },
    /// Whichever primary the Sentinels name (lookups are serialized: they
    /// need `&mut`).
    Sentinel(tokio::sync::Mutex<SentinelClient>),
    /// A Redis Cluster: its connection follows the slot map by itself
    /// (redirections, failovers, nodes coming back); connecting is
    /// serialized so one burst of first operations reads the map once.
    Cluster {
        client: ClusterClient,
        /// The seed nodes, `HOST:PORT,…`.
        seeds: String,
        connecting: tokio::sync::Mutex<()>,
    },
}

/// Connections to one server, or to every primary of a cluster.
struct Node {
    /// `HOST:PORT` (the seed nodes, for a cluster), for messages.
    addr: String,
    /// `Redis at HOST:PORT` or `Redis Cluster at HOST:PORT,…`, for
    /// messages.
    who: String,
    /// Every operation but acknowledged writes.
    conn: Conn,
    /// Writes followed by `WAIT`: Redis blocks the whole connection during
    /// `WAIT`, so it must not be the one every other operation shares.
    acked: Conn,
}

/// One connection (a cheap clone of a shared multiplexed one).
#[derive(Clone)]
enum Conn {
    /// To one server, reconnecting by itself (connects on first use).
    Single(ConnectionManager),
    /// To every node of a cluster, each command sent to the primary of
    /// its key's slot (`PING` to every node; a pipeline to the slot of its
    /// first key, so `WAIT` follows its write).
    Cluster(ClusterConnection),
}

/// The operation named in errors of connecting.
const PING: Op = op("PING", NOT_A_RECORD);

/// How many `MOVED` or `ASK` redirections one operation follows (a slot
/// that moved on while the command was redirected is followed again).
const MAX_REDIRECTS: u32 = 5;

/// The first pause before trying a `TRYAGAIN` operation again; each pause
/// doubles, up to [`TRY_AGAIN_MAX_PAUSE`].
const TRY_AGAIN_FIRST_PAUSE: Duration = Duration::from_millis(5);

/// The longest pause between `TRYAGAIN` attempts.
const TRY_AGAIN_MAX_PAUSE: Duration = Duration::from_millis(100);

// === impl Inner ===

impl Inner {
    /// The shared state of a store for `endpoint`; connects nothing yet.
    pub(super) fn new(endpoint: Endpoint, options: RedisOptions) -> Result<Inner, Error> {
        let target = match &endpoint {
            Endpoint::Direct(info) => Target::Direct {
                addr: info.addr().to_string(),
                client: match info.addr() {
                    ConnectionAddr::TcpTls { .. } => {
                        redis::Client::build_with_tls(info.clone(), options.tls.certificates())
                    }
                    _ => redis::Client::open(info.clone()),
                }
                .map_err(|e| Error::InvalidUrl(describe(&e)))?,
            },
            Endpoint::Sentinel(s) => {
                Target::Sentinel(tokio::sync::Mutex::new(s.client(&options.tls)?))
            }
            Endpoint::Cluster(c) => Target::Cluster {
                client: c.client(options.timeout, &options.tls)?,
                seeds: join_addrs(&c.nodes),
                connecting: tokio::sync::Mutex::new(()),
            },
        };
        Ok(Inner {
            endpoint,
            target,
            options,
            node: Mutex::new(None),
            compare_and_put: LuaScript::new(COMPARE_AND_PUT_LUA),
            append_event: LuaScript::new(APPEND_EVENT_LUA),
        })
    }

    /// Sends `request`, once more if the connection was refused (nothing was
    /// sent) or, with Sentinel, the server turned out to be a replica
    /// (nothing was written; the next lookup finds the new primary) or, in
    /// a cluster, the node had no primary connection or was just demoted
    /// (`READONLY`; the cluster client reads the slot map again before the
    /// retry). In a cluster a `MOVED` or `ASK` redirection is followed to
    /// the node it names (up to [`MAX_REDIRECTS`] times), and `TRYAGAIN` (a
    /// multi-key script whose keys are split by a slot migration in
    /// progress) is tried again after a pause until the migration has moved
    /// them all; the caller's timeout bounds both, and `try_again` counts
    /// the `TRYAGAIN` replies so that a timeout can name a migration that
    /// never finishes. None of these replies means anything was written.
    pub(super) async fn run(
        &self,
        op: Op,
        request: &Request<'_>,
        try_again: &mut u32,
    ) -> Result<Value, Error> {
        let mut retried = false;
        let mut redirect: Option<Redirect> = None;
        let (mut redirects, mut pause) = (0, TRY_AGAIN_FIRST_PAUSE);
        loop {
            let node = self.node().await?;
            let conn = match request {
                Request::Acked(_) => node.acked.clone(),
                Request::Cmd(_) | Request::Script(_) => node.conn.clone(),
            };
            let result = match (conn, redirect.take()) {
                (Conn::Single(mut conn), _) => send(&mut conn, request).await,
                (Conn::Cluster(mut conn), None) => send(&mut conn, request).await,
                (Conn::Cluster(mut conn), Some(to)) => {
                    send_redirected(&mut conn, &to, request).await
                }
            };
            let err = match result {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            if self.is_cluster() {
                if let Some(to) = Redirect::of(&err) {
                    if redirects == MAX_REDIRECTS {
                        return Err(redirected_too_often(op, &node.who, redirects, &err));
                    }
                    redirects += 1;
                    redirect = Some(to);
                    continue;
                }
                if is_try_again(&err) {
                    *try_again += 1;
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(TRY_AGAIN_MAX_PAUSE);
                    continue;
                }
            }
            let sentinel = self.is_sentinel();
            let retry = err.is_connection_refusal()
                || (sentinel && is_read_only(&err))
                || (self.is_cluster() && is_not_applied_in_cluster(&err));
            if sentinel && (retry || err.is_io_error() || err.is_unrecoverable_error()) {
                self.forget(&node);
            }
            if retry && !retried {
                retried = true;
                continue;
            }
            return Err(map_error(op, &node.who, &err));
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
            Target::Cluster {
                client,
                seeds,
                connecting,
            } => self
                .cluster_node(client, seeds, connecting)
                .await
                .map_err(|(e, _)| e),
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

    /// Connects to a cluster (unless another task just did): reads the slot
    /// map, which proves the seeds are a cluster. The error says whether
    /// the nodes answered but are not a cluster.
    async fn cluster_node(
        &self,
        client: &ClusterClient,
        seeds: &str,
        connecting: &tokio::sync::Mutex<()>,
    ) -> Result<Arc<Node>, (Error, bool)> {
        let _connecting = connecting.lock().await;
        if let Some(node) = self.lock_node().clone() {
            return Ok(node);
        }
        let who = format!("Redis Cluster at {seeds}");
        let conn = client
            .get_async_connection()
            .await
            .map_err(|e| (cluster_connect_error(&who, &e), is_not_a_cluster(&e)))?;
        // Connects in the background, when an acknowledged write first
        // needs it.
        let acked = client.get_pending_async_connection_with_config(
            ClusterConfig::new()
                .set_connection_timeout(self.options.timeout)
                .set_response_timeout(self.options.timeout),
        );
        tracing::info!(cluster = %seeds, "connected to the Redis Cluster");
        let node = Arc::new(Node {
            addr: seeds.to_string(),
            who,
            conn: Conn::Cluster(conn),
            acked: Conn::Cluster(acked),
        });
        *self.lock_node() = Some(node.clone());
        Ok(node)
    }

    /// For a cluster: connects now, failing only if the seed nodes answered
    /// and are not a cluster (unreachable nodes are left to the first
    /// operation). Other stores: nothing to check.
    pub(super) async fn check_cluster(&self) -> Result<(), Error> {
        let Target::Cluster {
            client,
            seeds,
            connecting,
        } = &self.target
        else {
            return Ok(());
        };
        match self.cluster_node(client, seeds, connecting).await {
            Err((e, true)) => Err(e),
            Err((_, false)) | Ok(_) => Ok(()),
        }
    }

    /// Lazy connections to `client`'s server: nothing connects yet.
    fn new_node(&self, client: &redis::Client, addr: String) -> Result<Arc<Node>, Error> {
        let who = format!("Redis at {addr}");
        let manager = || {
            ConnectionManager::new_lazy_with_config(client.clone(), self.manager_config())
                .map_err(|e| map_error(PING, &who, &e))
        };
        let (conn, acked) = (manager()?, manager()?);
        Ok(Arc::new(Node {
            addr,
            who,
            conn: Conn::Single(conn),
            acked: Conn::Single(acked),
        }))
    }

    /// Whether the primary is found through Sentinels.
    pub(super) fn is_sentinel(&self) -> bool {
        matches!(self.target, Target::Sentinel(_))
    }

    /// Whether the store is a Redis Cluster (keys get hash tags).
    pub(super) fn is_cluster(&self) -> bool {
        matches!(self.target, Target::Cluster { .. })
    }

    /// Drops `node` unless another task already replaced it.
    fn forget(&self, node: &Arc<Node>) {
        let mut slot = self.lock_node();
        if slot
            .as_ref()
            .is_some_and(|current| Arc::ptr_eq(current, node))
        {
            tracing::debug!(primary = %node.who, "forgetting Redis primary after an error");
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

    /// `at HOST:PORT`, or the Sentinel form with the last primary found,
    /// or `Cluster at HOST:PORT,…`.
    pub(super) fn describe(&self) -> String {
        match (&self.endpoint, self.lock_node().as_ref()) {
            (Endpoint::Direct(_), _) => format!("at {}", self.endpoint.describe()),
            (Endpoint::Cluster(_), _) => self.endpoint.describe(),
            (Endpoint::Sentinel(_), Some(node)) => {
                format!("{} (last at {})", self.endpoint.describe(), node.addr)
            }
            (Endpoint::Sentinel(_), None) => self.endpoint.describe(),
        }
    }
}
