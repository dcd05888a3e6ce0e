//! Scope checks (RFC 6750 §3.1 `insufficient_scope`).
//!
//! Imports: `principal`, `error`. Must not import the validators.

use crate::{Error, Principal};

/// Succeeds if `p` holds every scope in `required`; otherwise lists every missing
/// scope at once (in `required` order, without repeats), so that a client can ask for
/// all of them in one new authorization.
pub fn require_scopes(p: &Principal, required: &[String]) -> Result<(), Error> {
    let mut missing: Vec<String> = Vec::new();
    for scope in required {
        if !p.has_scope(scope) && !missing.contains(scope) {
            missing.push(scope.clone());
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::InsufficientScope { missing })
    }
}

#[cfg(test)]
mod tests {
    use super::require_scopes;
    use crate::{Error, Principal};

    fn principal(scopes: &[&str]) -> Principal {
        Principal {
            tenant: "acme".into(),
            subject: "alice".into(),
            client_id: None,
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            groups: vec![],
        }
    }

    fn strings(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn passes_when_all_present() {
        let p = principal(&["a", "b", "c"]);
        require_scopes(&p, &strings(&["a", "c"])).unwrap();
        require_scopes(&p, &[]).unwrap();
    }

    #[test]
    fn lists_every_missing_scope_once() {
        let p = principal(&["b"]);
        let err = require_scopes(&p, &strings(&["a", "b", "c", "a"])).unwrap_err();
        match &err {
            Error::InsufficientScope { missing } => assert_eq!(missing, &strings(&["a", "c"])),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(err.www_authenticate_error(), "insufficient_scope");
        assert_eq!(err.http_status(), 403);
        let msg = err.to_string();
        assert!(msg.contains("a, c"), "{msg}");
    }
}
