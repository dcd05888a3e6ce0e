//! Finding a legacy session this pod does not hold: it may live on another
//! pod (forward to it), or its pod may be gone (take it over).
//!
//! A takeover re-attaches to the session's container when the backend can
//! (the docker backend: the same container, so the server's in-process
//! state survives); otherwise it starts a new instance and re-initializes
//! it with the `initialize` parameters kept in the sealed record, so the
//! agent carries on with the same `Mcp-Session-Id`. The session's journaled
//! streams are rebuilt, so the agent can resume them here.

use std::sync::Arc;
use std::time::Duration;

use berth_session_store::{Error as StoreError, SessionBinding};

use super::record::SessionRecord;
use super::{HostingSession, Next, Sessions, store_unavailable};
use crate::cluster::Lease;
use crate::config::ServerConfig;
use crate::jsonrpc::{Envelope, ErrorCode, RpcError};

/// Id of the `initialize` Berth sends when re-initializing a server.
const RESTORE_ID: &str = r#""berth-restore""#;

/// Where a legacy session is, for the pod a request reached.
pub enum Located {
    /// Served here: the session and its server's request timeout.
    Local(Arc<HostingSession>, Duration),
    /// Owned by another live pod.
    Remote(Lease),
    /// Unknown, expired, or another user's: 404.
    Gone,
}

// === impl Sessions ===

impl Sessions {
    /// Finds a legacy session here, on another pod, or nowhere; takes it
    /// over when its owner is gone.
    pub async fn locate_legacy(
        &self,
        tenant: &str,
        server: &str,
        subject: &str,
        session_id: &str,
        config: &ServerConfig,
    ) -> Result<Located, RpcError> {
        if let Some((s, t)) = self.find_legacy(tenant, server, subject, session_id) {
            return Ok(Located::Local(s, t));
        }
        let binding = self.bind(tenant, server, subject, session_id);
        let slow = self.locate_slow(tenant, server, subject, session_id, config, &binding);
        self.gated(binding.record_key(), slow).await
    }

    async fn locate_slow(
        &self,
        tenant: &str,
        server: &str,
        subject: &str,
        session_id: &str,
        config: &ServerConfig,
        binding: &SessionBinding,
    ) -> Result<Located, RpcError> {
        if let Some((s, t)) = self.find_legacy(tenant, server, subject, session_id) {
            return Ok(Located::Local(s, t));
        }
        // The record key derives from the caller's identity: another user
        // presenting this session id finds nothing here.
        let record: Option<SessionRecord> = match self
            .shared
            .store
            .load(binding, Some(config.idle_timeout))
            .await
        {
            Ok(record) => record,
            Err(e @ StoreError::Unavailable(_)) => return Err(store_unavailable(e)),
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
        if let Some(lease) = self.lease_or_owner(binding).await? {
            return Ok(Located::Remote(lease));
        }
        crate::audit::session_taken_over(tenant, server, subject);
        match self
            .take_over(tenant, server, subject, config, binding, record)
            .await
        {
            Ok(session) => {
                let timeout = self.request_timeout(binding);
                Ok(Located::Local(session, timeout))
            }
            Err(e) => {
                self.shared.cluster.release(binding.record_key()).await;
                Err(e)
            }
        }
    }

    /// Re-attaches to the session's instance, or starts and re-initializes
    /// a new one; then registers the session here.
    async fn take_over(
        &self,
        tenant: &str,
        server: &str,
        subject: &str,
        config: &ServerConfig,
        binding: &SessionBinding,
        mut record: SessionRecord,
    ) -> Result<Arc<HostingSession>, RpcError> {
        let streams = if self.shared.shared_store {
            match self.journal(binding, config).load().await {
                Ok(streams) => Some(streams),
                Err(e) => {
                    tracing::warn!(error = %e, "could not read the session's stream journal; its streams cannot be resumed");
                    None
                }
            }
        } else {
            None
        };
        let (session, labels) = self.prepare(tenant, server, subject, binding, true, streams)?;
        let spec = self.session_spec(tenant, server, subject, config);
        let backend = &self.shared.backend;
        let reattached = match record.instance.as_deref() {
            Some(handle) => backend
                .reattach(&spec, &labels, handle, session.clone())
                .await
                .map_err(|e| self.start_error(tenant, server, e))?,
            None => None,
        };
        session.set_protocol_version(record.protocol_version.clone());
        if let Some(instance) = reattached {
            session.attach(instance);
            self.register(binding, session.clone(), config, true);
            self.start_journal(&session, binding, config);
            return Ok(session);
        }
        let spec = self.start_spec(tenant, server, subject, config).await?;
        let instance = backend
            .start(&spec, &labels, session.clone())
            .await
            .map_err(|e| self.start_error(tenant, server, e))?;
        record.instance = instance.resume.clone();
        session.attach(instance);
        let timeout = config
            .request_timeout
            .unwrap_or(self.shared.default_timeout);
        if let Err(e) = reinitialize(&session, &record.initialize_params, timeout).await {
            session.shutdown("re-initializing the server failed").await;
            return Err(e);
        }
        self.register(binding, session.clone(), config, true);
        self.start_journal(&session, binding, config);
        if let Err(e) = self
            .shared
            .store
            .save(binding, &record, config.idle_timeout)
            .await
        {
            tracing::warn!(error = %e, "could not update the session record after a takeover");
        }
        Ok(session)
    }
}

/// Replays the agent's `initialize` (and `initialized`) to a new instance.
async fn reinitialize(
    session: &HostingSession,
    params: &str,
    timeout: Duration,
) -> Result<(), RpcError> {
    let params = if params.is_empty() { "{}" } else { params };
    let init =
        format!(r#"{{"jsonrpc":"2.0","id":{RESTORE_ID},"method":"initialize","params":{params}}}"#);
    let env = Envelope::parse(init.as_bytes()).map_err(|_| {
        RpcError::new(
            ErrorCode::InternalError,
            "the stored initialize parameters are unusable; start a new session",
        )
    })?;
    let stream = session.open_stream();
    session
        .forward_request(init.as_bytes(), &env, stream.clone(), timeout)
        .await?;
    let Next::Event(answer) = stream.next_after(0).await else {
        return Err(failed("the server ended while re-initializing"));
    };
    if crate::http::legacy::initialize_outcome(&answer.data).is_err() {
        return Err(failed("the server refused to re-initialize"));
    }
    let initialized: &[u8] = br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#;
    let env = Envelope::parse(initialized).expect("a constant notification parses");
    session.forward_other(initialized, &env).await?;
    Ok(())
}

fn failed(why: &str) -> RpcError {
    RpcError::new(
        ErrorCode::BackendUnavailable,
        format!("{why} after this session's pod went away; retry or start a new session"),
    )
    .with_data(serde_json::json!({"retryable": true}))
}
