//! Where the MCP endpoint is served, and which `Host` headers it accepts.
//!
//! Imports: nothing from this crate. Must not import `serve` (which applies the policy) or anything
//! above `http`.

/// Path the MCP endpoint is served at.
pub(crate) const MCP_PATH: &str = "/mcp";

/// Which `Host` headers the endpoint accepts.
#[derive(Clone, Debug, Default)]
pub(crate) struct HostPolicy {
    /// Accepted in addition to `localhost`, `127.0.0.1` and `::1`.
    pub(crate) extra_hosts: Vec<String>,
    /// Accept any `Host` (for servers reached through a proxy that rewrites nothing).
    pub(crate) any_host: bool,
}
