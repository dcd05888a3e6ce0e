//! Starting hosting sessions: limits and the start-failure hold checked,
//! the instance started by the backend (with the caller's secrets), the
//! session registered in the table, its lease and journal set up.
//!
//! May import: `hosting::{sessions, table, route, session, journal,
//! record, error}`, `cluster`, `backend`, `protocol`.

use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::error::HostingError;
use super::journal::{Journal, Restored};
use super::record::{RECORD_VERSION, SessionRecord};
use super::route::Route;
use super::session::{DriftReporter, Held, HostingSession, SessionIdentity};
use super::sessions::Sessions;
use super::table::Entry;
use crate::backend::{BackendError, InstanceLabels};
use crate::cluster::{Cluster, Lease, Owner};
use crate::servers::{DriftReport, HostedServer};

/// A freshly created legacy session.
pub(crate) struct NewSession {
    /// The `Mcp-Session-Id` to hand to the agent.
    pub(crate) session_id: String,
    /// The hosting session.
    pub(crate) session: Arc<HostingSession>,
    /// Where it lives.
    pub(crate) route: Route,
}

// === impl Sessions (starting) ===

impl Sessions {
    /// Starts a new legacy (Mcp-Session-Id) hosting session and its instance.
    pub(crate) async fn create_legacy(
        &self,
        server: &Arc<HostedServer>,
        subject: &str,
    ) -> Result<NewSession, HostingError> {
        let session_id = self.new_legacy_id();
        let route = self.legacy_route(server, subject, &session_id);
        let session = self.start(&route, true).await?;
        self.start_journal(&session, &route);
        Ok(NewSession {
            session_id,
            session,
            route,
        })
    }

    /// Records a legacy session whose server accepted the agent's
    /// `initialize` (`SET NX`: with `store.min_replicas_acked`, the session
    /// is handed out only once replicas hold it).
    pub(crate) async fn commit_legacy(
        &self,
        new: &NewSession,
        protocol_version: &str,
        initialize_params: &str,
    ) -> Result<(), HostingError> {
        let record = self.record(
            &new.route,
            &new.session,
            protocol_version,
            initialize_params,
        );
        self.shared
            .deps
            .store
            .create(&new.route.binding, &record, new.route.config().idle_timeout)
            .await
            .map(|_created| ())
            .map_err(HostingError::store)
    }

    /// The sealed record of `session`.
    pub(super) fn record(
        &self,
        route: &Route,
        session: &HostingSession,
        protocol_version: &str,
        initialize_params: &str,
    ) -> SessionRecord {
        SessionRecord {
            v: RECORD_VERSION,
            tenant: route.tenant().to_owned(),
            server: route.server_name().to_owned(),
            subject: route.subject.clone(),
            protocol_version: protocol_version.to_owned(),
            initialize_params: initialize_params.to_owned(),
            pod: self.shared.settings.pod.clone(),
            instance: session.instance_resume(),
            created_ms: SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or_default(),
            backend_init: session.backend_init().map(|v| v.to_string()),
            native: session.is_native(),
            server_version: route.server.version,
        }
    }

    /// Starts a hosting session's instance and registers the session;
    /// `leased` sessions can be taken over by other pods.
    pub(super) async fn start(
        &self,
        route: &Route,
        leased: bool,
    ) -> Result<Arc<HostingSession>, HostingError> {
        let (session, labels) = self.prepare(route, leased, None)?;
        if leased {
            self.shared
                .deps
                .cluster
                .claim_new(route.record_key(), route.config().idle_timeout)
                .await
                .map_err(HostingError::store)?;
        }
        let spec = self.start_spec(route).await?;
        let backend = &self.shared.deps.backend;
        let instance = backend
            .start(&spec, &labels, session.clone())
            .await
            .map_err(|e| self.start_error(route, e))?;
        tracing::debug!(
            tenant = route.tenant(), server = route.server_name(), session = %labels.session,
            backend = backend.name(), instance = %instance.id, "server instance started"
        );
        session.attach(instance);
        self.register(route, session.clone(), leased);
        Ok(session)
    }

