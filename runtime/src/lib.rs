//! Berth: an MCP Server-as-a-Service runtime host.
//!
//! Agents reach `POST|GET|DELETE /mcp/{tenant}/{server}` over MCP Streamable
//! HTTP; every agent session gets its own server instance, started on
//! demand; session records are sealed in a [`berth_session_store`] under
//! per-user hashed keys.
//!
//! # Layout
//! - [`config`]: the TOML/env configuration, validated up front.
//! - [`app`]: assembling the components; `App::run(listener, shutdown)`.
//! - [`audit`]: security-relevant events on the `berth::audit` target.
//! - [`server`]: the hyper connection loop and graceful drain.
//! - [`http`]: routes, guards (Host/Origin, auth), MCP handlers, replies.
//! - [`stateless`]: the 2026-07-28 era on the same endpoint.
//! - [`hosting`]: hosting sessions, routing, event streams, reaping.
//! - [`backend`]: where instances run (`process`, `docker`).
//! - [`secrets`]: deployments' Vault secrets, read when a call needs them;
//!   [`keys`]: the session sealing keys (Vault, env or state dir).
//! - [`jsonrpc`]: zero-copy JSON-RPC framing and error codes.
//! - [`cli`]: the `berth` command line (`demo`, `serve`, `token`).

#![deny(clippy::disallowed_methods, clippy::disallowed_types)]
// Guards return a ready-made HTTP response as their error (axum style); it
// is built only on the rejection path, so its size costs nothing per request.
#![allow(clippy::result_large_err)]

pub mod app;
pub mod audit;
pub mod backend;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod hosting;
pub mod http;
pub mod jsonrpc;
pub mod keys;
pub mod secrets;
pub mod server;
pub mod stateless;

pub use self::app::{App, StartError};
pub use self::config::Config;
