//! Which protocol era a request belongs to.
//!
//! Legacy sessions (2025-06-18, 2025-11-25) carry their version from `initialize`; 2026-07-28
//! requests carry it in their own `_meta`. The two eras differ in how a server asks the client
//! for input (server→client requests vs. `InputRequiredResult`) and in when it may log.
//!
//! Imports: nothing from this crate. Must not import the modules that ask it (`input`, `notify`).

use rmcp::RoleServer;
use rmcp::model::ProtocolVersion;
use rmcp::service::RequestContext;

/// True for requests served under 2026-07-28 or later (no server→client requests allowed).
pub(crate) fn is_stateless(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.protocol_version()
        .is_some_and(|version| version >= ProtocolVersion::V_2026_07_28)
}
