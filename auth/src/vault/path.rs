//! Secret paths a deployment may name, confined to its tenant's prefix.
//!
//! A deployment names a KV v2 path *relative to its tenant's prefix*
//! (`berth/tenants/{tenant}` by default), optionally templated with
//! `{subject}` for per-user credentials. Every segment is checked twice:
//! the template when the configuration is loaded, and the filled-in path
//! when a call needs it. A segment is 1–128 characters of
//! `[A-Za-z0-9._@+=-]` and never `.` or `..`, so no template and no
//! subject can climb out of the prefix (`../globex/…`, `a/../../x`, an
//! encoded slash) or reach another tenant's secrets.
//!
//! Imports: only the crate's `error`. Must not import any other module of
//! `vault` (the configuration checks call it without a Vault client).

use crate::error::Error;

/// The placeholder replaced by the caller's subject.
const SUBJECT_PLACEHOLDER: &str = "{subject}";

/// The placeholder replaced by the tenant in the prefix template.
const TENANT_PLACEHOLDER: &str = "{tenant}";

/// Longest segment accepted.
const MAX_SEGMENT: usize = 128;

/// Checks a deployment's path template (relative to the tenant prefix).
///
/// `{subject}` may stand for a whole segment or part of one (`user-{subject}`).
pub fn check_template(template: &str) -> Result<(), String> {
    if template.is_empty() {
        return Err(
            "is empty; name a path under the tenant's prefix, e.g. \"github/{subject}\"".into(),
        );
    }
    for segment in template.split('/') {
        let filled = segment.replace(SUBJECT_PLACEHOLDER, "x");
        check_segment(&filled).map_err(|why| {
            format!(
                "segment `{segment}` {why}; paths are relative to the tenant's prefix and cannot leave it"
            )
        })?;
    }
    Ok(())
}

/// The full KV path for `template` of `tenant`, called by `subject`.
///
/// Refuses (403) a subject that is not a safe path segment rather than
/// encoding it: a subject like `../globex` must never select a path.
pub fn resolve(prefix: &str, tenant: &str, template: &str, subject: &str) -> Result<String, Error> {
    if template.contains(SUBJECT_PLACEHOLDER) {
        check_segment(subject).map_err(|why| {
            Error::SecretPath(format!(
                "the caller's subject cannot name a per-user secret: it {why}"
            ))
        })?;
    }
    let relative = template.replace(SUBJECT_PLACEHOLDER, subject);
    for segment in relative.split('/') {
        check_segment(segment).map_err(|why| {
            Error::SecretPath(format!(
                "secret path segment {why}; fix the deployment's secret ref"
            ))
        })?;
    }
    let prefix = prefix.replace(TENANT_PLACEHOLDER, tenant);
    Ok(format!("{}/{relative}", prefix.trim_end_matches('/')))
}

/// Checks a tenant prefix template: it must contain `{tenant}` so that
/// tenants never share a prefix.
pub fn check_prefix(prefix: &str) -> Result<(), String> {
    if !prefix.contains(TENANT_PLACEHOLDER) {
        return Err("must contain `{tenant}` so that each tenant has its own prefix, e.g. \"berth/tenants/{tenant}\"".into());
    }
    for segment in prefix.trim_end_matches('/').split('/') {
        check_segment(&segment.replace(TENANT_PLACEHOLDER, "t"))
            .map_err(|why| format!("segment `{segment}` {why}"))?;
    }
    Ok(())
}

fn check_segment(segment: &str) -> Result<(), String> {
    if segment.is_empty() {
        return Err("is empty (a `//` or a leading or trailing `/`)".into());
    }
    if segment == "." || segment == ".." {
        return Err(format!("is `{segment}`"));
    }
    if segment.len() > MAX_SEGMENT {
        return Err(format!("is longer than {MAX_SEGMENT} characters"));
    }
    if let Some(c) = segment
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "._@+=-".contains(*c)))
    {
        return Err(format!(
            "contains `{}`; use letters, digits and . _ @ + = -",
            c.escape_default()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{check_prefix, check_template, resolve};

    const PREFIX: &str = "berth/tenants/{tenant}";

    #[test]
    fn templates_stay_under_the_prefix() {
        assert!(check_template("github/{subject}").is_ok());
        assert!(check_template("user-{subject}/token").is_ok());
        for bad in [
            "",
            "../globex/github",
            "a/../../globex",
            "/abs",
            "a//b",
            "a/",
            "a/./b",
            "a%2F..",
            "a\\b",
            "{tenant}/x",
        ] {
            assert!(check_template(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn a_subject_cannot_climb_out_of_the_prefix() {
        assert_eq!(
            resolve(PREFIX, "acme", "github/{subject}", "alice@example.com").unwrap(),
            "berth/tenants/acme/github/alice@example.com"
        );
        for subject in ["..", ".", "../globex", "a/b", "", "a%2f..", "x\0"] {
            let err = resolve(PREFIX, "acme", "github/{subject}", subject).unwrap_err();
            assert_eq!(err.http_status(), 403, "{subject:?}");
        }
        // A subject is only checked where the template uses it.
        assert!(resolve(PREFIX, "acme", "shared/token", "../x").is_ok());
    }

    #[test]
    fn prefixes_must_separate_tenants() {
        assert!(check_prefix(PREFIX).is_ok());
        assert!(check_prefix("berth/shared").is_err());
        assert!(check_prefix("../{tenant}").is_err());
    }
}
