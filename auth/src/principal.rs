//! The authenticated caller.
//!
//! Imports: no module of this crate (validators, scopes and claims import it).

/// Who is calling: the identity a validated token vouches for.
///
/// Built only by a [`TokenValidator`](crate::TokenValidator), so holding one means the
/// token was checked. It carries no token material.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Principal {
    /// The tenant the caller acts in (from the tenant claim, `berth_tenant` by default).
    pub tenant: String,
    /// The caller's stable identifier at the issuer (`sub` by default).
    pub subject: String,
    /// The OAuth client the token was issued to (`client_id`, else `azp`), if stated.
    pub client_id: Option<String>,
    /// Granted scopes, in token order.
    pub scopes: Vec<String>,
    /// Group memberships, for policy.
    pub groups: Vec<String>,
}

// === impl Principal ===

impl Principal {
    /// Whether the token granted scope `s`: exactly (case-sensitive, as RFC 6749 §3.3
    /// requires), or through a parent in the `:`-separated hierarchy (`mcp:tools`
    /// covers `mcp:tools:call`, never the other way round, and `mcp:tool` covers
    /// nothing under `mcp:tools`).
    pub fn has_scope(&self, s: &str) -> bool {
        self.scopes.iter().any(|granted| {
            granted == s
                || (!granted.is_empty()
                    && s.strip_prefix(granted.as_str())
                        .is_some_and(|rest| rest.starts_with(':')))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Principal;

    #[test]
    fn has_scope_matches_exactly() {
        let p = Principal {
            tenant: "acme".into(),
            subject: "alice".into(),
            client_id: None,
            scopes: vec!["mcp:tools".into(), "admin".into()],
            groups: vec![],
        };
        assert!(p.has_scope("admin"));
        assert!(p.has_scope("mcp:tools"));
        assert!(!p.has_scope("Admin"));
        assert!(!p.has_scope("mcp"));
        assert!(!p.has_scope(""));
    }

    #[test]
    fn parents_cover_their_children_only() {
        let p = Principal {
            tenant: "acme".into(),
            subject: "alice".into(),
            client_id: None,
            scopes: vec!["mcp:tools".into(), "files:read:".into()],
            groups: vec![],
        };
        assert!(p.has_scope("mcp:tools:call"));
        assert!(p.has_scope("mcp:tools:call:echo"));
        assert!(!p.has_scope("mcp:toolsx"), "not at a `:` boundary");
        assert!(!p.has_scope("mcp:tool"));
        assert!(!p.has_scope("mcp"), "a child never covers its parent");
        assert!(!p.has_scope("MCP:tools:call"));
        let child = Principal {
            scopes: vec!["mcp:tools:list".into()],
            ..p
        };
        assert!(!child.has_scope("mcp:tools"));
        assert!(!child.has_scope("mcp:tools:call"));
    }
}
