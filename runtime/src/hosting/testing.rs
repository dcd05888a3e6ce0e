//! Hosting pieces for unit tests: fixed keys, routes on a test server, and
//! sessions whose backend is a pipe the test reads.
//!
//! May import: anything in `hosting`, `servers`, `backend`, `config`.

use std::sync::Arc;

use berth_session_store::KeyRing;
use bytes::Bytes;
use tokio::sync::mpsc;

use super::route::Route;
use super::session::{HostingSession, SessionIdentity};
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

/// A pod's server table hosting `acme/files`, which runs `command`.
pub(crate) fn table(command: &str) -> ServerTable {
    let mut config = Config::default();
    let files = ServerConfig {
        command: vec![command.into()],
        ..ServerConfig::default()
    };
    config
        .servers
        .entry("acme".into())
        .or_default()
        .insert("files".into(), files);
    ServerTable::from_config(&config)
}

/// The route of `subject`'s session `session_id` on `acme/files`.
pub(crate) fn route(keys: &KeyRing, subject: &str, session_id: &str) -> Route {
    let server = table("cat").get("acme", "files").expect("configured");
    Route {
        binding: keys.bind("acme", "files", subject, session_id),
        server,
        subject: subject.to_owned(),
    }
}

/// A session of alice's on `acme/files`, with no instance.
pub(crate) fn session() -> Arc<HostingSession> {
    let identity = SessionIdentity {
        tenant: "acme".into(),
        server: "files".into(),
        subject: "alice".into(),
        label: "test".into(),
        notice: Default::default(),
        version: None,
        held: None,
    };
    HostingSession::new(identity, 8)
}

/// A session whose backend messages arrive on the receiver.
pub(crate) fn session_with_pipe() -> (Arc<HostingSession>, mpsc::Receiver<Bytes>) {
    let session = session();
    let (instance, rx) = crate::backend::testing::pipe();
    session.attach(instance);
    (session, rx)
}
