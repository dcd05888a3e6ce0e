//! The hosting session of a stateless (2026-07-28) principal.
//!
//! A 2026-07-28 agent has no session id: all its requests to one server
//! share one hosting session per principal (tenant, server, subject). With
//! a store shared by several pods, that session is owned like a legacy one:
//! a lease names the pod that runs its instance, requests reaching another
//! pod are forwarded there, and when the owner dies the next pod re-attaches
//! the same container (keeping the server's state and its initialization,
//! both kept in the sealed record) or starts and initializes a new instance.
//! With the embedded memory store, each pod simply runs its own.

use std::sync::Arc;

use berth_session_store::{Error as StoreError, SessionBinding};

use super::record::{RECORD_VERSION, SessionRecord};
use super::{HostingSession, STATELESS_MARKER, Sessions, store_unavailable};
use crate::cluster::Lease;
use crate::config::ServerConfig;
use crate::jsonrpc::RpcError;

/// Where a stateless principal's hosting session runs.
pub enum PrincipalSession {
    /// Here: the session, its binding, and whether it was just started
    /// (its backend still needs initializing).
    Here(Arc<HostingSession>, SessionBinding, bool),
    /// On another live pod.
    Remote(Lease),
}

// === impl Sessions ===

impl Sessions {
    /// The binding of a stateless principal's hosting session.
    pub fn bind_principal(&self, tenant: &str, server: &str, subject: &str) -> SessionBinding {
        self.bind(tenant, server, subject, STATELESS_MARKER)
    }

    /// The hosting session shared by all stateless (2026-07-28) requests of
    /// one principal to one server: here (started or taken over on first
    /// use), or on the pod that owns it.
    pub async fn stateless(
        &self,
        tenant: &str,
        server: &str,
        subject: &str,
        config: &ServerConfig,
    ) -> Result<PrincipalSession, RpcError> {
        let binding = self.bind_principal(tenant, server, subject);
        if let Some(s) = self.find(&binding)
            && s.closed_reason().is_none()
        {
            return Ok(PrincipalSession::Here(s, binding, false));
        }
        let slow = self.stateless_slow(tenant, server, subject, config, &binding);
        match self.gated(binding.record_key(), slow).await? {
            Located::Here(session, fresh) => Ok(PrincipalSession::Here(session, binding, fresh)),
            Located::Remote(lease) => Ok(PrincipalSession::Remote(lease)),
        }
    }

    async fn stateless_slow(
        &self,
        tenant: &str,
        server: &str,
        subject: &str,
        config: &ServerConfig,
        binding: &SessionBinding,
    ) -> Result<Located, RpcError> {
        if let Some(s) = self.find(binding) {
            if s.closed_reason().is_none() {
                return Ok(Located::Here(s, false));
            }
            self.remove(binding).await;
        }
        if !self.shared.shared_store {
            let session = self
                .start(tenant, server, subject, config, binding, false)
                .await?;
            return Ok(Located::Here(session, true));
        }
        if let Some(lease) = self.lease_or_owner(binding).await? {
            return Ok(Located::Remote(lease));
        }
        if let Some(session) = self
            .reattach_principal(tenant, server, subject, config, binding)
            .await?
        {
            return Ok(Located::Here(session, false));
        }
        let session = self
            .start(tenant, server, subject, config, binding, true)
            .await?;
        Ok(Located::Here(session, true))
    }

    /// Re-attaches the instance a previous owner left running, if the
    /// record names one and the backend still has it.
    async fn reattach_principal(
        &self,
        tenant: &str,
        server: &str,
        subject: &str,
        config: &ServerConfig,
        binding: &SessionBinding,
    ) -> Result<Option<Arc<HostingSession>>, RpcError> {
        let record: Option<SessionRecord> = match self.shared.store.load(binding, None).await {
            Ok(record) => record,
            Err(e @ StoreError::Unavailable(_)) => return Err(store_unavailable(e)),
            Err(e) => {
                tracing::warn!(error = %e, "unusable principal session record; starting afresh");
                None
            }
        };
        let Some(record) = record else {
            return Ok(None);
        };
        let (Some(handle), Some(init)) = (record.instance, record.backend_init) else {
            return Ok(None);
        };
        let Ok(init) = serde_json::from_str::<serde_json::Value>(&init) else {
            return Ok(None);
        };
        let (session, labels) = self.prepare(tenant, server, subject, binding, true, None)?;
        let spec = self.session_spec(tenant, server, subject, config);
        let Some(instance) = self
            .shared
            .backend
            .reattach(&spec, &labels, &handle, session.clone())
            .await
            .map_err(|e| self.start_error(tenant, server, e))?
        else {
            return Ok(None);
        };
        tracing::info!(
            tenant,
            server,
            subject,
            "took over a principal's session whose pod is gone"
        );
        session.attach(instance);
        session.set_protocol_version(record.protocol_version);
        let _ = session.backend_init().set(Arc::new(init));
        self.register(binding, session.clone(), config, true);
        Ok(Some(session))
    }

    /// Records a principal's freshly initialized session, so another pod
    /// can take it over (shared store only; best effort).
    pub async fn save_principal(
        &self,
        binding: &SessionBinding,
        session: &HostingSession,
        initialize_params: &str,
        config: &ServerConfig,
    ) {
        if !self.shared.shared_store {
            return;
        }
        let identity = session.identity();
        let record = SessionRecord {
            v: RECORD_VERSION,
            tenant: identity.tenant.clone(),
            server: identity.server.clone(),
            subject: identity.subject.clone(),
            protocol_version: session.protocol_version().unwrap_or_default().to_owned(),
            initialize_params: initialize_params.to_owned(),
            pod: self.shared.pod.clone(),
            instance: session.instance_resume(),
            created_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or_default(),
            backend_init: session.backend_init().get().map(|v| v.to_string()),
        };
        if let Err(e) = self
            .shared
            .store
            .save(binding, &record, config.idle_timeout)
            .await
        {
            tracing::warn!(error = %e, "could not store a principal's session record; another pod cannot take it over");
        }
    }
}

enum Located {
    Here(Arc<HostingSession>, bool),
    Remote(Lease),
}
