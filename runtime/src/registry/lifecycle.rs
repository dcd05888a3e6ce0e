//! The lifecycle rules, as pure changes to a [`ServerRecord`]: versions go
//! `proposed -> approved -> active -> retired` (a retired version may be
//! activated again: rollback); servers go `live -> deprecated ->
//! decommissioned`. Each function checks, then changes; on error the
//! record is untouched.
//!
//! May import: `registry::{model, error}`, `protocol` (capabilities).

use super::error::RegistryError;
use super::model::{
    DriftRecord, NewVersion, ServerRecord, ServerState, VersionRecord, VersionState,
};
use crate::protocol::Approved;

/// Who is acting, and when.
pub(crate) struct Act<'a> {
    /// The caller's subject.
    pub actor: &'a str,
    /// Now, RFC 3339.
    pub now: &'a str,
}

/// Adds a new proposed version; returns its number.
pub(crate) fn deploy(
    record: &mut ServerRecord,
    new: &NewVersion,
    act: &Act<'_>,
) -> Result<u32, RegistryError> {
    refuse_if_gone(record)?;
    let version = u32::try_from(record.versions.len() + 1)
        .map_err(|_| RegistryError::Conflict("too many versions".into()))?;
    record.versions.push(VersionRecord {
        version,
        state: VersionState::Proposed,
        deployment: new.document.clone(),
        digest: new.digest(),
        deployment_digest: new.deployment_digest.clone(),
        image_digest: new.image_digest.clone(),
        executable: new.executable.clone(),
        metadata: new.metadata.clone(),
        deployed_by: act.actor.to_owned(),
        deployed_at: act.now.to_owned(),
        approved_by: None,
        approved_at: None,
        activated_at: None,
        capabilities: None,
        drift: Vec::new(),
    });
    Ok(version)
}

/// Makes `new` the active version, deploying and approving it (as
/// `act.actor`) if needed; a version with the same deployment and the
/// same pinned content is reused. Returns the version and whether
/// anything changed.
pub(crate) fn ensure(
    record: &mut ServerRecord,
    new: &NewVersion,
    act: &Act<'_>,
) -> Result<(u32, bool), RegistryError> {
    refuse_if_gone(record)?;
    let digest = new.digest();
    let same =
        |v: &VersionRecord| v.digest == digest && v.deployment_digest == new.deployment_digest;
    if let Some(active) = record.active()
        && same(active)
    {
        return Ok((active.version, false));
    }
    let existing = record.versions.iter().rev().find(|v| same(v));
    let v = match existing {
        Some(found) => found.version,
        None => deploy(record, new, act)?,
    };
    let version = version_mut(record, v)?;
    if version.state == VersionState::Proposed {
        version.state = VersionState::Approved;
        version.approved_by = Some(act.actor.to_owned());
        version.approved_at = Some(act.now.to_owned());
    }
    activate(record, v, act)?;
    Ok((v, true))
}

/// Approves proposed version `v`; the subject who deployed it may approve
/// it only when `self_approval` is allowed.
pub(crate) fn approve(
    record: &mut ServerRecord,
    v: u32,
    self_approval: bool,
    capabilities: Option<Vec<Approved>>,
    act: &Act<'_>,
) -> Result<(), RegistryError> {
    refuse_if_gone(record)?;
    let name = full_name(record);
    let version = version_mut(record, v)?;
    if version.state != VersionState::Proposed {
        return Err(RegistryError::Conflict(format!(
            "version {v} of {name} is already {}; only proposed versions are approved",
            version.state.as_str()
        )));
    }
    if version.deployed_by == act.actor && !self_approval {
        return Err(RegistryError::Forbidden(format!(
            "{} deployed version {v} of {name} and may not approve it too: ask another admin of the tenant \
             (or list the tenant in control.self_approval)",
            act.actor
        )));
    }
    version.state = VersionState::Approved;
    version.approved_by = Some(act.actor.to_owned());
    version.approved_at = Some(act.now.to_owned());
    version.capabilities = capabilities;
    Ok(())
}

/// Records `drift` on version `v` unless the same drift (capability and
/// live fingerprint) is already recorded; `Ok(false)` when it was.
pub(crate) fn record_drift(
    record: &mut ServerRecord,
    v: u32,
    drift: DriftRecord,
) -> Result<bool, RegistryError> {
    let version = version_mut(record, v)?;
    let known = version
        .drift
        .iter()
        .any(|d| d.kind == drift.kind && d.name == drift.name && d.live == drift.live);
    if known {
        return Ok(false);
    }
    version.drift.push(drift);
    Ok(true)
}

