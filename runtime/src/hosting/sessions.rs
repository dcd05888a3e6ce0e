//! [`Sessions`]: the pod's hosting sessions, as one cheap `Clone` handle
//! over parts with one job each: the session table, the start gate, the
//! start-failure hold, the dependencies (backend, keys, store, cluster,
//! secrets) and the settings.
//!
//! This file holds the handle, lookups and endings. Starting a session is
//! in `start`, finding or taking over one another pod started in
//! `restore`, a stateless principal's session in `principal`, the
//! background sweeps in `upkeep`.
//!
//! May import: `hosting::{table, gate, failures, route, session, error}`,
//! `cluster`, `secrets`, `servers`, `backend`, `config`, `protocol`.

use std::sync::Arc;
use std::time::Duration;

use berth_session_store::{KeyRing, SealedStore, SessionBinding};
use tokio_util::sync::CancellationToken;

use super::error::HostingError;
use super::failures::{HoldScope, StartFailures};
use super::gate::StartGate;
use super::route::Route;
use super::session::HostingSession;
use super::table::SessionTable;
use crate::backend::{Backend, ServerSpec};
use crate::cluster::Cluster;
use crate::config::Config;
use crate::protocol::random_id;
use crate::secrets::Secrets;
use crate::servers::{HostedServer, ServerTable};

/// Prefix of the "session id" of a stateless principal's hosting session:
/// it never collides with a real id (those are base64url).
const STATELESS_MARKER: &str = "~stateless";

/// The "session id" the hosting session of a stateless principal's
/// requests that agree on `variant` is bound under.
fn principal_session_id(variant: &str) -> String {
    format!("{STATELESS_MARKER}:{variant}")
}

/// The pod's open hosting sessions.
#[derive(Clone)]
pub(crate) struct Sessions {
    pub(super) shared: Arc<Shared>,
}

pub(super) struct Shared {
    pub(super) table: SessionTable,
    pub(super) gate: StartGate,
    pub(super) failures: StartFailures,
    pub(super) deps: Deps,
    pub(super) settings: Settings,
}

/// What sessions are made with.
pub(crate) struct Deps {
    /// Runs instances.
    pub(crate) backend: Arc<dyn Backend>,
    /// Session key ring (record keys, ids).
    pub(crate) keys: KeyRing,
    /// Sealed session records.
    pub(crate) store: SealedStore,
    /// Leases and forwarding.
    pub(crate) cluster: Cluster,
    /// Deployment secrets (Vault).
    pub(crate) secrets: Arc<Secrets>,
    /// The servers (versions a taken-over session started on).
    pub(crate) servers: ServerTable,
}

/// How sessions behave on this pod.
pub(super) struct Settings {
    /// Sessions are handed to other pods at shutdown (shared store).
    pub(super) handoff: bool,
    /// The store is shared with other pods: resumable streams are
    /// journaled and stateless principals' sessions are leased.
    pub(super) shared_store: bool,
    pub(super) pod: String,
    pub(super) stream_cap: usize,
    pub(super) max_sessions: usize,
    pub(super) default_timeout: Duration,
}

// === impl Sessions ===

impl Sessions {
    /// Creates the session table and starts its sweeper and heartbeat
    /// (stopped by `shutdown`).
    pub(crate) fn new(config: &Config, deps: Deps, shutdown: CancellationToken) -> Self {
        let shared_store = config.store.url != "memory";
        let settings = Settings {
            handoff: config.cluster.handoff_on_shutdown && shared_store,
            shared_store,
            pod: deps.cluster.pod().to_owned(),
            stream_cap: config.limits.stream_events,
            max_sessions: config.limits.max_sessions,
            default_timeout: config.limits.request_timeout,
        };
        let sessions = Sessions {
            shared: Arc::new(Shared {
                table: SessionTable::default(),
                gate: StartGate::default(),
                failures: StartFailures::default(),
                deps,
                settings,
            }),
        };
        tokio::spawn(sessions.clone().sweep(shutdown.clone()));
        tokio::spawn(sessions.clone().heartbeat(shutdown));
        sessions
    }

