//! Pods working as one: who owns a session's backend connection, whether
//! that pod is alive, and getting a request to it.
//!
//! One pod at a time owns a session's backend instance. Its signed owner
//! record in the shared `SessionStore` names the pod's incarnation; each pod
//! keeps one short-lived signed liveness record (rewritten every
//! [`POD_BEAT`]); a session is its owner's while that record shows the
//! owner alive. A request that lands on another pod is forwarded there
//! ([`forward`], signed); if the owner is gone (its record lapsed, or it
//! refused a connection), the pod takes the session over by
//! compare-and-swap on the owner record and restores it
//! (`hosting::restore`). A pod writes to instances only while its liveness
//! record is certainly in the store ([`Cluster::writable`]), so two pods
//! never drive one instance at once.
//!
//! Owner-record keys derive from the session's record key, so they are as
//! opaque as the record key itself; the value holds only a pod name, its
//! URL, its incarnation and an epoch.
//!
//! May import: `backend` (the inter-pod HTTP client and the
//! [`LeaseProbe`](crate::backend::LeaseProbe) it implements) and external
//! crates. Must not import `hosting`, `http`, `mcp` or `app`.
//!
//! # Layout
//! - `records`: the signed owner and pod records.
//! - `inner`: [`Cluster`]: this pod's identity, keys, store and liveness state.
//! - `lease`: owner records: claiming, taking over, re-claiming, releasing.
//! - `liveness`: pod records, the beat, the write fence, proof of death.
//! - `place`: where a process is on the network (which addresses prove
//!   what about whom).
//! - `reach`: which network another pod's URL reaches from this pod.
//! - `forward`: proxying a request to the owning pod, signed.
//! - `probe`: answering the docker sweeper about container ownership.

mod forward;
mod inner;
mod lease;
mod liveness;
mod place;
mod probe;
mod reach;
mod records;

pub(crate) use self::forward::{
    ForwardError, ForwardVerdict, forward, refuses, verify_forwarded, was_forwarded,
};
pub(crate) use self::inner::Cluster;
pub(crate) use self::lease::Owner;
pub(crate) use self::liveness::{Beat, INSTANCE_HEADER, POD_BEAT};
pub(crate) use self::records::Lease;
