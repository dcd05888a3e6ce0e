//! Berth: an MCP Server-as-a-Service runtime host.
//!
//! Agents reach `POST|GET|DELETE /mcp/{tenant}/{server}` over MCP Streamable
//! HTTP; every agent session gets its own server instance, started on
//! demand; session records are sealed in a [`berth_session_store`] under
//! per-user hashed keys.
//!
//! # Layers
//! Imports run one way, top to bottom; a module imports only from its own
//! module and from layers below its own (`runtime/layers` lists them, and
//! `scripts/check-imports` fails the build on an import that runs up or
//! sideways, or on any circle between files):
//!
//! ```text
//! cli  fuzzing                the `berth` command line | re-exports for the fuzz targets
//! app                         assembling the parts; App::build / App::run
//! mcp  control                the MCP endpoint: router, legacy/, stateless/ | the /v1 control plane
//! http                        shared HTTP plumbing: state, admission, bodies, replies, SSE, locating owners
//! hosting  registry           hosting sessions: table, start, restore, … | deployed servers and versions
//! secrets  cluster  servers   Vault secrets and session keys | leases, forwarding | the server table
//! backend                     where instances run: process, docker, the Streamable HTTP bridge
//! config  jsonrpc  audit      leaves: configuration | JSON-RPC framing | audit events
//! protocol                    the protocol leaf: versions, header names, the initialize handshake
//! ```
//!
//! Each module's doc says what it may import and what it must not.
//!
//! # Public surface
//! Modules are private; what the binary needs is re-exported here
//! ([`App`], [`Config`], [`cli`]), and what the fuzz targets need is in
//! [`fuzzing`].

#![deny(clippy::disallowed_methods, clippy::disallowed_types)]
// Guards return a ready-made HTTP response as their error (axum style); it
// is built only on the rejection path, so its size costs nothing per request.
#![allow(clippy::result_large_err)]

mod app;
mod audit;
mod backend;
pub mod cli;
mod cluster;
mod config;
mod control;
#[doc(hidden)]
pub mod fuzzing;
mod hosting;
mod http;
mod jsonrpc;
mod mcp;
mod protocol;
mod registry;
mod secrets;
mod servers;

pub use self::app::{App, StartError};
pub use self::config::{Config, ConfigError, ServerConfig};
pub use self::servers::{HostedServer, ServerChange, ServerTable};
