//! Pods working as one: who owns a session's backend connection, and
//! getting a request to that owner.
//!
//! One pod at a time owns a legacy session's backend instance. Ownership is
//! a lease in the shared `SessionStore` (`SET NX PX`, renewed by a
//! heartbeat); it names the owning pod and the URL other pods reach it at.
//! A request that lands on another pod is forwarded there ([`forward`]); if
//! the lease has lapsed (the owner died), the pod takes the lease over and
//! restores the session (`hosting::restore`).
//!
//! Lease keys derive from the session's record key, so they are as opaque
//! as the record key itself; the value holds only a pod name and its URL.
//!
//! May import: `backend` (the inter-pod HTTP client and the
//! [`LeaseProbe`](crate::backend::LeaseProbe) it implements) and external
//! crates. Must not import `hosting`, `http`, `mcp` or `app`.
//!
//! # Layout
//! - `lease`: [`Cluster`], leases and this pod's identity.
//! - `forward`: proxying a request to the owning pod.
//! - `probe`: answering the docker sweeper about container ownership.

mod forward;
mod lease;
mod probe;

pub(crate) use self::forward::{ForwardError, forward, was_forwarded};
pub(crate) use self::lease::{Cluster, HEARTBEAT_EVERY, LEASE_TTL, Lease, Owner};
