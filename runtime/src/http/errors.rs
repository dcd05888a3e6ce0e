//! The one place a [`HostingError`] becomes the agent's JSON-RPC error:
//! its code, message and whether it may be retried. Each era then picks
//! the HTTP status (`mcp::legacy`, `mcp::stateless`).
//!
//! May import: `hosting` (its error), `backend` (its error), `jsonrpc`.

use crate::backend::BackendError;
use crate::hosting::HostingError;
use crate::jsonrpc::{ErrorCode, RpcError};

/// The JSON-RPC error an agent gets for `e`.
pub(crate) fn hosting_error(e: &HostingError) -> RpcError {
    let retryable = || serde_json::json!({"retryable": true});
    match e {
        HostingError::Backend(
            BackendError::Capacity(_) | BackendError::Engine(_) | BackendError::Cluster(_),
        )
        | HostingError::Store(_)
        | HostingError::Unconfirmed => {
            RpcError::new(ErrorCode::Overloaded, e.to_string()).with_data(retryable())
        }
        HostingError::Secrets(s) if s.is_path_refused() => RpcError::new(
            ErrorCode::InvalidRequest,
            format!(
                "server {}/{} cannot start for this caller: {}",
                s.tenant, s.server, s.source
            ),
        ),
        HostingError::Secrets(s) => RpcError::new(
            ErrorCode::Overloaded,
            format!("{s}; retry once Vault is back"),
        )
        .with_data(retryable()),
        HostingError::RestoreFailed(_) | HostingError::Unreachable(_) | HostingError::Moved => {
            RpcError::new(ErrorCode::BackendUnavailable, e.to_string()).with_data(retryable())
        }
        HostingError::UnusableRecord => RpcError::new(ErrorCode::InternalError, e.to_string()),
        HostingError::UnknownTool(_) => RpcError::new(ErrorCode::InvalidParams, e.to_string()),
        HostingError::AtSessionLimit
        | HostingError::StartHeld { .. }
        | HostingError::Backend(_)
        | HostingError::Ended(_)
        | HostingError::NotRunning
        | HostingError::NoInitializeAnswer
        | HostingError::Handshake(_) => RpcError::new(ErrorCode::BackendUnavailable, e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::SecretsError;

    fn code(e: HostingError) -> (i64, String, bool) {
        let r = hosting_error(&e);
        let retryable = r.data.as_ref().is_some_and(|d| d["retryable"] == true);
        (r.code.code(), r.message, retryable)
    }

    #[test]
    fn capacity_and_infrastructure_are_retryable_overload() {
        let (c, m, r) = code(HostingError::Backend(BackendError::Capacity(
            "this Berth pod runs its maximum of 1 containers (docker.max_containers)".into(),
        )));
        assert_eq!((c, r), (-32003, true));
        assert!(m.ends_with("; retry shortly"), "{m}");
        let (c, _, r) = code(HostingError::Store(
            berth_session_store::Error::Unavailable("redis down".into()),
        ));
        assert_eq!((c, r), (-32003, true));
    }

    #[test]
    fn a_server_that_cannot_start_is_unavailable_and_says_why() {
        let (c, m, r) = code(HostingError::Backend(BackendError::NoCommand {
            tenant: "acme".into(),
            server: "files".into(),
        }));
        assert_eq!((c, r), (-32002, false));
        assert!(m.contains("acme/files has no command"), "{m}");
        let (c, m, _) = code(HostingError::Ended("the MCP server instance ended".into()));
        assert_eq!(c, -32002);
        assert_eq!(
            m,
            "the MCP server instance ended; start a new session to continue"
        );
        let (c, m, r) = code(HostingError::RestoreFailed(
            "the server refused to re-initialize",
        ));
        assert_eq!((c, r), (-32002, true));
        assert!(m.ends_with("after this session's pod went away; retry or start a new session"));
    }

    #[test]
    fn secret_path_refusals_are_not_retryable_but_vault_outages_are() {
        let refused = SecretsError {
            tenant: "acme".into(),
            server: "files".into(),
            source: berth_auth::Error::SecretPath("`..` is not allowed".into()),
        };
        let (c, m, r) = code(HostingError::Secrets(refused));
        assert_eq!((c, r), (-32600, false));
        assert!(
            m.starts_with("server acme/files cannot start for this caller: "),
            "{m}"
        );
        let down = SecretsError {
            tenant: "acme".into(),
            server: "files".into(),
            source: berth_auth::Error::Vault("connection refused".into()),
        };
        let (c, m, r) = code(HostingError::Secrets(down));
        assert_eq!((c, r), (-32003, true));
        assert!(m.ends_with("; retry once Vault is back"), "{m}");
        assert!(!m.contains("token"), "no secret in the message: {m}");
    }
}
