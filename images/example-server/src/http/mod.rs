//! `--http ADDR`: rmcp's Streamable HTTP server at `/mcp`, behind axum.
//!
//! Legacy clients get sessions (`Mcp-Session-Id`, SSE, resumable streams); 2026-07-28 clients are
//! served statelessly by rmcp. `Host` is checked against loopback names (DNS-rebinding
//! protection) unless more hosts are allowed on the command line — a container reached by its
//! service name needs `--allowed-host NAME` or `--any-host`.
//!
//! - `endpoint.rs`: the path served (`/mcp`) and the [`HostPolicy`].
//! - `serve.rs`: [`serve_until_signal`], the listener, the rmcp service and the graceful drain.
//! - `streams.rs`: [`StreamTracker`], the session manager that lets `test_reconnection` close
//!   its own SSE stream.
//! - `request_headers.rs`: tools can see the HTTP request that carried their call
//!   ([`request_headers()`]): Berth's tests use it to check what a backend receives from Berth
//!   (never the agent's token or cookies).
//!
//! Imports: this file holds only module declarations and re-exports, and no module imports it.
//! `serve` imports `endpoint` and `streams` (and the crate's `server`, `state`, `shutdown`);
//! `endpoint`, `streams` and `request_headers` import no module of this crate.

mod endpoint;
mod request_headers;
mod serve;
mod streams;

pub(crate) use self::endpoint::HostPolicy;
pub(crate) use self::request_headers::request_headers;
pub(crate) use self::serve::serve_until_signal;
pub(crate) use self::streams::StreamTracker;
