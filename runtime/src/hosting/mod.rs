//! Hosting sessions: who owns which backend instance, and their lifecycle.
//!
//! [`Sessions`] is the pod's hot map of open hosting sessions, keyed by the
//! per-user hashed record key (so the map itself never holds a session id in
//! the clear). A lookup re-derives the key from the caller's identity: a
//! stolen session id presented by another subject derives another key and
//! finds nothing (HTTP 404). A background sweeper answers overdue requests
//! and reaps idle sessions.
//!
//! # Layout
//! - [`session`]: one hosting session and its message routing.
//! - [`stream`]: replayable SSE event streams.
//! - [`journal`]: copies of resumable streams in the shared store, so any
//!   pod can replay them.
//! - [`record`]: the sealed session record kept in the `SessionStore`.
//! - [`restore`]: finding a session another pod started, and taking it
//!   over when that pod is gone.
//! - [`principal`]: the hosting session of a stateless (2026-07-28)
//!   principal, owned by one pod of the cluster at a time.

pub mod journal;
pub mod principal;
pub mod record;
pub mod restore;
pub mod session;
pub mod stream;

pub use self::principal::PrincipalSession;
pub use self::restore::Located;
pub use self::session::{HostingSession, SessionIdentity};
pub use self::stream::{EventId, EventStream, Next};

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use berth_session_store::{KeyRing, RecordKey, SealedStore, SessionBinding};
use dashmap::DashMap;
use rand::RngCore;
use tokio_util::sync::CancellationToken;

use crate::backend::{Backend, BackendError, InstanceLabels, SecretEnv, ServerSpec};
use crate::cluster::{Cluster, HEARTBEAT_EVERY, Lease, Owner};
use crate::config::{Config, ServerConfig};
use crate::jsonrpc::{ErrorCode, RpcError};
use crate::secrets::Secrets;

/// How often the sweeper checks deadlines and idleness.
const SWEEP_EVERY: Duration = Duration::from_millis(250);

/// After a server fails to start, new sessions of it fail fast for this
/// long instead of spawning again (no retry storms from eager agents).
const START_FAILURE_HOLD: Duration = Duration::from_secs(5);

/// Cached derived keys before the cache starts over.
const FAST_KEYS_MAX: usize = 100_000;

/// Marker used as the "session id" of a stateless principal's hosting
/// session: it never collides with a real id (those are base64url).
const STATELESS_MARKER: &str = "~stateless";

/// The pod's open hosting sessions.
#[derive(Clone)]
pub struct Sessions {
    shared: Arc<Shared>,
}

struct Shared {
    map: DashMap<RecordKey, Entry>,
    /// Serializes the start of each stateless hosting session, so
    /// concurrent first requests share one instance.
    starting: DashMap<RecordKey, Arc<tokio::sync::Mutex<()>>>,
    /// Derived record keys by (tenant, server, subject, session id).
    fast_keys: DashMap<Box<str>, RecordKey>,
    /// Recent start failures per (tenant, server).
    failures: DashMap<(String, String), (tokio::time::Instant, String)>,
    backend: Arc<dyn Backend>,
    keys: KeyRing,
    store: SealedStore,
    cluster: Cluster,
    /// Deployment secrets (Vault).
    secrets: Arc<Secrets>,
    /// Sessions are handed to other pods at shutdown (shared store).
    handoff: bool,
    /// The store is shared with other pods: resumable streams are
    /// journaled and stateless principals' sessions are leased.
    shared_store: bool,
    pod: String,
    stream_cap: usize,
    max_sessions: usize,
    max_message_bytes: usize,
    shutdown_grace: Duration,
    default_timeout: Duration,
}

#[derive(Clone)]
struct Entry {
    session: Arc<HostingSession>,
    idle_timeout: Duration,
    request_timeout: Duration,
    /// Legacy sessions hold an ownership lease (renewed by the heartbeat)
    /// and a record whose TTL slides with use.
    leased: bool,
}

/// A freshly created legacy session.
pub struct NewSession {
    /// The `Mcp-Session-Id` to hand to the agent.
    pub session_id: String,
    /// The hosting session.
    pub session: Arc<HostingSession>,
    /// Binding for the session's sealed record.
    pub binding: SessionBinding,
}

// === impl Sessions ===