    /// Checks the pod's limits and builds an unattached session (with the
    /// streams a journal kept, for a takeover).
    pub(super) fn prepare(
        &self,
        route: &Route,
        leased: bool,
        journal: Option<Restored>,
    ) -> Result<(Arc<HostingSession>, InstanceLabels), HostingError> {
        let settings = &self.shared.settings;
        if self.shared.table.len() >= settings.max_sessions {
            return Err(HostingError::AtSessionLimit);
        }
        self.shared.failures.check(
            route.tenant(),
            route.server_name(),
            &route.subject,
            route.server.definition,
        )?;
        let label = route
            .record_key()
            .as_str()
            .rsplit(':')
            .next()
            .unwrap_or_default()[..12]
            .to_owned();
        let identity = SessionIdentity {
            tenant: route.tenant().to_owned(),
            server: route.server_name().to_owned(),
            subject: route.subject.clone(),
            label: label.clone(),
            notice: route.server.notice.clone(),
            version: route.server.version,
            held: held(&route.server),
        };
        let session = match journal {
            Some(journal) => HostingSession::resumed(identity, settings.stream_cap, journal),
            None => HostingSession::new(identity, settings.stream_cap),
        };
        let labels = InstanceLabels {
            session: label,
            lease: leased.then(|| Cluster::lease_key(route.record_key()).as_str().to_owned()),
        };
        Ok((session, labels))
    }

    /// Maps a failed start to the agent's error (and remembers hard
    /// failures, which no agent input reaches, so new sessions of the
    /// server fail fast for everyone).
    pub(super) fn start_error(&self, route: &Route, e: BackendError) -> HostingError {
        tracing::warn!(tenant = route.tenant(), server = route.server_name(), error = %e, "server instance failed to start");
        if !matches!(
            e,
            BackendError::Capacity(_)
                | BackendError::Engine(_)
                | BackendError::Cluster(_)
                | BackendError::Refused(_)
        ) {
            self.record_start_failure(&route.server, &e.to_string());
        }
        HostingError::Backend(e)
    }

    /// Adds a started session to the table.
    pub(super) fn register(&self, route: &Route, session: Arc<HostingSession>, leased: bool) {
        let config = route.config();
        if leased && self.shared.settings.shared_store {
            session.fence_with(self.shared.deps.cluster.clone());
        }
        self.shared.table.insert(
            route.record_key().clone(),
            Entry {
                session,
                idle_timeout: config.idle_timeout,
                request_timeout: self.timeout_of(route),
                leased,
            },
        );
    }

    /// The request timeout of `route`'s server.
    pub(super) fn timeout_of(&self, route: &Route) -> Duration {
        route
            .config()
            .request_timeout
            .unwrap_or(self.shared.settings.default_timeout)
    }

    /// Runs `work` holding the start gate of `route`'s session, so
    /// concurrent first requests for one session do the slow path once.
    /// Boxed: the slow path's state (a takeover, a start) stays off the
    /// request future every fast-path request would otherwise carry.
    pub(super) fn gated<'a, T: 'a>(
        &'a self,
        route: &'a Route,
        work: impl Future<Output = T> + Send + 'a,
    ) -> Pin<Box<dyn Future<Output = T> + Send + 'a>> {
        Box::pin(self.shared.gate.run(route.record_key(), work))
    }

    /// Takes the session's owner record unless another live pod holds it,
    /// in which case that pod's record is returned.
    pub(super) async fn lease_or_owner(
        &self,
        route: &Route,
    ) -> Result<Option<Lease>, HostingError> {
        match self
            .shared
            .deps
            .cluster
            .acquire(route.record_key(), route.config().idle_timeout)
            .await
            .map_err(HostingError::store)?
        {
            Owner::Other(lease) => Ok(Some(lease)),
            Owner::Me | Owner::Taken => Ok(None),
        }
    }

    /// Journals a legacy session's resumable streams (shared store only).
    pub(super) fn start_journal(&self, session: &HostingSession, route: &Route) {
        if self.shared.settings.shared_store {
            session.set_journal(self.journal(route));
        }
    }

    /// The journal of a legacy session's resumable streams.
    pub(super) fn journal(&self, route: &Route) -> Journal {
        Journal::new(
            self.shared.deps.store.clone(),
            route.binding.clone(),
            self.shared.settings.stream_cap,
            route.config().idle_timeout,
        )
    }
}

/// What a session of `server` is held to: its version's approval, with
/// drift reported to the registry.
fn held(server: &Arc<HostedServer>) -> Option<Arc<Held>> {
    let approved = server.approved.clone()?;
    let version = server.version?;
    let (tx, tenant, name) = (
        server.drift.clone(),
        server.tenant.clone(),
        server.name.clone(),
    );
    let report: DriftReporter = Arc::new(move |drift| {
        let _ = tx.send(DriftReport {
            tenant: tenant.clone(),
            server: name.clone(),
            version,
            drift: drift.clone(),
        });
    });
    Some(Arc::new(Held::new(approved, report)))
}