    /// The cluster view (leases, forwarding).
    pub(crate) fn cluster(&self) -> &Cluster {
        &self.shared.deps.cluster
    }

    /// The sealed record store.
    pub(crate) fn store(&self) -> &SealedStore {
        &self.shared.deps.store
    }

    /// The session key ring.
    pub(crate) fn keys(&self) -> &KeyRing {
        &self.shared.deps.keys
    }

    /// The backend.
    pub(crate) fn backend(&self) -> &Arc<dyn Backend> {
        &self.shared.deps.backend
    }

    /// The route of legacy session `session_id` for `subject`, bound under
    /// the bind key the id names (`random.keyid`): a session created before
    /// a bind-key rotation keeps its record key while its key stays in the
    /// ring.
    pub(crate) fn legacy_route(
        &self,
        server: &Arc<HostedServer>,
        subject: &str,
        session_id: &str,
    ) -> Route {
        Route {
            binding: self.bind(&server.tenant, &server.name, subject, session_id),
            server: server.clone(),
            subject: subject.to_owned(),
        }
    }

    /// The route of the hosting session shared by a stateless principal's
    /// requests to `server` that agree on `variant` (for a session-era
    /// server, the client capabilities their agents declared: a server
    /// told of a capability serves only agents that have it; one variant
    /// for a server that reads them from each request).
    pub(crate) fn principal_route(
        &self,
        server: &Arc<HostedServer>,
        subject: &str,
        variant: &str,
    ) -> Route {
        let (tenant, name) = (server.tenant.as_str(), server.name.as_str());
        let binding = self
            .shared
            .table
            .cached_principal_binding([tenant, name, subject, variant], || {
                self.bind(tenant, name, subject, &principal_session_id(variant))
            });
        Route {
            binding,
            server: server.clone(),
            subject: subject.to_owned(),
        }
    }