impl Sessions {
    /// Creates the session map and starts its sweeper (stopped by `shutdown`).
    pub fn new(
        config: &Config,
        backend: Arc<dyn Backend>,
        keys: KeyRing,
        store: SealedStore,
        cluster: Cluster,
        secrets: Arc<Secrets>,
        shutdown: CancellationToken,
    ) -> Self {
        let pod = cluster.pod().to_owned();
        let sessions = Sessions {
            shared: Arc::new(Shared {
                map: DashMap::new(),
                starting: DashMap::new(),
                failures: DashMap::new(),
                fast_keys: DashMap::new(),
                backend,
                keys,
                store,
                cluster,
                secrets,
                handoff: config.cluster.handoff_on_shutdown && config.store.url != "memory",
                shared_store: config.store.url != "memory",
                pod,
                stream_cap: config.limits.stream_events,
                max_sessions: config.limits.max_sessions,
                max_message_bytes: config.limits.max_message_bytes,
                shutdown_grace: config.limits.shutdown_grace.min(Duration::from_secs(5)),
                default_timeout: config.limits.request_timeout,
            }),
        };
        tokio::spawn(sessions.clone().sweep(shutdown.clone()));
        tokio::spawn(sessions.clone().heartbeat(shutdown));
        sessions
    }

    /// The cluster view (leases, forwarding).
    pub fn cluster(&self) -> &Cluster {
        &self.shared.cluster
    }

    /// The sealed record store.
    pub fn store(&self) -> &SealedStore {
        &self.shared.store
    }

    /// The session key ring.
    pub fn keys(&self) -> &KeyRing {
        &self.shared.keys
    }

    /// Number of open hosting sessions.
    pub fn len(&self) -> usize {
        self.shared.map.len()
    }

    /// True when no session is open.
    pub fn is_empty(&self) -> bool {
        self.shared.map.is_empty()
    }

    /// Derives the binding of a legacy session for this caller, under the
    /// bind key the session id names (`random.keyid`, see
    /// [`Sessions::new_legacy_id`]): a session created before a bind-key
    /// rotation keeps its record key while its key stays in the ring.
    pub fn bind(
        &self,
        tenant: &str,
        server: &str,
        subject: &str,
        session_id: &str,
    ) -> SessionBinding {
        let keys = &self.shared.keys;
        session_id
            .split_once('.')
            .filter(|(_, kid)| *kid != keys.current_bind_id())
            .and_then(|(_, kid)| {
                keys.bind_with(kid, tenant, server, subject, session_id)
                    .ok()
            })
            .unwrap_or_else(|| keys.bind(tenant, server, subject, session_id))
    }

    /// A new legacy session id: 256 random bits, then the id of the bind
    /// key its binding is derived under.
    pub fn new_legacy_id(&self) -> String {
        format!(
            "{}.{}",
            new_session_id(),
            self.shared.keys.current_bind_id()
        )
    }

    /// Finds an open session; `None` for unknown ids and other users' ids alike.
    pub fn find(&self, binding: &SessionBinding) -> Option<Arc<HostingSession>> {
        let entry = self.shared.map.get(binding.record_key())?;
        let session = entry.session.clone();
        drop(entry);
        session.touch();
        Some(session)
    }

