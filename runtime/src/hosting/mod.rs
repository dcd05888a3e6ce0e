//! Hosting sessions: which backend instance serves which principal of
//! which server, their lifecycle on this pod, and their ownership across
//! pods.
//!
//! [`Sessions`] is the pod's table of open hosting sessions, keyed by the
//! per-user hashed record key (so the table itself never holds a session
//! id in the clear). A lookup re-derives the key from the caller's
//! identity: a stolen session id presented by another subject derives
//! another key and finds nothing (HTTP 404). A background sweeper answers
//! overdue requests and reaps idle sessions.
//!
//! May import: `secrets`, `cluster`, `servers`, `backend`, `config`,
//! `jsonrpc`, `protocol`, `audit`. Must not import `http`, `mcp` or `app`:
//! nothing here knows HTTP; errors are [`HostingError`]s that the HTTP
//! layer turns into replies.
//!
//! # Layout
//! - `sessions`: the [`Sessions`] handle over its parts: `table` (open
//!   sessions), `gate` (one start at a time per session), `failures` (fail
//!   fast after a failed start); `route`: what names a session.
//! - `start`, `restore`, `principal`, `upkeep`: starting sessions, finding
//!   or taking over another pod's, stateless principals' sessions, sweeps
//!   and lease heartbeats.
//! - `session`: one hosting session and its message routing; `stream`:
//!   replayable SSE event streams; `journal`: their copies in the shared
//!   store; `record`: the sealed session record.
//! - `handshake`: `initialize` driven against a session's server;
//!   `probe`: listing a version's capabilities for its approval.
//! - `continuations`: 2026-07-28 calls parked for agent input (sealed in
//!   the shared store too, so a retry completes on any pod).
//! - `era`: which era a server speaks, remembered for every pod.
//! - `directory`: which sessions each pod runs (the control plane's
//!   sessions API), published per pod to the shared store.
//! - `error`: [`HostingError`].

mod continuations;
mod directory;
mod era;
mod error;
mod failures;
mod gate;
mod handshake;
mod journal;
mod principal;
mod probe;
mod record;
mod restore;
mod route;
mod session;
mod sessions;
mod start;
mod stream;
mod table;
#[cfg(test)]
pub(crate) mod testing;
mod upkeep;

#[cfg(test)]
pub(crate) use self::continuations::StateError;
pub(crate) use self::continuations::{
    Continuation, ContinuationError, Continuations, PendingInput, Retry, STATE_PREFIX,
};
pub(crate) use self::directory::{PUBLISH_EVERY, SessionEntry};
pub(crate) use self::error::HostingError;
pub(crate) use self::handshake::{HandshakeFailure, discover, initialize};
pub(crate) use self::principal::PrincipalSession;
pub(crate) use self::probe::list_capabilities;
pub(crate) use self::restore::Located;
pub(crate) use self::route::Route;

pub(crate) use self::session::{BackendSetup, Composed, HostingSession};
pub(crate) use self::sessions::{Deps as SessionDeps, Sessions};
pub use self::stream::{EventId, EventStream, Next};
