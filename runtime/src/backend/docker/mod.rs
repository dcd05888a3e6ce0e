//! The docker backend: one hardened container per hosting session, created
//! on demand through the Docker Engine API (bollard).
//!
//! Containers run the deployment's image pinned to its digest, as a
//! non-root user, read-only root with a small `/tmp` tmpfs, all
//! capabilities dropped, `no-new-privileges`, an init process, memory/CPU/
//! pids limits and no network unless the deployment grants one
//! (`container`). Berth attaches to the container's stdio and speaks
//! newline-delimited JSON-RPC, or, for `transport = "http"`, speaks
//! Streamable HTTP to the server's port on an internal network with no
//! route out (`attach`, `network`). Caps per tenant and per pod turn
//! excess starts into clear 503s (`host`); warm pools keep started
//! containers ready (the shared `backend::pool`, fed by `warm`); a sweeper removes containers whose owner is
//! gone (`sweep`); the engine's event stream reports exits and OOM kills
//! (`events`).
//!
//! May import: `backend` shapes, `backend::framing`, `backend::http_bridge`,
//! `config`, `protocol`. Inside, files depend one way: `backend` ->
//! `attach`, `container`, `pool`, `sweep`, `events` -> `network` ->
//! `host` -> `labels` (and the shared `backend::ExitNotice`).

mod attach;
mod backend;
mod container;
mod events;
mod host;
mod labels;
mod network;
mod sweep;
mod warm;

pub(crate) use self::backend::DockerBackend;