    /// The hot-path lookup of a legacy session: the session and its
    /// server's request timeout. The derived record key is cached per
    /// (tenant, server, subject, session id), so another subject presenting
    /// the same id still derives its own key and finds nothing.
    pub fn find_legacy(
        &self,
        tenant: &str,
        server: &str,
        subject: &str,
        session_id: &str,
    ) -> Option<(Arc<HostingSession>, Duration)> {
        let mut fast = String::with_capacity(
            tenant.len() + server.len() + subject.len() + session_id.len() + 3,
        );
        for (i, part) in [tenant, server, subject, session_id]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                fast.push('\0');
            }
            fast.push_str(part);
        }
        let key = match self.shared.fast_keys.get(fast.as_str()) {
            Some(k) => k.clone(),
            None => {
                let k = self
                    .bind(tenant, server, subject, session_id)
                    .record_key()
                    .clone();
                if self.shared.fast_keys.len() >= FAST_KEYS_MAX {
                    self.shared.fast_keys.clear();
                }
                self.shared
                    .fast_keys
                    .insert(fast.into_boxed_str(), k.clone());
                k
            }
        };
        let entry = self.shared.map.get(&key)?;
        let found = (entry.session.clone(), entry.request_timeout);
        drop(entry);
        found.0.touch();
        Some(found)
    }

    /// The request timeout of the session's server.
    pub fn request_timeout(&self, binding: &SessionBinding) -> Duration {
        self.shared
            .map
            .get(binding.record_key())
            .map(|e| e.request_timeout)
            .unwrap_or(self.shared.default_timeout)
    }

    /// Starts a new legacy (Mcp-Session-Id) hosting session and its instance.
    pub async fn create_legacy(
        &self,
        tenant: &str,
        server: &str,
        subject: &str,
        config: &ServerConfig,
    ) -> Result<NewSession, RpcError> {
        let session_id = self.new_legacy_id();
        let binding = self.bind(tenant, server, subject, &session_id);
        let session = self
            .start(tenant, server, subject, config, &binding, true)
            .await?;
        self.start_journal(&session, &binding, config);
        Ok(NewSession {
            session_id,
            session,
            binding,
        })
    }

    /// Starts a hosting session's instance and registers the session;
    /// `leased` sessions (legacy) can be taken over by other pods.
    async fn start(
        &self,
        tenant: &str,
        server: &str,
        subject: &str,
        config: &ServerConfig,
        binding: &SessionBinding,
        leased: bool,
    ) -> Result<Arc<HostingSession>, RpcError> {
        let (session, labels) = self.prepare(tenant, server, subject, binding, leased, None)?;
        if leased {
            self.shared
                .cluster
                .claim_new(binding.record_key())
                .await
                .map_err(store_unavailable)?;
        }
        let spec = self.start_spec(tenant, server, subject, config).await?;
        let instance = self
            .shared
            .backend
            .start(&spec, &labels, session.clone())
            .await
            .map_err(|e| self.start_error(tenant, server, e))?;
        session.attach(instance);
        self.register(binding, session.clone(), config, leased);
        Ok(session)
    }

    /// Checks the pod's limits and builds an unattached session.
    fn prepare(
        &self,
        tenant: &str,
        server: &str,
        subject: &str,
        binding: &SessionBinding,
        leased: bool,
        journal: Option<journal::Restored>,
    ) -> Result<(Arc<HostingSession>, InstanceLabels), RpcError> {
        if self.shared.map.len() >= self.shared.max_sessions {
            return Err(RpcError::new(
                ErrorCode::BackendUnavailable,
                "this Berth pod is at its session limit (limits.max_sessions); retry later or add pods",
            ));
        }
        if let Some(f) = self
            .shared
            .failures
            .get(&(tenant.to_owned(), server.to_owned()))
        {
            let (at, reason) = f.value();
            if at.elapsed() < START_FAILURE_HOLD {
                let wait = (START_FAILURE_HOLD - at.elapsed()).as_secs() + 1;
                return Err(RpcError::new(
                    ErrorCode::BackendUnavailable,
                    format!("{reason} (not retried for another {wait}s)"),
                ));
            }
        }
        let label = binding
            .record_key()
            .as_str()
            .rsplit(':')
            .next()
            .unwrap_or_default()[..12]
            .to_owned();
        let identity = SessionIdentity {
            tenant: tenant.to_owned(),
            server: server.to_owned(),
            subject: subject.to_owned(),
            label: label.clone(),
        };
        let session = match journal {
            Some(journal) => HostingSession::resumed(identity, self.shared.stream_cap, journal),
            None => HostingSession::new(identity, self.shared.stream_cap),
        };
        let labels = InstanceLabels {
            session: label,
            pod: self.shared.pod.clone(),
            lease: leased.then(|| Cluster::lease_key(binding.record_key()).as_str().to_owned()),
        };
        Ok((session, labels))
    }

    /// Maps a failed start to the agent's error (and remembers hard
    /// failures so new sessions fail fast).
    fn start_error(&self, tenant: &str, server: &str, e: BackendError) -> RpcError {
        tracing::warn!(tenant, server, error = %e, "server instance failed to start");
        match e {
            BackendError::Capacity(_) | BackendError::Engine(_) => {
                RpcError::new(ErrorCode::Overloaded, e.to_string())
                    .with_data(serde_json::json!({"retryable": true}))
            }
            other => {
                self.record_start_failure(tenant, server, &other.to_string());
                RpcError::new(ErrorCode::BackendUnavailable, other.to_string())
            }
        }
    }

    /// Adds a started session to the hot map.
    fn register(
        &self,
        binding: &SessionBinding,
        session: Arc<HostingSession>,
        config: &ServerConfig,
        leased: bool,
    ) {
        self.shared.map.insert(
            binding.record_key().clone(),
            Entry {
                session,
                idle_timeout: config.idle_timeout,
                request_timeout: config
                    .request_timeout
                    .unwrap_or(self.shared.default_timeout),
                leased,
            },
        );
    }

    /// Runs `work` holding the start gate of the session under `key`, so
    /// concurrent first requests for one session do the slow path once.
    async fn gated<T>(&self, key: &RecordKey, work: impl std::future::Future<Output = T>) -> T {
        let gate = self.shared.starting.entry(key.clone()).or_default().clone();
        let _guard = gate.lock().await;
        let out = work.await;
        self.shared.starting.remove(key);
        out
    }

    /// Takes the session's lease unless another live pod holds it, in
    /// which case that pod's lease is returned.
    async fn lease_or_owner(&self, binding: &SessionBinding) -> Result<Option<Lease>, RpcError> {
        match self
            .shared
            .cluster
            .acquire(binding.record_key())
            .await
            .map_err(store_unavailable)?
        {
            Owner::Other(lease) => Ok(Some(lease)),
            Owner::Me | Owner::Taken => Ok(None),
        }
    }

    /// Journals a legacy session's resumable streams (shared store only).
    fn start_journal(
        &self,
        session: &HostingSession,
        binding: &SessionBinding,
        config: &ServerConfig,
    ) {
        if self.shared.shared_store {
            session.set_journal(self.journal(binding, config));
        }
    }

    /// The journal of a legacy session's resumable streams.
    fn journal(&self, binding: &SessionBinding, config: &ServerConfig) -> journal::Journal {
        journal::Journal::new(
            self.shared.store.clone(),
            binding.clone(),
            self.shared.stream_cap,
            config.idle_timeout,
        )
    }

    /// Remembers that `tenant/server` failed to start (spawn error, exit or
    /// refusal before `initialize` completed), so new sessions fail fast.
    pub fn record_start_failure(&self, tenant: &str, server: &str, reason: &str) {
        self.shared.failures.insert(
            (tenant.to_owned(), server.to_owned()),
            (tokio::time::Instant::now(), reason.to_owned()),
        );
    }

    /// Forgets start failures of `tenant/server` (it initialized fine).
    pub fn clear_start_failure(&self, tenant: &str, server: &str) {
        self.shared
            .failures
            .remove(&(tenant.to_owned(), server.to_owned()));
    }

    /// What the backend runs for `tenant/server` on behalf of `subject`:
    /// with the source of its header secrets; env secrets are read by
    /// [`Sessions::start_spec`] only when an instance starts.
    pub fn session_spec(
        &self,
        tenant: &str,
        server: &str,
        subject: &str,
        config: &ServerConfig,
    ) -> ServerSpec {
        let mut spec = self.spec(tenant, server, config);
        spec.call_headers = self.shared.secrets.headers(tenant, config, subject);
        spec
    }

    /// [`Sessions::session_spec`] with the env secrets read from Vault,
    /// for starting a new instance.
    pub async fn start_spec(
        &self,
        tenant: &str,
        server: &str,
        subject: &str,
        config: &ServerConfig,
    ) -> Result<ServerSpec, RpcError> {
        let mut spec = self.session_spec(tenant, server, subject, config);
        spec.secret_env = self
            .shared
            .secrets
            .env(tenant, server, config, subject)
            .await?;
        Ok(spec)
    }

    /// What the backend runs for `tenant/server`, caller-independent
    /// (warm pools).
    pub fn spec(&self, tenant: &str, server: &str, config: &ServerConfig) -> ServerSpec {
        ServerSpec {
            tenant: tenant.to_owned(),
            server: server.to_owned(),
            transport: config.transport,
            port: config.port,
            path: config.path.clone(),
            command: config.command.clone(),
            env: config.env.clone(),
            secret_env: SecretEnv::default(),
            call_headers: None,
            cwd: config.cwd.clone(),
            max_message_bytes: self.shared.max_message_bytes,
            shutdown_grace: self.shared.shutdown_grace,
            image: config.image.clone(),
            // Validated at start-up.
            memory_bytes: crate::config::parse_size(&config.memory).unwrap_or(256 << 20),
            nano_cpus: (config.cpus * 1e9) as i64,
            pids: config.pids,
            network: config.network.clone(),
            warm_pool: config.warm_pool,
            idle_timeout: config.idle_timeout,
        }
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.shared.backend
    }

    /// Ends a session: removes it, stops its instance, deletes its record.
    pub async fn remove(&self, binding: &SessionBinding) -> bool {
        let Some((_, entry)) = self.shared.map.remove(binding.record_key()) else {
            return false;
        };
        // The agent need not wait for the instance to stop.
        tokio::spawn(async move { entry.session.shutdown("the session was closed").await });
        if let Err(e) = self.shared.store.remove(binding).await {
            tracing::warn!(error = %e, "could not delete session record");
        }
        if entry.leased {
            self.shared.cluster.release(binding.record_key()).await;
        }
        true
    }

    /// Ends every session on this pod (pod shutdown). With a shared store
    /// and `cluster.handoff_on_shutdown`, legacy sessions are handed over
    /// instead: their containers
    /// keep running, their leases are released, and the next request on
    /// any pod re-attaches at once (process instances are stopped and
    /// re-created there from the record).
    pub async fn shutdown_all(&self) {
        let all: Vec<(RecordKey, Arc<HostingSession>, bool)> = self
            .shared
            .map
            .iter()
            .map(|e| (e.key().clone(), e.session.clone(), e.leased))
            .collect();
        self.shared.map.clear();
        let handoff = self.shared.handoff;
        let ends = all.iter().map(|(key, session, leased)| async move {
            if handoff && *leased {
                session
                    .detach("Berth is shutting down; the session moves to another pod")
                    .await;
                self.shared.cluster.release(key).await;
            } else {
                session.shutdown("Berth is shutting down").await;
            }
        });
        futures::future::join_all(ends).await;
    }

    async fn sweep(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(SWEEP_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            let now = tokio::time::Instant::now();
            let mut idle = Vec::new();
            let mut cancels = Vec::new();
            for e in self.shared.map.iter() {
                let s = &e.session;
                let c = s.expire_overdue(now);
                if !c.is_empty() {
                    cancels.push((s.clone(), c));
                }
                let dead = s.closed_reason().is_some();
                if dead || (!s.has_pending() && s.idle_for() >= e.idle_timeout) {
                    idle.push(e.key().clone());
                }
            }
            for (s, msgs) in cancels {
                for m in msgs {
                    let _ = s.send(m).await;
                }
            }
            for key in idle {
                if let Some((_, e)) = self.shared.map.remove(&key) {
                    tracing::info!(session = %e.session.identity().label, "reaping idle or ended session");
                    let _ = self.shared.store.store().delete(&key).await;
                    if e.leased {
                        self.shared.cluster.release(&key).await;
                    }
                    tokio::spawn(async move { e.session.shutdown("the session was idle").await });
                }
            }
        }
    }
}