/// Makes approved (or retired) version `v` the one new sessions use; the
/// version active before is retired. Activating the active version
/// changes nothing.
pub(crate) fn activate(
    record: &mut ServerRecord,
    v: u32,
    act: &Act<'_>,
) -> Result<(), RegistryError> {
    refuse_if_gone(record)?;
    let name = full_name(record);
    match version_mut(record, v)?.state {
        VersionState::Active => return Ok(()),
        VersionState::Proposed => {
            return Err(RegistryError::Conflict(format!(
                "version {v} of {name} is proposed, not approved: approve it first"
            )));
        }
        VersionState::Approved | VersionState::Retired => {}
    }
    for version in &mut record.versions {
        if version.state == VersionState::Active {
            version.state = VersionState::Retired;
        }
    }
    let version = version_mut(record, v)?;
    version.state = VersionState::Active;
    version.activated_at = Some(act.now.to_owned());
    Ok(())
}

/// Activates the newest approved or retired version older than the active
/// one; returns it.
pub(crate) fn rollback(record: &mut ServerRecord, act: &Act<'_>) -> Result<u32, RegistryError> {
    let name = full_name(record);
    let Some(active) = record.active().map(|v| v.version) else {
        return Err(RegistryError::Conflict(format!(
            "{name} has no active version to roll back from; activate one"
        )));
    };
    let previous = record
        .versions
        .iter()
        .rev()
        .find(|v| {
            v.version < active && matches!(v.state, VersionState::Approved | VersionState::Retired)
        })
        .map(|v| v.version)
        .ok_or_else(|| {
            RegistryError::Conflict(format!(
                "{name} has no approved version before version {active} to roll back to"
            ))
        })?;
    activate(record, previous, act)?;
    Ok(previous)
}

/// Announces the server's end; it stays callable.
pub(crate) fn deprecate(
    record: &mut ServerRecord,
    sunset: Option<String>,
    act: &Act<'_>,
) -> Result<(), RegistryError> {
    refuse_if_gone(record)?;
    record.state = ServerState::Deprecated {
        sunset,
        at: act.now.to_owned(),
    };
    Ok(())
}

/// Ends the server: calls are refused from now on; its active version is
/// retired.
pub(crate) fn decommission(record: &mut ServerRecord, act: &Act<'_>) -> Result<(), RegistryError> {
    refuse_if_gone(record)?;
    for version in &mut record.versions {
        if version.state == VersionState::Active {
            version.state = VersionState::Retired;
        }
    }
    record.state = ServerState::Decommissioned {
        at: act.now.to_owned(),
    };
    Ok(())
}

fn refuse_if_gone(record: &ServerRecord) -> Result<(), RegistryError> {
    if let ServerState::Decommissioned { at } = &record.state {
        return Err(RegistryError::Conflict(format!(
            "{} was decommissioned at {at}; deploy under another name",
            full_name(record)
        )));
    }
    Ok(())
}

fn version_mut(record: &mut ServerRecord, v: u32) -> Result<&mut VersionRecord, RegistryError> {
    let name = full_name(record);
    let count = record.versions.len();
    usize::try_from(v)
        .ok()
        .and_then(|v| v.checked_sub(1))
        .and_then(|i| record.versions.get_mut(i))
        .ok_or_else(|| {
            RegistryError::NotFound(format!(
                "{name} has no version {v} (it has {count}: 1..={count})"
            ))
        })
}