    fn bind(&self, tenant: &str, server: &str, subject: &str, session_id: &str) -> SessionBinding {
        let keys = &self.shared.deps.keys;
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
    pub(super) fn new_legacy_id(&self) -> String {
        format!(
            "{}.{}",
            random_id(),
            self.shared.deps.keys.current_bind_id()
        )
    }

    /// Finds an open session; `None` for unknown ids and other users' ids alike.
    pub(crate) fn find(&self, route: &Route) -> Option<Arc<HostingSession>> {
        let (session, _) = self.shared.table.get(route.record_key())?;
        session.touch();
        Some(session)
    }

    /// The hot-path lookup of a legacy session: the session and its
    /// server's request timeout. The derived record key is cached per
    /// (tenant, server, subject, session id), so another subject presenting
    /// the same id still derives its own key and finds nothing.
    pub(crate) fn find_legacy(
        &self,
        server: &HostedServer,
        subject: &str,
        session_id: &str,
    ) -> Option<(Arc<HostingSession>, Duration)> {
        let (tenant, name) = (server.tenant.as_str(), server.name.as_str());
        let key = self
            .shared
            .table
            .cached_key([tenant, name, subject, session_id], || {
                self.bind(tenant, name, subject, session_id)
                    .record_key()
                    .clone()
            });
        let found = self.shared.table.get(&key)?;
        found.0.touch();
        Some(found)
    }

    /// The request timeout of the session's server.
    pub(crate) fn request_timeout(&self, route: &Route) -> Duration {
        self.shared
            .table
            .request_timeout(route.record_key())
            .unwrap_or(self.shared.settings.default_timeout)
    }

    /// What the backend runs for `route`'s server on behalf of its
    /// principal: with the source of its header secrets; env secrets are
    /// read by [`Sessions::start_spec`] only when an instance starts.
    pub(super) fn session_spec(&self, route: &Route) -> ServerSpec {
        let mut spec = route.server.spec.clone();
        spec.call_headers =
            self.shared
                .deps
                .secrets
                .headers(route.tenant(), route.config(), &route.subject);
        spec
    }

    /// [`Sessions::session_spec`] with the env secrets read from Vault,
    /// for starting a new instance.
    pub(super) async fn start_spec(&self, route: &Route) -> Result<ServerSpec, HostingError> {
        let mut spec = self.session_spec(route);
        spec.secret_env = self
            .shared
            .deps
            .secrets
            .env(
                route.tenant(),
                route.server_name(),
                route.config(),
                &route.subject,
            )
            .await?;
        Ok(spec)
    }

    /// Remembers that `server` could not be started at all (its command
    /// or image is missing, the spawn failed): new sessions of this
    /// definition fail fast, for everyone.
    pub(super) fn record_start_failure(&self, server: &HostedServer, reason: &str) {
        self.shared.failures.record(
            &server.tenant,
            &server.name,
            HoldScope::Server,
            server.definition,
            reason,
        );
    }

    /// If `session`'s instance ended while it was being initialized for
    /// `subject` (not a server that merely refused or choked on it),
    /// remembers it: that principal's new sessions of this definition fail
    /// fast. Only that principal's: what it sent may be what ended the
    /// instance, and one agent must not lock out others.
    pub(crate) fn record_if_ended_at_start(
        &self,
        server: &HostedServer,
        session: &HostingSession,
        subject: &str,
        reason: &str,
    ) {
        if session.closed_reason().is_none() {
            return;
        }
        self.shared.failures.record(
            &server.tenant,
            &server.name,
            HoldScope::Principal(subject),
            server.definition,
            reason,
        );
    }

    /// Forgets start failures of `server` that hold `subject` (it
    /// initialized fine).
    pub(crate) fn clear_start_failure(&self, server: &HostedServer, subject: &str) {
        self.shared
            .failures
            .clear(&server.tenant, &server.name, subject);
    }

    /// Ends a session: removes it, stops its instance, deletes its record.
    pub(crate) async fn remove(&self, route: &Route) -> bool {
        let Some(entry) = self.shared.table.remove(route.record_key()) else {
            return false;
        };
        // The agent need not wait for the instance to stop.
        tokio::spawn(async move { entry.session.shutdown("the session was closed").await });
        if let Err(e) = self.shared.deps.store.remove(&route.binding).await {
            tracing::warn!(error = %e, "could not delete session record");
        }
        if entry.leased {
            self.shared.deps.cluster.release(route.record_key()).await;
        }
        true
    }

    /// Ends every session of `tenant/server` on this pod (the server was
    /// decommissioned or removed): their instances stop, their records
    /// and leases go. Returns how many ended.
    pub(crate) async fn end_server(&self, tenant: &str, server: &str, reason: &str) -> usize {
        let mut ending = Vec::new();
        for (key, entry) in self.shared.table.snapshot() {
            let id = entry.session.identity();
            if id.tenant == tenant
                && id.server == server
                && let Some(entry) = self.shared.table.remove(&key)
            {
                ending.push((key, entry));
            }
        }
        let ended = ending.len();
        self.end_entries(ending, reason).await;
        ended
    }

    /// Ends every session on this pod (pod shutdown). With a shared store
    /// and `cluster.handoff_on_shutdown`, leased sessions are handed over
    /// instead: their containers keep running, their leases are released,
    /// and the next request on any pod re-attaches at once (process
    /// instances are stopped and re-created there from the record).
    pub(crate) async fn shutdown_all(&self) {
        let all = self.shared.table.drain();
        let handoff = self.shared.settings.handoff;
        let ends = all.iter().map(|(key, entry)| async move {
            if handoff && entry.leased {
                entry
                    .session
                    .detach("Berth is shutting down; the session moves to another pod")
                    .await;
                self.shared.deps.cluster.release(key).await;
            } else {
                entry.session.shutdown("Berth is shutting down").await;
            }
        });
        futures::future::join_all(ends).await;
    }
}
