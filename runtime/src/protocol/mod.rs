//! What Berth knows about the MCP protocol itself, in one leaf: the
//! versions ([`Version`], ordered, never compared as strings), the header
//! and `_meta` names, the `initialize` handshake's messages, the
//! 2026-07-28 routing headers mirrored from a request's body, and
//! capability fingerprints (what an approval pins).
//!
//! May import: external crates only. Must not import any other module of
//! this crate (every layer above reads the protocol from here).

mod capabilities;
mod handshake;
mod headers;
mod ids;
mod routing_headers;
mod version;

pub(crate) use self::capabilities::{
    Approved, ApprovedSet, CapabilityKind, Drift, KINDS, filter_listing, fingerprint, item_id,
};
pub(crate) use self::handshake::{
    HandshakeError, INITIALIZED, InitializeResult, client_initialize_params, discover_params,
    initialize_outcome, speaks_stateless,
};
pub(crate) use self::headers::{
    LAST_EVENT_ID, MCP_METHOD, MCP_NAME, MCP_PROTOCOL_VERSION, MCP_SESSION_ID, META_CLIENT_CAPS,
    META_CLIENT_INFO, META_DEPRECATION, META_LOG_LEVEL, META_PROTOCOL_VERSION, META_SERVER_INFO,
    META_SUBSCRIPTION_ID,
};
pub(crate) use self::ids::random_id;
pub use self::routing_headers::decode_header_value;
pub(crate) use self::routing_headers::{
    ParamHeaders, declarations, encode_header_value, header_text, name_field, param_headers_for,
    value_at,
};
pub(crate) use self::version::Era;
pub use self::version::Version;