fn full_name(record: &ServerRecord) -> String {
    format!("{}/{}", record.tenant, record.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALICE: Act<'static> = Act {
        actor: "alice",
        now: "2026-12-06T08:00:00Z",
    };
    const BOB: Act<'static> = Act {
        actor: "bob",
        now: "2026-12-06T09:00:00Z",
    };

    fn new_version(n: usize) -> NewVersion {
        NewVersion {
            document: serde_json::json!({"command": ["/bin/cat", n.to_string()]}),
            deployment_digest: format!("sha256:d{n}"),
            image_digest: None,
            executable: None,
            metadata: super::super::model::Metadata::default(),
        }
    }

    fn deployed(n: usize) -> ServerRecord {
        let mut r = ServerRecord::new("acme", "files");
        for i in 0..n {
            deploy(&mut r, &new_version(i), &ALICE).unwrap();
        }
        r
    }

    fn states(r: &ServerRecord) -> Vec<&'static str> {
        r.versions.iter().map(|v| v.state.as_str()).collect()
    }

    #[test]
    fn versions_are_numbered_and_go_proposed_approved_active_retired() {
        let mut r = deployed(2);
        assert_eq!(
            r.versions.iter().map(|v| v.version).collect::<Vec<_>>(),
            [1, 2]
        );
        assert_eq!(states(&r), ["proposed", "proposed"]);
        let e = activate(&mut r, 1, &BOB).unwrap_err();
        assert!(e.to_string().contains("approve it first"), "{e}");
        assert_eq!(e.status(), 409);
        approve(&mut r, 1, false, None, &BOB).unwrap();
        activate(&mut r, 1, &BOB).unwrap();
        assert_eq!(r.active().unwrap().version, 1);
        approve(&mut r, 2, false, None, &BOB).unwrap();
        activate(&mut r, 2, &BOB).unwrap();
        assert_eq!(states(&r), ["retired", "active"]);
        assert_eq!(r.summary_state(), "active");
        // Idempotent.
        activate(&mut r, 2, &BOB).unwrap();
        assert_eq!(states(&r), ["retired", "active"]);
    }

    #[test]
    fn self_approval_is_refused_unless_allowed_and_approval_happens_once() {
        let mut r = deployed(1);
        let e = approve(&mut r, 1, false, None, &ALICE).unwrap_err();
        assert_eq!(e.status(), 403);
        assert!(e.to_string().contains("another admin"), "{e}");
        assert_eq!(states(&r), ["proposed"], "a refusal changes nothing");
        approve(&mut r, 1, true, None, &ALICE).unwrap();
        assert_eq!(r.versions[0].approved_by.as_deref(), Some("alice"));
        let again = approve(&mut r, 1, true, None, &BOB).unwrap_err();
        assert_eq!(again.status(), 409);
        assert_eq!(
            approve(&mut r, 7, true, None, &BOB).unwrap_err().status(),
            404
        );
        assert_eq!(
            approve(&mut r, 0, true, None, &BOB).unwrap_err().status(),
            404
        );
    }

    #[test]
    fn rollback_picks_the_previous_approved_version() {
        let mut r = deployed(3);
        assert_eq!(rollback(&mut r, &BOB).unwrap_err().status(), 409);
        for v in 1..=3 {
            approve(&mut r, v, false, None, &BOB).unwrap();
        }
        activate(&mut r, 1, &BOB).unwrap();
        activate(&mut r, 3, &BOB).unwrap();
        assert_eq!(rollback(&mut r, &BOB).unwrap(), 2, "approved, never active");
        assert_eq!(states(&r), ["retired", "active", "retired"]);
        assert_eq!(rollback(&mut r, &BOB).unwrap(), 1);
        let e = rollback(&mut r, &BOB).unwrap_err();
        assert!(e.to_string().contains("no approved version before"), "{e}");
    }

    #[test]
    fn ensure_activates_a_deployment_once_and_reuses_known_versions() {
        let mut r = ServerRecord::new("demo", "everything");
        assert_eq!(ensure(&mut r, &new_version(1), &ALICE).unwrap(), (1, true));
        assert_eq!(r.versions[0].approved_by.as_deref(), Some("alice"));
        assert_eq!(ensure(&mut r, &new_version(1), &ALICE).unwrap(), (1, false));
        assert_eq!(ensure(&mut r, &new_version(2), &ALICE).unwrap(), (2, true));
        // Back to the first deployment: its version again, not a third.
        assert_eq!(ensure(&mut r, &new_version(1), &ALICE).unwrap(), (1, true));
        assert_eq!(states(&r), ["active", "retired"]);
        // The same document with a rebuilt executable is a new version.
        let mut rebuilt = new_version(1);
        rebuilt.executable = Some(super::super::model::ExecutablePin {
            path: "/bin/cat".into(),
            sha256: "sha256:new".into(),
        });
        assert_eq!(ensure(&mut r, &rebuilt, &ALICE).unwrap(), (3, true));
        assert_eq!(r.versions[2].digest, "sha256:new");
    }

    #[test]
    fn a_decommissioned_server_takes_no_more_changes() {
        let mut r = deployed(1);
        approve(&mut r, 1, false, None, &BOB).unwrap();
        activate(&mut r, 1, &BOB).unwrap();
        deprecate(&mut r, Some("2027-01-31".into()), &BOB).unwrap();
        assert_eq!(r.summary_state(), "deprecated");
        assert!(r.active().is_some(), "deprecated servers stay callable");
        decommission(&mut r, &BOB).unwrap();
        assert_eq!(r.summary_state(), "decommissioned");
        assert!(r.active().is_none());
        let e = deploy(&mut r, &new_version(9), &ALICE).unwrap_err();
        assert!(e.to_string().contains("decommissioned at"), "{e}");
        assert_eq!(activate(&mut r, 1, &BOB).unwrap_err().status(), 409);
        assert_eq!(decommission(&mut r, &BOB).unwrap_err().status(), 409);
    }
}
