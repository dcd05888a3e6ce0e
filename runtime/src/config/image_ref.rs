//! The grammar of a container image reference, checked before a server
//! is accepted (so a typo fails at deploy, not at the first session).
//!
//! May import: nothing else in the crate.

/// Checks the syntax of an image reference: `[host[:port]/]path[:tag][@sha256:hex]`,
/// lowercase path components, or a bare `sha256:…` image id.
pub(super) fn check_image_reference(image: &str) -> Result<(), String> {
    let bad = |why: &str| {
        Err(format!(
            "`{image}` is not an image reference ({why}); use e.g. registry.example.com/team/server:1.2 or team/server@sha256:…"
        ))
    };
    if image.len() > 512 || image.chars().any(char::is_whitespace) {
        return bad("too long or contains spaces");
    }
    let hex64 = |h: &str| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    if let Some(id) = image.strip_prefix("sha256:") {
        return if hex64(id) {
            Ok(())
        } else {
            bad("a sha256 id needs 64 lowercase hex digits")
        };
    }
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    if let Some(d) = digest
        && !d.strip_prefix("sha256:").is_some_and(hex64)
    {
        return bad("the digest must be sha256: and 64 lowercase hex digits");
    }
    let (name, tag) = match rest.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (rest, None),
    };
    if let Some(t) = tag {
        let ok = !t.is_empty()
            && t.len() <= 128
            && t.as_bytes()[0] != b'.'
            && t.as_bytes()[0] != b'-'
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
        if !ok {
            return bad("the tag may hold letters, digits, `_`, `.` and `-`");
        }
    }
    let mut parts: Vec<&str> = name.split('/').collect();
    if parts.len() > 1
        && (parts[0].contains('.') || parts[0].contains(':') || parts[0] == "localhost")
    {
        parts.remove(0); // a registry host
    }
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && c.as_bytes()[0].is_ascii_alphanumeric()
            && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
    };
    if parts.is_empty() || !parts.iter().all(|c| component_ok(c)) {
        return bad("path components are lowercase letters, digits and `.`, `_`, `-`");
    }
    Ok(())
}
