//! The seam between the runtime and token validation.
//!
//! Imports: `principal`, `error`. Must not import its implementations
//! (`jwt`, `oidc`, `cache`).

use crate::{Error, Principal};

/// Turns a bearer token into a [`Principal`], or says why it cannot.
///
/// Implemented by [`JwtValidator`](crate::JwtValidator) today; OIDC discovery and
/// RFC 7662 introspection (opaque tokens) come as further implementations. The
/// runtime holds an `Arc<dyn TokenValidator>` in its state, so tests can swap in a
/// fake.
#[async_trait::async_trait]
pub trait TokenValidator: Send + Sync + 'static {
    /// Validates a bearer token presented to `resource`: the canonical URL of the MCP
    /// endpoint, e.g. `http://127.0.0.1:8080/mcp/demo/everything`, which the token's
    /// audience must name.
    async fn validate(&self, token: &str, resource: &str) -> Result<Principal, Error>;
}