impl Sessions {
    /// Renews the leases of this pod's legacy sessions and slides the TTL
    /// of the records of those used since the last beat.
    /// The lease of a session this pod serves lapsed (the pod stalled past
    /// it): take it back if nobody else did; if another pod took the
    /// session over, let go of the instance (a container runs on for its
    /// new owner; a process stops) and drop the local copy. `true` if the
    /// session is still this pod's.
    async fn lease_lost(&self, key: &RecordKey, session: &Arc<HostingSession>) -> bool {
        match self.shared.cluster.acquire(key).await {
            Ok(Owner::Me | Owner::Taken) => {
                tracing::info!(session = %session.identity().label, "a session lease lapsed while this pod held the session; took it back");
                true
            }
            Ok(Owner::Other(lease)) => {
                tracing::warn!(session = %session.identity().label, owner = %lease.pod, "lost a session lease to another pod; letting go of its instance");
                self.shared.map.remove(key);
                session
                    .detach("another Berth pod took this session over")
                    .await;
                false
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not check a lapsed session lease");
                false
            }
        }
    }

    async fn heartbeat(self, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(HEARTBEAT_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = shutdown.cancelled() => return,
            }
            let owned: Vec<(RecordKey, Arc<HostingSession>, Duration)> = self
                .shared
                .map
                .iter()
                .filter(|e| e.leased)
                .map(|e| (e.key().clone(), e.session.clone(), e.idle_timeout))
                .collect();
            for (key, session, idle) in owned {
                match self.shared.cluster.renew(&key).await {
                    Ok(true) => {}
                    Ok(false) => {
                        if !self.lease_lost(&key, &session).await {
                            continue;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "could not renew a session lease");
                        continue;
                    }
                }
                if session.idle_for() < HEARTBEAT_EVERY * 2 {
                    let _ = self.shared.store.store().touch(&key, idle).await;
                }
            }
        }
    }
}

/// The agent's error when the session store cannot be reached.
pub fn store_unavailable(e: berth_session_store::Error) -> RpcError {
    tracing::error!(error = %e, "session store unavailable");
    RpcError::new(ErrorCode::Overloaded, e.to_string())
        .with_data(serde_json::json!({"retryable": true}))
}

/// A new `Mcp-Session-Id`: 256 bits from the OS CSPRNG, base64url (visible ASCII).
pub fn new_session_id() -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
