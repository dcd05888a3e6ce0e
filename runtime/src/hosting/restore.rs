//! Finding a legacy session this pod does not hold: it may live on another
//! pod (forward to it), or its pod may be gone (take it over).
//!
//! A takeover re-attaches to the session's container when the backend can
//! (the docker backend: the same container, so the server's in-process
//! state survives); otherwise it starts a new instance and re-initializes
//! it with the `initialize` parameters kept in the sealed record, so the
//! agent carries on with the same `Mcp-Session-Id`. The session's journaled
//! streams are rebuilt, so the agent can resume them here.
//!
//! May import: `hosting::{sessions, start, handshake, route, session,
//! record, error}`, `cluster`, `servers`, `audit`.

use std::sync::Arc;
use std::time::Duration;

use berth_session_store::Error as StoreError;

use super::error::HostingError;
use super::handshake::{self, HandshakeFailure};
use super::record::SessionRecord;
use super::route::Route;
use super::session::HostingSession;
use super::sessions::Sessions;
use crate::cluster::Lease;
use crate::servers::HostedServer;

/// Where a legacy session is, for the pod a request reached.
pub(crate) enum Located {
    /// Served here: the session and its server's request timeout.
    Local(Arc<HostingSession>, Duration),
    /// Owned by another live pod.
    Remote(Lease),
    /// Unknown, expired, or another user's: 404.
    Gone,
}

// === impl Sessions (restoring) ===

impl Sessions {
    /// Finds a legacy session here, on another pod, or nowhere; takes it
    /// over when its owner is gone.
    pub(crate) async fn locate_legacy(
        &self,
        server: &Arc<HostedServer>,
        subject: &str,
        session_id: &str,
    ) -> Result<Located, HostingError> {
        if let Some((s, t)) = self.find_legacy(server, subject, session_id) {
            return Ok(Located::Local(s, t));
        }
        let route = self.legacy_route(server, subject, session_id);
        self.gated(&route, self.locate_slow(&route, session_id))
            .await
    }

    async fn locate_slow(&self, route: &Route, session_id: &str) -> Result<Located, HostingError> {
        if let Some((s, t)) = self.find_legacy(&route.server, &route.subject, session_id) {
            return Ok(Located::Local(s, t));
        }
        // The record key derives from the caller's identity: another user
        // presenting this session id finds nothing here.
        let record: Option<SessionRecord> = match self
            .shared
            .deps
            .store
            .load(&route.binding, Some(route.config().idle_timeout))
            .await
        {
            Ok(record) => record,
            Err(e @ StoreError::Unavailable(_)) => return Err(HostingError::store(e)),
            Err(e) => {
                // Corrupt, truncated, sealed under an unknown key id or for
                // another binding: nobody can resume it; same as unknown.
                tracing::warn!(error = %e, "unusable session record; treating the session as unknown");
                None
            }
        };
        let Some(record) = record else {
            return Ok(Located::Gone);
        };
        if let Some(lease) = self.lease_or_owner(route).await? {
            return Ok(Located::Remote(lease));
        }
        crate::audit::session_taken_over(route.tenant(), route.server_name(), &route.subject);
        let route = &self.started_version(route, &record).await;
        match self.take_over(route, record).await {
            Ok(session) => Ok(Located::Local(session, self.request_timeout(route))),
            Err(e) => {
                self.shared.deps.cluster.release(route.record_key()).await;
                Err(e)
            }
        }
    }

    /// `route` on the server version the session started on: a rollout
    /// since then does not move it. The active version when the registry
    /// no longer knows that one (logged).
    async fn started_version(&self, route: &Route, record: &SessionRecord) -> Route {
        let Some(version) = record.server_version else {
            return route.clone();
        };
        if route.server.version == Some(version) {
            return route.clone();
        }
        let servers = &self.shared.deps.servers;
        match servers
            .version_of(route.tenant(), route.server_name(), version)
            .await
        {
            Some(server) => Route {
                server,
                ..route.clone()
            },
            None => {
                tracing::warn!(
                    tenant = route.tenant(),
                    server = route.server_name(),
                    version,
                    "the version a session started on is unknown; the session goes on with the active version"
                );
                route.clone()
            }
        }
    }

    /// Re-attaches to the session's instance, or starts and re-initializes
    /// a new one; then registers the session here.
    async fn take_over(
        &self,
        route: &Route,
        mut record: SessionRecord,
    ) -> Result<Arc<HostingSession>, HostingError> {
        let streams = if self.shared.settings.shared_store {
            match self.journal(route).load().await {
                Ok(streams) => Some(streams),
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the session's stream journal; its streams cannot be resumed");
                    None
                }
            }
        } else {
            None
        };
        let (session, labels) = self.prepare(route, true, streams)?;
        let spec = self.session_spec(route);
        let backend = &self.shared.deps.backend;
        let reattached = match record.instance.as_deref() {
            Some(handle) => backend
                .reattach(&spec, &labels, handle, session.clone())
                .await
                .map_err(|e| self.start_error(route, e))?,
            None => None,
        };
        session.set_protocol_version(&record.protocol_version);
        if let Some(instance) = reattached {
            session.attach(instance);
            self.register(route, session.clone(), true);
            self.start_journal(&session, route);
            return Ok(session);
        }
        let spec = self.start_spec(route).await?;
        let instance = backend
            .start(&spec, &labels, session.clone())
            .await
            .map_err(|e| self.start_error(route, e))?;
        record.instance = instance.resume.clone();
        session.attach(instance);
        let params = if record.initialize_params.is_empty() {
            "{}"
        } else {
            &record.initialize_params
        };
        if let Err(e) = handshake::initialize(&session, params, self.timeout_of(route)).await {
            session.shutdown("re-initializing the server failed").await;
            return Err(match e {
                HandshakeFailure::Unusable => HostingError::UnusableRecord,
                HandshakeFailure::Session(e) => e,
                HandshakeFailure::NoAnswer => {
                    HostingError::RestoreFailed("the server ended while re-initializing")
                }
                HandshakeFailure::Refused(_) => {
                    HostingError::RestoreFailed("the server refused to re-initialize")
                }
            });
        }
        self.register(route, session.clone(), true);
        self.start_journal(&session, route);
        if let Err(e) = self
            .shared
            .deps
            .store
            .save(&route.binding, &record, route.config().idle_timeout)
            .await
        {
            tracing::warn!(error = %e, "could not update the session record after a takeover");
        }
        Ok(session)
    }
}
