//! Shared HTTP plumbing for the MCP endpoint: the state handlers share,
//! admission (Host/Origin, bearer token, tenant, server), body limits,
//! replies and SSE bodies, the one mapping of hosting errors to JSON-RPC,
//! resolving the pod that owns a session, and the connection loop.
//!
//! Nothing here knows a protocol era: `mcp` (above) routes requests to one
//! and uses these pieces.
//!
//! May import: `hosting`, `cluster`, `servers`, `backend` (error types),
//! `config`, `jsonrpc`, `protocol`, `audit`. Must not import `mcp` or `app`.
//!
//! # Layout
//! - `state`: [`AppState`]; `admit`: the guards in order, using `host`
//!   (Host/Origin), `auth` (bearer tokens) and the server table.
//! - `media`: `Accept`/`Content-Type`; `body`: reading bodies in limits.
//! - `reply`: responses; `sse`: SSE bodies from event streams; `errors`:
//!   hosting errors as JSON-RPC errors.
//! - `locate`: a session here, on its owner pod, or gone.
//! - `listener`: the hyper connection loop and graceful drain;
//!   `forwarded`: the host a trusted proxy forwarded, put in `Host`.

mod admit;
mod auth;
mod body;
mod errors;
mod forwarded;
mod host;
mod listener;
mod locate;
mod media;
mod reply;
mod sse;
mod state;
#[cfg(test)]
pub(crate) mod testing;

pub(crate) use self::admit::Admitted;
pub(crate) use self::auth::authenticate;
pub(crate) use self::body::{bad_path, read_body};
pub(crate) use self::errors::hosting_error;
pub(crate) use self::forwarded::TrustedProxies;
pub(crate) use self::listener::serve;
pub(crate) use self::locate::{ATTEMPTS, Original, Resolved, resolve, to_owner};
pub(crate) use self::media::Accepts;
pub use self::media::check_post_media;
pub(crate) use self::reply::{
    accepted, error, json, owner_unreachable, put_sse_data, rpc_error, session_not_found,
    sse_response, status_for_start,
};
pub(crate) use self::sse::{Delivered, SseStart, sse};
pub(crate) use self::state::{AppState, StateParts};
