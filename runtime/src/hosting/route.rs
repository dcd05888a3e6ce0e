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

/// Routes for unit tests: server `acme/files` (process backend, `cat`),
/// bound under fixed test keys.
#[cfg(test)]
pub(crate) mod testing {
    use berth_session_store::KeyRing;

    use super::Route;
    use crate::config::{Config, ServerConfig};
    use crate::servers::ServerTable;

    /// A key ring with fixed keys.
    pub(crate) fn keys() -> KeyRing {
        KeyRing::from_specs(
            &format!("m1:{}", "11".repeat(32)),
            &format!("b1:{}", "22".repeat(32)),
        )
        .expect("fixed test keys are valid")
    }

    /// The route of `subject`'s session `session_id` on `acme/files`.
    pub(crate) fn route(keys: &KeyRing, subject: &str, session_id: &str) -> Route {
        let mut config = Config::default();
        let files = ServerConfig {
            command: vec!["cat".into()],
            ..ServerConfig::default()
        };
        config
            .servers
            .entry("acme".into())
            .or_default()
            .insert("files".into(), files);
        let server = ServerTable::from_config(&config)
            .get("acme", "files")
            .expect("configured");
        Route {
            binding: keys.bind("acme", "files", subject, session_id),
            server,
            subject: subject.to_owned(),
        }
    }
}
