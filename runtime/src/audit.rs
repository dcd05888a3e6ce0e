//! Audit events: security-relevant decisions, emitted on the `berth::audit`
//! tracing target so operators can route or keep them apart from
//! operational logs (e.g. `BERTH_LOG=info,berth::audit=info` and a log
//! pipeline that filters on the target).
//!
//! Each event names what happened (`event`), the tenant, server and subject
//! involved, and why. They never carry a token, a session id or a secret.
//!
//! May import: nothing (a leaf: only `tracing`).

/// A request named a session that does not exist for its caller: unknown,
/// expired, or another user's (the caller's identity derives another key).
/// The caller gets 404, exactly as for an unknown session.
pub(crate) fn session_refused(tenant: &str, server: &str, subject: &str, method: &str) {
    tracing::warn!(
        target: "berth::audit",
        event = "session.refused",
        tenant,
        server,
        subject,
        method,
        "request for an unknown, expired or another user's session refused"
    );
}

/// A principal of `token_tenant` asked for a server of another tenant;
/// it gets 403.
pub(crate) fn tenant_refused(token_tenant: &str, tenant: &str, server: &str, subject: &str) {
    tracing::warn!(
        target: "berth::audit",
        event = "tenant.refused",
        token_tenant,
        tenant,
        server,
        subject,
        "request for another tenant's server refused"
    );
}

/// A pod took over a session whose owner is gone.
pub(crate) fn session_taken_over(tenant: &str, server: &str, subject: &str) {
    tracing::info!(
        target: "berth::audit",
        event = "session.taken_over",
        tenant,
        server,
        subject,
        "took over a session whose pod is gone"
    );
}

/// A request claimed to be forwarded by another pod but did not verify.
pub(crate) fn forged_forward(tenant: &str, server: &str, why: &str) {
    tracing::warn!(
        target: "berth::audit",
        event = "forward.forged",
        tenant,
        server,
        why,
        "refused a request that claims to be forwarded by another pod"
    );
}

/// A control-plane change: `event` is `server.deployed`,
/// `version.approved`, `version.activated`, `server.deprecated` or
/// `server.decommissioned`; `actor` is the admin who made it.
pub(crate) fn control_change(
    event: &'static str,
    tenant: &str,
    server: &str,
    version: Option<u32>,
    actor: &str,
) {
    tracing::info!(
        target: "berth::audit",
        event,
        tenant,
        server,
        version,
        actor,
        "control-plane change"
    );
}

/// A request reached a deprecated server (it is still served; the answer
/// carries the deprecation notice in `_meta`).
pub(crate) fn deprecated_server_used(tenant: &str, server: &str, subject: &str) {
    tracing::info!(
        target: "berth::audit",
        event = "server.deprecated_used",
        tenant,
        server,
        subject,
        "request to a deprecated server"
    );
}

/// A server offered a capability that is not as approved for its version
/// (new, or changed since): it was hidden from listings and calls to it
/// are refused. Reported once per session and live fingerprint.
pub(crate) fn capability_drift(
    tenant: &str,
    server: &str,
    kind: &str,
    capability: &str,
    approved: Option<&str>,
    live: &str,
) {
    tracing::warn!(
        target: "berth::audit",
        event = "capability.drift",
        tenant,
        server,
        kind,
        capability,
        approved = approved.unwrap_or("never approved"),
        live,
        "a capability differs from its approval; hidden and refused"
    );
}

/// An administrator ended a hosting session through the control plane.
pub(crate) fn session_ended_by_admin(tenant: &str, server: &str, subject: &str, actor: &str) {
    tracing::info!(
        target: "berth::audit",
        event = "session.ended_by_admin",
        tenant,
        server,
        subject,
        actor,
        "an administrator ended a hosting session"
    );
}
