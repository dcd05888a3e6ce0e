//! The era a server speaks, remembered in the shared store for the whole
//! deployment. Which era a server's instances speak is found out by asking
//! one (`server/discover`); with the answer kept in the store, a pod that
//! takes a principal's session over, or that starts, knows it without
//! starting an instance just to ask (a container, or a Kubernetes Pod, on
//! the failover path). It is kept per definition: under a fingerprint of
//! the server's configuration and registry version, so a redeploy asks
//! again. Best effort both ways: a store that cannot say means asking.
//!
//! May import: `hosting::sessions`, `servers`, `protocol`.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
        let binding = self.era_binding(server)?;
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
        let Some(binding) = self.era_binding(server) else {
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

    /// Where `server`'s era is kept: the server's binding with no subject
    /// and `~era:` plus the definition's fingerprint in place of a
    /// session id (no session id or subject starts so).
    fn era_binding(&self, server: &HostedServer) -> Option<berth_session_store::SessionBinding> {
        let config = serde_json::to_vec(&server.config).ok()?;
        let mut h = Sha256::new();
        h.update(&config);
        h.update(format!("{:?}", server.version).as_bytes());
        let fingerprint = hex::encode(&h.finalize()[..16]);
        Some(self.keys().bind(
            &server.tenant,
            &server.name,
            "",
            &format!("~era:{fingerprint}"),
        ))
    }
}
