//! [`HostingError`]: why a hosting session could not be started, found,
//! restored or used. The HTTP layer turns it into the agent's JSON-RPC
//! error (`http::errors`), in one place.
//!
//! May import: `backend`, `secrets` (their error types), `protocol`.

use berth_session_store::Error as StoreError;

use crate::backend::BackendError;
use crate::protocol::HandshakeError;
use crate::secrets::SecretsError;

/// Why a hosting session could not be had or used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HostingError {
    /// A tool the session's version did not approve, or whose definition
    /// changed since: refused exactly as an unknown tool.
    #[error("Unknown tool: {0}")]
    UnknownTool(String),
    /// This pod runs `limits.max_sessions` sessions already.
    #[error(
        "this Berth pod is at its session limit (limits.max_sessions); retry later or add pods"
    )]
    AtSessionLimit,
    /// The server failed to start moments ago; new sessions fail fast.
    #[error("{reason} (not retried for another {wait_secs}s)")]
    StartHeld {
        /// Why it failed.
        reason: String,
        /// Seconds until starts are tried again.
        wait_secs: u64,
    },
    /// The backend could not start or re-attach the instance.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The session store could not be reached.
    #[error(transparent)]
    Store(StoreError),
    /// The deployment's secrets could not be read for this caller.
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    /// The session ended (its instance stopped or crashed).
    #[error("{0}; start a new session to continue")]
    Ended(String),
    /// This pod cannot confirm it still owns the session (its liveness
    /// record could not be renewed), so it does not write to the instance.
    #[error(
        "this Berth pod cannot confirm it still owns the session (the session store does not answer); the request was not sent to the MCP server and may be retried"
    )]
    Unconfirmed,
    /// Another pod took the session over while this request waited for
    /// this pod's liveness to be confirmed; nothing was sent.
    #[error(
        "the session moved to another Berth pod while this request waited; it was not sent to the MCP server: retry it (any pod forwards it to the new owner)"
    )]
    Moved,
    /// The session has no running instance.
    #[error("server instance is not running")]
    NotRunning,
    /// The server could not be asked which era it speaks.
    #[error("could not ask the MCP server which protocol era it speaks: {0}")]
    Unreachable(String),
    /// The server did not complete `initialize` (Berth initializing it on
    /// a stateless agent's behalf).
    #[error("the MCP server did not answer initialize")]
    NoInitializeAnswer,
    /// The server answered `initialize` with an error or garbage.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// A session taken over from a dead pod could not be restored.
    #[error("{0} after this session's pod went away; retry or start a new session")]
    RestoreFailed(&'static str),
    /// The sealed record of a session to restore cannot be used.
    #[error("the stored initialize parameters are unusable; start a new session")]
    UnusableRecord,
}

// === impl HostingError ===

impl HostingError {
    /// The session store failed (logged here, once).
    pub(crate) fn store(e: StoreError) -> Self {
        tracing::error!(error = %e, "session store unavailable");
        HostingError::Store(e)
    }
}
