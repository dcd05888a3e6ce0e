//! The MCP endpoint: the router and one sub-module per protocol era.
//!
//! May import: `http` (shared plumbing), `hosting`, `cluster`, `protocol`,
//! `jsonrpc`. Must not import `app` or `cli`. The two eras do not import
//! each other.
//!
//! # Layout
//! - `router`: routes and which era a request belongs to.
//! - `legacy`: the session era (2025-03-26 .. 2025-11-25).
//! - `stateless`: the stateless era (2026-07-28).
//! - `wellknown`: RFC 9728 metadata, JWKS, health.

mod legacy;
mod router;
mod stateless;
mod wellknown;

pub(crate) use self::router::router;
pub use self::stateless::{
    FORWARDED, Outcome, StatelessRequest, decode_header_value, modernize, status_for, validate,
};
