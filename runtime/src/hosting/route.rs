//! [`Route`]: which server, for which principal, under which sealed record
//! key — everything that names one hosting session.
//!
//! May import: `servers`, external crates (the session store's binding).

use std::sync::Arc;

use berth_session_store::{RecordKey, SessionBinding};

use crate::config::ServerConfig;
use crate::servers::HostedServer;

/// A hosting session's place: the server it runs, the principal it serves
/// and the binding its record is sealed and keyed under.
#[derive(Clone)]
pub(crate) struct Route {
    /// The server (its tenant, name and deployment).
    pub(crate) server: Arc<HostedServer>,
    /// The principal's subject.
    pub(crate) subject: String,
    /// The per-user binding of the session's record.
    pub(crate) binding: SessionBinding,
}

// === impl Route ===

impl Route {
    /// The tenant.
    pub(crate) fn tenant(&self) -> &str {
        &self.server.tenant
    }

    /// The server's name.
    pub(crate) fn server_name(&self) -> &str {
        &self.server.name
    }

    /// The server's deployment.
    pub(crate) fn config(&self) -> &ServerConfig {
        &self.server.config
    }

    /// The record key (also the key of the pod's session table).
    pub(crate) fn record_key(&self) -> &RecordKey {
        self.binding.record_key()
    }
}
