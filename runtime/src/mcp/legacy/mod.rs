//! The session era (2025-03-26, 2025-06-18, 2025-11-25): `initialize`
//! starts a hosting session, `Mcp-Session-Id` binds later requests to it,
//! GET opens or resumes its SSE streams, DELETE ends it.
//!
//! May import: `http`, `hosting`, `protocol`, `jsonrpc`. Must not import
//! `mcp::stateless` or `app`.
//!
//! # Layout
//! - `post`: POST dispatch; `initialize`: starting a session.
//! - `respond`: JSON or SSE answers; `streams`: GET and DELETE.
//! - `errors`: how this era answers failures.

mod errors;
mod initialize;
mod post;
mod respond;
mod streams;

pub(crate) use self::post::post;
pub(crate) use self::streams::{delete, get};
