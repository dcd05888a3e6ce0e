//! The era a server speaks, remembered in the shared store for the whole
//! deployment. Which era a server's instances speak is found out by asking
//! one (`server/discover`); with the answer kept in the store, a pod that
//! takes a principal's session over, or that starts, knows it without
//! starting an instance just to ask (a container, or a Kubernetes Pod, on
//! the failover path). It is kept per definition: under a fingerprint of
//! the server's configuration and registry version, so a redeploy asks
//! again. Best effort both ways: a store that cannot say means asking.
//!
//! May import: `hosting::sessions`, `servers`, `protocol`, the session
//! store crate.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use berth_session_store::{KeyRing, SessionBinding};

use super::sessions::Sessions;
use crate::protocol::Era;
use crate::servers::HostedServer;

/// How long an answer is kept. An image tag moved to an image of another
/// era without any change to the server's definition is noticed within
/// this (a pod keeps what it learned for the definition's life anyway).
const REMEMBER_FOR: Duration = Duration::from_secs(24 * 3600);

/// The stored answer.
#[derive(Deserialize, Serialize)]
struct EraRecord {
    /// The server speaks 2026-07-28 itself.
    native: bool,
}

// === impl Sessions (era memory) ===

impl Sessions {
    /// The era a pod of this deployment found `server`'s definition
    /// speaks; `None` when none has yet, the store is not shared, or it
    /// cannot say.
    pub(crate) async fn recalled_era(&self, server: &HostedServer) -> Option<Era> {
        if !self.shared.settings.shared_store {
            return None;
        }
        let binding = era_binding(self.keys(), server)?;
        match self
            .shared
            .deps
            .store
            .load::<EraRecord>(&binding, None)
            .await
        {
            Ok(Some(r)) if r.native => Some(Era::Stateless),
            Ok(Some(_)) => Some(Era::Sessions),
            Ok(None) => None,
            Err(e) => {
                tracing::debug!(error = %e, "could not read a server's era from the store; asking the server");
                None
            }
        }
    }

    /// Keeps what this pod found out, for the deployment's other pods.
    pub(crate) async fn remember_era(&self, server: &HostedServer, era: Era) {
        if !self.shared.settings.shared_store {
            return;
        }
        let Some(binding) = era_binding(self.keys(), server) else {
            return;
        };
        let record = EraRecord {
            native: era == Era::Stateless,
        };
        if let Err(e) = self
            .shared
            .deps
            .store
            .save(&binding, &record, REMEMBER_FOR)
            .await
        {
            tracing::debug!(error = %e, "could not keep a server's era in the store");
        }
    }
}

/// Where `server`'s era is kept: the server's binding with no subject
/// and `~era:` plus the definition's fingerprint in place of a session id
/// (no session id or subject starts so). The same on every pod with the
/// same keys; another for any other configuration or registry version.
fn era_binding(keys: &KeyRing, server: &HostedServer) -> Option<SessionBinding> {
    let config = serde_json::to_vec(&server.config).ok()?;
    let mut h = Sha256::new();
    h.update(&config);
    h.update(format!("{:?}", server.version).as_bytes());
    let fingerprint = hex::encode(&h.finalize()[..16]);
    Some(keys.bind(
        &server.tenant,
        &server.name,
        "",
        &format!("~era:{fingerprint}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::Pinned;
    use crate::hosting::testing::{keys, table as pod};
    use crate::servers::ServerTable;

    fn key_of(table: &ServerTable) -> String {
        let server = table.get("acme", "files").expect("configured");
        let binding = era_binding(&keys(), &server).expect("a binding");
        binding.record_key().as_str().to_owned()
    }

    #[test]
    fn pods_with_one_definition_share_the_answer_and_a_redeploy_asks_again() {
        // Two pods load the same definition: one key (the per-pod
        // definition counters differ and must not matter).
        let (a, b) = (pod("cat"), pod("cat"));
        assert_eq!(key_of(&a), key_of(&b));
        // Another command is another definition.
        assert_ne!(key_of(&a), key_of(&pod("tac")));
        // So is another registry version of the same configuration.
        let files = a.get("acme", "files").expect("configured");
        let unversioned = key_of(&a);
        let v2 = a.insert_version(
            "acme",
            "files",
            files.config.clone(),
            2,
            &Pinned::default(),
            None,
        );
        let v2 = era_binding(&keys(), &v2).expect("a binding");
        assert_ne!(v2.record_key().as_str(), unversioned);
    }
}
