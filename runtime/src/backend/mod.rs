//! Backends: where a hosting session's MCP server instance runs.
//!
//! A [`Backend`] starts an [`Instance`] for a [`ServerSpec`]. The instance is a
//! message pipe: Berth writes whole JSON-RPC messages to
//! [`Instance::outbound`] and the backend delivers whatever the server writes
//! to the [`InboundSink`] it was started with. Every backend (`process`,
//! `docker`, `kubernetes`) and both transports (stdio, HTTP) share this shape, so the
//! session layer never knows which one it talks to.
//!
//! May import: `config`, `jsonrpc`, `protocol` and external crates. Must not
//! import `cluster`, `secrets`, `hosting` or anything above them: what a
//! backend needs from them comes in through [`LeaseProbe`] and
//! [`CallHeaders`].
//!
//! # Layout
//! - `spec`, `instance`, `error`, `traits`: the shapes every backend shares.
//! - `to_server`: the way into an instance ([`ToServer`]): a writer
//!   task's queue, or a pipe or stream its callers write themselves.
//! - `framing`: newline-delimited JSON-RPC reading with a size limit;
//!   `answer_scan` finds which request an oversized line answered;
//!   `idle_reader` buffers instance output without holding memory
//!   between messages.
//! - `process`: one child process per instance over stdio.
//! - `docker`: one hardened container per instance (bollard).
//! - `kubernetes`: one hardened Pod per instance (kube).
//! - `http_bridge`: the same message pipe over Streamable HTTP, for
//!   servers that listen on a port (`transport = "http"`).
//! - `delivery`: secrets handed to an instance (env at start, headers
//!   per request).
//! - `pool`: warm pools, shared by `docker` and `kubernetes`.
//! - `pin`: pinning an executable to its SHA-256 (images are pinned by
//!   `docker`).

mod answer_scan;
mod delivery;
mod docker;
mod error;
mod exit;
pub(crate) mod framing;
pub(crate) mod http_bridge;
mod idle_reader;
mod instance;
mod kubernetes;
mod pin;
pub(crate) mod pool;
mod process;
mod spec;
mod to_server;
mod traits;

pub(crate) use self::delivery::{CallHeaders, HeaderSource, SecretEnv};
pub(crate) use self::docker::DockerBackend;
pub(crate) use self::error::BackendError;
pub(crate) use self::exit::ExitNotice;
pub(crate) use self::instance::StopControl;
#[cfg(test)]
pub(crate) use self::instance::testing;
pub(crate) use self::instance::{InboundSink, Instance};
pub(crate) use self::kubernetes::KubernetesBackend;
pub(crate) use self::pin::Pinned;
pub(crate) use self::process::ProcessBackend;
pub(crate) use self::spec::{InstanceLabels, ServerSpec};
pub(crate) use self::to_server::ToServer;
pub(crate) use self::traits::{Backend, LeaseProbe};
