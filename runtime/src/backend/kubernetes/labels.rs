//! The labels and annotations on every Pod (and env Secret) Berth
//! creates: what the sweeper, the pools and the chart's NetworkPolicies
//! select on.
//!
//! May import: external crates only.

use sha2::{Digest, Sha256};

/// Marks objects Berth manages (the sweeper only ever touches these; the
/// chart's NetworkPolicies select session Pods by it).
pub(crate) const LABEL_MANAGED: &str = "berth.dev/managed";
/// Tenant that owns the Pod.
pub(crate) const LABEL_TENANT: &str = "berth.dev/tenant";
/// Server the Pod runs.
pub(crate) const LABEL_SERVER: &str = "berth.dev/server";
/// Registry version the Pod runs (absent for config-file servers).
pub(crate) const LABEL_VERSION: &str = "berth.dev/version";
/// Hosting session (a hash, never the session id) or `pool`.
pub(crate) const LABEL_SESSION: &str = "berth.dev/session";
/// Runtime pod that owns the Pod.
pub(crate) const LABEL_OWNER: &str = "berth.dev/runtime-pod";
/// Hash of the Pod's configuration (pools only reuse matching ones).
pub(crate) const LABEL_CONFIG: &str = "berth.dev/config-hash";
/// Which store the deployment keeps its sessions in (digest of the store
/// URL): sweepers only judge Pods of their own store.
pub(crate) const LABEL_STORE: &str = "berth.dev/store";
/// The egress policy the server was granted (`network`); the chart's
/// NetworkPolicy for that name selects it.
pub(crate) const LABEL_EGRESS: &str = "berth.dev/egress";
/// Store key of the session's ownership lease (an annotation: it holds
/// characters labels may not).
pub(crate) const ANNOTATION_LEASE: &str = "berth.dev/lease";
/// The session Pod an env Secret belongs to.
pub(crate) const LABEL_FOR_POD: &str = "berth.dev/for-pod";

/// `value` as a valid label value: itself when it is one (at most 63
/// characters of `[A-Za-z0-9._-]`, alphanumeric at both ends), else
/// `h-` and a digest of it.
pub(crate) fn label_value(value: &str) -> String {
    let valid = !value.is_empty()
        && value.len() <= 63
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        && value.as_bytes()[0].is_ascii_alphanumeric()
        && value.as_bytes()[value.len() - 1].is_ascii_alphanumeric();
    if valid {
        value.to_owned()
    } else {
        format!("h-{}", hex::encode(&Sha256::digest(value.as_bytes())[..12]))
    }
}

#[cfg(test)]
mod tests {
    use super::label_value;

    #[test]
    fn label_values_are_kept_or_hashed() {
        assert_eq!(label_value("berth-7f9c-2"), "berth-7f9c-2");
        let long = "x".repeat(64);
        for bad in ["", "-a", "a-", "a:b", long.as_str()] {
            let v = label_value(bad);
            assert!(v.starts_with("h-") && v.len() == 26, "{bad:?} -> {v}");
        }
    }
}
