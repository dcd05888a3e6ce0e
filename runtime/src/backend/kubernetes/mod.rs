//! The kubernetes backend: one hardened Pod per hosting session, created on
//! demand through the Kubernetes API (`kube`, `k8s-openapi`).
//!
//! Pods run the deployment's image pinned to its digest with the docker
//! backend's hardening in Kubernetes terms, plus no service-account token,
//! and are labelled with tenant, server, version, hashed session and
//! owning runtime pod (`pod`, `labels`). Env secrets live in a per-Pod
//! Secret the Pod owns, never in its spec (`start`). Berth speaks to stdio
//! servers through the Pods attach API and to HTTP servers at the Pod IP
//! (`attach`). Caps per namespace and per tenant turn excess starts into
//! clear 503s and API refusals into errors that name the missing
//! permission (`host`); warm pools keep running Pods ready (the shared
//! `backend::pool`); a sweeper deletes Pods whose owner is gone (`sweep`);
//! another runtime pod re-attaches the same Pod after a failover
//! (`backend`).
//!
//! May import: `backend` shapes and pools, `backend::framing`,
//! `backend::http_bridge`, `config`, `protocol`. Inside, files depend one
//! way: `backend` -> `attach`, `sweep` -> `start` -> `host`, `pod` ->
//! `labels`.

mod attach;
mod backend;
mod host;
mod labels;
mod pod;
mod start;
mod sweep;

pub(crate) use self::backend::KubernetesBackend;
