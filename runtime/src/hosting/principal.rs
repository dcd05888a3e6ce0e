//! The hosting session of a stateless (2026-07-28) principal.
//!
//! A 2026-07-28 agent has no session id: all its requests to one server
//! share one hosting session per principal (tenant, server, subject) and
//! variant (what else must match to share an instance: the client
//! capabilities the agents declared, which the server learned once). With
//! a store shared by several pods, that session is owned like a legacy one:
//! a lease names the pod that runs its instance, requests reaching another
//! pod are forwarded there, and when the owner dies the next pod re-attaches
//! the same container (keeping the server's state and its initialization,
//! both kept in the sealed record) or starts and initializes a new instance.
//! With the embedded memory store, each pod simply runs its own.
//!
//! May import: `hosting::{sessions, start, route, session, record, journal,
//! error}`, `cluster`, `protocol`.

use std::sync::Arc;

use berth_session_store::Error as StoreError;

use super::error::HostingError;
use super::journal::Restored;
use super::record::SessionRecord;
use super::route::Route;
use super::session::{BackendSetup, HostingSession};
use super::sessions::Sessions;
use crate::cluster::Lease;
use crate::protocol::Version;
use crate::servers::HostedServer;

/// Where a stateless principal's hosting session runs.
pub(crate) enum PrincipalSession {
    /// Here: the session, its route, and whether it was just started
    /// (its backend still needs initializing).
    Here(Arc<HostingSession>, Route, bool),
    /// On another live pod.
    Remote(Lease),
}

/// What the gated slow path found.
enum Found {
    Here(Arc<HostingSession>, bool),
    Remote(Lease),
}

// === impl Sessions (stateless principals) ===

impl Sessions {
    /// The hosting session shared by all stateless (2026-07-28) requests of
    /// one principal to one server: here (started or taken over on first
    /// use), or on the pod that owns it.
    pub(crate) async fn stateless(
        &self,
        server: &Arc<HostedServer>,
        subject: &str,
        variant: &str,
    ) -> Result<PrincipalSession, HostingError> {
        let route = self.principal_route(server, subject, variant);
        if let Some(s) = self.find(&route)
            && s.closed_reason().is_none()
        {
            return Ok(PrincipalSession::Here(s, route, false));
        }
        match self.gated(&route, self.stateless_slow(&route)).await? {
            Found::Here(session, fresh) => Ok(PrincipalSession::Here(session, route, fresh)),
            Found::Remote(lease) => Ok(PrincipalSession::Remote(lease)),
        }
    }

    async fn stateless_slow(&self, route: &Route) -> Result<Found, HostingError> {
        if let Some(s) = self.find(route) {
            if s.closed_reason().is_none() {
                return Ok(Found::Here(s, false));
            }
            self.remove(route).await;
        }
        if !self.shared.settings.shared_store {
            let session = self.start(route, false).await?;
            return Ok(Found::Here(session, true));
        }
        if let Some(lease) = self.lease_or_owner(route).await? {
            return Ok(Found::Remote(lease));
        }
        if let Some(session) = self.reattach_principal(route).await? {
            return Ok(Found::Here(session, false));
        }
        let session = self.start(route, true).await?;
        Ok(Found::Here(session, true))
    }

    /// Re-attaches the instance a previous owner left running, if the
    /// record names one and the backend still has it.
    async fn reattach_principal(
        &self,
        route: &Route,
    ) -> Result<Option<Arc<HostingSession>>, HostingError> {
        let record: Option<SessionRecord> = match self
            .shared
            .deps
            .store
            .load(&route.binding, None)
            .await
        {
            Ok(record) => record,
            Err(e @ StoreError::Unavailable(_)) => return Err(HostingError::store(e)),
            Err(e) => {
                tracing::warn!(error = %e, "unusable principal session record; starting afresh");
                None
            }
        };
        let Some(record) = record else {
            return Ok(None);
        };
        let Some(handle) = record.instance else {
            return Ok(None);
        };
        let setup = match (record.native, record.backend_init) {
            (true, _) => BackendSetup::Native,
            (false, Some(init)) => match serde_json::from_str::<serde_json::Value>(&init) {
                Ok(init) => BackendSetup::Initialized(Arc::new(init)),
                Err(_) => return Ok(None),
            },
            (false, None) => return Ok(None),
        };
        // Numbered from a fresh epoch, like any takeover: the instance may
        // still be working on the previous owner's calls (a parked call a
        // retry resumes here keeps its id), and no new call may share one.
        let (session, labels) = self.prepare(route, true, Some(Restored::default()))?;
        let spec = self.session_spec(route);
        let Some(instance) = self
            .shared
            .deps
            .backend
            .reattach(&spec, &labels, &handle, session.clone())
            .await
            .map_err(|e| self.start_error(route, e))?
        else {
            return Ok(None);
        };
        tracing::info!(
            tenant = route.tenant(),
            server = route.server_name(),
            subject = %route.subject,
            "took over a principal's session whose pod is gone"
        );
        session.attach(instance);
        session.set_protocol_version(&record.protocol_version);
        let _ = session.backend_setup().set(setup);
        self.register(route, session.clone(), true);
        Ok(Some(session))
    }

    /// Records a principal's freshly initialized session, so another pod
    /// can take it over (shared store only; best effort).
    pub(crate) async fn save_principal(
        &self,
        route: &Route,
        session: &HostingSession,
        initialize_params: &str,
    ) {
        if !self.shared.settings.shared_store {
            return;
        }
        let version = session.protocol_version().map_or("", Version::as_str);
        let record = self.record(route, session, version, initialize_params);
        if let Err(e) = self
            .shared
            .deps
            .store
            .save(&route.binding, &record, route.config().idle_timeout)
            .await
        {
            tracing::warn!(error = %e, "could not store a principal's session record; another pod cannot take it over");
        }
    }
}
